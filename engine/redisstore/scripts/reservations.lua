-- reservations.lua: one page of a drop's reservations, for the shop's
-- fulfilment and reconciliation (read only).
--
-- KEYS[1] drop
-- ARGV[1] key prefix   ARGV[2] cursor ('0' for the first page)
-- ARGV[3] n, how many to read (a hint, as SCAN's COUNT)
--
-- Returns {0} for a missing drop, else {1, next cursor ('0' after the
-- last page), then each reservation in res_reply's form}. A drop with
-- packed reservations (the drop hash's 'rl') walks its hash P..'res' with
-- HSCAN, which reads nothing else; a drop made with one hash per
-- reservation (--reservation-hashes) walks the keys of its prefix with
-- SCAN, which steps through the whole keyspace of the drop's node. Both
-- give every reservation that exists from the first page to the last at
-- least once, and may give one twice (while Redis resizes a table). The
-- work of one call is about n entries; a small hash (a listpack) comes
-- whole in one call.

P = ARGV[1]
if KEYS[1] ~= P .. 'drop' then
  return redis.error_reply('ERR flashdrop: malformed reservations read')
end
local n = tonumber(ARGV[3])
if not n or n < 1 or not string.match(ARGV[2], '^%d+$') then
  return redis.error_reply('ERR flashdrop: malformed reservations read')
end
if redis.call('EXISTS', KEYS[1]) == 0 then return {0} end
local out = {1, '0'}
local drop = string.sub(P, 5, -3)
if layout('rl') == 1 then
  local r = redis.call('HSCAN', P .. 'res', ARGV[2], 'COUNT', n)
  out[2] = r[1]
  local kv = r[2]
  for i = 1, #kv, 2 do
    out[#out + 1] = res_reply(drop .. '.' .. kv[i])
  end
else
  local r = redis.call('SCAN', ARGV[2], 'MATCH', P .. 'r:*', 'COUNT', n)
  out[2] = r[1]
  for _, key in ipairs(r[2]) do
    out[#out + 1] = res_reply(string.sub(key, #P + 3))
  end
end
return out
