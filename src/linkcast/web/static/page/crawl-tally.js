// A crawl's counts as the page knows them, and the progress and rate shown from them. No DOM here.
//
// Counts come from two sources the page cannot order against each other:
// - the stream: crawl.accepted, crawl.progress and crawl.done carry the counts exactly as of that event, and each
//   page or skipped event after one ends one more URL (fetched, failed, or skipped at fetch: robots, or a redirect
//   into a page already visited), which the page adds itself; what its links added to the queue only the next
//   crawl.progress says;
// - HTTP answers (GET /crawls, a PUT, a DELETE): exact as of some moment the stream gives no id for. On load the
//   stream's replay may hold events from before or after that moment.
// Adding stream events to an HTTP answer could count a URL twice; so each source is kept apart and they are merged:
// every count but `queued` only grows, so the larger of the two is the newer; `queued` comes from the source that
// has seen more of the crawl.

export const SKIP_REASONS = ["robots", "scope", "pattern", "depth", "page_limit", "duplicate"];
const RATE_SAMPLES = 11; // ten seconds of samples, one a second

function number(value) {
  return Number.isFinite(value) && value > 0 ? value : 0;
}

export function readCounts(raw) {
  const counts = raw && typeof raw === "object" ? raw : {};
  const skipped = counts.skipped && typeof counts.skipped === "object" ? counts.skipped : {};
  return {
    fetched: number(counts.fetched),
    failed: number(counts.failed),
    queued: number(counts.queued),
    skipped: Object.fromEntries(SKIP_REASONS.map((reason) => [reason, number(skipped[reason])])),
  };
}

// How much of the crawl a set of counts has seen: every count that only grows.
function seen(counts) {
  return counts.fetched + counts.failed + SKIP_REASONS.reduce((sum, reason) => sum + counts.skipped[reason], 0);
}

export class Tally {
  constructor() {
    this.stream = null; // as of the last crawl.* event, plus the URLs ended since
    this.answer = null; // as of the last HTTP answer
    this.newest = null; // which of the two changed last: it wins a tie
    this.fetchDuplicates = 0; // skipped events for a redirect into a visited page (counts lump them with links')
  }

  fromStream(raw) {
    this.stream = readCounts(raw);
    this.newest = "stream";
  }

  fromAnswer(raw) {
    this.answer = readCounts(raw);
    this.newest = "answer";
  }

  // A page or skipped event: one URL of the queue ended. Until crawl.done a running crawl has at least that URL
  // queued, so `queued` goes down to 1, never 0: the bar is full only when the crawl is done.
  onOutcome(event) {
    const counts = this.stream || (this.stream = readCounts(null));
    if (event.type === "page") {
      if (event.error) counts.failed += 1;
      else counts.fetched += 1;
    } else if (SKIP_REASONS.includes(event.reason)) {
      counts.skipped[event.reason] += 1;
      if (event.reason === "duplicate") this.fetchDuplicates += 1;
    }
    counts.queued = Math.max(1, counts.queued - 1);
    this.newest = "stream";
  }

  counts() {
    const { stream, answer } = this;
    if (!stream || !answer) return stream || answer || readCounts(null);
    const newer = seen(stream) > seen(answer) || (seen(stream) === seen(answer) && this.newest === "stream");
    return {
      fetched: Math.max(stream.fetched, answer.fetched),
      failed: Math.max(stream.failed, answer.failed),
      queued: (newer ? stream : answer).queued,
      skipped: Object.fromEntries(
        SKIP_REASONS.map((reason) => [reason, Math.max(stream.skipped[reason], answer.skipped[reason])]),
      ),
    };
  }
}

// The progress bar: `done` URLs ended (fetched, failed or skipped at fetch) of `total` (those and the queue).
export function progressOf(tally) {
  const counts = tally.counts();
  const atFetch = counts.skipped.robots + Math.min(tally.fetchDuplicates, counts.skipped.duplicate);
  const done = counts.fetched + counts.failed + atFetch;
  return { counts, done, total: done + counts.queued };
}

// Pages per second while a crawl runs, from what this page sees: its ended count sampled once a second, over the
// last ten seconds. Samples, not event arrival times: a replay delivers minutes of events in one burst.
export class RateMeter {
  constructor() {
    this.samples = [];
  }

  sample(atMs, done) {
    this.samples.push([atMs, done]);
    if (this.samples.length > RATE_SAMPLES) this.samples.shift();
  }

  // undefined until two seconds have been seen
  perSecond() {
    if (this.samples.length < 3) return undefined;
    const [[firstAt, firstDone], [lastAt, lastDone]] = [this.samples[0], this.samples[this.samples.length - 1]];
    return ((lastDone - firstDone) * 1000) / (lastAt - firstAt);
  }
}

// A finished crawl's average, by the server's clock.
export function averageRate(done, startedAt, finishedAt) {
  const seconds = finishedAt - startedAt;
  return Number.isFinite(seconds) && seconds > 0 ? done / seconds : undefined;
}
