-- pause.lua: set or clear a drop's pause flag (the sale's kill switch).
--
-- KEYS[1] drop
-- ARGV[1] '1' to pause, '0' to resume
--
-- Returns 0, or 3 if the drop does not exist.

if ARGV[1] ~= '0' and ARGV[1] ~= '1' then
  return redis.error_reply('ERR flashdrop: malformed pause arguments')
end
if redis.call('EXISTS', KEYS[1]) == 0 then return 3 end
redis.call('HSET', KEYS[1], 'paused', ARGV[1])
return 0
