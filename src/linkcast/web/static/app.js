// The live page: submit URLs over HTTP, follow /scraped_urls over a WebSocket, show every request's state.
//
// One stream of events (accepted, started, result, error) drives everything: each request's state is derived from
// the last event seen for it. The stream resumes with ?since=<last event id seen>, so a reconnection misses nothing
// and, because ids strictly increase, an event at or below that id is a duplicate and is dropped.
"use strict";

(() => {
  const HISTORY_REQUESTS = 200; // requests kept on the page; older ones are dropped from the list
  const RENDERED_LINKS = 1000; // links drawn at once in an expanded request; the filter narrows the rest
  const OWN_IDS_KEPT = 1000;
  const RETRY_MIN_MS = 500;
  const RETRY_MAX_MS = 8000;
  const STATE_OF_EVENT = { accepted: "queued", started: "running", result: "done", error: "failed" };
  const RANK = { queued: 0, running: 1, done: 2, failed: 2 };
  const KEYS = { own: "linkcast.own", token: "linkcast.token", scope: "linkcast.scope" };
  // A request id nobody uses: asking for it tells a 401 (a token is needed) from a server that is merely down.
  const PROBE_PATH = "/urls/linkcast-page-probe";

  const $ = (id) => document.getElementById(id);
  const ui = {
    connection: $("connection"),
    connectionText: $("connection-text"),
    form: $("submit-form"),
    url: $("url"),
    requestId: $("request-id"),
    submitButton: $("submit-button"),
    submitStatus: $("submit-status"),
    count: $("request-count"),
    notice: $("notice"),
    empty: $("empty"),
    list: $("requests"),
    template: $("request-template"),
    tokenDialog: $("token-dialog"),
    tokenForm: $("token-form"),
    tokenReason: $("token-reason"),
    tokenInput: $("token"),
  };

  // ---- session storage (may be unavailable: then nothing is remembered, and that is all) ----

  const session = {
    get(key, fallback) {
      try {
        const raw = sessionStorage.getItem(key);
        return raw === null ? fallback : JSON.parse(raw);
      } catch {
        return fallback;
      }
    },
    set(key, value) {
      try {
        sessionStorage.setItem(key, JSON.stringify(value));
      } catch {
        /* storage full or disabled: keep going without it */
      }
    },
  };

  let token = String(session.get(KEYS.token, "") || "");
  const ownIds = new Set(session.get(KEYS.own, []));
  let scope = session.get(KEYS.scope, "all") === "mine" ? "mine" : "all";

  function rememberOwn(requestId) {
    ownIds.add(requestId);
    session.set(KEYS.own, [...ownIds].slice(-OWN_IDS_KEPT));
  }

  // ---- formatting ----

  const numberFormat = new Intl.NumberFormat();

  function formatDuration(ms) {
    if (typeof ms !== "number" || !Number.isFinite(ms)) return "";
    if (ms < 10) return `${ms.toFixed(1)} ms`;
    return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(ms < 10000 ? 2 : 1)} s`;
  }

  function elapsedOf(timings) {
    if (!timings) return undefined;
    const parts = [timings.fetch_ms, timings.extract_ms].filter((v) => typeof v === "number");
    return parts.length ? parts.reduce((a, b) => a + b, 0) : undefined;
  }

  function isWebUrl(text) {
    try {
      const { protocol } = new URL(text);
      return protocol === "http:" || protocol === "https:";
    } catch {
      return false;
    }
  }

  // ---- the requests: model and rendering ----

  const requests = new Map(); // request_id -> entry, oldest first

  function entryFor(requestId, url) {
    let entry = requests.get(requestId);
    if (entry) return entry;
    const node = ui.template.content.firstElementChild.cloneNode(true);
    entry = {
      id: requestId,
      url,
      state: "queued",
      node,
      details: node.querySelector("details"),
      filter: node.querySelector(".filter"),
      linksDrawn: false,
    };
    node.dataset.requestId = requestId;
    entry.filter.setAttribute("aria-label", `Filter links of ${requestId}`);
    entry.details.addEventListener("toggle", () => entry.details.open && drawLinks(entry));
    entry.filter.addEventListener("input", () => drawLinks(entry));
    node.querySelector(".copy").addEventListener("click", () => copyLinks(entry));
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
  function applyEvent(event) {
    const state = STATE_OF_EVENT[event.type];
    if (!state || typeof event.request_id !== "string") return; // unknown types are ignored, as the API says
    const entry = entryFor(event.request_id, event.url);
    if (RANK[entry.state] === 2 || RANK[state] < RANK[entry.state]) return;
    entry.url = event.url || entry.url;
    entry.state = state;
    if (state === "done" || state === "failed") {
      entry.finalUrl = event.final_url;
      entry.statusCode = event.status_code;
      entry.links = Array.isArray(event.links) ? event.links : undefined;
      entry.linksTruncated = Boolean(event.links_truncated);
      entry.timings = event.timings;
      entry.error = event.error;
      entry.linksDrawn = false;
    }
    render(entry);
  }

  // Apply what GET-like answers say (a repeated PUT answers with the request's current record).
  function applyRecord(record) {
    const type = { queued: "accepted", running: "started", done: "result", failed: "error" }[record.state];
    if (type) applyEvent({ ...record, type });
  }

  function setText(node, selector, text) {
    const target = node.querySelector(selector);
    target.textContent = text;
    target.hidden = !text;
  }

  function render(entry) {
    const { node } = entry;
    node.dataset.state = entry.state;
    node.dataset.own = ownIds.has(entry.id) ? "yes" : "no";
    setText(node, ".state", entry.state);
    const shown = entry.finalUrl || entry.url || "";
    setText(node, ".target", shown);
    node.querySelector(".target").title = shown;
    setText(node, ".status-code", entry.statusCode ? String(entry.statusCode) : "");
    setText(node, ".error-summary", entry.error ? entry.error.code || "error" : "");
    const count = entry.links ? `${numberFormat.format(entry.links.length)} link${entry.links.length === 1 ? "" : "s"}` : "";
    setText(node, ".link-count", count + (entry.linksTruncated ? " (truncated)" : ""));
    setText(node, ".elapsed", formatDuration(elapsedOf(entry.timings)));
    setText(node, ".rid", entry.id);
    renderMeta(entry);
    const errorBox = node.querySelector(".error-box");
    errorBox.hidden = !entry.error;
    if (entry.error) {
      node.querySelector(".error-code").textContent = entry.error.code || "error";
      node.querySelector(".error-message").textContent = entry.error.message || "";
    }
    node.querySelector(".links-tools").hidden = !entry.links;
    if (entry.details.open) drawLinks(entry);
    applyScope(entry);
    updateCounts();
  }

  function renderMeta(entry) {
    const rows = [
      ["Request id", entry.id],
      ["URL", entry.url],
      ["Final URL", entry.finalUrl && entry.finalUrl !== entry.url ? entry.finalUrl : ""],
      ["Status", entry.statusCode ? String(entry.statusCode) : ""],
      ["Fetch", formatDuration(entry.timings && entry.timings.fetch_ms)],
      ["Extract", formatDuration(entry.timings && entry.timings.extract_ms)],
    ];
    const meta = entry.node.querySelector(".meta");
    const fragment = document.createDocumentFragment();
    for (const [label, value] of rows) {
      if (!value) continue;
      const dt = document.createElement("dt");
      dt.textContent = label;
      const dd = document.createElement("dd");
      dd.textContent = value;
      fragment.append(dt, dd);
    }
    meta.replaceChildren(fragment);
  }

  function matchingLinks(entry) {
    const needle = entry.filter.value.trim().toLowerCase();
    const links = entry.links || [];
    return needle ? links.filter((link) => link.toLowerCase().includes(needle)) : links;
  }

  function drawLinks(entry) {
    const list = entry.node.querySelector(".links");
    const summary = entry.node.querySelector(".links-summary");
    if (!entry.links) {
      list.replaceChildren();
      summary.textContent = entry.state === "done" || entry.state === "failed" ? "" : "Waiting for the result…";
      return;
    }
    const matching = matchingLinks(entry);
    const fragment = document.createDocumentFragment();
    for (const link of matching.slice(0, RENDERED_LINKS)) {
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
      fragment.append(item);
    }
    list.replaceChildren(fragment);
    const total = entry.links.length;
    const filtered = matching.length !== total;
    let text = filtered
      ? `${numberFormat.format(matching.length)} of ${numberFormat.format(total)} links match.`
      : `${numberFormat.format(total)} link${total === 1 ? "" : "s"}.`;
    if (matching.length > RENDERED_LINKS) text += ` Showing the first ${numberFormat.format(RENDERED_LINKS)}.`;
    summary.textContent = text;
    entry.linksDrawn = true;
  }

  async function copyLinks(entry) {
    const links = matchingLinks(entry);
    const status = entry.node.querySelector(".copy-status");
    const text = links.join("\n");
    try {
      if (navigator.clipboard && window.isSecureContext) {
        await navigator.clipboard.writeText(text);
      } else {
        copyWithSelection(text);
      }
      status.textContent = `Copied ${numberFormat.format(links.length)} link${links.length === 1 ? "" : "s"}.`;
    } catch {
      status.textContent = "Could not copy: select the links and copy them by hand.";
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

  // ---- "everything" or "only what I submitted" ----

  function applyScope(entry) {
    entry.node.hidden = scope === "mine" && !ownIds.has(entry.id);
  }

  function updateCounts() {
    let visible = 0;
    for (const entry of requests.values()) if (!entry.node.hidden) visible += 1;
    ui.count.textContent = requests.size
      ? scope === "mine"
        ? `(${visible} of ${requests.size})`
        : `(${requests.size})`
      : "";
    ui.empty.hidden = visible > 0;
    ui.empty.textContent =
      scope === "mine" && requests.size ? "Nothing submitted from this tab yet." : "No requests yet. Submit a URL above.";
  }

  function setScope(value) {
    scope = value === "mine" ? "mine" : "all";
    session.set(KEYS.scope, scope);
    for (const entry of requests.values()) applyScope(entry);
    updateCounts();
  }

  for (const radio of document.querySelectorAll('input[name="scope"]')) {
    radio.checked = radio.value === scope;
    radio.addEventListener("change", () => radio.checked && setScope(radio.value));
  }

  // ---- the token: asked once, kept for the session ----

  let tokenPrompt = null;

  function askForToken(reason) {
    if (tokenPrompt) return tokenPrompt;
    tokenPrompt = new Promise((resolve) => {
      ui.tokenReason.textContent = reason;
      ui.tokenInput.value = "";
      const onClose = () => {
        ui.tokenDialog.removeEventListener("close", onClose);
        const given = ui.tokenDialog.returnValue === "ok" ? ui.tokenInput.value.trim() : "";
        tokenPrompt = null;
        if (given) {
          token = given;
          session.set(KEYS.token, token);
        }
        resolve(given);
      };
      ui.tokenDialog.addEventListener("close", onClose);
      ui.tokenDialog.returnValue = "";
      ui.tokenDialog.showModal();
      ui.tokenInput.focus();
    });
    return tokenPrompt;
  }

  function tokenReason() {
    return token ? "The server refused the token. Enter the right one." : "This linkcast server needs an access token.";
  }

  function authHeaders() {
    return token ? { Authorization: `Bearer ${token}` } : {};
  }

  // fetch with the token; on 401 ask for it once and try again.
  async function callApi(method, path, body) {
    for (let attempt = 0; ; attempt += 1) {
      const response = await fetch(path, {
        method,
        headers: { "Content-Type": "application/json", Accept: "application/json", ...authHeaders() },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      if (response.status !== 401 || attempt > 0) return response;
      if (!(await askForToken(tokenReason()))) return response;
    }
  }

  // ---- submitting ----

  function say(text, kind) {
    ui.submitStatus.textContent = text;
    ui.submitStatus.dataset.kind = kind;
  }

  ui.form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const url = ui.url.value.trim();
    const requestId = ui.requestId.value.trim();
    if (!isWebUrl(url)) {
      say("Enter an absolute http:// or https:// URL.", "error");
      ui.url.setAttribute("aria-invalid", "true");
      ui.url.focus();
      return;
    }
    ui.url.removeAttribute("aria-invalid");
    if (requestId && !/^[A-Za-z0-9._~-]{1,128}$/.test(requestId)) {
      say("A request id is 1 to 128 letters, digits or . _ ~ -", "error");
      ui.requestId.setAttribute("aria-invalid", "true");
      ui.requestId.focus();
      return;
    }
    ui.requestId.removeAttribute("aria-invalid");
    ui.submitButton.disabled = true;
    say("Sending…", "info");
    try {
      const path = requestId ? `/urls/${encodeURIComponent(requestId)}` : "/urls";
      const response = await callApi(requestId ? "PUT" : "POST", path, { url });
      const answer = await response.json().catch(() => null);
      if (response.ok && answer) {
        const id = answer.request_id || requestId;
        rememberOwn(id);
        const entry = entryFor(id, url);
        if (response.status === 200) {
          applyRecord(answer);
          say(`Already submitted as ${id}: ${answer.state || answer.status}.`, "info");
        } else {
          say(`Accepted as ${id}.`, "ok");
        }
        render(entry);
        ui.form.reset();
        ui.url.focus();
      } else {
        const error = (answer && answer.error) || { code: `http_${response.status}`, message: response.statusText };
        say(`Refused (${error.code}): ${error.message}`, "error");
      }
    } catch {
      say("Could not reach the server; try again when the connection is back.", "error");
    } finally {
      ui.submitButton.disabled = false;
    }
  });

  // ---- the stream: connect, resume with since, reconnect with back-off ----

  const historyFrom = Number.parseInt(document.querySelector('meta[name="linkcast-history-from"]').content, 10);
  let lastId = Number.isFinite(historyFrom) && historyFrom >= 0 ? historyFrom : 0;
  let socket = null;
  let failures = 0;
  let retryTimer = null;
  let everLive = false;

  function setConnection(state, text) {
    ui.connection.dataset.state = state;
    ui.connectionText.textContent = text;
  }

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
        ui.notice.textContent = `Some events were pruned by the server while this page was disconnected (history now starts at event ${event.first_available_id}); requests from that time may be missing or incomplete.`;
        ui.notice.hidden = false;
      }
      return;
    }
    if (typeof event.id === "number") {
      if (event.id <= lastId) return; // already seen
      lastId = event.id;
    }
    applyEvent(event);
  }

  function connect() {
    clearTimeout(retryTimer);
    retryTimer = null;
    if (socket) return;
    const params = new URLSearchParams({ since: String(lastId) });
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
    ui.notice.textContent = `The server no longer has the events this page saw (up to event ${lastId}): its history was reset. Requests shown from before may be out of date.`;
    ui.notice.hidden = false;
    lastId = 0;
  }

  async function needToken() {
    setConnection("offline", "Waiting for an access token");
    if (await askForToken(tokenReason())) return connect();
    setConnection("offline", "An access token is needed");
    ui.connectionText.append(" ", retryButton("Enter token", () => needToken()));
  }

  function scheduleRetry() {
    const delay = Math.min(RETRY_MAX_MS, RETRY_MIN_MS * 2 ** failures) * (0.75 + Math.random() * 0.5);
    failures += 1;
    setConnection("offline", `Disconnected; retrying in ${Math.max(1, Math.round(delay / 1000))} s`);
    ui.connectionText.append(" ", retryButton("Retry now", connect));
    retryTimer = setTimeout(connect, delay);
  }

  function retryButton(label, action) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "inline";
    button.textContent = label;
    button.addEventListener("click", action);
    return button;
  }

  window.addEventListener("online", () => socket || connect());
  document.addEventListener("visibilitychange", () => document.visibilityState === "visible" && !socket && retryTimer && connect());

  updateCounts();
  connect();
})();
