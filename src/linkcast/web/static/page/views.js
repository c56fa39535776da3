// The page's views as tabs (the WAI-ARIA tabs pattern): one panel shown at a time, chosen by a click or the arrow
// keys, and named in the URL's fragment (#crawls) so that a reload or a shared link opens the same view. A view's
// tab is a [role="tab"] in #views whose aria-controls names its panel and whose data-view names it in the URL.

import { byId } from "./dom.js";

export function startViews() {
  const tabs = [...byId("views").querySelectorAll('[role="tab"]')];
  const panelOf = (tab) => byId(tab.getAttribute("aria-controls"));
  const named = (name) => tabs.find((tab) => tab.dataset.view === name);

  function select(tab, { focus = false, inUrl = true } = {}) {
    for (const other of tabs) {
      const selected = other === tab;
      other.setAttribute("aria-selected", String(selected));
      other.tabIndex = selected ? 0 : -1;
      panelOf(other).hidden = !selected;
    }
    if (focus) tab.focus();
    if (inUrl) history.replaceState(null, "", `#${tab.dataset.view}`);
  }

  for (const tab of tabs) {
    tab.addEventListener("click", () => select(tab));
    tab.addEventListener("keydown", (event) => {
      const at = tabs.indexOf(tab);
      const to = { ArrowRight: at + 1, ArrowLeft: at - 1, Home: 0, End: tabs.length - 1 }[event.key];
      if (to === undefined) return;
      event.preventDefault();
      select(tabs[(to + tabs.length) % tabs.length], { focus: true });
    });
  }
  window.addEventListener("hashchange", () => {
    const tab = named(location.hash.slice(1));
    if (tab) select(tab, { inUrl: false });
  });
  select(named(location.hash.slice(1)) || tabs[0], { inUrl: false });
}
