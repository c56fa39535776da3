// A crawl's pages, in the order they ended: loaded from GET /crawls/<id>/pages when first shown, then followed live
// from the stream. At most `limit` are drawn, BATCH more each time "Load more pages" is pressed: a 10,000-page crawl
// costs the page what its first hundred do, and a page event beyond what is drawn is not kept (its links can be
// thousands of URLs); the API gives it back when asked.

import { callApi, refusal } from "./auth.js";
import { fillDefinitions, fromTemplate, setText } from "./dom.js";
import { counted, numberFormat } from "./format.js";
import { LinksPanel } from "./links.js";

const BATCH = 100;
const BUFFERED = 1000; // live events kept while a load is under way, to draw once it answers

export class CrawlPages {
  constructor(crawlId, box) {
    this.crawlId = crawlId;
    this.box = box; // the <details> that shows them
    this.list = box.querySelector(".pages");
    this.shown = box.querySelector(".pages-shown");
    this.moreButton = box.querySelector(".more");
    this.drawn = new Set(); // URLs drawn: each URL of a crawl ends once, in one page or skipped event
    this.limit = BATCH;
    this.cursor = null; // `after` for the next load; stays on the last page read until it had a `next`
    this.behind = true; // pages may have ended that are neither drawn nor known to be beyond the limit
    this.loading = false;
    this.buffer = [];
    this.total = 0;
    this.problem = "";
    this.opened = false; // shown once: from then on, loaded and followed
    this.moreButton.setAttribute("aria-label", `Load more pages of ${crawlId}`);
    this.moreButton.addEventListener("click", () => this.more());
    box.addEventListener("toggle", () => {
      if (!box.open || this.opened) return;
      this.opened = true;
      this.load();
    });
  }

  // How many pages the crawl has ended, for "Showing 100 of 1,234 pages".
  setTotal(total) {
    this.total = total;
    this.update();
  }

  // A page or skipped event from the stream.
  onLive(event) {
    if (!this.opened || this.drawn.has(event.url)) return;
    if (this.loading) {
      if (this.buffer.length < BUFFERED) this.buffer.push(event);
      else this.behind = true;
      return;
    }
    if (this.behind || this.drawn.size >= this.limit) {
      this.behind = true;
    } else {
      this.draw(event);
    }
    this.update();
  }

  // Pages may have ended unseen: from now on they are loaded on demand, not followed.
  lostTrack() {
    this.behind = true;
    this.update();
  }

  more() {
    if (this.drawn.size >= this.limit) this.limit = this.drawn.size + BATCH;
    this.load();
  }

  async load() {
    if (this.loading) return;
    this.loading = true;
    this.problem = "";
    this.update();
    try {
      await this.read();
    } catch {
      this.problem = "Could not reach the server to load the pages.";
    } finally {
      this.loading = false;
      const buffered = this.buffer;
      this.buffer = [];
      for (const event of buffered) this.onLive(event);
      this.update();
    }
  }

  // Read pages from the cursor until `limit` are drawn or the list ends. A page read again (the end of the list,
  // read again once more pages have ended) draws only the URLs not drawn yet.
  async read() {
    const path = `/crawls/${encodeURIComponent(this.crawlId)}/pages`;
    while (this.drawn.size < this.limit) {
      const params = new URLSearchParams({ limit: String(BATCH) });
      if (this.cursor !== null) params.set("after", this.cursor);
      const response = await callApi("GET", `${path}?${params}`);
      if (!response.ok) {
        const error = await refusal(response);
        this.problem = `Could not load the pages (${error.code}): ${error.message}`;
        return;
      }
      const answer = await response.json();
      const fresh = answer.pages.filter((item) => !this.drawn.has(item.url));
      const room = this.limit - this.drawn.size;
      for (const item of fresh.slice(0, room)) this.draw(item);
      if (fresh.length > room) {
        this.behind = true; // more in this answer than fits: the cursor stays on it
        return;
      }
      if (answer.next === null || answer.next === undefined) {
        this.behind = false; // the end: what ends from now on comes live
        return;
      }
      this.cursor = answer.next;
      this.behind = true;
    }
  }

  draw(item) {
    this.drawn.add(item.url);
    this.list.append(pageRow(item, `${this.crawlId} ${item.url}`));
  }

  update() {
    const drawn = this.drawn.size;
    const total = Math.max(this.total, drawn);
    setText(this.box, ".pages-count", total ? `(${numberFormat.format(total)})` : "");
    let text;
    if (this.problem) text = this.problem;
    else if (this.loading) text = "Loading pages…";
    else if (!total) text = "No pages yet.";
    else if (drawn < total) text = `Showing ${numberFormat.format(drawn)} of ${counted(total, "page")}.`;
    else text = `${counted(total, "page")}.`;
    this.shown.textContent = text;
    const more = drawn < total && (this.behind || drawn >= this.limit);
    this.moreButton.hidden = this.loading || !(more || this.problem);
  }
}

// One page of a crawl (a page event: its status or error, and its links; or a skipped one: why).
function pageRow(item, name) {
  const node = fromTemplate("crawl-page-template");
  const skipped = item.type === "skipped";
  const kind = skipped ? "skipped" : item.error ? "failed" : "fetched";
  node.dataset.kind = kind;
  node.dataset.url = item.url;
  const status = skipped ? `skipped: ${item.reason}` : item.error ? item.error.code || "error" : String(item.status_code || "");
  setText(node, ".page-status", status);
  setText(node, ".target", item.url);
  node.querySelector(".target").title = item.url;
  const links = Array.isArray(item.links) ? item.links : undefined;
  setText(node, ".link-count", links ? counted(links.length, "link") + (item.links_truncated ? " (truncated)" : "") : "");
  setText(node, ".depth", typeof item.depth === "number" ? `depth ${item.depth}` : "");
  fillDefinitions(node.querySelector(".meta"), [
    ["URL", item.url],
    ["Final URL", item.final_url && item.final_url !== item.url ? item.final_url : ""],
    ["Found on", item.referrer || (item.depth === 0 ? "(a seed)" : "")],
    ["Status", item.status_code ? String(item.status_code) : ""],
    ["Skipped", skipped ? item.reason : ""],
  ]);
  if (item.error) {
    node.querySelector(".error-box").hidden = false;
    node.querySelector(".error-code").textContent = item.error.code || "error";
    node.querySelector(".error-message").textContent = item.error.message || "";
  }
  if (links) {
    const details = node.querySelector("details");
    details.addEventListener(
      "toggle",
      () => {
        const panel = new LinksPanel(name);
        panel.show(links);
        node.querySelector(".body").append(panel.node);
        panel.draw();
      },
      { once: true },
    );
  }
  return node;
}
