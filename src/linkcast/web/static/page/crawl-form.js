// Starting a crawl: its seed and main options in the form, the rest under "Options"; PUT with the id typed in,
// POST for one chosen by the server. After a start the URL and id are cleared and the options kept, for the next
// crawl of the same kind.

import { callApi, errorOf } from "./auth.js";
import { byId } from "./dom.js";
import { isWebUrl } from "./format.js";
import { applyCrawlRecord } from "./crawls.js";

const CRAWL_ID = /^[A-Za-z0-9._~-]{1,128}$/;

const ui = {
  form: byId("crawl-form"),
  url: byId("crawl-url"),
  depth: byId("crawl-depth"),
  maxPages: byId("crawl-max-pages"),
  scope: byId("crawl-scope"),
  crawlId: byId("crawl-id"),
  include: byId("crawl-include"),
  exclude: byId("crawl-exclude"),
  robots: byId("crawl-robots"),
  sitemaps: byId("crawl-sitemaps"),
  button: byId("crawl-button"),
  status: byId("crawl-status"),
};

function say(text, kind) {
  ui.status.textContent = text;
  ui.status.dataset.kind = kind;
}

function lines(textarea) {
  return textarea.value
    .split("\n")
    .map((line) => line.trim())
    .filter(Boolean);
}

function wholeNumber(input, min, max) {
  const value = input.valueAsNumber;
  return Number.isInteger(value) && value >= min && value <= max ? value : undefined;
}

// The request's body, or the input to fix and why.
function readForm() {
  const url = ui.url.value.trim();
  if (!isWebUrl(url)) return { invalid: ui.url, why: "Enter an absolute http:// or https:// URL." };
  const maxDepth = wholeNumber(ui.depth, 0, 100);
  if (maxDepth === undefined) return { invalid: ui.depth, why: "The depth is a whole number from 0 to 100." };
  const maxPages = wholeNumber(ui.maxPages, 1, Number.MAX_SAFE_INTEGER);
  if (maxPages === undefined) return { invalid: ui.maxPages, why: "Max pages is a whole number from 1." };
  const crawlId = ui.crawlId.value.trim();
  if (crawlId && !CRAWL_ID.test(crawlId)) {
    return { invalid: ui.crawlId, why: "A crawl id is 1 to 128 letters, digits or . _ ~ -" };
  }
  const body = {
    url,
    max_depth: maxDepth,
    max_pages: maxPages,
    scope: ui.scope.value,
    include: lines(ui.include),
    exclude: lines(ui.exclude),
    respect_robots: ui.robots.checked,
    sitemaps: ui.sitemaps.checked,
  };
  return { body, crawlId };
}

async function submit(event) {
  event.preventDefault();
  for (const input of [ui.url, ui.depth, ui.maxPages, ui.crawlId]) input.removeAttribute("aria-invalid");
  const { body, crawlId, invalid, why } = readForm();
  if (invalid) {
    say(why, "error");
    invalid.setAttribute("aria-invalid", "true");
    invalid.focus();
    return;
  }
  ui.button.disabled = true;
  say("Sending…", "info");
  try {
    const path = crawlId ? `/crawls/${encodeURIComponent(crawlId)}` : "/crawls";
    const response = await callApi(crawlId ? "PUT" : "POST", path, body);
    const answer = await response.json().catch(() => null);
    if (response.ok && answer) {
      applyCrawlRecord(answer);
      const id = answer.crawl_id;
      say(response.status === 200 ? `Already started as ${id}: ${answer.state}.` : `Started crawl ${id}.`, "ok");
      ui.url.value = "";
      ui.crawlId.value = "";
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

export function startCrawlForm() {
  ui.form.addEventListener("submit", submit);
}
