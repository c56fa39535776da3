"""The fair scheduler in Lua: the rules of ``fair_queue.py`` and ``sqlite/scheduler.py`` (start-time fair queuing by
host and by flow: a due job's tag is the later of the next places in its host's sequence and its flow's), each step
one script, so that every worker process sharing the Redis shares one queue, one virtual time and one politeness per
host. The scripts that queue a crawl's, a feed's or a webhook endpoint's jobs name their flows as ``core/flows.py``
does.

Keys under the prefix ``P`` (every script gets ``P`` as ``ARGV[1]`` and reaches its keys from it: linkcast runs on a
standalone Redis, not a Cluster, where keys must be declared):

- ``P:job:<id>``: a hash per pending job: ``k`` kind, ``r`` request (or crawl) id, ``u`` URL, ``h`` host key, ``d``
  data (JSON), ``f`` flow (absent: none), ``t`` tag (once due), ``o`` owner (while leased), ``a`` attempts.
  ``P:jobseq`` gives the ids.
- ``P:hq:<host>``: the host's ready jobs (sorted set, id by tag); ``P:hs:<host>``: its ``running`` count,
  ``next_start``, ``last_tag``, and ``delay``/``delay_until`` (a ``Crawl-delay``), expiring once the host is idle
  and both times have passed.
- ``P:heads``: the hosts that can start a job now, by the tag of their first ready job; ``P:blocked``: those with
  room but within their spacing, by when it ends (a host with no room is in neither, until a job of it ends).
- ``P:waiting``: jobs not due yet, by not-before time; ``P:leases``: leased jobs, by when the lease lapses.
- ``P:flows``: each flow by its last place, while that is past the virtual time (an older one is the same as none:
  claims remove up to ``FORGET_FLOWS`` of them each).
- ``P:vt``: the virtual time (the highest tag taken); ``P:nqueued``: jobs not leased; ``P:wake``: a short list pushed
  whenever a job may have become claimable, which idle workers wait on (BLPOP).
"""

from __future__ import annotations

