-- reserve.lua: decide a batch of reserve requests for one drop, in order.
--
-- KEYS[1]  drop      hash: the drop's configuration
-- KEYS[2]  counters  hash: available, held, confirmed, released, reservations, referrals, wlseq
-- KEYS[3]  reg       hash: user -> "registered_at[|units|latest reservation id]"
-- KEYS[4]  holds     zset: reservation id -> expires_at
-- KEYS[5]  wl        zset: user -> waitlist sequence
-- KEYS[6]  wlq       hash: user -> quantity wanted from the waitlist
-- KEYS[7]  outbox    stream
-- KEYS[8]  call      string: this call's answer, for a repeat of the call
-- KEYS[9..] one idempotency key per request that carries one
--
-- ARGV[1] key prefix "fd:{<drop>}:"   ARGV[2] drop id   ARGV[3] now (ms)
-- ARGV[4] secret ids: 40 hex digits of crypto-random bytes per request
--         (20 for a reservation id, 20 for its share code; see lib.lua)
-- ARGV[5] event nonce   ARGV[6] idempotency TTL (s)
-- ARGV[7] the largest quantity one request may ask (engine.MaxPerUserLimit)
-- ARGV[8] n, the number of requests, then 5 values per request:
--   user, quantity (1..ARGV[7]), waitlist (0|1),
--   idempotency key index into KEYS (0 = none), request fingerprint
--
-- A repeat of a call that already ran (same event nonce: the client sent it
-- again after losing the reply) returns the first run's answers and changes
-- nothing. Only a run that wrote something is recorded: a repeat of a run
-- that changed nothing is as good as a first run, answered anew.
--
-- Returns one reply per request:
--   {1, 0, id, exp, share}                      a fresh win of this request
--   {1, replayed, <reservation: id, user, qty, status, won, exp, upd, share, from_wl>}
--                       a won reservation as it is now (stored or drawn answers)
--   {2, replayed, waitlist position (0 = not on the waitlist)}                        sold out
--   {2, 0, waitlist position, units left}   sold out for a request for more than is
--                       left, on its first run only (a repeat of the call, and a
--                       stored answer, say sold out without the units left)
--   {code, replayed}                                                                  other outcome
-- then, when the call leaves a running first-come sale without stock and
-- that news has a version (a sold_out event carried it), that version, as
-- one more reply after the last request's;
-- or an error reply, before any write, when the arguments are malformed.
-- Every check for the whole batch happens before the first write; the work
-- is O(batch).

P, DROP, NOW, EVNONCE = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[5]
-- Every state change is batched (lib.lua): a shopper's field and the
-- share index are written once per call, and the events go out as one
-- outbox entry. Ids come from the caller's pool, one slice per win; a
-- batch has at most n wins, so the sha1 fallback (keyed by the same pool)
-- never runs here.
BATCH, IDPOOL, NONCE = true, ARGV[4], ARGV[4]
NOW_S = ARGV[3]
K_COUNTERS, K_REG, K_HOLDS, K_WL, K_WLQ, K_OUTBOX = KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7]
K_CALL = KEYS[8]
local K_DROP = KEYS[1]
local ttl = tonumber(ARGV[6])
local max_q = tonumber(ARGV[7])
local n = tonumber(ARGV[8])

local C_WON, C_SOLD_OUT, C_NOT_FOUND, C_NOT_REGISTERED = 1, 2, 3, 4
local C_SALE_NOT_OPEN, C_SALE_CLOSED, C_PAUSED, C_LIMIT, C_IDEM_MISMATCH = 5, 6, 7, 8, 9

-- Validate the whole batch before touching anything.
if not NOW or not ttl or ttl < 1 or not max_q or not n or n < 1 or #ARGV ~= 8 + 5 * n
   or K_CALL ~= P .. 'call:' .. EVNONCE or #IDPOOL ~= 40 * n or string.find(IDPOOL, '[^0-9a-f]') then
  return redis.error_reply('ERR flashdrop: malformed reserve arguments')
