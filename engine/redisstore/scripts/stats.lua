-- stats.lua: a drop's counters, read in one atomic step (read only).
--
-- KEYS[1] drop   KEYS[2] counters   KEYS[3] reg   KEYS[4] wl   KEYS[5] holds
--
-- Returns {stock, available, held, confirmed, released, registered,
--          waitlisted, reservations, referrals, owed, sold-out version,
--          the earliest deadline of a hold not yet expired (ms, 0: none)},
-- or 3 if the drop is missing.

local d = redis.call('HMGET', KEYS[1], 'stock', 'rb')
if not d[1] then return 3 end
local c = redis.call('HMGET', KEYS[2], 'available', 'held', 'confirmed', 'released', 'reservations', 'referrals',
  'owed', 'sov', 'regs')
local function num(v) return tonumber(v) or 0 end
-- A drop with registration buckets (lib.lua) counts its registrants in
-- 'regs'; an older drop has them all in one hash.
local regs = num(c[9])
if num(d[2]) == 0 then regs = redis.call('HLEN', KEYS[3]) end
-- The holds are scored by deadline, and the sweeper takes each out as it
-- expires it: the first one's deadline long past says no sweeper runs.
local first = redis.call('ZRANGE', KEYS[5], 0, 0, 'WITHSCORES')
return {num(d[1]), num(c[1]), num(c[2]), num(c[3]), num(c[4]),
  regs, redis.call('ZCARD', KEYS[4]), num(c[5]), num(c[6]), num(c[7]), num(c[8]), num(first[2])}
