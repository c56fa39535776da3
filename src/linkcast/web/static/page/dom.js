// Small DOM helpers shared by the views: nothing here knows about requests, crawls or the stream.

export const byId = (id) => document.getElementById(id);

// Set the text of the first match of `selector` under `node`, hiding it when there is none to show.
export function setText(node, selector, text) {
  const target = node.querySelector(selector);
  target.textContent = text;
  target.hidden = !text;
}

// A fresh copy of a <template>'s first element.
export function fromTemplate(id) {
  return byId(id).content.firstElementChild.cloneNode(true);
}

export function inlineButton(label, action) {
  const button = document.createElement("button");
  button.type = "button";
  button.className = "inline";
  button.textContent = label;
  button.addEventListener("click", action);
  return button;
}

// A <dl> filled with the rows whose value is not empty.
export function fillDefinitions(list, rows) {
  const fragment = document.createDocumentFragment();
  for (const [label, value] of rows) {
    if (!value) continue;
    const dt = document.createElement("dt");
    dt.textContent = label;
    const dd = document.createElement("dd");
    dd.textContent = value;
    fragment.append(dt, dd);
  }
  list.replaceChildren(fragment);
}