end
-- The requests, one array per value: no table of its own per request.
local users, qs, wls, kis = {}, {}, {}, {}
for i = 1, n do
  local b = 8 + (i - 1) * 5
  local user, q, wl, ki = ARGV[b + 1], tonumber(ARGV[b + 2]), ARGV[b + 3], tonumber(ARGV[b + 4])
  -- A user id is never empty and holds no control character: it is a
  -- field of the packed outbox entry, whose separators are RS and US.
  if user == '' or string.find(user, '[%c]') or not q or q < 1 or q > max_q or q ~= math.floor(q)
     or (wl ~= '0' and wl ~= '1') or not ki or (ki ~= 0 and (ki < 9 or ki > #KEYS)) then
    return redis.error_reply('ERR flashdrop: malformed reserve request ' .. i)
  end
  users[i], qs[i], wls[i], kis[i] = user, q, wl, ki
end
-- fp is request i's fingerprint, read when an idempotency key needs it.
local function fp(i) return ARGV[8 + (i - 1) * 5 + 5] end

-- A repeat of this call: answer what the first run answered. Stored as
-- "<code>,<replayed>,<payload>" per request, joined by ';', where the
-- payload is the reservation id of a win (none for a fresh win: its id
-- is the pool's, lib.lua's reserve_replies) and the waitlist position of
-- a sold out; a win is answered with the reservation as it is now.
local rec = recorded()
if rec then return reserve_replies(rec, {}) end

-- The drop-wide verdict, the same for every request of the batch.
local c = redis.call('HMGET', K_DROP, 'stock', 'limit', 'hold', 'ss', 'se', 'mode', 'paused', 'drawn', 'rb', 'rl', 'sb', 'ce', 'hb')
-- The registration, reservation, sale-state, event and hold-index layouts (lib.lua), read
-- with the rest.
LAYOUT = {rb = num(c[9]), rl = num(c[10]), sb = num(c[11]), ce = num(c[12]), hb = num(c[13])}
local verdict = 0
-- drawn: a draw drop after its draw answers each shopper her result.
local drawn = false
if not c[1] then
  verdict = C_NOT_FOUND
elseif c[7] == '1' then
  verdict = C_PAUSED
elseif NOW < num(c[4]) or (c[6] == 'draw' and c[8] ~= '1') then
  verdict = C_SALE_NOT_OPEN
elseif num(c[5]) > 0 and NOW >= num(c[5]) then
  verdict = C_SALE_CLOSED
elseif c[6] == 'draw' then
  -- Draw mode hands out holds in the draw itself (drawstep.lua);
  -- pressing Buy only tells the shopper her result.
  drawn = true
end
local limit, hold_ms = num(c[2]), num(c[3]) * 1000
local cnt = redis.call('HMGET', K_COUNTERS, 'available', 'sov')
local available = num(cnt[1])
-- sov is the version of the drop's latest sold_out or restocked news.
local sov = num(cnt[2])
-- Every shopper of the batch in one read; user_state answers from it, and
-- a second request of the same shopper sees what the first one changed.
if verdict == 0 then
  preload(users)
end
local available0 = available
WL_MAYBE = redis.call('ZCARD', K_WL) > 0
-- stored is true once an answer was stored under an idempotency key.
local stored_any = false

-- draw_result is a drawn shopper's own result, changing nothing: her
-- hold (or sale) from the draw or a promotion, else sold out with her
-- waitlist position (0 when she is not on it).
local function draw_result(user, rid)
  if rid and rid ~= '' then
    local st = res_get(rid)[3]
    if st == 'held' or st == 'confirmed' then
      local reply = {C_WON, 0}
      for _, v in ipairs(res_reply(rid)) do reply[#reply + 1] = v end
      return reply
    end
  end
  local rank = redis.call('ZRANK', K_WL, user)
  return {C_SOLD_OUT, 0, rank and rank + 1 or 0}
end

-- decide answers one request that the idempotency store did not answer.
local function decide(i, ikey)
  local user, q = users[i], qs[i]
  if verdict ~= 0 then return {verdict, 0} end
  local at, units, rid = user_state(user)
  if not at then return {C_NOT_REGISTERED, 0} end
  if drawn then
    -- Her result changes nothing, but a keyed press keeps it as its first
    -- answer (I5), as in fcfs: a replay answers the same whatever the
    -- waitlist does since, and the key with another body is refused.
    local r = draw_result(user, whole_rid(rid))
    if ikey then
      redis.call('SET', ikey, fp(i) .. '\n' .. r[1] .. '\n' .. r[3], 'EX', ttl)
      stored_any = true
    end
    return r
  end
  if units + q > limit then
    -- Final: remembered, so a retry cannot win after a cancel frees room.
    if ikey then
      redis.call('SET', ikey, fp(i) .. '\n' .. C_LIMIT .. '\n0', 'EX', ttl)
      stored_any = true
    end
    return {C_LIMIT, 0}
  end
  if available >= q then
    available = available - q
    local rid, exp, share = new_hold(user, at, units, q, hold_ms, 0)
    if available == 0 then
      sov = redis.call('HINCRBY', K_COUNTERS, 'sov', 1)
      emit('sold_out', {'available', '0', 'version', ms(sov)})
    end
    if ikey then redis.call('SET', ikey, fp(i) .. '\n1\n' .. rid, 'EX', ttl) end
    -- A fresh win answers only what the caller cannot know: id, deadline
    -- and share code (the rest is the request, "held" and now).
    return {C_WON, 0, rid, exp, share}
  end
  local pos = 0
  local rank = redis.call('ZRANK', K_WL, user)
  if rank then
    pos = rank + 1
  elseif wls[i] == '1' then
    local s = redis.call('HINCRBY', K_COUNTERS, 'wlseq', 1)
    redis.call('ZADD', K_WL, s, user)
    redis.call('HSET', K_WLQ, user, ms(q))
    WL_MAYBE = true -- a later win in this batch must find this entry
    pos = redis.call('ZCARD', K_WL) -- the newest entry is last
    emit('waitlisted', {'user', user, 'quantity', ms(q), 'waitlist_position', ms(pos)})
  end
  if ikey then
    redis.call('SET', ikey, fp(i) .. '\n2\n' .. pos, 'EX', ttl)
    stored_any = true
  end
  -- A request for more than is left is told what is: "sold out" alone
  -- would hide the units a smaller request can still win.
  if available > 0 then return {C_SOLD_OUT, 0, pos, available} end
  return {C_SOLD_OUT, 0, pos}
end

-- Only final answers (won, sold out, limit reached) are stored under an
-- idempotency key: a retry after "not open yet" or "paused" must be able to
-- succeed once the condition passes.
local out = {}
for i = 1, n do
  local ikey = kis[i] > 0 and KEYS[kis[i]] or nil
  local stored = ikey and redis.call('GET', ikey)
  if stored then
    out[i] = stored_reply(fp(i), stored)
  else
    out[i] = decide(i, ikey)
  end
end
if available ~= available0 then
  redis.call('HINCRBY', K_COUNTERS, 'available', available - available0)
end
flush()
-- Every state change of this script emits an event or stores an answer.
if evseq ~= 0 or stored_any then record_replies(out, 1) end
-- A sale that this call leaves without stock: one more reply, the version
-- of the sold_out news, so that the calling node flags the drop at once
-- instead of when the event has come round through the outbox, the relay
-- and NATS (on a node without a relay, --role api, it never would). A
-- repeat of the call (recorded() above) answers without it: the caller
-- then waits for the event, as before.
if verdict == 0 and not drawn and available == 0 and sov > 0 then out[n + 1] = sov end
return out
