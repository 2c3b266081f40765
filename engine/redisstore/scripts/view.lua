-- view.lua: what shoppers see of a drop (read only), for one or many
-- shoppers at once (Admission gathers the concurrent views of a drop).
--
-- KEYS[1] drop   KEYS[2] reg   KEYS[3] wl   KEYS[4] wlend
-- ARGV[1] key prefix   ARGV[2..] users
--
-- Returns {0} when the drop does not exist, else {1, then per user:
--          registered (0|1), waitlist position (0 = none),
--          <reservation> or empty, waitlist ended (0|1), units held or
--          confirmed (what counts against the per-shopper limit)}

P, K_REG = ARGV[1], KEYS[2]
if redis.call('EXISTS', KEYS[1]) == 0 then return {0} end
local out = {1}
for i = 2, #ARGV do
  local user = ARGV[i]
  local at, units, rid = user_get(user)
  local rank = redis.call('ZRANK', KEYS[3], user)
  local res = {}
  if rid and rid ~= '' then res = res_reply(rid) end
  out[#out + 1] = at and 1 or 0
  out[#out + 1] = rank and rank + 1 or 0
  out[#out + 1] = res
  out[#out + 1] = redis.call('SISMEMBER', KEYS[4], user)
  out[#out + 1] = units
end
return out
