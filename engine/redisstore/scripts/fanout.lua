-- fanout.lua: one batch of a fan-out (invitations, reminders) to a drop's
-- audience.
--
-- KEYS[1] drop   KEYS[2] outbox   KEYS[3] week   KEYS[4] fan set of this kind
-- ARGV[1] key prefix   ARGV[2] drop id   ARGV[3] now (ms)   ARGV[4] event nonce
-- ARGV[5] kind ('invited' | 'reminder')   ARGV[6] expected cursor ('' starts a pass)
-- ARGV[7] next cursor   ARGV[8] last batch of the pass (0|1)
-- ARGV[9] final pass (0|1; read at a pass's first batch)   ARGV[10..] users
--
-- Each user not in the fan set joins it and gets one event of kind. The
-- batch applies only when the fan-out's cursor is the expected one, and
-- then moves it; the last batch of a pass ends it, and of a final pass
-- ends the fan-out (done; the fan set is deleted). So a repeat of a call
-- (a retry after a lost reply) or two nodes on one fan-out never give
-- anyone two events: replay-safe by construction.
--
-- Returns {code, done, cursor, in pass, final, passes}: code 0 applied,
-- 20 not at the expected cursor (nothing changed), 21 done before, 3 drop
-- not found.

P, DROP, NOW, EVNONCE = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4]
NOW_S = ARGV[3]
K_OUTBOX = KEYS[2]
local K_WK, K_SET = KEYS[3], KEYS[4]
local kind, expect, nxt, last, final = ARGV[5], ARGV[6], ARGV[7], ARGV[8], ARGV[9]
if not NOW or (kind ~= 'invited' and kind ~= 'reminder') or (last ~= '0' and last ~= '1')
   or (final ~= '0' and final ~= '1') or (last == '0' and (nxt or '') == '')
   or K_WK ~= P .. 'wk' or K_SET ~= P .. 'fan:' .. kind then
  return redis.error_reply('ERR flashdrop: malformed fan-out arguments')
end
for i = 10, #ARGV do
  if ARGV[i] == '' then return redis.error_reply('ERR flashdrop: empty user in fan-out') end
end

local function state(code)
  local s = redis.call('HMGET', K_WK, kind .. ':done', kind .. ':cur', kind .. ':fin', kind .. ':passes')
  return {code, s[1] == '1' and 1 or 0, s[2] or '', s[2] and 1 or 0, s[3] == '1' and 1 or 0, num(s[4])}
end
if redis.call('EXISTS', KEYS[1]) == 0 then return {3, 0, '', 0, 0, 0} end
local s = redis.call('HMGET', K_WK, kind .. ':done', kind .. ':cur', kind .. ':fin')
if s[1] == '1' then return state(21) end
if (s[2] or '') ~= expect then return state(20) end
local fin = final
if expect ~= '' then fin = s[3] or '0' end

for i = 10, #ARGV do
  if redis.call('SADD', K_SET, ARGV[i]) == 1 then emit(kind, {'user', ARGV[i]}) end
end
if last == '1' then
  redis.call('HDEL', K_WK, kind .. ':cur', kind .. ':fin')
  if fin == '1' then
    redis.call('HSET', K_WK, kind .. ':done', '1')
    redis.call('DEL', K_SET)
  else
    redis.call('HINCRBY', K_WK, kind .. ':passes', 1)
  end
else
  redis.call('HSET', K_WK, kind .. ':cur', nxt, kind .. ':fin', fin)
end
return state(0)
