// Which feed entries this browser has read, kept in localStorage (across tabs and reloads) under one key:
// { feed id: [entry id, ...] }. Bounded: a feed's list is pruned to the entries the page holds for it once they are
// loaded (an entry no longer shown need not be remembered), a removed feed's list goes, and the whole is capped at
// READ_IDS_KEPT ids (the oldest marks go first). Storage may be unavailable or full: read state then lasts as long
// as the page, and that is all.

export const READ_KEY = "linkcast.reader.read";
const READ_IDS_KEPT = 20000;

let readIds = load(); // feed id -> Set of entry ids, each in the order marked

// Another tab changed the marks: take its.
export function reread() {
  readIds = load();
}

function load() {
  const sets = new Map();
  try {
    const saved = JSON.parse(localStorage.getItem(READ_KEY) || "{}");
    if (!saved || typeof saved !== "object" || Array.isArray(saved)) return sets;
    for (const [feedId, ids] of Object.entries(saved)) {
      if (Array.isArray(ids)) sets.set(feedId, new Set(ids.filter((id) => typeof id === "string")));
    }
  } catch {
    /* unreadable or disabled: start with nothing read */
  }
  return sets;
}

function save() {
  let total = 0;
  for (const ids of readIds.values()) total += ids.size;
  // Over the cap: the oldest marks of the largest feeds go first.
  while (total > READ_IDS_KEPT) {
    const largest = [...readIds.values()].reduce((a, b) => (b.size > a.size ? b : a));
    const over = Math.min(largest.size, total - READ_IDS_KEPT);
    for (const id of [...largest].slice(0, over)) largest.delete(id);
    total -= over;
  }
  try {
    const plain = {};
    for (const [feedId, ids] of readIds) if (ids.size) plain[feedId] = [...ids];
    localStorage.setItem(READ_KEY, JSON.stringify(plain));
  } catch {
    /* storage full or disabled: keep going without it */
  }
}

export function isRead(feedId, entryId) {
  return readIds.get(feedId)?.has(entryId) ?? false;
}

// Mark entries of one feed read (read = true) or unread.
export function setRead(feedId, entryIds, read) {
  let ids = readIds.get(feedId);
  if (!ids) {
    if (!read) return;
    ids = new Set();
    readIds.set(feedId, ids);
  }
  for (const entryId of entryIds) {
    if (read) ids.add(entryId);
    else ids.delete(entryId);
  }
  save();
}

// Forget the marks of entries the page no longer holds for this feed.
export function keepOnly(feedId, heldIds) {
  const ids = readIds.get(feedId);
  if (!ids) return;
  const held = new Set(heldIds);
  let changed = false;
  for (const id of ids) {
    if (!held.has(id)) {
      ids.delete(id);
      changed = true;
    }
  }
  if (changed) save();
}

export function forgetFeed(feedId) {
  if (readIds.delete(feedId)) save();
}
