-- expire.lua: expire up to `limit` holds of one drop whose deadline has come.
--
-- KEYS[1] drop   KEYS[2] counters   KEYS[3] reg   KEYS[4] holds
-- KEYS[5] wl     KEYS[6] wlq        KEYS[7] outbox   KEYS[8] call
--
-- ARGV[1] key prefix   ARGV[2] drop id   ARGV[3] now (ms)
-- ARGV[4] secret nonce   ARGV[5] event nonce   ARGV[6] limit (1..10000)
--
-- Returns {expired, next}: the number of holds expired, and the earliest
-- deadline (ms) of the holds left, or -1 when none is left, so that a
-- sweeper need not look at an idle drop again before then. A hold is due
-- when expires_at <= now, never before (I7). A drop that indexes its
-- holds per call (lib.lua, 'hb') has members of up to HOLD_GROUP ids, each
-- taken whole: a call looks at `limit` holds or fewer, unless its first
-- member alone has more. Many nodes may run this at once: each call sees
-- the holds the previous one left, so a hold is released exactly once. The
-- work is O(limit) plus the waitlist promotions the released units pay
-- for. A call that expired something records its count, so a repeat of
-- the same call (a retry after a lost reply) answers the same count and
-- changes nothing (its earliest deadline is read anew).

P, DROP, NOW, NONCE, EVNONCE = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4], ARGV[5]
NOW_S = ARGV[3]
K_COUNTERS, K_REG, K_HOLDS, K_WL, K_WLQ, K_OUTBOX = KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7]
K_CALL = KEYS[8]
-- Batched writes (lib.lua): a sweep of many holds writes the shoppers'
-- fields and the share index once, and its events as one outbox entry.
BATCH = true
local limit = tonumber(ARGV[6])
if not NOW or not limit or limit < 1 or limit > 10000 or K_CALL ~= P .. 'call:' .. EVNONCE then
  return redis.error_reply('ERR flashdrop: malformed expire arguments')
end
-- answer adds the earliest deadline left to the number expired.
local function answer(n)
  local first = redis.call('ZRANGE', K_HOLDS, 0, 0, 'WITHSCORES')
  if #first == 0 then return {n, -1} end
  return {n, tonumber(first[2])}
end
local rec = recorded()
if rec then return answer(tonumber(rec)) end

local due = redis.call('ZRANGEBYSCORE', K_HOLDS, '-inf', ms(NOW), 'LIMIT', 0, limit)
if #due == 0 then return answer(0) end
local cfg = load_cfg(KEYS[1])
local n, seen = 0, 0
-- expire_due releases rid if it is held and due; else it returns the
-- reservation's fields (user, qty, status, won, exp, …).
local function expire_due(rid)
  local r = res_get(rid)
  if r[3] == 'held' and num(r[5]) <= NOW then
    release(rid, r[1], num(r[2]), 'expired', cfg, r[7])
    n = n + 1
    return nil
  end
  return r
end
for _, m in ipairs(due) do
  if string.sub(m, 1, 1) == '*' then
    -- One call's holds: those still held are released; a confirmed or
    -- cancelled one was left here by its settle.
    local owns = {}
    for own in string.gmatch(m, '[^*,]+') do owns[#owns + 1] = own end
    if seen > 0 and seen + #owns > limit then break end
    seen = seen + #owns
    for _, own in ipairs(owns) do
      local r = expire_due(DROP .. '.' .. own)
      if r and r[3] == 'held' then
        -- Not due: the member's deadline is every one of its holds',
        -- so this cannot happen; if it did, the hold stays indexed.
        NEW_HOLDS[#NEW_HOLDS + 1] = r[5]
        NEW_HOLDS[#NEW_HOLDS + 1] = own
      end
    end
    redis.call('ZREM', K_HOLDS, m)
  else
    if seen >= limit then break end
    seen = seen + 1
    if expire_due(m) then
      -- Settled some other way; the index entry is stale.
      redis.call('ZREM', K_HOLDS, m)
    end
  end
end
flush()
if n > 0 then record(ms(n)) end
return answer(n)