PREAMBLE = """
local P = ARGV[1]
local function num(value, default) if value then return tonumber(value) end return default end
local function hkey(h) return P .. ':hs:' .. h end
local function qkey(h) return P .. ':hq:' .. h end
local function jkey(id) return P .. ':job:' .. id end

local function wake(count)
  for _ = 1, math.min(count, 64) do redis.call('LPUSH', P .. ':wake', 1) end
  redis.call('LTRIM', P .. ':wake', 0, 63)
end

-- A host's row lives while the host has jobs ready or running; idle, only until its spacing and its Crawl-delay end
-- (an expiry, since nothing may touch the host again: every host a crawl met would otherwise keep its row for ever).
local function keep_host(h, busy, next_start, delay_until, now)
  if busy then
    redis.call('PERSIST', hkey(h))
    return
  end
  local ends = math.max(next_start, delay_until)
  if ends <= now then
    redis.call('DEL', hkey(h))
  else
    redis.call('PEXPIREAT', hkey(h), math.ceil(ends * 1000))
  end
end

-- Put the host in P:heads, in P:blocked, or in neither, by its first ready job, its room and its spacing.
local function update_host(h, now, conc)
  redis.call('ZREM', P .. ':heads', h)
  redis.call('ZREM', P .. ':blocked', h)
  local head = redis.call('ZRANGE', qkey(h), 0, 0, 'WITHSCORES')
  local st = redis.call('HMGET', hkey(h), 'running', 'next_start', 'delay', 'delay_until')
  local running, next_start = num(st[1], 0), num(st[2], 0)
  local delay, delay_until = num(st[3], 0), num(st[4], 0)
  keep_host(h, #head > 0 or running > 0, next_start, delay_until, now)
  if #head == 0 then return end
  local room = conc
  if delay > 0 and delay_until > now then room = 1 end
  if running >= room then return end
  if next_start > now then
    redis.call('ZADD', P .. ':blocked', next_start, h)
    return
  end
  redis.call('ZADD', P .. ':heads', head[2], h)
end

-- A due job joins its host's queue; with no tag yet, it takes the next place in its host's sequence and in its
-- flow's, max(last place, virtual time) + 1 in each, and the later of the two is its tag.
local function make_ready(id, h, tag)
  if not tag then
    local vt = num(redis.call('GET', P .. ':vt'), 0)
    tag = math.max(num(redis.call('HGET', hkey(h), 'last_tag'), 0), vt) + 1
    redis.call('HSET', hkey(h), 'last_tag', tag)
    local flow = redis.call('HGET', jkey(id), 'f')
    if flow then
      local place = math.max(num(redis.call('ZSCORE', P .. ':flows', flow), 0), vt) + 1
      redis.call('ZADD', P .. ':flows', place, flow)
      tag = math.max(tag, place)
    end
    redis.call('HSET', jkey(id), 't', tag)
  end
  redis.call('ZADD', qkey(h), tag, id)
end

local function enqueue(kind, rid, url, h, data, not_before, now, conc, flow)
  local id = redis.call('INCR', P .. ':jobseq')
  redis.call('HSET', jkey(id), 'k', kind, 'r', rid, 'u', url, 'h', h, 'd', data, 'a', 0)
  if flow and flow ~= '' then redis.call('HSET', jkey(id), 'f', flow) end
  redis.call('INCR', P .. ':nqueued')
  if not_before > now then
    redis.call('ZADD', P .. ':waiting', not_before, id)
  else
    make_ready(id, h, nil)
    update_host(h, now, conc)
  end
  return id
end

-- A job ends: removed, its host's slot freed. 0 if it is held by another owner now (its lease lapsed).
local function complete(id, owner, now, conc)
  local j = redis.call('HMGET', jkey(id), 'h', 'o')
  if not j[1] then return 0 end
  if j[2] and j[2] ~= owner then return 0 end
  redis.call('DEL', jkey(id))
  redis.call('ZREM', P .. ':leases', id)
  redis.call('ZREM', P .. ':waiting', id)
  redis.call('ZREM', qkey(j[1]), id)
  if j[2] then redis.call('HINCRBY', hkey(j[1]), 'running', -1) else redis.call('DECR', P .. ':nqueued') end
  update_host(j[1], now, conc)
  wake(1)
  return 1
end

-- A queued job dropped (one that is leased ends with its worker). 1 if it was dropped.
local function unqueue(id, now, conc)
  local j = redis.call('HMGET', jkey(id), 'h', 'o')
  if not j[1] or j[2] then return 0 end
  redis.call('ZREM', qkey(j[1]), id)
  redis.call('ZREM', P .. ':waiting', id)
  redis.call('DEL', jkey(id))
  redis.call('DECR', P .. ':nqueued')
  update_host(j[1], now, conc)
  return 1
end

-- A job back to its queue, keeping its tag (a lapsed lease, a draining worker).
local function requeue(id, h, now, conc)
  redis.call('HDEL', jkey(id), 'o')
  redis.call('ZREM', P .. ':leases', id)
  redis.call('HINCRBY', hkey(h), 'running', -1)
  redis.call('INCR', P .. ':nqueued')
  make_ready(id, h, num(redis.call('HGET', jkey(id), 't'), nil))
  update_host(h, now, conc)
  wake(1)
end
"""

