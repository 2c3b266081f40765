-- share.lua: the reservation a share code announces (read only).
--
-- KEYS[1] share   hash: own part of a share code -> reservation id
-- ARGV[1] key prefix   ARGV[2] the code's own part   ARGV[3] the whole code
--
-- Returns the reservation as res_reply gives it, or {} when the code names
-- no win. The reservation must carry the same code: an index entry that
-- disagrees with its reservation names nothing.

P = ARGV[1]
local rid = redis.call('HGET', KEYS[1], ARGV[2])
if not rid then return {} end
local r = res_reply(rid)
if r[8] ~= ARGV[3] then return {} end
return r
