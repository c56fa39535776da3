"""The Lua scripts of the Redis store: each is one atomic step, so that no crash or race can split it.

Keys and arguments are listed above each script; ``linkcast.store.redis`` describes the key layout.
"""

from __future__ import annotations

# Shared by the scripts that append: one INCR gives the id, so ids are dense and strictly increasing; the entry keeps
# the server's clock ('at') so that pruning by age uses one clock for every process. The request's record lists its
# event ids ('events': "1,5,9,"), so that a replay filtered by request reads those entries instead of the whole log.
APPEND = """
local function append(seq_key, events_key, req_key, maxlen, etype, rid, data)
  local id = redis.call('INCR', seq_key)
  local t = redis.call('TIME')
  redis.call('XADD', events_key, 'MAXLEN', '~', maxlen, id .. '-0',
    't', etype, 'r', rid, 'd', data, 'at', t[1] .. '.' .. string.format('%06d', t[2]))
  if redis.call('EXISTS', req_key) == 1 then
    redis.call('HSET', req_key, 'events', (redis.call('HGET', req_key, 'events') or '') .. id .. ',')
  end
  return id
end
"""

# The request is listed (KEYS[5], a sorted set) by the id of its accepted event: its place in submission order.
# KEYS: req, jobs, seq, events, requests. ARGV: request_id, url, now, accepted body, maxlen.
SUBMIT = (
    APPEND
    + """
local url = redis.call('HGET', KEYS[1], 'url')
if url then
  if url ~= ARGV[2] then return {-1} end
  return {0, redis.call('HGETALL', KEYS[1])}
end
redis.call('HSET', KEYS[1], 'url', ARGV[2], 'state', 'queued', 'created_at', ARGV[3], 'attempts', 0)
local id = append(KEYS[3], KEYS[4], KEYS[1], ARGV[5], 'accepted', ARGV[1], ARGV[4])
redis.call('ZADD', KEYS[5], id, ARGV[1])
redis.call('XADD', KEYS[2], '*', 'r', ARGV[1])
return {1, id}
"""
)

# A failed request queued again, attempts and outcome cleared. Answers -1 for an unknown request, 0 for one that has
# not failed (with its state), 1 when queued. KEYS: req, jobs, seq, events, finished. ARGV: request_id, body, maxlen.
RETRY = (
    APPEND
    + """
local state = redis.call('HGET', KEYS[1], 'state')
if not state then return {-1} end
if state ~= 'failed' then return {0, state} end
redis.call('HSET', KEYS[1], 'state', 'queued', 'attempts', 0)
redis.call('HDEL', KEYS[1], 'outcome', 'started_at', 'finished_at')
redis.call('ZREM', KEYS[5], ARGV[1])
append(KEYS[3], KEYS[4], KEYS[1], ARGV[3], 'accepted', ARGV[1], ARGV[2])
redis.call('XADD', KEYS[2], '*', 'r', ARGV[1])
return {1}
"""
)

# A delivered job: mark its request running and count the attempt, or drop the entry if the request is gone or done.
# KEYS: req, jobs. ARGV: group, entry id, now.
TAKE = """
local state = redis.call('HGET', KEYS[1], 'state')
if (not state) or state == 'done' or state == 'failed' then
  redis.call('XACK', KEYS[2], ARGV[1], ARGV[2])
  redis.call('XDEL', KEYS[2], ARGV[2])
  return false
end
redis.call('HSET', KEYS[1], 'state', 'running', 'started_at', ARGV[3])
return {redis.call('HINCRBY', KEYS[1], 'attempts', 1), redis.call('HGET', KEYS[1], 'url')}
"""

# KEYS: seq, events, req. ARGV: type, request_id, body, maxlen.
APPEND_ONE = APPEND + "return append(KEYS[1], KEYS[2], KEYS[3], ARGV[4], ARGV[1], ARGV[2], ARGV[3])"

