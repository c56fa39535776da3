"""The Lua scripts of webhooks.

Keys under the prefix ``P``: ``P:wh:<id>`` (a hash: ``v`` the version, ``b`` the endpoint as JSON, ``c`` the cursor
of its outbox, ``s`` its state, ``host`` its host key, ``watch`` the request ids it watches as JSON, ``job`` the id of
its queued or running job, ``w`` 1 if woken while that job was there), ``P:whids`` (every endpoint id, for listing by
id), ``P:whall`` (the endpoints that take every request's events), ``P:whwatch:<request id>`` (the endpoints that
watch that request), and the outbox: ``P:whd:<id>`` (event id -> delivery JSON), ``P:wha:<id>`` (every delivery's
event id), ``P:whp:<id>`` (the pending ones), ``P:whe:<id>`` (the ended ones); ``P:whended`` holds every ended
delivery (``<endpoint id> <event id>``) by when it ended, for the prune by age.
"""

from __future__ import annotations

from linkcast.store.redis.scheduler_scripts import PREAMBLE

WEBHOOK_PREAMBLE = (
    PREAMBLE
    + """
local function wkey(id, part)
  if part then return P .. ':' .. part .. ':' .. id end
  return P .. ':wh:' .. id
end

-- The endpoint's job queued for 'at' if it is active; one there already is marked woken instead. 1 if queued.
local function wqueue(id, at, now, conc)
  local e = redis.call('HMGET', wkey(id), 's', 'host', 'job')
  if e[1] ~= 'active' then return 0 end
  if e[3] and redis.call('EXISTS', jkey(e[3])) == 1 then
    redis.call('HSET', wkey(id), 'w', 1)
    return 0
  end
  redis.call('HSET', wkey(id), 'job', enqueue('webhook', id, '', e[2], '', at, now, conc, 'webhook:' .. id))
  wake(1)
  return 1
end
"""
)

# ARGV: prefix, id, expected version, body, state, host, every request (1/0), cursor (if new), watched ids as JSON.
SAVE = (
    WEBHOOK_PREAMBLE
    + """
local id = ARGV[2]
local version = tonumber(redis.call('HGET', wkey(id), 'v') or '0')
if version ~= tonumber(ARGV[3]) then return 0 end
local old = redis.call('HGET', wkey(id), 'watch')
if old then for _, r in ipairs(cjson.decode(old)) do redis.call('SREM', wkey(r, 'whwatch'), id) end end
if version == 0 then redis.call('HSET', wkey(id), 'c', ARGV[8]) end
redis.call('HSET', wkey(id), 'v', version + 1, 'b', ARGV[4], 's', ARGV[5], 'host', ARGV[6], 'watch', ARGV[9])
if ARGV[7] == '1' then redis.call('SADD', P .. ':whall', id) else redis.call('SREM', P .. ':whall', id) end
for _, r in ipairs(cjson.decode(ARGV[9])) do redis.call('SADD', wkey(r, 'whwatch'), id) end
redis.call('ZADD', P .. ':whids', 0, id)
return 1
"""
)

# ARGV: prefix, now, concurrency, id, expected version ('': any).
DELETE = (
    WEBHOOK_PREAMBLE
    + """
local now, conc, id = tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4]
if redis.call('EXISTS', wkey(id)) == 0 then return 0 end
if ARGV[5] ~= '' and tonumber(redis.call('HGET', wkey(id), 'v')) ~= tonumber(ARGV[5]) then return 0 end
local e = redis.call('HMGET', wkey(id), 'watch', 'job')
for _, r in ipairs(cjson.decode(e[1])) do redis.call('SREM', wkey(r, 'whwatch'), id) end
if e[2] then unqueue(e[2], now, conc) end
for _, eid in ipairs(redis.call('ZRANGE', wkey(id, 'whe'), 0, -1)) do
  redis.call('ZREM', P .. ':whended', id .. ' ' .. eid)
end
redis.call('DEL', wkey(id), wkey(id, 'whd'), wkey(id, 'wha'), wkey(id, 'whp'), wkey(id, 'whe'))
redis.call('ZREM', P .. ':whids', id)
redis.call('SREM', P .. ':whall', id)
return 1
"""
)

