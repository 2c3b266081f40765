-- series.lua: create or delete a series, with one answer per call.
--
-- KEYS[1] the series' configuration (a JSON string)   KEYS[2] call
-- ARGV[1] 'create' or 'delete'   ARGV[2] the configuration (create)
--
-- Returns 1 when this call created (or deleted) the series, 0 when it
-- existed already (or was missing). A call that changed something records
-- that for 30 s under KEYS[2], so a repeat of the same call (a retry after
-- a lost reply) answers 1 again instead of "exists" or "missing".

if redis.call('EXISTS', KEYS[2]) == 1 then return 1 end
local done = false
if ARGV[1] == 'create' and ARGV[2] then
  done = redis.call('SET', KEYS[1], ARGV[2], 'NX') and true or false
elseif ARGV[1] == 'delete' then
  done = redis.call('DEL', KEYS[1]) == 1
else
  return redis.error_reply('ERR flashdrop: malformed series arguments')
end
if not done then return 0 end
redis.call('SET', KEYS[2], '1', 'EX', 30)
return 1
