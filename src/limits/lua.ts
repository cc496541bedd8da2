// The one Lua script RedisStore runs; a mirror of gcra.ts (same integer mixed-number arithmetic, so
// the two stores give identical answers for identical sequences — the tests compare them).
//
// KEYS: the bucket keys of one slot group (or one lease key for `acquire`).
// ARGV[1] mode: check | peek | refund | charge | acquire
// ARGV[2] now in epoch ms, or '' to use the Redis server clock (TIME), so gateway clocks don't matter.
// (Writes after TIME need scripts replicated by effects: the default since Redis 5.)
// check/peek/refund/charge: ARGV[3i], ARGV[3i+1], ARGV[3i+2] = limit, periodMs, cost of KEYS[i].
// acquire: ARGV[3] max, ARGV[4] ttlMs, ARGV[5] lease id.
// A bucket is a string "ms:frac:den" with PX = ms until its TAT passes (idle keys vanish).
// check/peek return {allowed, retryAfterMs, reason (0 ok, 1 limited, 2 cost > limit), then per key
// remaining, resetMs, allowed}; acquire returns 1 or 0.
import { createHash } from 'node:crypto';

export const LIMITS_LUA = `
local mode = ARGV[1]
local now
if ARGV[2] ~= '' then
  now = tonumber(ARGV[2])
else
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

if mode == 'acquire' then
  local key, max, ttl = KEYS[1], tonumber(ARGV[3]), tonumber(ARGV[4])
  redis.call('ZREMRANGEBYSCORE', key, '-inf', string.format('%.0f', now))
  if redis.call('ZCARD', key) >= max then return 0 end
  redis.call('ZADD', key, string.format('%.0f', now + ttl), ARGV[5])
  local last = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')
  redis.call('PEXPIRE', key, string.format('%.0f', math.max(1, tonumber(last[2]) - now)))
  return 1
end

local function step(c, p, l)
  local cp = c * p
  local q = math.floor(cp / l)
  local r = cp - q * l
  if r < 0 then q = q - 1; r = r + l end
  if r >= l then q = q + 1; r = r - l end
  return q, r
end
local function rebase(ms, frac, den, l)
  if den == l then return ms, frac end
  local f = math.ceil(frac * l / den)
  if f >= l then ms = ms + 1; f = f - l end
  return ms, f
end
local function base(ms, frac, den, l)
  if ms == nil or ms < now then return now, 0 end
  return rebase(ms, frac, den, l)
end
local function load(key)
  local v = redis.call('GET', key)
  if not v then return nil end
  local a, b, c = string.match(v, '^(%-?%d+):(%d+):(%d+)$')
  if not a then return nil end
  return tonumber(a), tonumber(b), tonumber(c)
end
local function save(key, ms, frac, l)
  local ttl = ms - now
  if frac > 0 then ttl = ttl + 1 end
  if ttl < 1 then ttl = 1 end
  redis.call('SET', key, string.format('%.0f:%.0f:%.0f', ms, frac, l), 'PX', string.format('%.0f', ttl))
end
local function spec(i)
  return tonumber(ARGV[3 * i]), tonumber(ARGV[3 * i + 1]), tonumber(ARGV[3 * i + 2])
end

if mode == 'refund' then
  for i = 1, #KEYS do
    local l, p, c = spec(i)
    local ms, frac, den = load(KEYS[i])
    if ms ~= nil then
      ms, frac = rebase(ms, frac, den, l)
      local q, r = step(c, p, l)
      ms = ms - q; frac = frac - r
      if frac < 0 then ms = ms - 1; frac = frac + l end
      if ms < now or (ms == now and frac == 0) then redis.call('DEL', KEYS[i]) else save(KEYS[i], ms, frac, l) end
    end
  end
  return 1
end

if mode == 'charge' then
  for i = 1, #KEYS do
    local l, p, c = spec(i)
    local ms, frac, den = load(KEYS[i])
    local bm, bf = base(ms, frac, den, l)
    local q, r = step(c, p, l)
    bm = bm + q; bf = bf + r
    if bf >= l then bm = bm + 1; bf = bf - l end
    save(KEYS[i], bm, bf, l)
  end
  return 1
end

-- check / peek: decide every key against tentative state (a key listed twice sees its own charge).
local pending, dec, used = {}, {}, {}
local allowed, wait = 1, 0
for i = 1, #KEYS do
  local l, p, c = spec(i)
  used[KEYS[i]] = (used[KEYS[i]] or 0) + c
  local ms, frac, den
  local e = pending[KEYS[i]]
  if e then ms, frac, den = e[1], e[2], e[3] else ms, frac, den = load(KEYS[i]) end
  local bm, bf = base(ms, frac, den, l)
  local q, r = step(c, p, l)
  local nm, nf = bm + q, bf + r
  if nf >= l then nm = nm + 1; nf = nf - l end
  local over = nm - now - p
  if over < 0 or (over == 0 and nf == 0) then
    dec[i] = 1
    pending[KEYS[i]] = {nm, nf, l}
  else
    dec[i] = 0
    allowed = 0
    local w = -1
    if used[KEYS[i]] <= l then
      w = over
      if nf > 0 then w = w + 1 end
    end
    if wait == -1 or w == -1 then wait = -1 elseif w > wait then wait = w end
  end
end

local charge = allowed == 1 and mode == 'check'
local out = {allowed, 0, 0}
if allowed == 0 then
  out[2] = wait
  if wait == -1 then out[3] = 2 else out[3] = 1 end
end
for i = 1, #KEYS do
  local l, p = spec(i)
  local ms, frac, den
  if charge then
    local e = pending[KEYS[i]]
    ms, frac, den = e[1], e[2], e[3]
  else
    ms, frac, den = load(KEYS[i])
  end
  local bm, bf = base(ms, frac, den, l)
  local d = bm - now
  local avail = (p - d) * l - bf
  local rem = 0
  if avail > 0 then rem = math.floor(avail / p) end
  if bf > 0 then d = d + 1 end
  out[#out + 1] = rem
  out[#out + 1] = d
  out[#out + 1] = dec[i]
end
if charge then
  for k, e in pairs(pending) do save(k, e[1], e[2], e[3]) end
end
return out
`;

export const LIMITS_SHA = createHash('sha1').update(LIMITS_LUA).digest('hex');
