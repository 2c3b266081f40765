-- delete.lua: delete a drop nobody has taken part in, so that a drop made
-- with a mistake (a wrong stock, a wrong time) can be made again under
-- its id.
--
-- KEYS[1] drop   KEYS[2] counters   KEYS[3] reg   KEYS[4] wl
-- KEYS[5] outbox   KEYS[6] tombstone, then the drop's other keys, all
-- deleted with these but the tombstone.
-- ARGV[1] how long the tombstone lasts (ms): create.lua refuses the id
-- meanwhile.
--
-- Returns {0} when deleted, {32} when deleted already (its tombstone
-- stands), {3} for a missing drop, or {30, registrants,
-- reservations, waitlisted, unpublished events} when the drop is in use:
-- a shopper registered (her registration is a promise the drop keeps),
-- or events wait in the outbox (deleting it would lose them; the relay
-- empties it within moments).

local d = redis.call('HMGET', KEYS[1], 'stock', 'rb')
if not d[1] then
  -- Deleted a moment ago (its tombstone stands): the caller takes it out
  -- of the index again, in case that step failed the first time. No
  -- create can have made the id again while the tombstone stands.
  if redis.call('EXISTS', KEYS[6]) == 1 then return {32} end
  return {3}
end
local c = redis.call('HMGET', KEYS[2], 'reservations', 'regs')
local regs = tonumber(c[2]) or 0
-- A drop made before registration buckets keeps every registrant in one
-- hash (stats.lua).
if (tonumber(d[2]) or 0) == 0 then regs = redis.call('HLEN', KEYS[3]) end
local res = tonumber(c[1]) or 0
local wl = redis.call('ZCARD', KEYS[4])
local ob = redis.call('XLEN', KEYS[5])
if regs > 0 or res > 0 or wl > 0 or ob > 0 then return {30, regs, res, wl, ob} end
-- Nobody registered, so no registration bucket, reservation or shopper
-- key exists: the fixed keys are all there is.
local keys = {}
for i = 1, #KEYS do
  if i ~= 6 then keys[#keys + 1] = KEYS[i] end
end
redis.call('DEL', unpack(keys))
redis.call('SET', KEYS[6], '1', 'PX', ARGV[1])
return {0}
