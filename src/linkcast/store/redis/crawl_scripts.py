"""The Lua scripts of crawls: ``crawl_ledger.py`` said in Lua, each step one script.

Keys under the prefix ``P``: ``P:crawl:<id>`` (a hash: ``spec`` and its ``max_pages``, ``state``, times, ``counts`` as
JSON, ``admitted``, ``progress_at``), ``P:crawl:<id>:seen`` (the visited set: 12-byte digests of URLs),
``P:crawl:<id>:done`` (the keys of the URLs whose outcome is recorded), ``P:crawl:<id>:pages`` (a list of their events,
in the order they ended), ``P:crawl:<id>:jobs`` (the ids of its pending jobs, to drop them on cancel), ``P:crawls`` (the
crawls by creation order, ``P:crawlseq``), ``P:crawls_ended`` (ended crawls by time, to prune them).
"""

from __future__ import annotations

from linkcast.store.crawl_ledger import MAX_REMEMBERED_OVER_LIMIT
from linkcast.store.redis.scheduler_scripts import PREAMBLE
from linkcast.store.redis.scripts import APPEND

CRAWL_PREAMBLE = (
    PREAMBLE
    + APPEND
    + f"""
local MAX_REMEMBERED_OVER_LIMIT = {MAX_REMEMBERED_OVER_LIMIT}
"""
    + """
local function ckey(id, part)
  if part then return P .. ':crawl:' .. id .. ':' .. part end
  return P .. ':crawl:' .. id
end

local function crawl_event(id, etype, extra)
  local c = redis.call('HMGET', ckey(id), 'state', 'counts')
  local body = {type = etype, request_id = id, state = c[1], counts = cjson.decode(c[2])}
  for k, v in pairs(extra or {}) do body[k] = v end
  return cjson.encode(body)
end

-- Admit links (url, key, host, depth, referrer) from ARGV[first...]: each once, up to max_pages; past it, at most
-- MAX_REMEMBERED_OVER_LIMIT URLs join the visited set (crawl_ledger.py), the others are only looked up.
local function admit(id, first, counts, now, conc)
  local admitted = tonumber(redis.call('HGET', ckey(id), 'admitted'))
  -- Kept beside the spec, which may be a megabyte of seeds: decoding it held Redis for 7 ms a step.
  local max_pages = tonumber(redis.call('HGET', ckey(id), 'max_pages'))
  if not max_pages then  -- a crawl created before the field was kept
    max_pages = tonumber(cjson.decode(redis.call('HGET', ckey(id), 'spec'))['max_pages'])
    redis.call('HSET', ckey(id), 'max_pages', max_pages)
  end
  local queued = 0
  for i = first, #ARGV, 5 do
    if admitted >= max_pages and counts.skipped.page_limit >= MAX_REMEMBERED_OVER_LIMIT then
      if redis.call('SISMEMBER', ckey(id, 'seen'), ARGV[i + 1]) == 1 then
        counts.skipped.duplicate = counts.skipped.duplicate + 1
      else
        counts.skipped.page_limit = counts.skipped.page_limit + 1
      end
    elseif redis.call('SADD', ckey(id, 'seen'), ARGV[i + 1]) == 0 then
      counts.skipped.duplicate = counts.skipped.duplicate + 1
    elseif admitted >= max_pages then
      counts.skipped.page_limit = counts.skipped.page_limit + 1
    else
      admitted = admitted + 1
      counts.queued = counts.queued + 1
      local data = cjson.encode({depth = tonumber(ARGV[i + 3]), referrer = ARGV[i + 4] ~= '' and ARGV[i + 4] or nil})
      local job = enqueue('crawl', id, ARGV[i], ARGV[i + 2], data, 0, now, conc, 'crawl:' .. id)
      redis.call('SADD', ckey(id, 'jobs'), job)
      queued = queued + 1
    end
  end
  redis.call('HSET', ckey(id), 'admitted', admitted)
  wake(queued)
end
"""
)