# ARGV: prefix, id, expected cursor, cursor, then (event id, when it ended ('': pending), delivery JSON) triples.
ADD = """
local P, id = ARGV[1], ARGV[2]
local k = P .. ':wh:' .. id
local cursor = redis.call('HGET', k, 'c')
if not cursor or tonumber(cursor) ~= tonumber(ARGV[3]) then return 0 end
redis.call('HSET', k, 'c', ARGV[4])
for i = 5, #ARGV, 3 do
  if redis.call('HSETNX', P .. ':whd:' .. id, ARGV[i], ARGV[i + 2]) == 1 then
    redis.call('ZADD', P .. ':wha:' .. id, ARGV[i], ARGV[i])
    if ARGV[i + 1] ~= '' then
      redis.call('ZADD', P .. ':whe:' .. id, ARGV[i], ARGV[i])
      redis.call('ZADD', P .. ':whended', ARGV[i + 1], id .. ' ' .. ARGV[i])
    else
      redis.call('ZADD', P .. ':whp:' .. id, ARGV[i], ARGV[i])
    end
  end
end
return 1
"""

# ARGV: prefix, id, event id, when it ended ('': pending), delivery JSON, ended deliveries kept, attempts expected
# ('': any).
SAVE_DELIVERY = """
local P, id, eid = ARGV[1], ARGV[2], ARGV[3]
local d, a = P .. ':whd:' .. id, P .. ':wha:' .. id
local pending, ended, by_age = P .. ':whp:' .. id, P .. ':whe:' .. id, P .. ':whended'
if redis.call('HEXISTS', d, eid) == 0 then return 0 end
if ARGV[7] ~= '' then  -- a run's attempt: only over the pending delivery it read (another run may have ended it)
  local stored = cjson.decode(redis.call('HGET', d, eid))
  if stored.state ~= 'pending' or stored.attempts ~= tonumber(ARGV[7]) then return 0 end
  -- the same delivery, not another of the same event id in an outbox made again (ids start over on an empty Redis)
  if stored.created_at ~= cjson.decode(ARGV[5]).created_at then return 0 end
end
redis.call('HSET', d, eid, ARGV[5])
if ARGV[4] == '' then
  redis.call('ZADD', pending, eid, eid)
  redis.call('ZREM', ended, eid)
  redis.call('ZREM', by_age, id .. ' ' .. eid)
  return 1
end
redis.call('ZREM', pending, eid)
redis.call('ZADD', ended, eid, eid)
redis.call('ZADD', by_age, ARGV[4], id .. ' ' .. eid)
local extra = redis.call('ZCARD', ended) - tonumber(ARGV[6])
if extra > 0 then
  for _, old in ipairs(redis.call('ZRANGE', ended, 0, extra - 1)) do
    redis.call('HDEL', d, old)
    redis.call('ZREM', a, old)
    redis.call('ZREM', by_age, id .. ' ' .. old)
  end
  redis.call('ZREMRANGEBYRANK', ended, 0, extra - 1)
end
return 1
"""

# ARGV: prefix, now, concurrency, then request ids. Answers how many jobs were queued.
WAKE = (
    WEBHOOK_PREAMBLE
    + """
local now, conc = tonumber(ARGV[2]), tonumber(ARGV[3])
local ids = {}
for _, id in ipairs(redis.call('SMEMBERS', P .. ':whall')) do ids[id] = true end
for i = 4, #ARGV do
  for _, id in ipairs(redis.call('SMEMBERS', wkey(ARGV[i], 'whwatch'))) do ids[id] = true end
end
local queued = 0
for id, _ in pairs(ids) do queued = queued + wqueue(id, now, now, conc) end
return queued
"""
)

