// The feeds view, a reader: the watched feeds with their state and unread count, and the entries of the one chosen
// (or of all), newest first. Feeds come from GET /feeds, read again whenever the stream (re)connects, and their
// entries from GET /feeds/<id>/entries; the stream keeps both up to date: a new entry arrives on top, unread. What
// has been read is this browser's (reader-store.js).

import { callApi, readListing, refusal } from "./auth.js";
import { byId } from "./dom.js";
import { numberFormat } from "./format.js";
import { newestFirst } from "./entry-item.js";
import { Feed } from "./feed-item.js";
import { LoadQueue } from "./feed-loads.js";
import { KEYS, recall, remember } from "./session.js";
import { forgetFeed, isRead, READ_KEY, reread, setRead } from "./reader-store.js";

const FEEDS_KEPT = 500; // feeds listed; beyond them the page says so
const ENTRIES_SHOWN = 200; // of the feed chosen, or of all
const LOADS_AT_ONCE = 4; // feeds whose entries are read at the same time
const FEED_EVENTS = new Set(["feed.accepted", "feed.entry", "feed.moved", "feed.gone", "feed.error", "feed.removed"]);
const ALL = "";
const RENDER_MS = 50;

const ui = {
  list: byId("feeds"),
  all: byId("feeds").querySelector('[data-feed-id=""]'),
  empty: byId("feeds-empty"),
  problem: byId("feeds-problem"),
  total: byId("unread-total"),
  markAll: byId("mark-all-read"),
  heading: byId("entries-heading"),
  entries: byId("entries"),
  noEntries: byId("entries-empty"),
};

const feeds = new Map(); // feed id -> Feed, in the order listed
const removing = new Set(); // feed ids whose DELETE is under way
const removed = new Set(); // feed ids removed while this page was open: a listing from before is not to list them
const loads = new LoadQueue(LOADS_AT_ONCE, (problem) => {
  if (problem) showProblem(problem);
  queueRender();
});
// The feed chosen, kept for the tab's session; until it is listed (or once it is removed), all are shown.
let selected = String(recall(KEYS.feed, ALL) || ALL);
let listing = null;
let listAgain = false; // a feed came meanwhile: list once more after the listing under way
let renderQueued = false;

function showProblem(text) {
  ui.problem.textContent = text;
  ui.problem.hidden = !text;
}

// ---- feeds ----

// A feed's record from an HTTP answer or a feed.accepted: a feed not known yet is listed and its entries read.
export function applyFeedRecord(record) {
  if (!record || typeof record.feed_id !== "string") return;
  const known = feeds.get(record.feed_id);
  if (removed.has(record.feed_id)) return;
  if (known) {
    known.onRecord(record);
  } else {
    if (feeds.size >= FEEDS_KEPT) return showProblem(`Only the first ${FEEDS_KEPT} feeds are shown.`);
    const feed = new Feed(record, { onPick: pick, onRemove: remove });
    feeds.set(feed.id, feed);
    ui.list.append(feed.node);
    loads.add(feed);
  }
  queueRender();
}

function dropFeed(feedId) {
  const feed = feeds.get(feedId);
  removed.add(feedId);
  if (removed.size > FEEDS_KEPT) removed.delete(removed.values().next().value);
  if (!feed) return;
  feeds.delete(feedId);
  feed.drop();
  feed.node.remove();
  forgetFeed(feedId);
  queueRender();
}

// A feed's event from the stream; other events are not this view's.
export function applyFeedEvent(event) {
  if (!FEED_EVENTS.has(event.type) || typeof event.request_id !== "string") return;
  const feedId = event.request_id;
  if (event.type === "feed.accepted") {
    removed.delete(feedId); // watched anew since
    // Not taken as is: it may be the stream's replay of a feed removed since (its feed.removed still to come),
    // whose entries are gone. The listing says which feeds there are now.
    if (feeds.has(feedId)) applyFeedRecord({ ...event, feed_id: feedId });
    else loadFeeds();
    return;
  }
  if (event.type === "feed.removed") return dropFeed(feedId);
  const feed = feeds.get(feedId);
  if (!feed) return; // a feed from before the listing: the listing has it
  if (event.type === "feed.entry" && typeof event.entry_id === "string") {
    // The backlog of a first poll comes all at once: read it from the API, in its feed's order, with the title.
    if (event.backlog) loads.add(feed);
    else feed.onLiveEntry(event);
  } else if (event.type === "feed.moved") {
    feed.onRecord({ url: event.url });
  } else if (event.type === "feed.gone") {
    feed.onRecord({ state: "gone" });
  } else if (event.type === "feed.error") {
    feed.onRecord({ state: "error", last_error: event.error });
  }
  queueRender();
}

// Every feed (the first FEEDS_KEPT); the ones listed no more were removed while the page was away. A call while a
// listing is under way lists once more after it.
export function loadFeeds() {
  listAgain = true;
  listing ||= (async () => {
    while (listAgain) {
      listAgain = false;
      await listAll();
    }
  })().finally(() => {
    listing = null;
  });
  return listing;
}