# ARGV: prefix, now, concurrency, crawl id, spec, counts, accepted body, maxlen, then seeds as (url, key, host, 0, '').
CREATE = (
    CRAWL_PREAMBLE
    + """
local now, conc, id = tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4]
local spec = redis.call('HGET', ckey(id), 'spec')
if spec then
  if spec ~= ARGV[5] then return -1 end
  return 0
end
redis.call('HSET', ckey(id), 'spec', ARGV[5], 'state', 'queued', 'created_at', ARGV[2], 'admitted', 0,
  'progress_at', 0, 'max_pages', tonumber(cjson.decode(ARGV[5])['max_pages']))
local counts = cjson.decode(ARGV[6])
admit(id, 9, counts, now, conc)
redis.call('HSET', ckey(id), 'counts', cjson.encode(counts))
redis.call('ZADD', P .. ':crawls', redis.call('INCR', P .. ':crawlseq'), id)
append(ARGV[8], 'crawl.accepted', id, ARGV[7])
return 1
"""
)

# ARGV: prefix, now, concurrency, job id, owner, crawl id, url key, body, result, final key, skipped (JSON), maxlen,
# then links as (url, key, host, depth, referrer). Answers 1 if the outcome was recorded.
FINISH_PAGE = (
    CRAWL_PREAMBLE
    + """
local now, conc, id = tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[6]
complete(ARGV[4], ARGV[5], now, conc)
redis.call('SREM', ckey(id, 'jobs'), ARGV[4])
local state = redis.call('HGET', ckey(id), 'state')
if (not state) or state == 'done' or state == 'cancelled' then return 0 end
-- A URL the crawl never admitted is not its page: a job of the crawl once made under this id (crawl_ledger.py, 1).
if redis.call('SISMEMBER', ckey(id, 'seen'), ARGV[7]) == 0 then return 0 end
if redis.call('SADD', ckey(id, 'done'), ARGV[7]) == 0 then return 0 end
redis.call('RPUSH', ckey(id, 'pages'), ARGV[8])
local etype = cjson.decode(ARGV[8])['type']
append(ARGV[12], etype, id, ARGV[8])
local counts = cjson.decode(redis.call('HGET', ckey(id), 'counts'))
counts.queued = counts.queued - 1
if ARGV[9] == 'fetched' or ARGV[9] == 'failed' then
  counts[ARGV[9]] = counts[ARGV[9]] + 1
else  -- no page fetched for it: its room goes to the next link, max_pages times a crawl (crawl_ledger.py, step 4)
  counts.skipped[ARGV[9]] = counts.skipped[ARGV[9]] + 1
  local room = redis.call('HMGET', ckey(id), 'given_back', 'max_pages')
  local max_pages = tonumber(room[2]) or tonumber(cjson.decode(redis.call('HGET', ckey(id), 'spec'))['max_pages'])
  if (tonumber(room[1]) or 0) < max_pages then
    redis.call('HINCRBY', ckey(id), 'given_back', 1)
    redis.call('HINCRBY', ckey(id), 'admitted', -1)
  end
end
if ARGV[10] ~= '' then redis.call('SADD', ckey(id, 'seen'), ARGV[10]) end
for reason, count in pairs(cjson.decode(ARGV[11])) do counts.skipped[reason] = counts.skipped[reason] + count end
admit(id, 13, counts, now, conc)
redis.call('HSET', ckey(id), 'counts', cjson.encode(counts))
if counts.queued <= 0 then
  redis.call('HSET', ckey(id), 'state', 'done', 'finished_at', ARGV[2])
  redis.call('ZADD', P .. ':crawls_ended', now, id)
  local c = redis.call('HMGET', ckey(id), 'started_at', 'finished_at')
  append(ARGV[12], 'crawl.done', id, crawl_event(id, 'crawl.done',
    {cancelled = false, started_at = tonumber(c[1]), finished_at = tonumber(c[2])}))
elseif now - tonumber(redis.call('HGET', ckey(id), 'progress_at')) >= 1.0 then
  redis.call('HSET', ckey(id), 'progress_at', ARGV[2])
  append(ARGV[12], 'crawl.progress', id, crawl_event(id, 'crawl.progress'))
end
return 1
"""
)

