-- view.lua: what one shopper sees of a drop (read only).
--
-- KEYS[1] drop   KEYS[2] reg   KEYS[3] latest   KEYS[4] wl
-- ARGV[1] key prefix   ARGV[2] user
--
-- Returns {found (0|1), registered (0|1), waitlist position (0 = none),
--          <reservation> or empty}

P = ARGV[1]
if redis.call('EXISTS', KEYS[1]) == 0 then return {0, 0, 0, {}} end
local reg = redis.call('HEXISTS', KEYS[2], ARGV[2])
local rank = redis.call('ZRANK', KEYS[4], ARGV[2])
local pos = rank and rank + 1 or 0
local rid = redis.call('HGET', KEYS[3], ARGV[2])
local res = {}
if rid then res = res_reply(rid) end
return {1, reg, pos, res}
