-- register.lua: register a shopper for a drop, once.
--
-- KEYS[1] drop   KEYS[2] counters   KEYS[3] reg   KEYS[4] referrals   KEYS[5] outbox
-- KEYS[6] call
--
-- ARGV[1] key prefix   ARGV[2] drop id   ARGV[3] now (ms)   ARGV[4] event nonce
-- ARGV[5] user   ARGV[6] referral code ('' for none, else a code the
-- engine checked: it names a win, not this user's)   ARGV[7] referral
-- event nonce
--
-- Returns {0, registered_at, created (0|1)}, or {code}:
--   3 not found, 14 registration not open yet, 15 registration closed.
-- A repeat returns the first registration and credits no referral. A
-- repeat of the same call (a retry after a lost reply) answers what the
-- first run answered, "created" included.

P, DROP, NOW, EVNONCE = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4]
NOW_S = ARGV[3]
K_COUNTERS, K_OUTBOX, K_CALL = KEYS[2], KEYS[5], KEYS[6]
local user, ref, refnonce = ARGV[5], ARGV[6], ARGV[7]
if not NOW or not user or user == '' or not ref or not refnonce or K_CALL ~= P .. 'call:' .. EVNONCE then
  return redis.error_reply('ERR flashdrop: malformed register arguments')
end
local rec = recorded()
if rec then
  local at, created = string.match(rec, '^(%d+),(%d)$')
  return {0, tonumber(at), tonumber(created)}
end

local c = redis.call('HMGET', KEYS[1], 'ro', 'rc', 'frozen')
if not c[1] then return {3} end
K_REG = KEYS[3]
local at = user_get(user)
if at then return {0, num(at), 0} end
if NOW < num(c[1]) then return {14} end
-- A draw's registrant list, once frozen (drawfreeze.lua), is final.
if NOW >= num(c[2]) or c[3] == '1' then return {15} end

reg_put(user, NOW_S)
-- The count of registrants (stats): a drop with registration buckets
-- has no one hash to HLEN.
redis.call('HINCRBY', K_COUNTERS, 'regs', 1)
record(NOW_S .. ',1')
emit('registered', {'user', user})
if ref ~= '' then
  -- KEYS[4] is a sorted set, code -> new registrants it brought. The
  -- referral event names the code and the drop, never the registrant,
  -- and its id comes from its own nonce, so nothing in it ties it to the
  -- registered event above.
  redis.call('ZINCRBY', KEYS[4], 1, ref)
  redis.call('HINCRBY', K_COUNTERS, 'referrals', 1)
  EVNONCE, evseq = refnonce, 0
  emit('referral', {'ref', ref})
end
return {0, NOW, 1}