# ARGV: prefix, now, lease until, owner, concurrency, base delay. Answers {false, wake hint} when nothing can start,
# else {id, kind, request id, url, data, attempts}.
CLAIM = (
    PREAMBLE
    + """
local FORGET_FLOWS = 100
local now, lease_until, owner = tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4]
local conc, base_delay = tonumber(ARGV[5]), tonumber(ARGV[6])
for _, id in ipairs(redis.call('ZRANGEBYSCORE', P .. ':leases', '-inf', now, 'LIMIT', 0, 100)) do
  local h = redis.call('HGET', jkey(id), 'h')
  if h then requeue(id, h, now, conc) else redis.call('ZREM', P .. ':leases', id) end
end
for _, id in ipairs(redis.call('ZRANGEBYSCORE', P .. ':waiting', '-inf', now, 'LIMIT', 0, 1000)) do
  redis.call('ZREM', P .. ':waiting', id)
  local h = redis.call('HGET', jkey(id), 'h')
  if h then
    make_ready(id, h, nil)
    update_host(h, now, conc)
  end
end
for _, h in ipairs(redis.call('ZRANGEBYSCORE', P .. ':blocked', '-inf', now, 'LIMIT', 0, 1000)) do
  update_host(h, now, conc)
end
local pick = redis.call('ZRANGE', P .. ':heads', 0, 0)
if #pick == 0 then
  local hint = false
  for _, key in ipairs({':blocked', ':waiting', ':leases'}) do
    local first = redis.call('ZRANGE', P .. key, 0, 0, 'WITHSCORES')
    if #first > 0 and (not hint or tonumber(first[2]) < tonumber(hint)) then hint = first[2] end
  end
  return {false, hint}
end
local h = pick[1]
local first = redis.call('ZPOPMIN', qkey(h))
local id, tag = first[1], tonumber(first[2])
local attempts = redis.call('HINCRBY', jkey(id), 'a', 1)
redis.call('HSET', jkey(id), 'o', owner)
redis.call('ZADD', P .. ':leases', lease_until, id)
redis.call('DECR', P .. ':nqueued')
local st = redis.call('HMGET', hkey(h), 'delay', 'delay_until')
local spacing = base_delay
if num(st[1], 0) > 0 and num(st[2], 0) > now then spacing = math.max(spacing, tonumber(st[1])) end
redis.call('HINCRBY', hkey(h), 'running', 1)
-- No spacing: next_start stays in the past (now, it held the host back for as long as a clock stepped back).
if spacing > 0 then redis.call('HSET', hkey(h), 'next_start', tostring(now + spacing)) end
if tag > num(redis.call('GET', P .. ':vt'), 0) then
  redis.call('SET', P .. ':vt', tag)
  local past = redis.call('ZRANGEBYSCORE', P .. ':flows', '-inf', tag, 'LIMIT', 0, FORGET_FLOWS)
  if #past > 0 then redis.call('ZREM', P .. ':flows', unpack(past)) end
end
update_host(h, now, conc)
local j = redis.call('HMGET', jkey(id), 'k', 'r', 'u', 'd')
if j[1] == 'page' then
  local rk = P .. ':req:' .. j[2]
  local state = redis.call('HGET', rk, 'state')
  -- A request a late worker finished meanwhile stays finished: its job's next holder finishes nothing.
  if state and state ~= 'done' and state ~= 'failed' then
    redis.call('HSET', rk, 'state', 'running', 'started_at', ARGV[2], 'attempts', attempts)
  end
elseif j[1] == 'crawl' then
  local ck = P .. ':crawl:' .. j[2]
  if redis.call('HGET', ck, 'state') == 'queued' then
    redis.call('HSET', ck, 'state', 'running', 'started_at', ARGV[2])
  end
  -- Job.preread: what the job's handler reads first, read now (its crawl, as the claim leaves it), but its spec: up
  -- to a megabyte of seeds, the same for each of its pages, which the process keeps once read (crawls.py).
  local names = {'state', 'created_at', 'started_at', 'finished_at', 'counts', 'admitted'}
  return {id, j[1], j[2], j[3], j[4] or '', attempts, names, redis.call('HMGET', ck, unpack(names))}
elseif j[1] == 'feed' then  -- Job.preread: the feed and its WebSub subscription
  local feed = redis.call('HGETALL', P .. ':feed:' .. j[2])
  return {id, j[1], j[2], j[3], j[4] or '', attempts, feed, redis.call('HMGET', P .. ':websub:' .. j[2], 'v', 'b')}
end
return {id, j[1], j[2], j[3], j[4] or '', attempts}
"""
)

