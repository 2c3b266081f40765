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
-- Returns {0, registration buckets to unlink (a rehearsal's, else 0)}
-- when deleted, {32} when deleted
-- already (its tombstone stands), {3} for a missing drop, or {30,
-- registrants, reservations, waitlisted, unpublished events} when the
-- drop is in use: a shopper registered (her registration is a promise the
-- drop keeps), or events wait in the outbox (deleting it would lose them;
-- the relay empties it within moments).
--
-- A rehearsal (flashdrop load's drop, 'reh') is deleted whoever took part
-- in it: its shoppers are the load test's, and rehearsals would otherwise
-- pile up in production's Redis and on the ops page, one per run. Only its
-- outbox must be empty. Its registration buckets are not deleted here
-- (16,384 keys in one script would hold Redis for milliseconds): the
-- caller unlinks them after, in steps, once no registration can make one
-- again (the drop is gone). A rehearsal of the layout before packed
-- reservations ('rl', one hash per reservation) is deleted only unused.

local d = redis.call('HMGET', KEYS[1], 'stock', 'rb', 'reh', 'rl')
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
local rehearsal = d[3] == '1' and d[4] == '1'
if rehearsal then
  if ob > 0 then return {30, 0, 0, 0, ob} end
elseif regs > 0 or res > 0 or wl > 0 or ob > 0 then
  return {30, regs, res, wl, ob}
end
-- Nobody registered (or a rehearsal's buckets go after), so the fixed keys
-- are all there is: reservations, shoppers' sale state, share codes and
-- the waitlist are each one of them.
local keys = {}
for i = 1, #KEYS do
  if i ~= 6 then keys[#keys + 1] = KEYS[i] end
end
-- UNLINK: a rehearsal's hashes can be large, and Redis frees them apart
-- from its main thread.
redis.call('UNLINK', unpack(keys))
redis.call('SET', KEYS[6], '1', 'PX', ARGV[1])
-- Only a rehearsal can have buckets to unlink after.
if rehearsal then return {0, tonumber(d[2]) or 0} end
return {0, 0}
