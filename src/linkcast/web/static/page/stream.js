// The page's one WebSocket on /scraped_urls: connect, resume with ?since=<last event id seen>, reconnect with
// back-off. Every event goes to every view, whatever its type (each view ignores the types it does not know).
//
// Ids strictly increase, so an event at or below the last id seen is a duplicate and is dropped; a reconnection
// resumes after that id and misses nothing.

import { askForToken, authHeaders, currentToken, tokenReason } from "./auth.js";
import { byId, inlineButton } from "./dom.js";

const RETRY_MIN_MS = 500;
const RETRY_MAX_MS = 8000;
// A request id nobody uses: asking for it tells a 401 (a token is needed) from a server that is merely down.
const PROBE_PATH = "/urls/linkcast-page-probe";

const connection = byId("connection");
const connectionText = byId("connection-text");
const notice = byId("notice");

function setConnection(state, text) {
  connection.dataset.state = state;
  connectionText.textContent = text;
}

function announce(text) {
  notice.textContent = text;
  notice.hidden = false;
}

// onEvent(event) for each new event; onOpen() each time the stream goes live (first and after a reconnection);
// onGap() when events this page should have seen are lost (pruned while it was away, or the server's log reset).
export function startStream({ onEvent, onOpen = () => {}, onGap = () => {} }) {
  const historyFrom = Number.parseInt(document.querySelector('meta[name="linkcast-history-from"]').content, 10);
  let lastId = Number.isFinite(historyFrom) && historyFrom >= 0 ? historyFrom : 0;
  let socket = null;
  let failures = 0;
  let retryTimer = null;
  let everLive = false;

  function handleFrame(data, resuming) {
    let event;
    try {
      event = JSON.parse(data);
    } catch {
      return;
    }
    if (!event || typeof event !== "object") return;
    if (event.type === "history_truncated") {
      // On first load this only means the log is shorter than the history asked for; after a reconnection it
      // means events were pruned while the page was away: say so.
      if (resuming) {
        announce(
          `Some events were pruned by the server while this page was disconnected (history now starts at event ${event.first_available_id}); requests and crawls from that time may be missing or incomplete.`,
        );
        onGap();
      }
      return;
    }
    if (typeof event.id === "number") {
      if (event.id <= lastId) return; // already seen
      lastId = event.id;
    }
    onEvent(event);
  }

  function connect() {
    clearTimeout(retryTimer);
    retryTimer = null;
    if (socket) return;
    const params = new URLSearchParams({ since: String(lastId) });
    const token = currentToken();
    if (token) params.set("token", token);
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    setConnection("connecting", everLive ? "Reconnecting…" : "Connecting…");
    const ws = new WebSocket(`${scheme}//${location.host}/scraped_urls?${params}`);
    const resuming = everLive; // this page has been live before: a gap in the history is a loss to it
    let opened = false;
    ws.addEventListener("open", () => {
      opened = true;
      everLive = true;
      failures = 0;
      setConnection("live", "Live");
      onOpen();
    });
    ws.addEventListener("message", (message) => handleFrame(message.data, resuming));
    ws.addEventListener("close", () => {
      if (socket !== ws) return;
      socket = null;
      onClosed(opened);
    });
    socket = ws;
  }

  async function onClosed(opened) {
    // The server refuses a token or an Origin at the handshake (an HTTP answer), never with a close code.
    // Too slow (4008): the next connection resumes with since, so nothing is lost; the back-off keeps a page that
    // cannot keep up from reconnecting in a tight loop.
    if (!opened) {
      // A handshake refused before it opened says nothing about why: ask over HTTP whether a token is the reason.
      try {
        const probe = await fetch(PROBE_PATH, { headers: authHeaders(), cache: "no-store" });
        if (probe.status === 401) return needToken();
        // The server answers (an unknown id: 404) and takes the token, yet refused the stream it gave this page
        // before: its log no longer reaches our last id (since_ahead: a memory:// store restarted, a database
        // replaced). Asking again with that id would be refused forever, and its new events, numbered from 1 again,
        // would look seen: start over from what it has.
        if (probe.status === 404 && everLive && lastId > 0) startOver();
      } catch {
        /* the server is down: retry below */
      }
    }
    scheduleRetry();
  }

  function startOver() {
    announce(
      `The server no longer has the events this page saw (up to event ${lastId}): its history was reset. Requests and crawls shown from before may be out of date.`,
    );
    lastId = 0;
    onGap();
  }

  async function needToken() {
    setConnection("offline", "Waiting for an access token");
    if (await askForToken(tokenReason())) return connect();
    setConnection("offline", "An access token is needed");
    connectionText.append(" ", inlineButton("Enter token", () => needToken()));
  }

  function scheduleRetry() {
    const delay = Math.min(RETRY_MAX_MS, RETRY_MIN_MS * 2 ** failures) * (0.75 + Math.random() * 0.5);
    failures += 1;
    setConnection("offline", `Disconnected; retrying in ${Math.max(1, Math.round(delay / 1000))} s`);
    connectionText.append(" ", inlineButton("Retry now", connect));
    retryTimer = setTimeout(connect, delay);
  }

  window.addEventListener("online", () => socket || connect());
  document.addEventListener(
    "visibilitychange",
    () => document.visibilityState === "visible" && !socket && retryTimer && connect(),
  );
  connect();
}
