"""The Lua scripts of the Redis rate limiter: each one decision, atomic, on Redis time.

Every script reads the clock with ``TIME`` on the server, so the clocks of the workers
never matter, and touches only the keys passed in ``KEYS`` (all of one limiter share a
hash tag, so they live in one Redis Cluster slot). Times are integer microseconds,
written with ``%.0f`` because Lua's default number format would round them.

Reservation is GCRA ("generic cell rate algorithm") without burst: a request may start
at ``max(now, rpm_tat, tpm_tat, pause_until)``; the script stores the new theoretical
arrival times (``start + 60/rpm`` and ``start + tokens * 60/tpm``) so the next caller,
from any process, gets the next start time. A caller whose wait would exceed
``max_wait`` is refused and changes nothing.
"""

from __future__ import annotations

__all__ = ["PENALIZE", "RENEW", "RESERVE", "SETTLE"]

# KEYS: 1 rpm tat, 2 tpm tat, 3 pause-until, 4 lease sorted set, 5 day counter (hash)
# ARGV: 1 us per request (0: no RPM), 2 us per token (0: no TPM), 3 tokens,
#       4 max concurrency (0: none), 5 lease id, 6 lease ttl ms, 7 max wait us,
#       8 requests per day (0: none)
# Returns {status, value, ...}:
#   0 reserved (value = wait us, then the start in Redis time us),
#   1 concurrency full (value = leases in flight),
#   2 wait too long (value = wait us, then what binds: 1 a 429 pause, 2 RPM, 3 TPM),
#   3 day budget spent (value = us until the next UTC day).
RESERVE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local now_ms = math.floor(now / 1000)
local per_request = tonumber(ARGV[1])
local per_token = tonumber(ARGV[2])
local tokens = tonumber(ARGV[3])
local max_conc = tonumber(ARGV[4])
local lease_ttl = tonumber(ARGV[6])
local max_wait = tonumber(ARGV[7])
local per_day = tonumber(ARGV[8])

if max_conc > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', now_ms)
  local busy = redis.call('ZCARD', KEYS[4])
  if busy >= max_conc then
    return {1, busy}
  end
end

local day = math.floor(now / 86400000000)
local used_today = 0
if per_day > 0 then
  local stored = redis.call('HMGET', KEYS[5], 'day', 'n')
  if tonumber(stored[1]) == day then
    used_today = tonumber(stored[2]) or 0
  end
  if used_today >= per_day then
    return {3, (day + 1) * 86400000000 - now}
  end
end

local start = now
local binding = 0
local pause = tonumber(redis.call('GET', KEYS[3]) or '0')
if pause > start then start = pause; binding = 1 end
if per_request > 0 then
  local rpm_tat = tonumber(redis.call('GET', KEYS[1]) or '0')
  if rpm_tat > start then start = rpm_tat; binding = 2 end
end
if per_token > 0 then
  local tpm_tat = tonumber(redis.call('GET', KEYS[2]) or '0')
  if tpm_tat > start then start = tpm_tat; binding = 3 end
end

local wait = start - now
if wait > max_wait then
  return {2, wait, binding}
end

if per_request > 0 then
  local tat = start + per_request
  redis.call('SET', KEYS[1], string.format('%.0f', tat), 'PX',
             math.floor((tat - now) / 1000) + 1000)
end
if per_token > 0 then
  local tat = start + tokens * per_token
  redis.call('SET', KEYS[2], string.format('%.0f', tat), 'PX',
             math.floor((tat - now) / 1000) + 1000)
end
if max_conc > 0 then
  local deadline = math.floor(start / 1000) + lease_ttl
  redis.call('ZADD', KEYS[4], string.format('%.0f', deadline), ARGV[5])
  local ttl = redis.call('PTTL', KEYS[4])
  if ttl < deadline - now_ms + 1000 then
    redis.call('PEXPIRE', KEYS[4], deadline - now_ms + 1000)
  end
end
if per_day > 0 then
  redis.call('HSET', KEYS[5], 'day', day, 'n', used_today + 1)
  redis.call('EXPIRE', KEYS[5], 172800)
end
return {0, wait, start}
"""

# KEYS: 1 tpm tat, 2 lease sorted set
# ARGV: 1 lease id ('' : none), 2 token correction in us (real - estimate, may be < 0)
# A refund never moves the TPM schedule back before now (no credit for idle time).
SETTLE = """
if ARGV[1] ~= '' then
  redis.call('ZREM', KEYS[2], ARGV[1])
end
local delta = tonumber(ARGV[2])
if delta ~= 0 then
  local stored = redis.call('GET', KEYS[1])
  if stored then
    local t = redis.call('TIME')
    local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
    local tat = tonumber(stored)
    if delta > 0 then
      tat = math.max(tat, now) + delta
    elseif tat > now then
      tat = math.max(tat + delta, now)
    end
    redis.call('SET', KEYS[1], string.format('%.0f', tat), 'PX',
               math.max(math.floor((tat - now) / 1000), 0) + 1000)
  end
end
return 0
"""

# KEYS: 1 pause-until
# ARGV: 1 wait us
# Pauses every worker sharing the key until now + wait (a later pause is never shortened).
PENALIZE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local until_ = now + tonumber(ARGV[1])
local stored = tonumber(redis.call('GET', KEYS[1]) or '0')
if stored >= until_ then return 0 end
redis.call('SET', KEYS[1], string.format('%.0f', until_), 'PX',
           math.floor((until_ - now) / 1000) + 1000)
return 1
"""

# KEYS: 1 lease sorted set
# ARGV: 1 lease ttl ms, 2.. lease ids
# Pushes the deadline of the live leases held by this worker; expired ones stay gone.
RENEW = """
local t = redis.call('TIME')
local now_ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local deadline = now_ms + tonumber(ARGV[1])
local renewed = 0
for i = 2, #ARGV do
  local score = redis.call('ZSCORE', KEYS[1], ARGV[i])
  if score and tonumber(score) > now_ms then
    redis.call('ZADD', KEYS[1], string.format('%.0f', deadline), ARGV[i])
    renewed = renewed + 1
  end
end
if renewed > 0 then
  local ttl = redis.call('PTTL', KEYS[1])
  if ttl >= 0 and ttl < deadline - now_ms + 1000 then
    redis.call('PEXPIRE', KEYS[1], deadline - now_ms + 1000)
  end
end
return renewed
"""
