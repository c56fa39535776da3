"""The Lua scripts of feeds: ``feed_ledger.py`` said in Lua, each step one script.

Keys under the prefix ``P``: ``P:feed:<id>`` (a hash of the record's columns), ``P:feed:<id>:seen`` (entry key ->
fingerprint) with ``P:feed:<id>:seenage`` (entry key by when last seen), ``P:feed:<id>:entries`` (a Stream of the
entries sent, ids ``<seq>-0``), ``P:feed:<id>:job`` (the id of its poll job), ``P:feeds`` (feeds by the order they
were added, ``P:feedseq``), ``P:feeds_removed`` (removed feeds by the id of their
``feed.removed`` event). Event bodies are built in Python and passed in; the scripts choose which to send.
"""

from __future__ import annotations

from linkcast.store.feed_ledger import FOLLOW_ID_TRIES
from linkcast.store.redis.scheduler_scripts import PREAMBLE
from linkcast.store.redis.scripts import APPEND, FIRST_NOT_OLDER

FEED_PREAMBLE = (
    PREAMBLE
    + APPEND
    + f"local FOLLOW_ID_TRIES = {FOLLOW_ID_TRIES}\n"
    + """
local function fkey(id, part)
  if part then return P .. ':feed:' .. id .. ':' .. part end
  return P .. ':feed:' .. id
end

local function present(value) return value ~= nil and value ~= cjson.null end

-- Whether the feed is stored and is the one made at created_at ('': any): a poll or a hub's delivery read for a feed
-- removed and added again since (DELETE and PUT of the id) is not the new feed's.
local function is_feed(id, created_at)
  local stored = redis.call('HGET', fkey(id), 'created_at')
  return stored ~= false and (created_at == '' or tonumber(stored) == tonumber(created_at))
end

-- Store the record's columns (a JSON object): absent ones (null) are deleted from the hash.
local function save(id, record)
  for name, value in pairs(record) do
    if present(value) then
      redis.call('HSET', fkey(id), name, tostring(value))
    else
      redis.call('HDEL', fkey(id), name)
    end
  end
end

-- The id of a followed entry's request (feed_ledger.followed_ids): the first of base, base.2... that no request has;
-- false if one before it is this link's already, or every one is another URL's.
local function followed_id(base, link)
  for n = 1, FOLLOW_ID_TRIES do
    local rid = n == 1 and base or (base .. '.' .. n)
    local url = redis.call('HGET', P .. ':req:' .. rid, 'url')
    if not url then return rid end
    if url == link then return false end
  end
  return false
end

-- Feed entries ([[key hex, fingerprint, entry id, new body, changed body, link, link host]...]) through the seen-set
-- (feed_ledger.take_entries): each sent once, again only when changed. Answers the feed's new entry count.
local function take_entries(id, entries, follow, count, now, conc, maxlen, kept)
  for _, e in ipairs(entries) do
    local key, fingerprint = e[1], e[2]
    local known = redis.call('HGET', fkey(id, 'seen'), key)
    local body = nil
    if not known then
      count = count + 1
      body = e[4]
      local rid, link = follow and e[6] ~= '' and followed_id(id .. '~' .. count, e[6]), e[6]
      if rid then
        redis.call('HSET', P .. ':req:' .. rid, 'url', link, 'state', 'queued', 'created_at', now, 'attempts', 0)
        local accepted = cjson.encode({type = 'accepted', request_id = rid, url = link})
        redis.call('ZADD', P .. ':requests', append(maxlen, 'accepted', rid, accepted), rid)
        enqueue('page', rid, link, e[7], cjson.encode({feed_id = id, entry_id = e[3]}), 0, now, conc, 'feed:' .. id)
        wake(1)
      end
    elseif known ~= fingerprint then
      body = e[5]
    end
    if body then
      append(maxlen, 'feed.entry', id, body)
      local seq = redis.call('HINCRBY', fkey(id), 'entry_seq', 1)
      redis.call('XADD', fkey(id, 'entries'), 'MAXLEN', '~', kept, seq .. '-0', 'd', body, 'at', now)
    end
    redis.call('HSET', fkey(id, 'seen'), key, fingerprint)
    redis.call('ZADD', fkey(id, 'seenage'), now, key)
  end
  return count
end

-- Forget ids last seen before now - retention, and the oldest beyond the newest keep (feed_ledger's step 4).
local function forget_seen(id, now, retention, keep)
  -- %.17g: Lua's own number-to-text keeps 14 digits, a tenth of a millisecond off from the ages ZADD stored.
  local cutoff = '(' .. string.format('%.17g', now - tonumber(retention))
  local stale = redis.call('ZRANGEBYSCORE', fkey(id, 'seenage'), '-inf', cutoff)
  local over = redis.call('ZCARD', fkey(id, 'seenage')) - tonumber(keep)
  if over > 0 then
    for _, key in ipairs(redis.call('ZRANGE', fkey(id, 'seenage'), 0, over - 1)) do table.insert(stale, key) end
  end
  for _, key in ipairs(stale) do
    redis.call('HDEL', fkey(id, 'seen'), key)
    redis.call('ZREM', fkey(id, 'seenage'), key)
  end
end

local function follows(id) return cjson.decode(redis.call('HGET', fkey(id), 'spec'))['follow'] == true end

local function schedule(id, url, host, due, now, conc)
  local job = enqueue('feed', id, url, host, '', due, now, conc, 'feed:' .. id)
  redis.call('SET', fkey(id, 'job'), job)
  wake(1)
end
"""
)