# ARGV: prefix, now, concurrency, id, owner, retry at ('': at once, keeping its tag). Answers 1 if the job was given
# back. One given back for later waits untagged, and its attempt is not counted but for its first (Store.release).
GIVE_BACK = (
    PREAMBLE
    + """
local now, conc, id, owner, retry_at = tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4], ARGV[5], tonumber(ARGV[6])
local j = redis.call('HMGET', jkey(id), 'h', 'o', 'k', 'r')
if not j[1] or j[2] ~= owner then return 0 end
if retry_at then
  redis.call('HDEL', jkey(id), 'o', 't')
  if num(redis.call('HGET', jkey(id), 'a'), 0) > 1 then redis.call('HINCRBY', jkey(id), 'a', -1) end
  redis.call('ZREM', P .. ':leases', id)
  redis.call('HINCRBY', hkey(j[1]), 'running', -1)
  redis.call('INCR', P .. ':nqueued')
  redis.call('ZADD', P .. ':waiting', retry_at, id)
  update_host(j[1], now, conc)
  wake(1)
else
  requeue(id, j[1], now, conc)
end
if j[3] == 'page' then
  local rk = P .. ':req:' .. j[4]
  if redis.call('HGET', rk, 'state') == 'running' then redis.call('HSET', rk, 'state', 'queued') end
end
return 1
"""
)

# ARGV: prefix, lease until, then (id, owner) pairs: each lease renewed if the job is still that owner's. The ZREM
# comes first because Redis at maxmemory refuses a script's first write if it may take memory (ZADD), not one that
# frees some, nor any write after it (a script is atomic): a ZADD XX alone was refused, every lease lapsed, and each
# job in flight was handed to a second worker while its first still ran it. A renewal takes no more memory.
RENEW = """
local P, lease_until = ARGV[1], ARGV[2]
for i = 3, #ARGV, 2 do
  if redis.call('HGET', P .. ':job:' .. ARGV[i], 'o') == ARGV[i + 1] then
    if redis.call('ZREM', P .. ':leases', ARGV[i]) == 1 then
      redis.call('ZADD', P .. ':leases', lease_until, ARGV[i])
    end
  end
end
return 1
"""

# ARGV: prefix, now, host, delay, until, concurrency. The next start is the delay from now at the soonest (the job
# that read it is about to fetch from the host); the host leaves P:heads for P:blocked until then.
SET_CRAWL_DELAY = (
    PREAMBLE
    + """
local now, h, delay = tonumber(ARGV[2]), ARGV[3], tonumber(ARGV[4])
local next_start = math.max(num(redis.call('HGET', hkey(h), 'next_start'), 0), now + delay)
redis.call('HSET', hkey(h), 'delay', ARGV[4], 'delay_until', ARGV[5], 'next_start', tostring(next_start))
update_host(h, now, tonumber(ARGV[6]))
return 1
"""
)

# Store.take_host_turn: the wait for the turn of a host with a Crawl-delay in force (else 0), as a string (a Lua
# number would come back an integer); nil, and no turn taken, if it is more than ARGV[5] seconds away (-1: no bound).
TAKE_HOST_TURN = (
    PREAMBLE
    + """
local now, h, within = tonumber(ARGV[2]), ARGV[3], tonumber(ARGV[5])
local st = redis.call('HMGET', hkey(h), 'next_start', 'delay', 'delay_until')
local delay = num(st[2], 0)
if delay <= 0 or num(st[3], 0) <= now then return '0' end
local turn = math.max(num(st[1], 0), now)
if within >= 0 and turn - now > within then return false end
redis.call('HSET', hkey(h), 'next_start', tostring(turn + delay))
update_host(h, now, tonumber(ARGV[4]))
return tostring(turn - now)
"""
)