# Every endpoint woken, a page at a time: a request's own endpoint stays as long as its request, so there may be
# as many as the requests kept (20,000 woken in one script held Redis for 0.36 s).
# ARGV: prefix, now, concurrency, the last id woken ('' at first), count. Answers the last id of a full page, else ''.
WAKE_PAGE = (
    WEBHOOK_PREAMBLE
    + """
local now, conc = tonumber(ARGV[2]), tonumber(ARGV[3])
local start = ARGV[4] == '' and '-' or '(' .. ARGV[4]
local ids = redis.call('ZRANGEBYLEX', P .. ':whids', start, '+', 'LIMIT', 0, tonumber(ARGV[5]))
for _, id in ipairs(ids) do wqueue(id, now, now, conc) end
if #ids < tonumber(ARGV[5]) then return '' end
return ids[#ids]
"""
)

# ARGV: prefix, now, concurrency, job id, owner, endpoint id, next time ('' for none).
FINISH = (
    WEBHOOK_PREAMBLE
    + """
local now, conc, id = tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[6]
complete(ARGV[4], ARGV[5], now, conc)
if redis.call('EXISTS', wkey(id)) == 0 then return 0 end
local at = ARGV[7]
if redis.call('HGET', wkey(id), 'w') == '1' then at = ARGV[2] end
redis.call('HSET', wkey(id), 'w', 0)
if at == '' then return 0 end
return wqueue(id, tonumber(at), now, conc)
"""
)

# ARGV: prefix, now, concurrency, endpoint id.
WAKE_ONE = (
    WEBHOOK_PREAMBLE
    + """
return wqueue(ARGV[4], tonumber(ARGV[2]), tonumber(ARGV[2]), tonumber(ARGV[3]))
"""
)

# Ended deliveries that ended before ARGV[2], ARGV[3] at most. ARGV: prefix, cutoff, count. Answers how many went.
PRUNE_ENDED = """
local P = ARGV[1]
local by_age = P .. ':whended'
local doomed = redis.call('ZRANGEBYSCORE', by_age, '-inf', '(' .. ARGV[2], 'LIMIT', 0, tonumber(ARGV[3]))
for _, member in ipairs(doomed) do
  local id, eid = string.match(member, '^(.*) (%d+)$')
  redis.call('HDEL', P .. ':whd:' .. id, eid)
  redis.call('ZREM', P .. ':wha:' .. id, eid)
  redis.call('ZREM', P .. ':whe:' .. id, eid)
  redis.call('ZREM', by_age, member)
end
return #doomed
"""

# The deliveries that ended before P:whended was kept, put in it: one endpoint a call, from the first after ARGV[2] in
# P:whids (its ended deliveries are 1,000 at most); P:whended_filled is set once the last is done. ARGV: prefix, the
# last endpoint id done ('' at first). Answers the endpoint id done, or '' once there is none left.
FILL_ENDED = """
local P = ARGV[1]
if redis.call('EXISTS', P .. ':whended_filled') == 1 then return '' end
local start = ARGV[2] == '' and '-' or '(' .. ARGV[2]
local ids = redis.call('ZRANGEBYLEX', P .. ':whids', start, '+', 'LIMIT', 0, 1)
if #ids == 0 then
  redis.call('SET', P .. ':whended_filled', 1)
  return ''
end
local id = ids[1]
local function number(value) if type(value) == 'number' and value ~= 0 then return value end return nil end
for _, eid in ipairs(redis.call('ZRANGE', P .. ':whe:' .. id, 0, -1)) do
  local member = id .. ' ' .. eid
  local body = redis.call('HGET', P .. ':whd:' .. id, eid)
  if body and not redis.call('ZSCORE', P .. ':whended', member) then
    local d = cjson.decode(body)
    local at = number(d.delivered_at) or number(d.last_try_at) or number(d.created_at) or 0
    redis.call('ZADD', P .. ':whended', at, member)
  end
end
return id
"""