# ARGV: prefix, now, concurrency, feed id, record (JSON columns), host, accepted body, maxlen.
# Answers 1 (created), 0 (a repeat) or -1 (the id is watched with another spec).
CREATE = (
    FEED_PREAMBLE
    + """
local now, conc, id = tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4]
local record = cjson.decode(ARGV[5])
local spec = redis.call('HGET', fkey(id), 'spec')
if spec then
  if spec ~= record.spec then return -1 end
  return 0
end
save(id, record)
redis.call('ZADD', P .. ':feeds', redis.call('INCR', P .. ':feedseq'), id)
schedule(id, record.url, ARGV[6], now, now, conc)
append(ARGV[8], 'feed.accepted', id, ARGV[7])
return 1
"""
)

# ARGV: prefix, now, concurrency, job id, owner, feed id, record (JSON columns; entry_count is counted here), host of
# the record's URL, events (JSON [[type, body]...]), entries (JSON [[key hex, fingerprint, entry id, new body,
# changed body, link, link host]...]), maxlen, seen retention (seconds), most ids kept, entries kept, the created_at
# of the feed polled. Answers 0 for a feed removed since the poll began (added again since or not: the new feed's
# poll was queued by its CREATE).
FINISH_POLL = (
    FEED_PREAMBLE
    + """
local now, conc, id = tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[6]
local maxlen = ARGV[11]
local ended = complete(ARGV[4], ARGV[5], now, conc)
if not is_feed(id, ARGV[15]) then return 0 end
local record = cjson.decode(ARGV[7])
local count = tonumber(redis.call('HGET', fkey(id), 'entry_count') or '0')
for _, event in ipairs(cjson.decode(ARGV[9])) do append(maxlen, event[1], id, event[2]) end
local entries = cjson.decode(ARGV[10])
if #entries > 0 then  -- a poll without entries leaves the seen-set as it is (feed_ledger's step 4)
  count = take_entries(id, entries, follows(id), count, now, conc, maxlen, ARGV[14])
  forget_seen(id, now, ARGV[12], ARGV[13])
end
record.entry_count = count
save(id, record)
-- A poll whose lease lapsed queues no next poll while the feed has a job: the worker that holds it now queues it.
local current = redis.call('GET', fkey(id, 'job'))
local has_job = current and redis.call('EXISTS', jkey(current)) == 1
if record.state ~= 'gone' and (ended == 1 or not has_job) then
  schedule(id, record.url, ARGV[8], tonumber(record.next_poll) or now, now, conc)
end
return 1
"""
)

# ARGV: prefix, now, concurrency, feed id, when. Answers 1 if the feed's queued poll was brought forward to 'when',
# else 0 (no such feed, gone, due by then, or its poll running: that one queues its next as it ends).
POLL_BY = (
    FEED_PREAMBLE
    + """
local now, conc, id, when = tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4], tonumber(ARGV[5])
local f = redis.call('HMGET', fkey(id), 'state', 'next_poll', 'url')
if not f[3] or f[1] == 'gone' or not f[2] or tonumber(f[2]) <= when then return 0 end
local job = redis.call('GET', fkey(id, 'job'))
local j = job and redis.call('HMGET', jkey(job), 'h', 'o')
if not j or not j[1] or j[2] then return 0 end
unqueue(job, now, conc)
redis.call('HSET', fkey(id), 'next_poll', ARGV[5])
schedule(id, f[3], j[1], when, now, conc)
return 1
"""
)

# A poll's (or a push's) entries before its last ``ENTRIES_PER_STEP`` (``feeds.py``), taken a step at a time ahead
# of FINISH_POLL or PUSH (which take the last ones and then trim the seen-set): a poll brings --max-entries-per-poll
# entries, each new one an event and, for a feed that follows its links, a request and its job, and one script
# taking 1,000 held Redis for 75-85 ms. The poll's own events go first, with the first step, as FINISH_POLL has them.
# ARGV: prefix, now, concurrency, feed id, events (JSON [[type, body]...]), entries (as FINISH_POLL's), maxlen,
# entries kept, the created_at of the feed they were read for ('': any). Answers 0 for an unknown feed, or another
# one (the caller stops), else 1.
TAKE = (
    FEED_PREAMBLE
    + """
local now, conc, id = tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4]
if not is_feed(id, ARGV[9]) then return 0 end
for _, event in ipairs(cjson.decode(ARGV[5])) do append(ARGV[7], event[1], id, event[2]) end
local count = tonumber(redis.call('HGET', fkey(id), 'entry_count') or '0')
count = take_entries(id, cjson.decode(ARGV[6]), follows(id), count, now, conc, ARGV[7], ARGV[8])
redis.call('HSET', fkey(id), 'entry_count', count)
return 1
"""
)

