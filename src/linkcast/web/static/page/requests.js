// The requests view: every request's state, derived from the last event seen for it (accepted, started, result,
// error), newest first, with "everything" or "only what I submitted" in this tab.

import { byId, fillDefinitions, fromTemplate, setText } from "./dom.js";
import { counted, formatDuration } from "./format.js";
import { LinksPanel } from "./links.js";
import { KEYS, recall, remember } from "./session.js";

const HISTORY_REQUESTS = 200; // requests kept on the page; older ones are dropped from the list
const OWN_IDS_KEPT = 1000;
const STATE_OF_EVENT = { accepted: "queued", started: "running", result: "done", error: "failed" };
const EVENT_OF_STATE = { queued: "accepted", running: "started", done: "result", failed: "error" };
const RANK = { queued: 0, running: 1, done: 2, failed: 2 };

const ui = {
  count: byId("request-count"),
  empty: byId("empty"),
  list: byId("requests"),
};

const requests = new Map(); // request_id -> entry, oldest first
const ownIds = new Set(recall(KEYS.own, []));
let scope = recall(KEYS.scope, "all") === "mine" ? "mine" : "all";

export function rememberOwn(requestId) {
  ownIds.add(requestId);
  remember(KEYS.own, [...ownIds].slice(-OWN_IDS_KEPT));
}

export function entryFor(requestId, url) {
  let entry = requests.get(requestId);
  if (entry) return entry;
  const node = fromTemplate("request-template");
  entry = { id: requestId, url, state: "queued", node, details: node.querySelector("details") };
  entry.links = new LinksPanel(requestId);
  node.querySelector(".body").append(entry.links.node);
  node.dataset.requestId = requestId;
  entry.details.addEventListener("toggle", () => entry.details.open && entry.links.draw());
  requests.set(requestId, entry);
  ui.list.prepend(node);
  while (requests.size > HISTORY_REQUESTS) {
    const [oldestId, oldest] = requests.entries().next().value;
    oldest.node.remove();
    requests.delete(oldestId);
  }
  return entry;
}

// Apply a stream event; states only move forward, and a terminal event is final.
export function applyEvent(event) {
  const state = STATE_OF_EVENT[event.type];
  if (!state || typeof event.request_id !== "string") return; // not a request's event
  const entry = entryFor(event.request_id, event.url);
  if (RANK[entry.state] === 2 || RANK[state] < RANK[entry.state]) return;
  entry.url = event.url || entry.url;
  entry.state = state;
  if (state === "done" || state === "failed") {
    entry.finalUrl = event.final_url;
    entry.statusCode = event.status_code;
    entry.result = Array.isArray(event.links) ? event.links : undefined;
    entry.linksTruncated = Boolean(event.links_truncated);
    entry.timings = event.timings;
    entry.error = event.error;
  }
  render(entry);
}

// Apply what a request's record says (a repeated PUT answers with it).
export function applyRecord(record) {
  const type = EVENT_OF_STATE[record.state];
  if (type) applyEvent({ ...record, type });
}

function elapsedOf(timings) {
  if (!timings) return undefined;
  const parts = [timings.fetch_ms, timings.extract_ms].filter((v) => typeof v === "number");
  return parts.length ? parts.reduce((a, b) => a + b, 0) : undefined;
}

export function render(entry) {
  const { node } = entry;
  node.dataset.state = entry.state;
  node.dataset.own = ownIds.has(entry.id) ? "yes" : "no";
  setText(node, ".state", entry.state);
  const shown = entry.finalUrl || entry.url || "";
  setText(node, ".target", shown);
  node.querySelector(".target").title = shown;
  setText(node, ".status-code", entry.statusCode ? String(entry.statusCode) : "");
  setText(node, ".error-summary", entry.error ? entry.error.code || "error" : "");
  const count = entry.result ? counted(entry.result.length, "link") : "";
  setText(node, ".link-count", count + (entry.linksTruncated ? " (truncated)" : ""));
  setText(node, ".elapsed", formatDuration(elapsedOf(entry.timings)));
  setText(node, ".rid", entry.id);
  fillDefinitions(node.querySelector(".meta"), [
    ["Request id", entry.id],
    ["URL", entry.url],
    ["Final URL", entry.finalUrl && entry.finalUrl !== entry.url ? entry.finalUrl : ""],
    ["Status", entry.statusCode ? String(entry.statusCode) : ""],
    ["Fetch", formatDuration(entry.timings && entry.timings.fetch_ms)],
    ["Extract", formatDuration(entry.timings && entry.timings.extract_ms)],
  ]);
  const errorBox = node.querySelector(".error-box");
  errorBox.hidden = !entry.error;
  if (entry.error) {
    node.querySelector(".error-code").textContent = entry.error.code || "error";
    node.querySelector(".error-message").textContent = entry.error.message || "";
  }
  const finished = entry.state === "done" || entry.state === "failed";
  entry.links.show(entry.result, finished ? "" : "Waiting for the result…");
  if (entry.details.open) entry.links.draw();
  applyScope(entry);
  updateCounts();
}

// ---- "everything" or "only what I submitted" ----

function applyScope(entry) {
  entry.node.hidden = scope === "mine" && !ownIds.has(entry.id);
}

function updateCounts() {
  let visible = 0;
  for (const entry of requests.values()) if (!entry.node.hidden) visible += 1;
  ui.count.textContent = requests.size ? (scope === "mine" ? `(${visible} of ${requests.size})` : `(${requests.size})`) : "";
  ui.empty.hidden = visible > 0;
  ui.empty.textContent =
    scope === "mine" && requests.size ? "Nothing submitted from this tab yet." : "No requests yet. Submit a URL above.";
}

function setScope(value) {
  scope = value === "mine" ? "mine" : "all";
  remember(KEYS.scope, scope);
  for (const entry of requests.values()) applyScope(entry);
  updateCounts();
}

export function startRequestsView() {
  for (const radio of document.querySelectorAll('input[name="scope"]')) {
    radio.checked = radio.value === scope;
    radio.addEventListener("change", () => radio.checked && setScope(radio.value));
  }
  updateCounts();
}
