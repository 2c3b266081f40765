-- registrants.lua: one page of a drop's registrants, for the draw's list
-- and the reminder fan-out (read only).
--
-- KEYS[1] drop   KEYS[2] reg (the stem of the registration buckets)
-- ARGV[1] first bucket   ARGV[2] n, the users that fill a page
--
-- Returns {-1} for a drop without registration buckets (no 'rb': made
-- before them, its registrants in the one hash KEYS[2], which the caller
-- scans with HSCAN), else {next bucket, done (0|1), users...}: whole
-- buckets (lib.lua's reg_key) from the first until the page holds n users
-- or MAXB buckets were read, so a call's work stays bounded however few
-- registrants a drop has (a small drop's buckets are mostly missing).

local MAXB = 2048
local rb = tonumber(redis.call('HGET', KEYS[1], 'rb')) or 0
if rb == 0 then return {-1} end
local b, n = tonumber(ARGV[1]), tonumber(ARGV[2])
if not b or not n or b < 0 or b > rb or b ~= math.floor(b) or n < 1 then
  return redis.error_reply('ERR flashdrop: malformed registrants arguments')
end
local out = {0, 0}
local last = math.min(rb, b + MAXB)
while b < last and #out - 2 < n do
  local ks = redis.call('HKEYS', KEYS[2] .. ':' .. b)
  for i = 1, #ks do out[#out + 1] = ks[i] end
  b = b + 1
end
out[1] = b
if b >= rb then out[2] = 1 end
return out