# ARGV: prefix, now, concurrency, feed id, entries (as FINISH_POLL's), maxlen, entries kept, seen retention, most ids
# kept, the created_at of the feed the delivery was read for ('': any). Answers 0 for an unknown feed, or another one.
PUSH = (
    FEED_PREAMBLE
    + """
local now, conc, id = tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4]
if not is_feed(id, ARGV[10]) then return 0 end
local entries = cjson.decode(ARGV[5])
if #entries == 0 then return 1 end
local count = tonumber(redis.call('HGET', fkey(id), 'entry_count') or '0')
count = take_entries(id, entries, follows(id), count, now, conc, ARGV[6], ARGV[7])
forget_seen(id, now, ARGV[8], ARGV[9])
redis.call('HSET', fkey(id), 'entry_count', count)
return 1
"""
)

# ARGV: prefix, now, concurrency, feed id, removed body, maxlen. Answers 0 for an unknown feed.
REMOVE = (
    FEED_PREAMBLE
    + """
local now, conc, id = tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4]
if redis.call('EXISTS', fkey(id)) == 0 then return 0 end
local job = redis.call('GET', fkey(id, 'job'))
if job then unqueue(job, now, conc) end
-- First: its record still names it, so the event is indexed. The index (P:ev:<id>) stays for replays until the log
-- has dropped that event (PRUNE_REMOVED).
redis.call('ZADD', P .. ':feeds_removed', append(ARGV[6], 'feed.removed', id, ARGV[5]), id)
redis.call('DEL', fkey(id), fkey(id, 'seen'), fkey(id, 'seenage'), fkey(id, 'entries'), fkey(id, 'job'))
redis.call('ZREM', P .. ':feeds', id)
return 1
"""
)

# The event indexes of removed feeds whose last event the log has dropped (ids before ARGV[2]), ARGV[3] at most; an
# id that names a request, crawl or feed again keeps its index. ARGV: prefix, first event id, count. Answers how many
# removed feeds were looked at.
PRUNE_REMOVED = """
local P = ARGV[1]
local ids = redis.call('ZRANGEBYSCORE', P .. ':feeds_removed', '-inf', '(' .. ARGV[2], 'LIMIT', 0, tonumber(ARGV[3]))
for _, id in ipairs(ids) do
  if redis.call('EXISTS', P .. ':req:' .. id, P .. ':crawl:' .. id, P .. ':feed:' .. id) == 0 then
    redis.call('UNLINK', P .. ':ev:' .. id)
  end
  redis.call('ZREM', P .. ':feeds_removed', id)
end
return #ids
"""

# Feed entries sent before ARGV[2] dropped, feed by feed in the order they were added, from the feed after the place
# ARGV[3] in ``P:feeds``: ARGV[4] feeds at most, and ARGV[5] entries at most (each may keep 256 KiB of links, and
# freeing them is Redis's work too). A feed's entry ids are dense (a seq each, trimmed from the head only), so the
# first one sent at or after the cutoff is found as the log's prune finds it (``first_not_older``).
# ARGV: prefix, cutoff time, place, feeds, entries. Answers {the place to go on from, 1 if there is more to look at}.
PRUNE_ENTRIES = (
    FIRST_NOT_OLDER
    + """
local P, cutoff, place = ARGV[1], tonumber(ARGV[2]), ARGV[3]
local most, budget = tonumber(ARGV[4]), tonumber(ARGV[5])
local feeds = redis.call('ZRANGEBYSCORE', P .. ':feeds', '(' .. place, '+inf', 'WITHSCORES', 'LIMIT', 0, most)
for i = 1, #feeds, 2 do
  local key = P .. ':feed:' .. feeds[i] .. ':entries'
  local first = redis.call('XRANGE', key, '-', '+', 'COUNT', 1)
  if #first > 0 then
    local lo = tonumber(string.match(first[1][1], '^(%d+)'))
    local last = redis.call('XREVRANGE', key, '+', '-', 'COUNT', 1)
    local hi = math.min(tonumber(string.match(last[1][1], '^(%d+)')) + 1, lo + budget)
    local keep_from = first_not_older(key, lo, hi, cutoff)
    if keep_from > lo then
      budget = budget - redis.call('XTRIM', key, 'MINID', string.format('%d-0', keep_from))
      -- Out of entries to drop: this feed may have more, so the next call starts with it again.
      if budget <= 0 then return {place, 1} end
    end
  end
  place = feeds[i + 1]
end
return {place, #feeds == 2 * most and 1 or 0}
"""
)
