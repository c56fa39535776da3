// Submitting a URL: PUT with the id typed in, POST for one chosen by the server; the answer goes to the view.

import { callApi, errorOf } from "./auth.js";
import { byId } from "./dom.js";
import { isWebUrl } from "./format.js";
import { applyRecord, entryFor, render, rememberOwn } from "./requests.js";

const REQUEST_ID = /^[A-Za-z0-9._~-]{1,128}$/;

const ui = {
  form: byId("submit-form"),
  url: byId("url"),
  requestId: byId("request-id"),
  button: byId("submit-button"),
  status: byId("submit-status"),
};

function say(text, kind) {
  ui.status.textContent = text;
  ui.status.dataset.kind = kind;
}

function refuseInput(input, text) {
  say(text, "error");
  input.setAttribute("aria-invalid", "true");
  input.focus();
}

async function submit(event) {
  event.preventDefault();
  const url = ui.url.value.trim();
  const requestId = ui.requestId.value.trim();
  if (!isWebUrl(url)) return refuseInput(ui.url, "Enter an absolute http:// or https:// URL.");
  ui.url.removeAttribute("aria-invalid");
  if (requestId && !REQUEST_ID.test(requestId)) {
    return refuseInput(ui.requestId, "A request id is 1 to 128 letters, digits or . _ ~ -");
  }
  ui.requestId.removeAttribute("aria-invalid");
  ui.button.disabled = true;
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
      const error = errorOf(response, answer);
      say(`Refused (${error.code}): ${error.message}`, "error");
    }
  } catch {
    say("Could not reach the server; try again when the connection is back.", "error");
  } finally {
    ui.button.disabled = false;
  }
}

export function startRequestForm() {
  ui.form.addEventListener("submit", submit);
}
