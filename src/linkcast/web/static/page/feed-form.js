// Adding feeds: a URL (the feed's, or a page's whose feed the server finds: the answer says which it chose), or an
// OPML file of them (the answer counts those watched, refused and skipped).

import { callApi, refusal, sendApi } from "./auth.js";
import { byId } from "./dom.js";
import { counted, isWebUrl } from "./format.js";
import { applyFeedRecord, loadFeeds, pick } from "./feeds.js";

const OPML_BYTES_MAX = 1024 * 1024; // the server's default largest body

const ui = {
  form: byId("feed-form"),
  url: byId("feed-url"),
  button: byId("feed-button"),
  opml: byId("opml-file"),
  status: byId("feed-status"),
};

function say(text, kind) {
  ui.status.textContent = text;
  ui.status.dataset.kind = kind;
}

async function add(event) {
  event.preventDefault();
  ui.url.removeAttribute("aria-invalid");
  const url = ui.url.value.trim();
  if (!isWebUrl(url)) {
    say("Enter an absolute http:// or https:// URL.", "error");
    ui.url.setAttribute("aria-invalid", "true");
    ui.url.focus();
    return;
  }
  ui.button.disabled = true;
  say("Looking for the feed…", "info");
  try {
    const response = await callApi("POST", "/feeds", { url });
    if (response.ok) {
      const record = await response.json();
      applyFeedRecord(record);
      pick(record.feed_id); // its entries, as they come
      say(record.url === url ? `Watching ${record.url}` : `Watching ${record.url} (found from ${url})`, "ok");
      ui.url.value = "";
    } else {
      const error = await refusal(response);
      say(`Refused (${error.code}): ${error.message}`, "error");
    }
  } catch {
    say("Could not reach the server; try again when the connection is back.", "error");
  } finally {
    ui.button.disabled = false;
  }
}

async function importOpml() {
  const [file] = ui.opml.files;
  if (!file) return;
  if (file.size > OPML_BYTES_MAX) {
    say(`This file is too large (${counted(file.size, "byte")}; at most ${counted(OPML_BYTES_MAX, "byte")}).`, "error");
    return;
  }
  ui.opml.disabled = true;
  say(`Importing ${file.name}…`, "info");
  try {
    const response = await sendApi("POST", "/feeds/import", await file.arrayBuffer(), "text/x-opml");
    if (response.ok) {
      const { results, skipped } = await response.json();
      const watched = results.filter((result) => result.status === "accepted").length;
      const refused = results.length - watched;
      const parts = [`Imported ${counted(watched, "feed")}`];
      if (refused) parts.push(`${refused} refused`);
      if (skipped.length) parts.push(`${skipped.length} skipped`);
      say(`${parts.join("; ")}.`, watched ? "ok" : "error");
      loadFeeds();
    } else {
      const error = await refusal(response);
      say(`Import refused (${error.code}): ${error.message}`, "error");
    }
  } catch {
    say("Could not reach the server or read the file; try again.", "error");
  } finally {
    ui.opml.value = "";
    ui.opml.disabled = false;
  }
}

export function startFeedForm() {
  ui.form.addEventListener("submit", add);
  ui.opml.addEventListener("change", importOpml);
}
