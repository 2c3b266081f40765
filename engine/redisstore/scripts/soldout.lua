-- soldout.lua: answer a batch of keyed reserve presses for a drop whose
-- stock is gone with two calls each (the shopper's field, and one write
-- that stores the answer unless the key holds one and then returns that
-- one), where reserve.lua spends four (the key, the field, the waitlist
-- rank and the answer) and its per-win machinery.
--
-- KEYS[1] drop   KEYS[2] counters   KEYS[3] reg   KEYS[4] wl   KEYS[5] call
-- KEYS[5 + i] the idempotency key of request i (every request has one)
--
-- ARGV[1] key prefix   ARGV[2] drop id   ARGV[3] now (ms)   ARGV[4] event nonce
-- ARGV[5] idempotency TTL (s)   ARGV[6] n, then per request: user,
-- quantity, fingerprint
--
-- Returns {0} when the drop is not a running sale with no stock (not
-- found, paused, not open, closed, a draw, or units available): nothing
-- was written, and the caller decides the batch with reserve.lua. Else
-- {1, reply 1, …, reply n}, each reply the one reserve.lua would give the
-- press now, in its form: the answer stored under the press's key (its
-- win, sold_out or limit_reached; idempotency_mismatch for another body);
-- else not_registered, limit_reached or sold_out with the shopper's
-- waitlist position (0 when she is not on it), the last two stored under
-- the key, so that a replay answers the same whatever happens to the
-- stock. A press without waitlist never changes anything else, so none of
-- reserve.lua's writes are needed. A repeat of the same call answers
-- what the first run answered.

P, DROP, NOW, EVNONCE = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4]
K_REG, K_CALL = KEYS[3], KEYS[5]
BATCH = true -- user_get answers from preload's one read per bucket
local ttl, n = tonumber(ARGV[5]), tonumber(ARGV[6])
if not NOW or not ttl or ttl < 1 or not n or n < 1 or #ARGV ~= 6 + 3 * n or #KEYS ~= 5 + n
   or K_CALL ~= P .. 'call:' .. EVNONCE then
  return redis.error_reply('ERR flashdrop: malformed sold-out arguments')
end
local idem = P .. 'idem:'
local reqs = {}
for i = 1, n do
  local b = 6 + 3 * (i - 1)
  local r = {user = ARGV[b + 1], q = tonumber(ARGV[b + 2]), fp = ARGV[b + 3], key = KEYS[5 + i]}
  if r.user == '' or string.find(r.user, '[%c]') or not r.q or r.q < 1 or r.q ~= math.floor(r.q)
     or string.sub(r.key, 1, #idem) ~= idem then
    return redis.error_reply('ERR flashdrop: malformed sold-out request ' .. i)
  end
  reqs[i] = r
end

local C_SOLD_OUT, C_NOT_REGISTERED, C_LIMIT = 2, 4, 8

-- A repeat of this call: reserve.lua's record format and replies.
local rec = recorded()
if rec then return reserve_replies(rec, {1}) end

-- reserve.lua's drop-wide verdict must be "go on", and the stock gone:
-- anything else is reserve.lua's to decide.
local c = redis.call('HMGET', KEYS[1], 'stock', 'limit', 'ss', 'se', 'mode', 'paused', 'rb', 'sb')
if not c[1] or c[6] == '1' or NOW < num(c[3]) or (num(c[4]) > 0 and NOW >= num(c[4])) or c[5] == 'draw'
   or num(redis.call('HGET', KEYS[2], 'available')) > 0 then
  return {0}
end
LAYOUT.rb, LAYOUT.sb = num(c[7]), num(c[8])
local limit = num(c[2])
local wl = redis.call('ZCARD', KEYS[4]) > 0
local users = {}
for i = 1, n do users[i] = reqs[i].user end
preload(users)

local out, stored = {1}, false
for i = 1, n do
  local r = reqs[i]
  local reply
  local at, units = user_get(r.user)
  if not at then
    -- Not registered: a stored answer still wins, and nothing is stored.
    local v = redis.call('GET', r.key)
    if v then reply = stored_reply(r.fp, v) else reply = {C_NOT_REGISTERED, 0} end
  else
    local code, pos = C_SOLD_OUT, 0
    if units + r.q > limit then
      code = C_LIMIT
    elseif wl then
      local rank = redis.call('ZRANK', KEYS[4], r.user)
      if rank then pos = rank + 1 end
    end
    -- One write: this answer, unless the key holds one; then that one.
    local old = redis.call('SET', r.key, r.fp .. '\n' .. code .. '\n' .. pos, 'EX', ttl, 'NX', 'GET')
    if old then
      reply = stored_reply(r.fp, old)
    else
      stored = true
      if code == C_LIMIT then reply = {C_LIMIT, 0} else reply = {C_SOLD_OUT, 0, pos} end
    end
  end
  out[i + 1] = reply
end
if stored then record_replies(out, 2) end
return out
