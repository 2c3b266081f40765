-- create.lua: create a drop with its full stock, or find the same one.
--
-- KEYS[1] drop   KEYS[2] counters   KEYS[3] call   KEYS[4] draw
-- KEYS[5] the drop's tombstone (delete.lua): while it lasts the id is not
-- made again, so every node's list of drops sees the deleted drop go
-- before another comes under its id (engine.DropList)
--
-- ARGV: the drop hash as field/value pairs (see store.go dropFields); the
-- fields 'stock' and 'limit' must be positive integers. The pairs 'seed'
-- and 'tkey' (a draw drop's secrets) go into KEYS[4], never into the drop
-- hash; they and 'sh' (the seed's hash) are not configuration, since a
-- retried create brings fresh ones: the first creation's are kept.
--
-- Returns {0, 1} when the drop was created, {0, 0} when a drop with this id
-- and the same configuration exists already (a retried create: 'created'
-- and 'paused' are not configuration), or {16, <field>...} naming the
-- stored fields that differ. A repeat of the same call (a retry after a
-- lost reply) answers what the first run answered. {31, ms} while the id's
-- tombstone lasts ms more.

if #ARGV == 0 or #ARGV % 2 ~= 0 then
  return redis.error_reply('ERR flashdrop: malformed create arguments')
end
local f, fields, secret = {}, {}, {seed = true, tkey = true}
for i = 1, #ARGV, 2 do
  f[ARGV[i]] = ARGV[i + 1]
  if not secret[ARGV[i]] then
    fields[#fields + 1] = ARGV[i]
    fields[#fields + 1] = ARGV[i + 1]
  end
end
local stock = tonumber(f.stock)
if not stock or stock < 1 or stock ~= math.floor(stock) or not tonumber(f.limit) then
  return redis.error_reply('ERR flashdrop: malformed create arguments')
end
if redis.call('EXISTS', KEYS[3]) == 1 then return {0, 1} end
if KEYS[5] then
  local left = redis.call('PTTL', KEYS[5])
  if left > 0 then return {31, left} end
end
if redis.call('EXISTS', KEYS[1]) == 1 then
  local cur = {}
  local all = redis.call('HGETALL', KEYS[1])
  for i = 1, #all, 2 do cur[all[i]] = all[i + 1] end
  local diff = {16}
  for i = 1, #ARGV, 2 do
    local k = ARGV[i]
    -- 'rb', 'rl', 'sb', 'ce' and 'hb' are the store's layouts, not configuration: a drop
    -- made by an older version has none and is the same drop.
    if k ~= 'created' and k ~= 'paused' and k ~= 'sh' and k ~= 'rb' and k ~= 'rl' and k ~= 'sb' and k ~= 'ce' and k ~= 'hb' and not secret[k] and (cur[k] or '') ~= ARGV[i + 1] then
      diff[#diff + 1] = k
    end
  end
  if #diff > 1 then return diff end
  return {0, 0}
end
redis.call('HSET', KEYS[1], unpack(fields))
if f.seed then redis.call('HSET', KEYS[4], 'seed', f.seed, 'tkey', f.tkey or '') end
redis.call('HSET', KEYS[2], 'available', f.stock, 'held', 0, 'confirmed', 0, 'released', 0,
  'reservations', 0, 'referrals', 0, 'wlseq', 0, 'owed', 0, 'sov', 0)
-- Only a creating run needs a record: a repeat of any other run finds
-- what that run found.
redis.call('SET', KEYS[3], '1', 'EX', 30)
return {0, 1}
