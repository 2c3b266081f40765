-- drawseal.lua: record a frozen draw's registrant digest and count, once.
--
-- KEYS[1] drop   KEYS[2] draw
-- ARGV[1] digest of the frozen ticket list   ARGV[2] number of registrants
--
-- Returns 0 when the draw is sealed, by this call or an earlier one (the
-- first seal wins: every node computes the same digest from the frozen
-- list, and a later seal changes nothing), or a code: 3 not found, 18 not
-- a draw, 19 registration not frozen. Also fixes how many tickets win,
-- min(n, floor(stock / draw quantity)). Replay-safe by construction.

local n = tonumber(ARGV[2])
if not n or n < 0 or n ~= math.floor(n) or not ARGV[1] or ARGV[1] == '' then
  return redis.error_reply('ERR flashdrop: malformed seal arguments')
end
local c = redis.call('HMGET', KEYS[1], 'mode', 'stock', 'dq', 'frozen')
if not c[1] then return 3 end
if c[1] ~= 'draw' then return 18 end
if c[4] ~= '1' then return 19 end
if redis.call('HEXISTS', KEYS[2], 'phase') == 1 then return 0 end
local q = tonumber(c[3]) or 1
if q < 1 then q = 1 end
local w = math.min(n, math.floor((tonumber(c[2]) or 0) / q))
local function ms(x) return string.format('%d', x) end
redis.call('HSET', KEYS[2], 'phase', 'frozen', 'digest', ARGV[1], 'n', ms(n), 'w', ms(w), 'q', ms(q), 'cur', '0')
return 0
