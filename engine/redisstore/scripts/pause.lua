-- pause.lua: set or clear a drop's pause flag (the sale's kill switch).
--
-- KEYS[1] drop   KEYS[2] counters   KEYS[3] reg   KEYS[4] holds
-- KEYS[5] wl     KEYS[6] wlq        KEYS[7] outbox
--
-- ARGV[1] key prefix   ARGV[2] drop id   ARGV[3] now (ms)
-- ARGV[4] secret nonce   ARGV[5] event nonce   ARGV[6] '1' to pause, '0' to resume
--
-- Returns 0, or 3 if the drop does not exist. While paused, units released
-- with someone on the waitlist are owed to the waitlist (counter 'owed');
-- resuming hands them down the waitlist in order, and whatever nobody there
-- can take goes back to stock (all of it if the sale has ended meanwhile).
-- A repeat of the same call finds the flag set and nothing owed, so it
-- changes nothing more and answers the same: no record is needed.

P, DROP, NOW, NONCE, EVNONCE = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4], ARGV[5]
NOW_S = ARGV[3]
K_COUNTERS, K_REG, K_HOLDS, K_WL, K_WLQ, K_OUTBOX = KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7]
if not NOW or (ARGV[6] ~= '0' and ARGV[6] ~= '1') then
  return redis.error_reply('ERR flashdrop: malformed pause arguments')
end
if redis.call('EXISTS', KEYS[1]) == 0 then return 3 end
redis.call('HSET', KEYS[1], 'paused', ARGV[6])
if ARGV[6] == '0' then
  pay_owed(load_cfg(KEYS[1]))
  flush()
end
return 0
