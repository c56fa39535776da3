// One feed entry as the reader shows it: its title (a link to its page when that is http(s)), its feed, date and
// summary, and a button to mark it read or unread. Everything in it comes from feeds, so from anyone: text only
// (textContent), and a link only to an http(s) URL, opened without a referrer or a handle on this page.

import { fromTemplate, setText } from "./dom.js";
import { isWebUrl } from "./format.js";

const SUMMARY_CHARS = 400;
const dateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });

export class Entry {
  // live: the event id of a feed.entry seen on the stream (the newest arrivals go on top), 0 for an entry read
  // from GET /feeds/<id>/entries; seq: its place in its feed's list there (0 until known).
  constructor(feedId, fields, { live = 0, seq = 0 } = {}) {
    this.feedId = feedId;
    this.entryId = fields.entry_id;
    this.live = live;
    this.seq = seq;
    this.fields = {};
    this.node = null; // made when first shown
    this.update(fields);
  }

  update(fields) {
    this.fields = { ...this.fields, ...fields };
    const ms = Date.parse(this.fields.published || this.fields.updated || "");
    this.publishedMs = Number.isFinite(ms) ? ms : 0; // kept: sorting compares it often
  }

  // The entry's node, up to date. onToggle(entry) when its button is pressed, onOpen(entry) when its link is.
  render({ read, feedTitle, onToggle, onOpen }) {
    if (!this.node) {
      this.node = fromTemplate("entry-template");
      this.node.querySelector(".toggle-read").addEventListener("click", () => onToggle(this));
      // A click, a middle click or Enter: each opens the entry, so each marks it read.
      const link = this.node.querySelector(".entry-title");
      link.addEventListener("click", () => onOpen(this));
      link.addEventListener("auxclick", () => onOpen(this));
    }
    const { node, fields } = this;
    node.dataset.read = read ? "yes" : "no";
    node.dataset.entryId = this.entryId;
    node.dataset.feedId = this.feedId;
    const title = fields.title || fields.link || this.entryId;
    const link = node.querySelector(".entry-title");
    link.textContent = title;
    if (isWebUrl(fields.link)) link.href = fields.link;
    else link.removeAttribute("href");
    const toggle = node.querySelector(".toggle-read");
    toggle.textContent = read ? "Mark unread" : "Mark read";
    toggle.setAttribute("aria-label", `Mark “${title}” ${read ? "unread" : "read"}`);
    setText(node, ".entry-feed", feedTitle || "");
    setText(node, ".entry-date", this.dateText());
    const summary = fields.summary || "";
    setText(node, ".entry-summary", summary.length > SUMMARY_CHARS ? `${summary.slice(0, SUMMARY_CHARS)}…` : summary);
    return node;
  }

  dateText() {
    const ms = this.publishedMs;
    return ms ? dateFormat.format(ms) : "";
  }
}

// Newest first: arrivals seen live (by event id), then by date, then by place in the feed.
export function newestFirst(a, b) {
  return b.live - a.live || b.publishedMs - a.publishedMs || b.seq - a.seq;
}
