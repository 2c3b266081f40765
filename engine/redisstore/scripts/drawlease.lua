-- drawlease.lua: take or renew the lease on a drop's draw.
--
-- KEYS[1] draw
-- ARGV[1] owner   ARGV[2] now (ms)   ARGV[3] ttl (ms)
--
-- Returns 1 when owner holds the lease until now + ttl, 0 when another
-- owner holds it at now, -1 when the drop is no draw. The lease only
-- saves work (one node computes the draw while the others wait); the
-- draw's steps are safe without it. The time is the caller's clock, so
-- tests move it by hand. A repeat by the same owner answers 1 again.

local now, ttl = tonumber(ARGV[2]), tonumber(ARGV[3])
if not now or not ttl or ttl < 1 or ARGV[1] == '' then
  return redis.error_reply('ERR flashdrop: malformed lease arguments')
end
if redis.call('HEXISTS', KEYS[1], 'seed') == 0 then return -1 end
local v = redis.call('HGET', KEYS[1], 'lease')
if v then
  local owner, untl = string.match(v, '^(.*)|(%d+)$')
  if owner and owner ~= ARGV[1] and tonumber(untl) > now then return 0 end
end
redis.call('HSET', KEYS[1], 'lease', ARGV[1] .. '|' .. string.format('%d', now + ttl))
return 1
