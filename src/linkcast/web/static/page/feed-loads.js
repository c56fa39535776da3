// Reading feeds' entries a few at a time: a page with hundreds of feeds (an OPML import) neither sends hundreds of
// requests at once nor waits for them one by one.

export class LoadQueue {
  // afterEach(problem) once each read has ended, with the problem to show or "".
  constructor(atOnce, afterEach) {
    this.atOnce = atOnce;
    this.afterEach = afterEach;
    this.waiting = new Set(); // feeds to read, in the order asked; a feed asked twice meanwhile is read once
    this.running = 0;
  }

  add(feed) {
    this.waiting.add(feed);
    while (this.running < this.atOnce && this.waiting.size) {
      this.running += 1;
      this.drain().finally(() => {
        this.running -= 1;
      });
    }
  }

  async drain() {
    while (this.waiting.size) {
      const feed = this.waiting.values().next().value;
      this.waiting.delete(feed);
      let problem;
      try {
        problem = await feed.load();
      } catch {
        problem = "Could not reach the server to read the entries.";
      }
      this.afterEach(problem);
    }
  }
}
