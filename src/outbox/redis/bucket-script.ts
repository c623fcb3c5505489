/**
 * The shared token bucket, as one Lua script: Redis runs a script atomically, so a read, a refill
 * and a take by one replica never interleave with another's, with one round trip per try.
 *
 * Time is Redis's own (`TIME`), not the callers': tokens accrue from elapsed time, and two
 * replicas whose clocks differ by 200 ms would otherwise each see 200 ms more (or less) elapsed
 * than the other wrote, granting 4 extra tokens at 20/s per skewed exchange, or stalling. One clock
 * for every writer makes the bucket's arithmetic the same whichever replica calls. Since Redis 5
 * scripts replicate their effects, not their text, so a non-deterministic `TIME` before a write is
 * allowed (and is the only mode of Redis 7).
 *
 * Hash fields: tk tokens (fractional), ts last refill (ms, Redis time), pu paused until, r rate
 * per second and c capacity in force (after live adjustment), b the first X-RateLimit-Limit seen
 * (the baseline live adjustment scales by), h whether any answer was heard, fs when the bucket
 * was made, dr and db the declared rate and burst it was made from.
 *
 * KEYS: one or two buckets (a connection's and its app's: taken together or not at all, so a
 * caller never holds one bucket's token while it waits for the other's). ARGV: op, ttl ms, grace
 * ms, then per key its declared perSecond and burst, then the op's arguments:
 *   take                       → {1, 0} granted, or {0, ms to wait}
 *   refund                     → {1, 0}; a granted token that was not used goes back
 *   observe pauseMs atMost limit → {paused until}; marks every key heard, adjusts KEYS[1] only
 *   state                      → per key {tokens, rate, capacity, paused until} as strings
 * An empty argument means "not given".
 */
export const BUCKET_SCRIPT = `
local op = ARGV[1]
local ttl = tonumber(ARGV[2])
local grace = tonumber(ARGV[3])
local n = #KEYS
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000

-- The same holdback as the in-process bucket (src/outbox/pacing/bucket.ts capOf): part of the
-- declared burst absorbs the jitter of requests arriving at the provider later than they left.
local function capOf(burst)
  if burst <= 1 then return 1 end
  return math.max(burst - 2, math.ceil(burst / 2), 1)
end

local function num(s) return string.format('%.17g', s) end

local function load(i)
  local dr = tonumber(ARGV[2 + 2 * i])
  local db = tonumber(ARGV[3 + 2 * i])
  local v = redis.call('HMGET', KEYS[i], 'tk', 'ts', 'pu', 'r', 'c', 'b', 'h', 'fs', 'dr', 'db')
  local s = { dr = dr, db = db }
  if not v[1] then
    s.c = capOf(db); s.tk = s.c; s.ts = now; s.pu = 0; s.r = dr; s.b = 0; s.h = 0; s.fs = now
    return s
  end
  s.tk = tonumber(v[1]); s.ts = tonumber(v[2]); s.pu = tonumber(v[3]); s.r = tonumber(v[4])
  s.c = tonumber(v[5]); s.b = tonumber(v[6]); s.h = tonumber(v[7]); s.fs = tonumber(v[8])
  if tonumber(v[9]) ~= dr or tonumber(v[10]) ~= db then
    -- The declared bucket changed (a config reload): live adjustment starts again from it.
    s.r = dr; s.c = capOf(db); s.b = 0; s.tk = math.min(s.tk, s.c)
  end
  return s
end

-- Nothing accrues until the first answer is heard (why: src/outbox/pacing/bucket.ts answered),
-- or until grace ms after the bucket was made, so a replica that died holding the first grants
-- cannot stall the others.
local function refill(s)
  if now < s.pu then s.tk = 0; s.ts = s.pu; return end
  if s.h == 0 then
    if now - s.fs >= grace then s.h = 1 end
    if now > s.ts then s.ts = now end
    return
  end
  if now > s.ts then
    s.tk = math.min(s.c, s.tk + (now - s.ts) * s.r / 1000)
    s.ts = now
  end
end

local function save(i, s)
  redis.call('HSET', KEYS[i], 'tk', num(s.tk), 'ts', num(s.ts), 'pu', num(s.pu), 'r', num(s.r), 'c', num(s.c),
    'b', num(s.b), 'h', s.h, 'fs', num(s.fs), 'dr', num(s.dr), 'db', num(s.db))
  -- An idle bucket is forgotten; a paused one not before its pause ends.
  redis.call('PEXPIRE', KEYS[i], math.ceil(ttl + math.max(0, s.pu - now)))
end

local function waitOf(s)
  if s.tk >= 1 then return 0 end
  local w = (1 - s.tk) * 1000 / s.r
  if now < s.pu then w = w + s.pu - now end
  return w
end

local all = {}
for i = 1, n do
  all[i] = load(i)
  refill(all[i])
end

if op == 'take' then
  local wait = 0
  for i = 1, n do wait = math.max(wait, waitOf(all[i])) end
  if wait == 0 then
    for i = 1, n do all[i].tk = all[i].tk - 1 end
  end
  for i = 1, n do save(i, all[i]) end
  if wait == 0 then return {1, 0} end
  return {0, math.max(1, math.ceil(wait))}
elseif op == 'refund' then
  for i = 1, n do
    all[i].tk = math.min(all[i].c, all[i].tk + 1)
    save(i, all[i])
  end
  return {1, 0}
elseif op == 'observe' then
  local o = 4 + 2 * n
  for i = 1, n do
    if all[i].h == 0 then all[i].h = 1; all[i].ts = now end
  end
  local s = all[1]
  local pauseMs = tonumber(ARGV[o])
  local atMost = tonumber(ARGV[o + 1])
  local limit = tonumber(ARGV[o + 2])
  if pauseMs and pauseMs > 0 and now + pauseMs > s.pu then
    s.pu = now + pauseMs; s.tk = 0; s.ts = s.pu
  end
  if limit and limit > 0 then
    if s.b == 0 then s.b = limit end
    local factor = math.min(1, limit / s.b)
    local rate = s.dr * factor
    if rate ~= s.r then
      s.r = rate
      s.c = capOf(math.max(1, math.floor(s.db * factor + 0.5)))
      s.tk = math.min(s.tk, s.c)
    end
  end
  if atMost then s.tk = math.min(s.tk, math.max(0, math.floor(atMost))) end
  for i = 1, n do save(i, all[i]) end
  return {math.floor(s.pu)}
elseif op == 'state' then
  local out = {}
  for i = 1, n do
    local s = all[i]
    table.insert(out, num(s.tk)); table.insert(out, num(s.r)); table.insert(out, num(s.c)); table.insert(out, num(s.pu))
  end
  return out
end
return redis.error_reply('unknown bucket op ' .. tostring(op))
`;
