-- settle.lua: confirm or cancel one reservation.
--
-- KEYS[1] drop   KEYS[2] counters   KEYS[3] reg   KEYS[4] holds
-- KEYS[5] wl     KEYS[6] wlq        KEYS[7] outbox   KEYS[8] the reservation's hash
--
-- ARGV[1] key prefix   ARGV[2] drop id   ARGV[3] now (ms)
-- ARGV[4] secret nonce   ARGV[5] event nonce   ARGV[6] reservation id
-- ARGV[7] actor (shopper id, or '' for admin)   ARGV[8] action: 'confirm' | 'cancel'
--
-- Returns {0, <reservation>} on success (also when the reservation is
-- already in the asked-for final state), or {code} for:
--   3 not found, 10 forbidden (another shopper's), 11 expired,
--   12 cancelled (confirm of a cancelled one), 13 confirmed (cancel of a sale),
--   17 a shopper confirming on a drop whose shop confirms after payment.
-- A hold past its deadline is expired here and then answered 11, so a late
-- confirm never turns an expired hold into a sale (I7).
--
-- A repeat of the same call (the client resent it after losing the reply;
-- same arguments, same now) needs no record: the first run left the
-- reservation in the final state the repeat finds, and a repeat of a final
-- state answers exactly what the first run answered, changing nothing.

P, DROP, NOW, NONCE, EVNONCE = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4], ARGV[5]
NOW_S = ARGV[3]
K_COUNTERS, K_REG, K_HOLDS, K_WL, K_WLQ, K_OUTBOX = KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7]
local K_DROP, K_RES = KEYS[1], KEYS[8]
local rid, actor, action = ARGV[6], ARGV[7], ARGV[8]

if not NOW or (action ~= 'confirm' and action ~= 'cancel') or K_RES ~= P .. 'r:' .. rid then
  return redis.error_reply('ERR flashdrop: malformed settle arguments')
end

-- K_RES names the reservation's hash in a drop made before packed
-- reservations (lib.lua's res_get reads either layout).
local r = res_get(rid) -- user, qty, status, won, exp, …
if not r[1] then return {3} end
if actor ~= '' and actor ~= r[1] then return {10} end
local user, q, status, exp = r[1], num(r[2]), r[3], num(r[5])

if status == 'held' and NOW >= exp then
  release(rid, user, q, 'expired', load_cfg(K_DROP), r[7])
  flush()
  return {11}
end
if action == 'confirm' then
  -- Confirm means sold: unless the drop lets shoppers confirm (free
  -- drops, the demo), only the shop backend does, after taking payment.
  if actor ~= '' and redis.call('HGET', K_DROP, 'cb') ~= 'shopper' then return {17} end
  if status == 'cancelled' then return {12} end
  if status == 'expired' then return {11} end
  if status == 'held' then
    res_set_status(rid, 'confirmed')
    if layout('hb') ~= 1 then redis.call('ZREM', K_HOLDS, rid) end
    HELD = HELD - q
    redis.call('HINCRBY', K_COUNTERS, 'confirmed', q)
    -- Its share code too: an integration that posts only paid wins posts
    -- on confirmed, and needs the card (the relay makes its share_url).
    -- With when and how it was won, so the post matches the card (the
    -- relay makes seconds_after_start and won_by of them).
    local fields = {'reservation', rid, 'user', user, 'quantity', ms(q)}
    if r[7] and r[7] ~= '' then
      fields[#fields + 1] = 'share_code'
      fields[#fields + 1] = r[7]
      fields[#fields + 1] = 'won_at'
      fields[#fields + 1] = ms(num(r[4]))
      if r[8] == '1' then
        fields[#fields + 1] = 'from_waitlist'
        fields[#fields + 1] = '1'
      end
    end
    emit('confirmed', fields)
  end
else
  if status == 'confirmed' then return {13} end
  if status == 'expired' then return {11} end
  if status == 'held' then
    release(rid, user, q, 'cancelled', load_cfg(K_DROP), r[7])
  end
end
flush()
return {0, res_reply(rid)}
