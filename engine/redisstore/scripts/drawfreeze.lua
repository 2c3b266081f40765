-- drawfreeze.lua: freeze a draw drop's registration once it has closed.
--
-- KEYS[1] drop
-- ARGV[1] now (ms)
--
-- Returns 0 once frozen (also when it was before), or a code: 3 not found,
-- 18 not a draw, 5 registration still open at now.
-- register.lua refuses everyone once the drop is frozen, so a node whose
-- clock is behind cannot add a registrant to a list that was already
-- read for the draw. A repeat of the call finds the flag set and answers
-- the same: replay-safe by construction, no record needed.

local now = tonumber(ARGV[1])
if not now then return redis.error_reply('ERR flashdrop: malformed freeze arguments') end
local c = redis.call('HMGET', KEYS[1], 'mode', 'rc')
if not c[1] then return 3 end
if c[1] ~= 'draw' then return 18 end
if now < (tonumber(c[2]) or 0) then return 5 end
redis.call('HSET', KEYS[1], 'frozen', '1')
return 0