# The terminal event is appended only if the request has none yet; the job is acknowledged either way.
# KEYS: req, jobs, seq, events, finished. ARGV: group, entry id, type, request_id, body, now, maxlen, state.
FINISH = (
    APPEND
    + """
if ARGV[2] ~= '' then
  redis.call('XACK', KEYS[2], ARGV[1], ARGV[2])
  redis.call('XDEL', KEYS[2], ARGV[2])
end
local state = redis.call('HGET', KEYS[1], 'state')
if (not state) or state == 'done' or state == 'failed' then return false end
local id = append(KEYS[3], KEYS[4], KEYS[1], ARGV[7], ARGV[3], ARGV[4], ARGV[5])
redis.call('HSET', KEYS[1], 'state', ARGV[8], 'finished_at', ARGV[6], 'outcome', ARGV[5])
redis.call('ZADD', KEYS[5], ARGV[6], ARGV[4])
return id
"""
)

# Only the consumer that holds the entry may refresh or release it: another worker may have reclaimed it meanwhile.
# KEYS: jobs. ARGV: group, entry id, consumer.
HOLDS = """
local p = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[2], ARGV[2], 1)
local function holds() return #p > 0 and p[1][2] == ARGV[3] end
"""
HEARTBEAT = (
    HOLDS
    + """
if not holds() then return 0 end
redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[3], 0, ARGV[2], 'JUSTID')
return 1
"""
)
# The job goes back as a new entry, which wakes a worker blocked on the stream at once (a pending entry would wait
# for the next look for stale jobs). KEYS: jobs, req. ARGV: group, entry id, consumer, request id.
RELEASE = (
    HOLDS
    + """
if not holds() then return 0 end
if redis.call('HGET', KEYS[2], 'state') == 'running' then redis.call('HSET', KEYS[2], 'state', 'queued') end
redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
redis.call('XDEL', KEYS[1], ARGV[2])
redis.call('XADD', KEYS[1], '*', 'r', ARGV[4])
return 1
"""
)

# Jobs waiting to be taken: acknowledged entries are deleted, so the stream holds the undelivered jobs and the pending
# ones, of which those idle past the visibility timeout (released, or held by a dead worker) wait to be taken again.
# KEYS: jobs. ARGV: group, visibility ms.
QUEUE_DEPTH = """
local pending = redis.call('XPENDING', KEYS[1], ARGV[1])[1]
local stale = #redis.call('XPENDING', KEYS[1], ARGV[1], 'IDLE', ARGV[2], '-', '+', 100000)
return redis.call('XLEN', KEYS[1]) - pending + stale
"""

# Trim the log to ARGV[2] entries, then drop entries older than ARGV[1] (a binary search over the dense ids, reading
# each probe's 'at'). KEYS: events. Returns how many entries were dropped.
PRUNE_EVENTS = """
local before = redis.call('XLEN', KEYS[1])
redis.call('XTRIM', KEYS[1], 'MAXLEN', '=', ARGV[2])
local first = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', 1)
if #first > 0 then
  local last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
  local cutoff = tonumber(ARGV[1])
  local function older(id)
    local probe = string.format('%d-0', id)
    local e = redis.call('XRANGE', KEYS[1], probe, probe)
    if #e == 0 then return true end
    local f = e[1][2]
    for i = 1, #f, 2 do if f[i] == 'at' then return tonumber(f[i + 1]) < cutoff end end
    return true
  end
  local lo = tonumber(string.match(first[1][1], '^(%d+)'))
  local hi = tonumber(string.match(last[1][1], '^(%d+)')) + 1
  if older(lo) then
    while hi - lo > 1 do
      local mid = math.floor((lo + hi) / 2)
      if older(mid) then lo = mid else hi = mid end
    end
    redis.call('XTRIM', KEYS[1], 'MINID', string.format('%d-0', hi))
  end
end
return before - redis.call('XLEN', KEYS[1])
"""

# Forget consumers that hold nothing and were idle long (each worker task is one); atomic, so that a consumer that
# just received a job is never deleted with it. KEYS: jobs. ARGV: group, idle ms.
FORGET_CONSUMERS = """
local removed = 0
for _, c in ipairs(redis.call('XINFO', 'CONSUMERS', KEYS[1], ARGV[1])) do
  local info = {}
  for i = 1, #c, 2 do info[c[i]] = c[i + 1] end
  if info['pending'] == 0 and info['idle'] > tonumber(ARGV[2]) then
    redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], info['name'])
    removed = removed + 1
  end
end
return removed
"""
