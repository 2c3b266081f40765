-- drawstep.lua: apply one stretch of a draw's order.
--
-- KEYS[1] drop   KEYS[2] counters   KEYS[3] reg   KEYS[4] holds
-- KEYS[5] wl     KEYS[6] wlq        KEYS[7] outbox   KEYS[8] draw
-- KEYS[9] order  list: tickets in drawn order
--
-- ARGV[1] key prefix   ARGV[2] drop id   ARGV[3] now (ms)
-- ARGV[4] secret nonce   ARGV[5] event nonce   ARGV[6] start (0-based rank)
-- ARGV[7] k (0..2000), then k pairs: ticket, user of ranks start .. start+k-1
--
-- Entries ranked below the draw's winner count w get a hold of q units
-- each (a won event); the others join the waitlist in rank order (a
-- waitlisted event with their position). The call that applies the last
-- rank ends the draw: phase drawn, the drop's 'drawn' flag (reserve.lua
-- then answers each shopper her result), and a drawn event with the
-- counts and the revealed seed.
--
-- Returns {0, cursor after} when applied, or {code, cursor}: 3 not found,
-- 18 not a draw, 19 not sealed, 5 before the sale, 7 paused, 20 the draw
-- is not at start (a repeat of this call after a lost reply, or another
-- node got there first: nothing changes), 21 drawn already.
-- Replay-safe by construction: a call applies only at the cursor it names,
-- and moves the cursor. Every check happens before the first write; the
-- work is O(k).
--
-- A draw that finishes after sale_ends_at (every node down through the
-- sale) still records its order, but a closed sale gives no holds and
-- queues nobody. The draw hash counts what the steps did give ('held'
-- winners, 'queued' on the waitlist), and the drawn event says so
-- (holds_given, waitlisted): the order's winners alone would announce
-- holds nobody got.

P, DROP, NOW, NONCE, EVNONCE = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4], ARGV[5]
NOW_S = ARGV[3]
K_COUNTERS, K_REG, K_HOLDS, K_WL, K_WLQ, K_OUTBOX = KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7]
local K_DROP, K_DRAW, K_ORDER = KEYS[1], KEYS[8], KEYS[9]
local start, k = tonumber(ARGV[6]), tonumber(ARGV[7])
-- At most 2000 entries: the waitlist's ZADD then takes 4000 arguments,
-- within what unpack() hands over.
if not NOW or not start or not k or k < 0 or k > 2000 or #ARGV ~= 7 + 2 * k
   or K_DRAW ~= P .. 'draw' or K_ORDER ~= P .. 'order' then
  return redis.error_reply('ERR flashdrop: malformed draw step arguments')
end

local c = redis.call('HMGET', K_DROP, 'mode', 'ss', 'paused', 'stock')
if not c[1] then return {3, 0} end
if c[1] ~= 'draw' then return {18, 0} end
local dr = redis.call('HMGET', K_DRAW, 'phase', 'n', 'w', 'q', 'cur', 'seed', 'digest')
local cur = num(dr[5])
if dr[1] == 'drawn' then return {21, cur} end
if dr[1] ~= 'frozen' then return {19, cur} end
if NOW < num(c[2]) then return {5, cur} end
if c[3] == '1' then return {7, cur} end
if cur ~= start then return {20, cur} end
local n, w, q = num(dr[2]), num(dr[3]), num(dr[4])
if start + k > n or (k == 0 and start ~= n) then
  return redis.error_reply('ERR flashdrop: draw step past the frozen list')
end
local cfg = load_cfg(K_DROP)
local give = not sale_over(cfg)

-- Every check before the first write. The registrations are read with
-- one call per registration hash for the whole stretch (preload, in
-- user_get's format, lib.lua: HMGET, or HGET for a hash that holds one
-- of them), not one HGET per entry: a draw reads a million of them.
local regs, wins, us = {}, 0, {}
for i = 1, k do us[i] = ARGV[7 + 2 * i] end
preload(us)
for i = 1, k do
  local v = REG[us[i]]
  if not v then
    return redis.error_reply('ERR flashdrop: draw entry ' .. i .. ' is not a registrant')
  end
  local at, units = string.match(v, '^([^|]*)|([^|]*)|')
  if not at then at, units = v, 0 end
  regs[i] = {at, tonumber(units) or 0}
  if start + i - 1 < w then wins = wins + 1 end
end
local available = num(redis.call('HGET', K_COUNTERS, 'available'))
if give and available < wins * q then
  return redis.error_reply('ERR flashdrop: not enough stock for the draw')
end

if k > 0 then
  local tickets = {}
  for i = 1, k do tickets[i] = ARGV[6 + 2 * i] end
  redis.call('RPUSH', K_ORDER, unpack(tickets))
end
if give then
  -- Nobody in the order is on the waitlist yet: a winner has nothing to
  -- leave there.
  WL_MAYBE = false
  local nwait = k - wins
  local seq, pos = 0, redis.call('ZCARD', K_WL)
  if nwait > 0 then seq = redis.call('HINCRBY', K_COUNTERS, 'wlseq', nwait) - nwait end
  local zargs, qargs = {}, {}
  for i = 1, k do
    local u = ARGV[7 + 2 * i]
    if start + i - 1 < w then
      new_hold(u, regs[i][1], regs[i][2], q, cfg.hold_ms, 0)
    else
      seq, pos = seq + 1, pos + 1
      zargs[#zargs + 1] = ms(seq)
      zargs[#zargs + 1] = u
      qargs[#qargs + 1] = u
      qargs[#qargs + 1] = ms(q)
      emit('waitlisted', {'user', u, 'quantity', ms(q), 'waitlist_position', ms(pos)})
    end
  end
  if wins > 0 then redis.call('HINCRBY', K_COUNTERS, 'available', -wins * q) end
  if #zargs > 0 then
    redis.call('ZADD', K_WL, unpack(zargs))
    redis.call('HSET', K_WLQ, unpack(qargs))
  end
  if k > 0 then
    redis.call('HINCRBY', K_DRAW, 'held', wins)
    redis.call('HINCRBY', K_DRAW, 'queued', k - wins)
  end
end
-- Every step counts the entries it covered, a closed sale's too: a draw
-- whose 'counted' falls short of its registrants had steps applied by an
-- older version (a rolling upgrade mid-draw), which gave without
-- counting, so its counts are not the draw's.
if k > 0 then redis.call('HINCRBY', K_DRAW, 'counted', k) end
cur = start + k
redis.call('HSET', K_DRAW, 'cur', ms(cur))
if cur == n then
  redis.call('HSET', K_DRAW, 'phase', 'drawn', 'drawn_at', NOW_S)
  redis.call('HSET', K_DROP, 'drawn', '1')
  if give then
    -- Units released while the draw ran, before anyone waited, went
    -- back to stock: they go down the drawn waitlist now.
    local extra = num(redis.call('HGET', K_COUNTERS, 'available')) - (num(c[4]) - w * q)
    if extra > 0 then
      redis.call('HINCRBY', K_COUNTERS, 'available', -extra)
      restock(promote(extra, cfg, nil))
    end
  end
  local done = redis.call('HMGET', K_DRAW, 'held', 'queued', 'counted')
  local held, queued = w, n - w -- an older version's steps gave as the order says
  if num(done[3]) == n then held, queued = num(done[1]), num(done[2]) end
  emit('drawn', {'registrants', ms(n), 'winners', ms(w), 'holds_given', ms(held),
    'waitlisted', ms(queued), 'quantity', ms(q), 'seed', dr[6] or '', 'frozen_digest', dr[7] or ''})
end
flush()
return {0, cur}
