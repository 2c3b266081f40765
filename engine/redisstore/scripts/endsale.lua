-- endsale.lua: after a drop's sale has ended, end its waitlist in steps.
--
-- KEYS[1] drop   KEYS[2] counters   KEYS[3] reg   KEYS[4] holds
-- KEYS[5] wl     KEYS[6] wlq        KEYS[7] outbox   KEYS[8] wlend
-- KEYS[9] call
--
-- ARGV[1] key prefix   ARGV[2] drop id   ARGV[3] now (ms)
-- ARGV[4] secret nonce   ARGV[5] event nonce   ARGV[6] limit (1..10000)
--
-- Returns how many waitlisted shoppers it told that their wait ended (at
-- most limit; call again while it returns limit). Before the sale's end it
-- does nothing. Units still owed to the waitlist from a pause go back to
-- stock. Each shopper leaves the waitlist, joins the 'wlend' set (their
-- view says the wait ended) and gets a waitlist_ended event. A call that
-- ended someone records its count, so a repeat of the same call (a retry
-- after a lost reply) answers the same and ends nobody else.

P, DROP, NOW, NONCE, EVNONCE = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4], ARGV[5]
NOW_S = ARGV[3]
K_COUNTERS, K_REG, K_HOLDS, K_WL, K_WLQ, K_OUTBOX = KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7]
K_WLEND, K_CALL = KEYS[8], KEYS[9]
local limit = tonumber(ARGV[6])
if not NOW or not limit or limit < 1 or limit > 10000 or K_CALL ~= P .. 'call:' .. EVNONCE then
  return redis.error_reply('ERR flashdrop: malformed endsale arguments')
end
local rec = recorded()
if rec then return tonumber(rec) end

local cfg = load_cfg(KEYS[1])
if not sale_over(cfg) then return 0 end
pay_owed(cfg) -- the sale is over: back to stock
local ended = redis.call('ZRANGE', K_WL, 0, limit - 1)
if #ended == 0 then return 0 end
for _, u in ipairs(ended) do
  local want = redis.call('HGET', K_WLQ, u) or '0'
  redis.call('ZREM', K_WL, u)
  redis.call('HDEL', K_WLQ, u)
  redis.call('SADD', K_WLEND, u)
  emit('waitlist_ended', {'user', u, 'quantity', want})
end
record(ms(#ended))
return #ended
