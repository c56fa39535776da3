"""The Lua scripts of single requests and the event log: each is one atomic step, so that no crash or race can split
it. ``ARGV[1]`` is the key prefix ``P``; ``store/redis/__init__.py`` describes the key layout.
"""

from __future__ import annotations

from linkcast.store.redis.scheduler_scripts import PREAMBLE

# One INCR gives the id, so ids are dense and strictly increasing; the entry keeps the server's clock ('at') so that
# pruning by age uses one clock for every process. The events of a request, crawl or feed are also listed by id
# (P:ev:<id>, ascending), so that a replay filtered by request reads those entries instead of the whole log. The log
# is trimmed under the lists: every EV_TRIM_EVERY ids a list gets, up to twice as many of its ids that the log no
# longer holds leave its head, so that a feed watched for months lists what the log holds, not all it ever sent.
APPEND = """
local EV_TRIM_EVERY = 64
local function append(maxlen, etype, rid, data)
  local id = redis.call('INCR', P .. ':seq')
  local t = redis.call('TIME')
  redis.call('XADD', P .. ':events', 'MAXLEN', '~', maxlen, id .. '-0',
    't', etype, 'r', rid, 'd', data, 'at', t[1] .. '.' .. string.format('%06d', t[2]))
  if redis.call('EXISTS', P .. ':req:' .. rid) == 1 or redis.call('EXISTS', P .. ':crawl:' .. rid) == 1
      or redis.call('EXISTS', P .. ':feed:' .. rid) == 1 then
    local ev = P .. ':ev:' .. rid
    if redis.call('RPUSH', ev, id) % EV_TRIM_EVERY == 0 then
      local first = redis.call('XRANGE', P .. ':events', '-', '+', 'COUNT', 1)
      local oldest = #first > 0 and tonumber(string.match(first[1][1], '^(%d+)')) or id
      for _ = 1, 2 * EV_TRIM_EVERY do
        local head = redis.call('LINDEX', ev, 0)
        if not head or tonumber(head) >= oldest then break end
        redis.call('LPOP', ev)
      end
    end
  end
  return id
end
"""

# The ids of each request's events after ARGV[3] and up to ARGV[4] ('' for no bound), ARGV[2] at most a request:
# its list is searched (LINDEX, a few dozen) rather than read whole. ARGV: prefix, count, after, until, request ids.
LISTED_AFTER = """
local P, count, after = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local upto = ARGV[4] ~= '' and tonumber(ARGV[4]) or nil
local found = {}
for i = 5, #ARGV do
  local ev = P .. ':ev:' .. ARGV[i]
  local lo, hi = 0, redis.call('LLEN', ev)  -- the first index whose id is past 'after' lies in [lo, hi]
  while lo < hi do
    local mid = math.floor((lo + hi) / 2)
    if tonumber(redis.call('LINDEX', ev, mid)) > after then hi = mid else lo = mid + 1 end
  end
  for _, id in ipairs(redis.call('LRANGE', ev, lo, lo + count - 1)) do
    if upto and tonumber(id) > upto then break end
    table.insert(found, id)
  end
end
return found
"""

# The request is listed (P:requests) by the id of its accepted event: its place in submission order.
# ARGV: prefix, now, concurrency, request id, url, host, accepted body, maxlen, flow.
SUBMIT = (
    PREAMBLE
    + APPEND
    + """
local now, conc, rid, url = tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4], ARGV[5]
local rk = P .. ':req:' .. rid
local existing = redis.call('HGET', rk, 'url')
if existing then
  if existing ~= url then return {-1} end
  return {0, redis.call('HGETALL', rk)}
end
redis.call('HSET', rk, 'url', url, 'state', 'queued', 'created_at', ARGV[2], 'attempts', 0)
local id = append(ARGV[8], 'accepted', rid, ARGV[7])
redis.call('ZADD', P .. ':requests', id, rid)
enqueue('page', rid, url, ARGV[6], '', 0, now, conc, ARGV[9])
wake(1)
return {1, id}
"""
)

# A failed request queued again, attempts and outcome cleared. Answers -1 for an unknown request, 0 for one that has
# not failed (with its state), 1 when queued. ARGV: prefix, now, concurrency, request id, host, body, maxlen, flow.
RETRY = (
    PREAMBLE
    + APPEND
    + """
local now, conc, rid = tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4]
local rk = P .. ':req:' .. rid
local state = redis.call('HGET', rk, 'state')
if not state then return {-1} end
if state ~= 'failed' then return {0, state} end
redis.call('HSET', rk, 'state', 'queued', 'attempts', 0)
redis.call('HDEL', rk, 'outcome', 'started_at', 'finished_at')
redis.call('ZREM', P .. ':finished', rid)
append(ARGV[7], 'accepted', rid, ARGV[6])
enqueue('page', rid, redis.call('HGET', rk, 'url'), ARGV[5], '', 0, now, conc, ARGV[8])
wake(1)
return {1}
"""
)

