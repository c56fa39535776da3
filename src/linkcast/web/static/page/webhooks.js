// The webhooks view: every endpoint (GET /webhooks) with its health: active, or disabled and why; deliveries made
// and failed; when it last succeeded and failed, since when it has been failing, and its last error. Health is not
// on the stream: the list is read when the view is shown, on Refresh, and every few seconds while it is shown.

import { callApi, refusal } from "./auth.js";
import { byId } from "./dom.js";
import { numberFormat } from "./format.js";

const LIST_LIMIT = 1000;
const REFRESH_MS = 5000;

const ui = {
  panel: byId("view-webhooks"),
  list: byId("webhooks"),
  count: byId("webhook-count"),
  empty: byId("webhooks-empty"),
  problem: byId("webhooks-problem"),
  refresh: byId("webhooks-refresh"),
};

let loading = null;

function when(seconds) {
  return seconds ? new Date(seconds * 1000).toLocaleString() : "never";
}

function line(className, text) {
  const node = document.createElement("p");
  node.className = className;
  node.textContent = text;
  return node;
}

function item(endpoint) {
  const row = document.createElement("li");
  row.className = `webhook webhook-${endpoint.state}`;
  row.dataset.webhookId = endpoint.id;
  const head = document.createElement("p");
  head.className = "webhook-head";
  const name = document.createElement("strong");
  name.textContent = endpoint.id;
  const state = document.createElement("span");
  state.className = "webhook-state";
  state.textContent = endpoint.state === "disabled" ? `disabled: ${endpoint.reason || ""}` : endpoint.state;
  head.append(name, " ", state);
  row.append(head, line("webhook-url", endpoint.url));
  const counts = `${numberFormat.format(endpoint.delivered)} delivered, ${numberFormat.format(endpoint.failed)} failed`;
  const times = `last success ${when(endpoint.last_success_at)}, last failure ${when(endpoint.last_failure_at)}`;
  row.append(line("webhook-counts", `${counts}; ${times}`));
  if (endpoint.failing_since) row.append(line("webhook-failing", `failing since ${when(endpoint.failing_since)}`));
  if (endpoint.last_error) row.append(line("webhook-error", endpoint.last_error.message || endpoint.last_error.code));
  return row;
}

function render(endpoints) {
  ui.list.replaceChildren(...endpoints.map(item));
  ui.empty.hidden = endpoints.length > 0;
  ui.count.textContent = endpoints.length ? `(${numberFormat.format(endpoints.length)})` : "";
}

export function loadWebhooks() {
  loading ??= (async () => {
    try {
      const response = await callApi("GET", `/webhooks?limit=${LIST_LIMIT}`);
      if (!response.ok) {
        const error = await refusal(response);
        ui.problem.textContent = `The webhooks could not be listed: ${error.message}`;
        ui.problem.hidden = false;
        return;
      }
      ui.problem.hidden = true;
      render((await response.json()).webhooks);
    } catch {
      ui.problem.textContent = "The webhooks could not be listed: the server cannot be reached.";
      ui.problem.hidden = false;
    } finally {
      loading = null;
    }
  })();
  return loading;
}

export function startWebhooksView() {
  ui.refresh.addEventListener("click", () => loadWebhooks());
  byId("tab-webhooks").addEventListener("click", () => loadWebhooks());
  setInterval(() => {
    if (!ui.panel.hidden) loadWebhooks();
  }, REFRESH_MS);
}
