// A list of links as the page shows them, for a request's result and for each page of a crawl alike: filtered as
// you type, at most RENDERED_LINKS drawn at once (the filter narrows the rest), copied to the clipboard.

import { fromTemplate } from "./dom.js";
import { counted, isWebUrl, numberFormat } from "./format.js";

const RENDERED_LINKS = 1000;

export class LinksPanel {
  // `name` tells this panel's filter from the others' to assistive technology ("Filter links of <name>").
  constructor(name) {
    this.node = fromTemplate("links-template");
    this.tools = this.node.querySelector(".links-tools");
    this.filter = this.node.querySelector(".filter");
    this.summary = this.node.querySelector(".links-summary");
    this.list = this.node.querySelector(".links");
    this.copyStatus = this.node.querySelector(".copy-status");
    this.links = undefined;
    this.note = "";
    this.filter.setAttribute("aria-label", `Filter links of ${name}`);
    this.filter.addEventListener("input", () => this.draw());
    this.node.querySelector(".copy").addEventListener("click", () => this.copy());
  }

  // The links to show (undefined: none, and `note` says why, e.g. "Waiting for the result…"). Drawn by draw(),
  // which the owner calls while the panel is in view: a collapsed request costs no DOM.
  show(links, note = "") {
    this.links = Array.isArray(links) ? links : undefined;
    this.note = note;
    this.tools.hidden = !this.links;
  }

  matching() {
    const needle = this.filter.value.trim().toLowerCase();
    const links = this.links || [];
    return needle ? links.filter((link) => link.toLowerCase().includes(needle)) : links;
  }

  draw() {
    if (!this.links) {
      this.list.replaceChildren();
      this.summary.textContent = this.note;
      return;
    }
    const matching = this.matching();
    const fragment = document.createDocumentFragment();
    for (const link of matching.slice(0, RENDERED_LINKS)) fragment.append(linkItem(link));
    this.list.replaceChildren(fragment);
    const total = this.links.length;
    let text =
      matching.length !== total
        ? `${numberFormat.format(matching.length)} of ${counted(total, "link")} match.`
        : `${counted(total, "link")}.`;
    if (matching.length > RENDERED_LINKS) text += ` Showing the first ${numberFormat.format(RENDERED_LINKS)}.`;
    this.summary.textContent = text;
  }

  async copy() {
    const links = this.matching();
    try {
      await copyText(links.join("\n"));
      this.copyStatus.textContent = `Copied ${counted(links.length, "link")}.`;
    } catch {
      this.copyStatus.textContent = "Could not copy: select the links and copy them by hand.";
    }
  }
}

function linkItem(link) {
  const item = document.createElement("li");
  if (isWebUrl(link)) {
    const anchor = document.createElement("a");
    anchor.href = link;
    anchor.rel = "noopener noreferrer nofollow";
    anchor.target = "_blank";
    anchor.textContent = link;
    item.append(anchor);
  } else {
    item.textContent = link;
  }
  return item;
}

async function copyText(text) {
  if (navigator.clipboard && window.isSecureContext) {
    await navigator.clipboard.writeText(text);
  } else {
    copyWithSelection(text);
  }
}

// Pages served over plain HTTP from another host are not a secure context: the Clipboard API is absent there.
function copyWithSelection(text) {
  const area = document.createElement("textarea");
  area.value = text;
  area.setAttribute("readonly", "");
  area.className = "offscreen";
  document.body.append(area);
  area.select();
  const copied = document.execCommand("copy");
  area.remove();
  if (!copied) throw new Error("copy refused");
}
