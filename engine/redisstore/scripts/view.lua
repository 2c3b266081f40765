-- view.lua: what one shopper sees of a drop (read only).
--
-- KEYS[1] drop   KEYS[2] reg   KEYS[3] wl   KEYS[4] wlend
-- ARGV[1] key prefix   ARGV[2] user
--
-- Returns {found (0|1), registered (0|1), waitlist position (0 = none),
--          <reservation> or empty, waitlist ended (0|1)}

P, K_REG = ARGV[1], KEYS[2]
if redis.call('EXISTS', KEYS[1]) == 0 then return {0, 0, 0, {}, 0} end
local at, _, rid = user_get(ARGV[2])
local rank = redis.call('ZRANK', KEYS[3], ARGV[2])
local res = {}
if rid and rid ~= '' then res = res_reply(rid) end
return {1, at and 1 or 0, rank and rank + 1 or 0, res, redis.call('SISMEMBER', KEYS[4], ARGV[2])}