async function listAll() {
  const before = new Set(feeds.keys()); // a feed that arrives on the stream meanwhile may be newer than the listing
  const records = [];
  let listing;
  try {
    listing = await readListing("/feeds", "feeds", (page) => {
      records.push(...page);
      return records.length < FEEDS_KEPT;
    });
    if (listing.refused) {
      const error = await refusal(listing.refused);
      return showProblem(`Could not load the feeds (${error.code}): ${error.message}`);
    }
  } catch {
    return showProblem("Could not reach the server to load the feeds.");
  }
  showProblem("");
  if (listing.complete) {
    const listed = new Set(records.map((record) => record.feed_id));
    for (const feedId of before) if (!listed.has(feedId)) dropFeed(feedId); // removed while the page was away
  }
  for (const record of records.slice(0, FEEDS_KEPT)) applyFeedRecord(record);
}

// The stream lost events: entries may be missing, which the API still has.
export function afterLostEvents() {
  for (const feed of feeds.values()) loads.add(feed);
}

// ---- what the reader does ----

// Show the entries of one feed (or of all: ALL).
export function pick(feedId) {
  selected = feeds.has(feedId) ? feedId : ALL;
  remember(KEYS.feed, selected);
  queueRender();
}

function shown() {
  return feeds.has(selected) ? selected : ALL;
}

async function remove(feed) {
  removing.add(feed.id);
  queueRender();
  try {
    await feed.drop();
    const response = await callApi("DELETE", `/feeds/${encodeURIComponent(feed.id)}`);
    if (response.ok || response.status === 404) {
      dropFeed(feed.id);
    } else {
      feed.dropped = false; // still watched: read as before
      const error = await refusal(response);
      showProblem(`Could not remove ${feed.title} (${error.code}): ${error.message}`);
    }
  } catch {
    feed.dropped = false;
    showProblem("Could not reach the server to remove the feed; try again when the connection is back.");
  } finally {
    removing.delete(feed.id);
    queueRender();
  }
}

function chosenFeeds() {
  return shown() === ALL ? [...feeds.values()] : [feeds.get(selected)];
}

function markAllRead() {
  for (const feed of chosenFeeds()) setRead(feed.id, feed.entries.keys(), true);
  queueRender();
}

function toggle(entry) {
  setRead(entry.feedId, [entry.entryId], !isRead(entry.feedId, entry.entryId));
  queueRender();
}

function opened(entry) {
  setRead(entry.feedId, [entry.entryId], true);
  queueRender();
}

// ---- drawing: at most every RENDER_MS, however many changes came (an import brings hundreds of feeds) ----

function queueRender() {
  if (renderQueued) return;
  renderQueued = true;
  setTimeout(() => {
    renderQueued = false;
    render();
  }, RENDER_MS);
}

function render() {
  let total = 0;
  for (const feed of feeds.values()) {
    feed.render({ selected: feed.id === shown(), removing: removing.has(feed.id) });
    total += feed.unread;
  }
  const allPick = ui.all.querySelector(".feed-pick");
  if (shown() === ALL) allPick.setAttribute("aria-current", "true");
  else allPick.removeAttribute("aria-current");
  ui.all.querySelector(".unread").textContent = total ? numberFormat.format(total) : "";
  allPick.setAttribute("aria-label", `All feeds, ${total} unread`);
  ui.total.textContent = total ? `(${numberFormat.format(total)} unread)` : "";
  ui.empty.hidden = feeds.size > 0;
  renderEntries();
}

function renderEntries() {
  const chosen = chosenFeeds();
  const all = shown() === ALL;
  ui.heading.textContent = all ? "All feeds" : chosen[0].title;
  const entries = chosen
    .flatMap((feed) => [...feed.entries.values()])
    .sort(newestFirst)
    .slice(0, ENTRIES_SHOWN);
  const nodes = entries.map((entry) =>
    entry.render({
      read: isRead(entry.feedId, entry.entryId),
      feedTitle: all ? feeds.get(entry.feedId)?.title : "",
      onToggle: toggle,
      onOpen: opened,
    }),
  );
  placeInOrder(ui.entries, nodes);
  ui.noEntries.hidden = nodes.length > 0;
  ui.markAll.disabled = !entries.some((entry) => !isRead(entry.feedId, entry.entryId));
}

// Only what changed moves: an entry arriving on top leaves the others (and the focus on one of them) where they are.
function placeInOrder(list, nodes) {
  nodes.forEach((node, at) => {
    const there = list.children[at];
    if (there !== node) list.insertBefore(node, there || null);
  });
  while (list.children.length > nodes.length) list.lastElementChild.remove();
}

export function startFeedsView() {
  ui.all.querySelector(".feed-pick").addEventListener("click", () => pick(ALL));
  ui.markAll.addEventListener("click", markAllRead);
  // Another tab marked entries: the same marks here.
  window.addEventListener("storage", (event) => {
    if (event.key === null || event.key === READ_KEY) {
      reread();
      queueRender();
    }
  });
  render();
}
