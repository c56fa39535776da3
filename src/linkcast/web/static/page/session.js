// What this tab remembers across reloads (sessionStorage). Storage may be unavailable or full: then nothing is
// remembered, and that is all.

export const KEYS = {
  own: "linkcast.own",
  token: "linkcast.token",
  scope: "linkcast.scope",
  view: "linkcast.view",
  feed: "linkcast.feed",
};

export function recall(key, fallback) {
  try {
    const raw = sessionStorage.getItem(key);
    return raw === null ? fallback : JSON.parse(raw);
  } catch {
    return fallback;
  }
}

export function remember(key, value) {
  try {
    sessionStorage.setItem(key, JSON.stringify(value));
  } catch {
    /* storage full or disabled: keep going without it */
  }
}
