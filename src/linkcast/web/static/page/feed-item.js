// One watched feed as the reader knows it: its record (state, title, URL, last error), the newest of its entries
// (ENTRIES_KEPT at most), read from GET /feeds/<id>/entries and kept up to date by the stream, and its row in the
// list of feeds with its unread count and a button to remove it.

import { callApi, readListing } from "./auth.js";
import { fromTemplate, setText } from "./dom.js";
import { numberFormat } from "./format.js";
import { Entry, newestFirst } from "./entry-item.js";
import { isRead, keepOnly } from "./reader-store.js";

export const ENTRIES_KEPT = 200; // per feed, the newest

export class Feed {
  constructor(record, { onPick, onRemove }) {
    this.id = record.feed_id;
    this.record = record;
    this.entries = new Map(); // entry id -> Entry
    this.loaded = false; // its entries have been read once
    this.loading = null; // the read under way
    this.again = false; // read again once it ends: entries were sent meanwhile
    this.dropped = false; // removed: never read again
    this.node = fromTemplate("feed-template");
    this.node.dataset.feedId = this.id;
    this.node.querySelector(".feed-pick").addEventListener("click", () => onPick(this.id));
    this.removeButton = this.node.querySelector(".remove");
    this.removeButton.addEventListener("click", () => onRemove(this));
  }

  get title() {
    return this.record.title || this.record.url;
  }

  get unread() {
    let count = 0;
    for (const entry of this.entries.values()) if (!isRead(this.id, entry.entryId)) count += 1;
    return count;
  }

  onRecord(record) {
    this.record = { ...this.record, ...record };
  }

  // A feed.entry seen on the stream (not from the backlog: the API has those, in their feed's order).
  onLiveEntry(event) {
    const known = this.entries.get(event.entry_id);
    if (known) known.update(event);
    else this.entries.set(event.entry_id, new Entry(this.id, event, { live: event.id || 0 }));
    this.trim();
    // An entry came: the poll worked.
    if (this.record.state === "error") this.onRecord({ state: "active", last_error: null });
  }

  // The oldest beyond ENTRIES_KEPT go; so do their read marks, once the feed's entries have been read.
  trim() {
    if (this.entries.size > ENTRIES_KEPT) {
      const kept = [...this.entries.values()].sort(newestFirst).slice(0, ENTRIES_KEPT);
      this.entries = new Map(kept.map((entry) => [entry.entryId, entry]));
    }
    if (this.loaded) keepOnly(this.id, this.entries.keys());
  }

  // Read the record and the entries again; a call while a read is under way reads once more after it, and its
  // promise ends after that. Resolves to a problem to show, or "".
  load() {
    if (this.dropped) return Promise.resolve("");
    this.again = true;
    this.loading ||= this.readUntilCurrent().finally(() => {
      this.loading = null;
    });
    return this.loading;
  }

  async readUntilCurrent() {
    let problem = "";
    while (this.again && !this.dropped) {
      this.again = false;
      problem = await this.read();
    }
    return problem;
  }

  // A feed removed meanwhile is no problem: its feed.removed follows.
  async read() {
    const path = `/feeds/${encodeURIComponent(this.id)}`;
    const response = await callApi("GET", path);
    if (!response.ok) return response.status === 404 ? "" : `Could not read the feed ${this.title}.`;
    this.onRecord(await response.json());
    const rows = new Map(); // entry id -> its row, the newest ENTRIES_KEPT (of a changed entry, its last row)
    const { refused } = await readListing(`${path}/entries`, "entries", (page) => {
      for (const row of page) {
        rows.delete(row.entry_id);
        rows.set(row.entry_id, row);
      }
      while (rows.size > ENTRIES_KEPT) rows.delete(rows.keys().next().value);
    });
    if (refused) return refused.status === 404 ? "" : `Could not read the entries of ${this.title}.`;
    for (const row of rows.values()) {
      const known = this.entries.get(row.entry_id);
      if (known) {
        known.update(row);
        known.seq = row.seq;
      } else {
        this.entries.set(row.entry_id, new Entry(this.id, row, { seq: row.seq }));
      }
    }
    this.loaded = true;
    this.trim();
    return "";
  }

  // No more reads; resolves once the one under way (if any) has ended, so that a DELETE sent then races none.
  async drop() {
    this.dropped = true;
    await this.loading?.catch(() => {});
  }

  render({ selected, removing }) {
    const { node, record } = this;
    node.dataset.state = record.state;
    setText(node, ".feed-title", this.title);
    node.querySelector(".feed-pick").title = record.url;
    setText(node, ".feed-state", record.state === "active" ? "" : record.state);
    const unread = this.unread;
    setText(node, ".unread", unread ? numberFormat.format(unread) : "");
    const pick = node.querySelector(".feed-pick");
    const state = record.state === "active" ? "" : ` (${record.state})`;
    pick.setAttribute("aria-label", `${this.title}${state}, ${unread} unread`);
    if (selected) pick.setAttribute("aria-current", "true");
    else pick.removeAttribute("aria-current");
    this.removeButton.setAttribute("aria-label", `Remove feed ${this.title}`);
    this.removeButton.disabled = removing;
    const error = record.state === "error" && record.last_error;
    const gone = record.state === "gone" ? "Gone (410): no longer polled." : "";
    setText(node, ".feed-error", error ? `${error.code}: ${error.message}` : gone);
  }
}