# ARGV: prefix, type, request id, body, maxlen.
APPEND_ONE = "local P = ARGV[1]\n" + APPEND + "return append(ARGV[5], ARGV[2], ARGV[3], ARGV[4])"

# The page job ends; the terminal event is appended only if the request has none yet and is of the job's URL.
# ARGV: prefix, now, concurrency, job id, owner, type, request id, body, maxlen, state, the job's URL.
FINISH = (
    PREAMBLE
    + APPEND
    + """
local now, conc = tonumber(ARGV[2]), tonumber(ARGV[3])
complete(ARGV[4], ARGV[5], now, conc)
local rk = P .. ':req:' .. ARGV[7]
local r = redis.call('HMGET', rk, 'state', 'url')
if (not r[1]) or r[1] == 'done' or r[1] == 'failed' or r[2] ~= ARGV[11] then return false end
local id = append(ARGV[9], ARGV[6], ARGV[7], ARGV[8])
redis.call('HSET', rk, 'state', ARGV[10], 'finished_at', ARGV[2], 'outcome', ARGV[8])
redis.call('ZADD', P .. ':finished', ARGV[2], ARGV[7])
return id
"""
)

# The index of an id's events (P:ev:<id>) is shared by the request, the crawl and the feed of that id (each named
# apart in the API, one request_id in the log): it goes only once none of them is left.
FORGET_INDEX = """
local function forget_index(id)
  if redis.call('EXISTS', P .. ':req:' .. id, P .. ':crawl:' .. id, P .. ':feed:' .. id) == 0 then
    redis.call('UNLINK', P .. ':ev:' .. id)
  end
end
"""

# Forget finished requests (ARGV: prefix, then their ids), each only if it is finished still: one read as finished by
# the prune may have been retried since (queued again, with a job that needs its record).
FORGET_FINISHED = (
    "local P = ARGV[1]\n"
    + FORGET_INDEX
    + """
local forgotten = 0
for i = 2, #ARGV do
  local rid = ARGV[i]
  if redis.call('ZSCORE', P .. ':finished', rid) then
    redis.call('UNLINK', P .. ':req:' .. rid)
    forget_index(rid)
    redis.call('ZREM', P .. ':finished', rid)
    redis.call('ZREM', P .. ':requests', rid)
    forgotten = forgotten + 1
  end
end
return forgotten
"""
)

# The event indexes of ids whose records are gone (ARGV: prefix, then the ids), unless another record has the id.
FORGET_INDEXES = "local P = ARGV[1]\n" + FORGET_INDEX + "for i = 2, #ARGV do forget_index(ARGV[i]) end\nreturn 1\n"

# A Lua function: the first id from ``lo`` below ``hi`` of the stream ``key`` whose entry's 'at' is not before
# ``cutoff`` (``hi`` if none). The ids are dense (a seq each, trimmed from the head only), so it is a binary search,
# each probe one XRANGE of its id. The log's prune and the feed entries' use it.
FIRST_NOT_OLDER = """
local function first_not_older(key, lo, hi, cutoff)
  local function older(id)
    local probe = string.format('%d-0', id)
    local e = redis.call('XRANGE', key, probe, probe)
    if #e == 0 then return true end
    local f = e[1][2]
    for i = 1, #f, 2 do if f[i] == 'at' then return tonumber(f[i + 1]) < cutoff end end
    return true
  end
  if not older(lo) then return lo end
  while hi - lo > 1 do
    local mid = math.floor((lo + hi) / 2)
    if older(mid) then lo = mid else hi = mid end
  end
  return hi
end
"""

# Trim the log to ARGV[3] entries, then drop entries older than ARGV[2] (``first_not_older``). ARGV: prefix, cutoff
# time, keep. Returns how many entries were dropped.
PRUNE_EVENTS = (
    FIRST_NOT_OLDER
    + """
local key = ARGV[1] .. ':events'
local before = redis.call('XLEN', key)
redis.call('XTRIM', key, 'MAXLEN', '=', ARGV[3])
local first = redis.call('XRANGE', key, '-', '+', 'COUNT', 1)
if #first > 0 then
  local last = redis.call('XREVRANGE', key, '+', '-', 'COUNT', 1)
  local lo = tonumber(string.match(first[1][1], '^(%d+)'))
  local hi = tonumber(string.match(last[1][1], '^(%d+)')) + 1
  local keep_from = first_not_older(key, lo, hi, tonumber(ARGV[2]))
  if keep_from > lo then redis.call('XTRIM', key, 'MINID', string.format('%d-0', keep_from)) end
end
return before - redis.call('XLEN', key)
"""
)