# A page's links before its last ``LINKS_PER_STEP``, admitted a step at a time ahead of FINISH_PAGE (which admits the
# last ones): a page may bring --max-links links and its site's sitemaps 50,000 more, and one script admitting them
# all held Redis for 0.4 s. Its redirect target joins the visited set first, as FINISH_PAGE has it do before the links.
# Nothing is admitted for a crawl that has ended, a URL whose outcome is recorded already (a second delivery), or one
# the crawl never admitted.
# ARGV: prefix, now, concurrency, crawl id, url key, final key, then links as (url, key, host, depth, referrer).
# Answers 0 when nothing may be admitted (the caller stops), else 1.
ADMIT = (
    CRAWL_PREAMBLE
    + """
local now, conc, id = tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4]
local state = redis.call('HGET', ckey(id), 'state')
if (not state) or state == 'done' or state == 'cancelled' then return 0 end
if redis.call('SISMEMBER', ckey(id, 'done'), ARGV[5]) == 1 then return 0 end
if redis.call('SISMEMBER', ckey(id, 'seen'), ARGV[5]) == 0 then return 0 end  -- not its page (FINISH_PAGE)
if ARGV[6] ~= '' then redis.call('SADD', ckey(id, 'seen'), ARGV[6]) end
local counts = cjson.decode(redis.call('HGET', ckey(id), 'counts'))
admit(id, 7, counts, now, conc)
redis.call('HSET', ckey(id), 'counts', cjson.encode(counts))
return 1
"""
)

# ARGV: prefix, now, concurrency, crawl id, maxlen. Answers -1 for an unknown crawl, else 1.
CANCEL = (
    CRAWL_PREAMBLE
    + """
local now, conc, id = tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4]
local state = redis.call('HGET', ckey(id), 'state')
if not state then return -1 end
if state == 'done' or state == 'cancelled' then return 1 end
-- The crawl's queued jobs go (DROP_JOBS, a step at a time); those being fetched end with their workers (their
-- outcome is then not recorded), as does any taken before its step dropped it.
local counts = cjson.decode(redis.call('HGET', ckey(id), 'counts'))
counts.queued = 0  -- the queued URLs were dropped: none will be fetched
redis.call('HSET', ckey(id), 'state', 'cancelled', 'finished_at', ARGV[2], 'counts', cjson.encode(counts))
redis.call('ZADD', P .. ':crawls_ended', now, id)
local c = redis.call('HMGET', ckey(id), 'started_at', 'finished_at')
append(ARGV[5], 'crawl.done', id, crawl_event(id, 'crawl.done',
  {cancelled = true, started_at = tonumber(c[1]), finished_at = tonumber(c[2])}))
return 1
"""
)

# A cancelled crawl's queued jobs dropped, ARGV[5] at most (a crawl may have --max-crawl-pages of them queued: 10,000
# dropped in the cancel's script held Redis for 0.1 s). ARGV: prefix, now, concurrency, crawl id, count. Answers how
# many of its jobs are left to drop.
DROP_JOBS = (
    CRAWL_PREAMBLE
    + """
local now, conc, id = tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4]
if redis.call('HGET', ckey(id), 'state') ~= 'cancelled' then return 0 end
for _, job in ipairs(redis.call('SPOP', ckey(id, 'jobs'), tonumber(ARGV[5]))) do unqueue(job, now, conc) end
return redis.call('SCARD', ckey(id, 'jobs'))
"""
)

# ARGV: prefix, crawl id, key. Answers 1 if the key was added to the visited set.
CLAIM_URL = """
return redis.call('SADD', ARGV[1] .. ':crawl:' .. ARGV[2] .. ':seen', ARGV[3])
"""
