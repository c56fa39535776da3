// One crawl as the page shows it: its seed and options, state, progress bar, counts, pages per second, a cancel
// button while it runs, and its pages (crawl-pages.js).

import { callApi, refusal } from "./auth.js";
import { fromTemplate, setText } from "./dom.js";
import { counted, formatRate, numberFormat } from "./format.js";
import { CrawlPages } from "./crawl-pages.js";
import { averageRate, progressOf, RateMeter, SKIP_REASONS, Tally } from "./crawl-tally.js";

const RANK = { queued: 0, running: 1, done: 2, cancelled: 2 };
const SCOPES = { "same-host": "same host", "same-origin": "same origin", "same-site": "same site", any: "any site" };

export class Crawl {
  constructor(crawlId) {
    this.id = crawlId;
    this.state = "queued";
    this.options = null;
    this.createdAt = null; // by the server's clock; known from HTTP answers only
    this.startedAt = null;
    this.finishedAt = null;
    this.tally = new Tally();
    this.meter = new RateMeter();
    this.cancelling = false;
    this.node = fromTemplate("crawl-template");
    this.node.dataset.crawlId = crawlId;
    this.progress = this.node.querySelector("progress");
    this.progress.setAttribute("aria-label", `Progress of crawl ${crawlId}`);
    this.cancelButton = this.node.querySelector(".cancel");
    this.cancelButton.setAttribute("aria-label", `Cancel crawl ${crawlId}`);
    this.cancelButton.addEventListener("click", () => this.cancel());
    this.pages = new CrawlPages(crawlId, this.node.querySelector(".crawl-pages"));
  }

  get ended() {
    return RANK[this.state] === 2;
  }

  // States only move forward; done and cancelled are final.
  advance(state) {
    if (state in RANK && !this.ended && RANK[state] >= RANK[this.state]) this.state = state;
  }

  // crawl.accepted, crawl.progress, crawl.done, page, skipped.
  onEvent(event) {
    if (event.options) this.options = event.options;
    if (event.type === "page" || event.type === "skipped") {
      this.advance("running");
      this.tally.onOutcome(event);
      this.pages.onLive(event);
    } else {
      this.advance(event.state);
      this.tally.fromStream(event.counts);
      if (event.type === "crawl.done") this.setTimes(event);
    }
    this.render();
  }

  // A crawl record from an HTTP answer.
  onRecord(record) {
    if (record.options) this.options = record.options;
    if (typeof record.created_at === "number") this.createdAt = record.created_at;
    this.advance(record.state);
    this.tally.fromAnswer(record.counts);
    this.setTimes(record);
    this.render();
  }

  setTimes(source) {
    if (typeof source.started_at === "number") this.startedAt = source.started_at;
    if (typeof source.finished_at === "number") this.finishedAt = source.finished_at;
  }

  // Once a second while it runs: a sample for pages/s.
  tick(nowMs) {
    if (this.state !== "running") return;
    const { done } = progressOf(this.tally);
    this.meter.sample(nowMs, done);
    this.renderRate(done);
  }

  async cancel() {
    this.cancelling = true;
    this.say("Cancelling…");
    this.render();
    try {
      const response = await callApi("DELETE", `/crawls/${encodeURIComponent(this.id)}`);
      if (response.ok) {
        this.onRecord(await response.json());
        this.say(this.state === "cancelled" ? "Cancelled." : `It had ended: ${this.state}.`);
      } else {
        const error = await refusal(response);
        this.say(`Could not cancel (${error.code}): ${error.message}`);
      }
    } catch {
      this.say("Could not reach the server to cancel; try again when the connection is back.");
    } finally {
      this.cancelling = false;
      this.render();
    }
  }

  say(text) {
    this.node.querySelector(".crawl-message").textContent = text;
  }

  render() {
    const { node } = this;
    node.dataset.state = this.state;
    setText(node, ".state", this.state);
    const seeds = (this.options && this.options.urls) || [];
    const target = seeds.length > 1 ? `${seeds[0]} and ${seeds.length - 1} more` : seeds[0] || "";
    setText(node, ".target", target);
    node.querySelector(".target").title = seeds.join("\n");
    setText(node, ".rid", this.id);
    setText(node, ".crawl-options", describeOptions(this.options));
    this.cancelButton.hidden = this.ended;
    this.cancelButton.disabled = this.cancelling;
    const { counts, done, total } = progressOf(this.tally);
    this.renderProgress(done, total);
    fillCounts(node.querySelector(".crawl-counts"), counts);
    this.renderRate(done);
    this.pages.setTotal(done);
  }

  renderProgress(done, total) {
    // A cancelled crawl's queue was dropped, so "done of total" would read as complete: say where it stopped.
    const cancelled = this.state === "cancelled";
    const text = cancelled
      ? `Cancelled after ${counted(done, "page")}`
      : this.state === "queued" && !total
        ? "Waiting to start"
        : `${numberFormat.format(done)} of ${counted(total, "page")}` +
          (total ? ` (${Math.floor((100 * done) / total)}%)` : "");
    this.progress.hidden = cancelled;
    if (this.state === "queued" && !done) {
      this.progress.removeAttribute("value"); // indeterminate: nothing is known yet
    } else {
      this.progress.max = Math.max(total, 1);
      this.progress.value = done;
    }
    this.progress.setAttribute("aria-valuetext", text);
    this.progress.textContent = text;
    setText(this.node, ".progress-text", text);
  }

  renderRate(done) {
    const rate = this.ended ? averageRate(done, this.startedAt, this.finishedAt) : this.meter.perSecond();
    setText(this.node, ".rate", this.state === "queued" ? "" : formatRate(rate));
  }
}

// "depth 2 · at most 100 pages · same host · include /blog/* · robots.txt ignored · with sitemaps"
function describeOptions(options) {
  if (!options) return "";
  const parts = [
    `depth ${options.max_depth}`,
    `at most ${counted(options.max_pages, "page")}`,
    SCOPES[options.scope] || options.scope,
  ];
  if (options.include && options.include.length) parts.push(`include ${options.include.join(" ")}`);
  if (options.exclude && options.exclude.length) parts.push(`exclude ${options.exclude.join(" ")}`);
  if (options.respect_robots === false) parts.push("robots.txt ignored");
  if (options.sitemaps) parts.push("with sitemaps");
  return parts.join(" · ");
}

// Fetched, failed, queued and skipped (with why), each <dd> named by data-count.
function fillCounts(list, counts) {
  const skipped = SKIP_REASONS.filter((reason) => counts.skipped[reason]);
  const skippedTotal = skipped.reduce((sum, reason) => sum + counts.skipped[reason], 0);
  const why = skipped.map((reason) => `${reason.replace("_", " ")} ${numberFormat.format(counts.skipped[reason])}`);
  const rows = [
    ["fetched", "Fetched", numberFormat.format(counts.fetched)],
    ["failed", "Failed", numberFormat.format(counts.failed)],
    ["queued", "Queued", numberFormat.format(counts.queued)],
    ["skipped", "Skipped", numberFormat.format(skippedTotal) + (why.length ? ` (${why.join(", ")})` : "")],
  ];
  const fragment = document.createDocumentFragment();
  for (const [name, label, value] of rows) {
    const dt = document.createElement("dt");
    dt.textContent = label;
    const dd = document.createElement("dd");
    dd.dataset.count = name;
    dd.textContent = value;
    fragment.append(dt, dd);
  }
  list.replaceChildren(fragment);
}
