// The crawls view: every crawl this page knows, newest first, kept up to date by the stream. Crawls from before
// the page loaded come from GET /crawls (the stream's replay holds recent events only), read again whenever the
// stream (re)connects; a crawl first seen there is placed by its creation time.

import { callApi, readListing, refusal } from "./auth.js";
import { byId } from "./dom.js";
import { Crawl } from "./crawl-item.js";

const CRAWLS_KEPT = 200; // crawls kept on the page; the oldest are dropped from the list
const EVENT_TYPES = new Set(["crawl.accepted", "crawl.progress", "crawl.done", "page", "skipped"]);
const TICK_MS = 1000;

const ui = {
  list: byId("crawls"),
  count: byId("crawl-count"),
  empty: byId("crawls-empty"),
  problem: byId("crawls-problem"),
};

const crawls = new Map(); // crawl_id -> Crawl
let listing = null; // the GET /crawls under way
let listed = false; // GET /crawls has answered once: a crawl unknown by now is read on its own

function crawlFor(crawlId) {
  let crawl = crawls.get(crawlId);
  if (!crawl) {
    crawl = new Crawl(crawlId);
    crawls.set(crawlId, crawl);
  }
  return crawl;
}

// A crawl's event from the stream; other events are not this view's.
export function applyCrawlEvent(event) {
  if (!EVENT_TYPES.has(event.type) || typeof event.request_id !== "string") return;
  const known = crawls.has(event.request_id);
  const crawl = crawlFor(event.request_id);
  crawl.onEvent(event);
  if (!known) {
    ui.list.prepend(crawl.node);
    // Its crawl.accepted is older than the replay: its options and times are in its record.
    if (event.type !== "crawl.accepted" && listed) readOne(event.request_id);
    settle();
  }
}

// A crawl's record from an HTTP answer (GET /crawls, a PUT or POST, a DELETE).
export function applyCrawlRecord(record) {
  if (!record || typeof record.crawl_id !== "string") return;
  const known = crawls.has(record.crawl_id);
  const crawl = crawlFor(record.crawl_id);
  crawl.onRecord(record);
  if (!known) {
    place(crawl);
    settle();
  }
}

// Among the crawls placed by creation time, before the first older one. Crawls seen on the stream first have
// no creation time and stay where they came in, on top: they are the newest.
function place(crawl) {
  for (const node of ui.list.children) {
    const other = crawls.get(node.dataset.crawlId);
    if (other && other.createdAt !== null && other.createdAt < crawl.createdAt) {
      ui.list.insertBefore(crawl.node, node);
      return;
    }
  }
  ui.list.append(crawl.node);
}

// Drop the oldest beyond CRAWLS_KEPT; count what is left.
function settle() {
  while (crawls.size > CRAWLS_KEPT) {
    const oldest = ui.list.lastElementChild;
    crawls.delete(oldest.dataset.crawlId);
    oldest.remove();
  }
  ui.count.textContent = crawls.size ? `(${crawls.size})` : "";
  ui.empty.hidden = crawls.size > 0;
}

function showProblem(text) {
  ui.problem.textContent = text;
  ui.problem.hidden = !text;
}

// Every crawl the server has, a page at a time (oldest first: the newest are on the last page); the newest
// CRAWLS_KEPT are applied.
export function loadCrawls() {
  listing ||= readAll().finally(() => {
    listing = null;
  });
  return listing;
}

async function readAll() {
  const records = [];
  try {
    const { refused } = await readListing("/crawls", "crawls", (page) => {
      records.push(...page);
      records.splice(0, Math.max(0, records.length - CRAWLS_KEPT));
    });
    if (refused) {
      const error = await refusal(refused);
      return showProblem(`Could not load the crawls (${error.code}): ${error.message}`);
    }
  } catch {
    return showProblem("Could not reach the server to load the crawls.");
  }
  showProblem("");
  for (const record of records) applyCrawlRecord(record);
  listed = true;
}

async function readOne(crawlId) {
  try {
    const response = await callApi("GET", `/crawls/${encodeURIComponent(crawlId)}`);
    if (response.ok) applyCrawlRecord(await response.json());
  } catch {
    /* the stream keeps it up to date meanwhile; the next listing fills in the rest */
  }
}

// The stream lost events: pages lists that were following it may lack some, which the API still has.
export function afterLostEvents() {
  for (const crawl of crawls.values()) crawl.pages.lostTrack();
}

export function startCrawlsView() {
  settle();
  setInterval(() => {
    const now = performance.now();
    for (const crawl of crawls.values()) crawl.tick(now);
  }, TICK_MS);
}
