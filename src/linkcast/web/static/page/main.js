// The live page: a view per kind of work (requests, crawls), each fed by the page's one stream of events.
//
// To add a view: its markup in index.html (a tab and its panel), a module that exports start() and onEvent(event),
// and one line in VIEWS below.

import { startRequestForm } from "./request-form.js";
import { applyEvent as applyRequestEvent, startRequestsView } from "./requests.js";
import { startStream } from "./stream.js";

const VIEWS = [
  {
    start() {
      startRequestsView();
      startRequestForm();
    },
    onEvent: applyRequestEvent,
  },
];

for (const view of VIEWS) view.start();
startStream({
  onEvent: (event) => {
    for (const view of VIEWS) view.onEvent(event);
  },
  onOpen: () => {
    for (const view of VIEWS) view.onOpen?.();
  },
});
