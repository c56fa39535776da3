"""The Lua scripts of WebSub subscriptions.

Keys under the prefix ``P``: ``P:websub:<feed id>`` (a hash: ``v`` the version, ``b`` the subscription as JSON,
``due`` when its job next acts, ``hub`` and ``host`` where that job goes) and ``P:websub:<feed id>:job`` (the id of
its queued job).
"""

from __future__ import annotations

from linkcast.store.redis.scheduler_scripts import PREAMBLE

WEBSUB_PREAMBLE = (
    PREAMBLE
    + """
local function skey(id, part)
  if part then return P .. ':websub:' .. id .. ':' .. part end
  return P .. ':websub:' .. id
end

-- The subscription's queued job replaced by one due at its 'due' (a running one queues its next when it finishes).
local function schedule(id, now, conc)
  local job = redis.call('GET', skey(id, 'job'))
  if job then
    if redis.call('HGET', jkey(job), 'o') then return end
    unqueue(job, now, conc)
    redis.call('DEL', skey(id, 'job'))
  end
  local s = redis.call('HMGET', skey(id), 'due', 'hub', 'host')
  if not s[1] or s[1] == '' then return end
  redis.call('SET', skey(id, 'job'), enqueue('websub', id, s[2], s[3], '', tonumber(s[1]), now, conc, 'feed:' .. id))
  wake(1)
end
"""
)

# ARGV: prefix, now, concurrency, feed id, expected version, subscription JSON ('' to delete), due ('' for none),
# hub URL, hub host. Answers 1 if swapped, 0 if the version was not the expected one.
SWAP = (
    WEBSUB_PREAMBLE
    + """
local now, conc, id = tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4]
local version = tonumber(redis.call('HGET', skey(id), 'v') or '0')
if version ~= tonumber(ARGV[5]) then return 0 end
if ARGV[6] == '' then
  redis.call('DEL', skey(id))
else
  redis.call('HSET', skey(id), 'v', version + 1, 'b', ARGV[6], 'due', ARGV[7], 'hub', ARGV[8], 'host', ARGV[9])
end
schedule(id, now, conc)
return 1
"""
)

# ARGV: prefix, now, concurrency, job id, owner, feed id.
FINISH = (
    WEBSUB_PREAMBLE
    + """
local now, conc, id = tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[6]
complete(ARGV[4], ARGV[5], now, conc)
local job = redis.call('GET', skey(id, 'job'))
if job == ARGV[4] then redis.call('DEL', skey(id, 'job')) end
schedule(id, now, conc)
return 1
"""
)
