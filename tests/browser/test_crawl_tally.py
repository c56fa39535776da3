"""``static/page/crawl-tally.js``, the crawls view's counts, run in the browser: the stream's counts and the HTTP
answers' are merged so that no URL is counted twice, whichever came first."""

from __future__ import annotations

from tests.browser.conftest import BrowserPage
from tests.support.service import Service

# Scenarios for crawl-tally.js, run in the page: each gives the counts the page would show (done of total).
TALLY_SCENARIOS = """async () => {
  const { Tally, progressOf } = await import("/static/page/crawl-tally.js");
  const counts = (fetched, queued, skipped = {}) => ({ fetched, failed: 0, queued, skipped });
  const page = { type: "page", links: [] };
  const shown = (tally) => { const { done, total } = progressOf(tally); return `${done} of ${total}`; };

  // The HTTP answer came first (the crawl done), then the replay of its events: nothing counted twice.
  const answerFirst = new Tally();
  answerFirst.fromAnswer(counts(3, 0));
  answerFirst.fromStream(counts(0, 1));
  for (let n = 0; n < 3; n++) answerFirst.onOutcome(page);
  answerFirst.fromStream(counts(3, 0));

  // An answer older than what the stream has seen since leaves the stream's counts.
  const staleAnswer = new Tally();
  staleAnswer.fromStream(counts(5, 10));
  staleAnswer.onOutcome(page);
  staleAnswer.fromAnswer(counts(4, 20));

  // A replay that begins in the middle of the crawl (no crawl.* event yet): the answer fills in what it missed.
  const midway = new Tally();
  midway.onOutcome(page);
  midway.fromAnswer(counts(40, 60));

  // Until crawl.done, pages ending between two crawl.progress never fill the bar; a redirect into a visited page
  // counts as ended (its skipped event), a duplicate link does not.
  const running = new Tally();
  running.fromStream(counts(0, 2));
  running.onOutcome(page);
  running.onOutcome({ type: "skipped", reason: "duplicate" });
  const beforeDone = shown(running);
  running.fromStream(counts(1, 0, { duplicate: 3 }));

  return [shown(answerFirst), shown(staleAnswer), shown(midway), beforeDone, shown(running)];
}"""


async def test_counts_from_the_stream_and_from_http_answers_never_count_a_url_twice(
    service: Service, browser_page: BrowserPage
) -> None:
    page = browser_page.page
    await page.goto(service.base_url + "/")
    assert await page.evaluate(TALLY_SCENARIOS) == ["3 of 3", "6 of 15", "40 of 100", "2 of 3", "2 of 2"]
    assert browser_page.console.unexpected() == []
