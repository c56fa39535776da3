// The live page: a view per kind of work (requests, crawls, feeds) and the webhooks' health, each fed by the page's one stream of events.
//
// To add a view: its tab and panel in index.html, its module, and an entry in VIEWS: start() once the page has
// loaded, onEvent(event) for every event of the stream (a view ignores the types it does not know), and if it
// needs them, onOpen() each time the stream (re)connects and onGap() when the stream has lost events.

import { startCrawlForm } from "./crawl-form.js";
import { afterLostEvents, applyCrawlEvent, loadCrawls, startCrawlsView } from "./crawls.js";
import { startFeedForm } from "./feed-form.js";
import { afterLostEvents as afterLostFeedEvents, applyFeedEvent, loadFeeds, startFeedsView } from "./feeds.js";
import { startRequestForm } from "./request-form.js";
import { applyEvent as applyRequestEvent, startRequestsView } from "./requests.js";
import { startStream } from "./stream.js";
import { startViews } from "./views.js";
import { loadWebhooks, startWebhooksView } from "./webhooks.js";

const VIEWS = [
  {
    start() {
      startRequestsView();
      startRequestForm();
    },
    onEvent: applyRequestEvent,
  },
  {
    start() {
      startCrawlsView();
      startCrawlForm();
    },
    onEvent: applyCrawlEvent,
    onOpen: loadCrawls,
    onGap: afterLostEvents,
  },
  {
    start() {
      startFeedsView();
      startFeedForm();
    },
    onEvent: applyFeedEvent,
    onOpen: loadFeeds,
    onGap: afterLostFeedEvents,
  },
  {
    start: startWebhooksView,
    onEvent: () => {},
    onOpen: loadWebhooks,
  },
];

startViews();
for (const view of VIEWS) view.start();
startStream({
  onEvent: (event) => {
    for (const view of VIEWS) view.onEvent(event);
  },
  onOpen: () => {
    for (const view of VIEWS) view.onOpen?.();
  },
  onGap: () => {
    for (const view of VIEWS) view.onGap?.();
  },
});
