-- create.lua: create a drop with its full stock.
--
-- KEYS[1] drop   KEYS[2] counters
--
-- ARGV: the drop hash as field/value pairs (see keys.go dropFields); the
-- fields 'stock' and 'limit' must be positive integers.
--
-- Returns 0 on success, or 16 if the drop already exists.

if #ARGV == 0 or #ARGV % 2 ~= 0 then
  return redis.error_reply('ERR flashdrop: malformed create arguments')
end
local f = {}
for i = 1, #ARGV, 2 do f[ARGV[i]] = ARGV[i + 1] end
local stock = tonumber(f.stock)
if not stock or stock < 1 or stock ~= math.floor(stock) or not tonumber(f.limit) then
  return redis.error_reply('ERR flashdrop: malformed create arguments')
end
if redis.call('EXISTS', KEYS[1]) == 1 then return 16 end
redis.call('HSET', KEYS[1], unpack(ARGV))
redis.call('HSET', KEYS[2], 'available', f.stock, 'held', 0, 'confirmed', 0, 'released', 0,
  'reservations', 0, 'referrals', 0, 'wlseq', 0)
return 0
