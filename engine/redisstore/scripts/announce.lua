-- announce.lua: emit a moment of a drop's life once.
--
-- KEYS[1] drop   KEYS[2] outbox   KEYS[3] week
-- ARGV[1] key prefix   ARGV[2] drop id   ARGV[3] now (ms)   ARGV[4] event nonce
-- ARGV[5] moment: 'created' (drop_created), 'opened' (sale_opened, due at
--         sale_starts_at) or 'closed' (sale_closed, due at sale_ends_at)
-- ARGV[6] grace (ms): a moment older than this is marked but not announced
--
-- Returns 0 not due yet, 1 announced by this call, 2 done before, 3 drop
-- not found, 4 too old to announce (now marked done). Whichever node
-- sees the moment first announces it; the mark is set in the same step as
-- the event, so a repeat of the call (a retry after a lost reply) finds it
-- and emits nothing: replay-safe by construction.

P, DROP, NOW, EVNONCE = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4]
NOW_S = ARGV[3]
K_OUTBOX = KEYS[2]
local moment, grace = ARGV[5], tonumber(ARGV[6])
local types = {created = 'drop_created', opened = 'sale_opened', closed = 'sale_closed'}
if not NOW or not grace or not types[moment] or KEYS[3] ~= P .. 'wk' then
  return redis.error_reply('ERR flashdrop: malformed announce arguments')
end
local c = redis.call('HMGET', KEYS[1], 'ss', 'se', 'created')
if not c[1] then return 3 end
local due = num(c[1])
if moment == 'created' then due = num(c[3]) end
if moment == 'closed' then
  due = num(c[2])
  if due == 0 then return 0 end -- a sale without an end never closes
end
if NOW < due then return 0 end
if redis.call('HSETNX', KEYS[3], 'm:' .. moment, NOW_S) == 0 then return 2 end
if NOW > due + grace then return 4 end
emit(types[moment], {})
return 1
