-- register_batch.lua: register a batch of shoppers for one drop, in order,
-- with the rules of register.lua for each (window, a repeat returns the
-- first registration, a referral is credited once per new registrant).
--
-- KEYS[1] drop   KEYS[2] counters   KEYS[3] reg   KEYS[4] referrals   KEYS[5] outbox
-- KEYS[6] call
--
-- ARGV[1] key prefix   ARGV[2] drop id   ARGV[3] now (ms)   ARGV[4] event nonce
-- ARGV[5] n, the number of requests, then 4 values per request:
--   user, referral code ('' for none, else a code the engine checked: it
--   names a win, not this user's), referral event nonce ('' when no code),
--   the user's bucket hash (keys.go's regHash: lib.lua's reg_key before
--   its modulo, computed by the caller; reg_key's own loop over the id's
--   bytes was a tenth of this script's time)
--
-- Returns one reply per request: {0, registered_at, created (0|1)} or
-- {code}: 3 not found, 14 registration not open yet, 15 registration
-- closed. A user twice in one batch is registered by the first and
-- answered as a repeat by the second. A repeat of the same call (a retry
-- after a lost reply) answers what the first run answered, "created"
-- included, and changes nothing. Every check of the arguments happens
-- before the first write.

P, DROP, NOW, EVNONCE = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4]
NOW_S = ARGV[3]
K_COUNTERS, K_OUTBOX, K_CALL, K_REG = KEYS[2], KEYS[5], KEYS[6], KEYS[3]
local n = tonumber(ARGV[5])
-- NOW must be plain digits: the call record's header matches it so.
if not NOW or not string.match(NOW_S, '^%d+$') or not n or n < 1 or #ARGV ~= 5 + 4 * n or K_CALL ~= P .. 'call:' .. EVNONCE then
  return redis.error_reply('ERR flashdrop: malformed register arguments')
end
-- hs[i] is request i's bucket hash.
local hs = {}
for i = 1, n do
  local b = 5 + (i - 1) * 4
  -- Plain digits only: tonumber would also take "0x10" or " 7 ".
  local h = string.find(ARGV[b + 4], '^%d+$') and tonumber(ARGV[b + 4])
  if ARGV[b + 1] == '' or (ARGV[b + 2] ~= '' and ARGV[b + 3] == '') or not h or h >= 2147483647 then
    return redis.error_reply('ERR flashdrop: malformed register request ' .. i)
  end
  hs[i] = h
end

-- A repeat of this call: the first run's answers, stored as
-- "2|<now>|" and one token per request, joined by ',': '+' registered
-- now, "r<code>" refused, else the registered_at of an earlier
-- registration. Two bytes for a new registrant: the record lives for
-- CALL_TTL, and at a million registrations its 18 bytes a shopper in the
-- older form, "<code>,<registered_at>,<created>" joined by ';' (still
-- read, for a record an older version wrote), were a fifth of Redis's
-- memory growth.
local rec = recorded()
if rec then
  local out = {}
  local at0, toks = string.match(rec, '^2|(%d+)|(.*)$')
  if at0 then
    for tok in string.gmatch(toks, '([^,]+)') do
      if tok == '+' then
        out[#out + 1] = {0, tonumber(at0), 1}
      elseif string.sub(tok, 1, 1) == 'r' then
        out[#out + 1] = {tonumber(string.sub(tok, 2))}
      else
        out[#out + 1] = {0, tonumber(tok), 0}
      end
    end
    return out
  end
  for code, at, created in string.gmatch(rec, '(%d+),(%d*),(%d)') do
    if code == '0' then
      out[#out + 1] = {0, tonumber(at), tonumber(created)}
    else
      out[#out + 1] = {tonumber(code)}
    end
  end
  return out
end

local out = {}
local c = redis.call('HMGET', KEYS[1], 'ro', 'rc', 'frozen', 'rb')
if not c[1] then
  for i = 1, n do out[i] = {3} end
  return out
end
local ro, rc, frozen = num(c[1]), num(c[2]), c[3] == '1'
-- The window is the same for the whole batch (one NOW): a shopper not yet
-- registered is refused alike, but one already registered still gets her
-- registration back, as register.lua answers.
local refusal = nil
if NOW < ro then
  refusal = 14
elseif NOW >= rc or frozen then
  -- A draw's registrant list, once frozen (drawfreeze.lua), is final.
  refusal = 15
end

-- BATCH mode (lib.lua): the registered events go out as ONE packed
-- outbox entry (ids EVNONCE-1, -2, ... in order, as one register.lua call
-- per shopper would number them if each had its own nonce) instead of one
-- entry and three calls per shopper.
BATCH = true

-- reg_at is the registration time at the head of a registration field
-- (a drop made before the buyers hash keeps "at|units|id" there).
local function reg_at(v)
  return string.match(v, '^([^|]*)|') or v
end

local created_n, referrals = 0, 0
local regevseq = 0
local parts = {}
-- rb is the drop's bucket count (layout('rb'); 0: one hash, an older drop).
local rb = num(c[4])
for i = 1, n do
  local b = 5 + (i - 1) * 4
  local user, ref, refnonce = ARGV[b + 1], ARGV[b + 2], ARGV[b + 3]
  -- One call for a new registrant: HSETNX writes her field unless she has
  -- one (then her first registration is read back). A read of the
  -- bucket and a write of it, the way before 2026-12-04, cost a
  -- registration one call more (and nothing less for a one-hash drop,
  -- BenchmarkRegisterBatch/onehash). A second request of the same shopper
  -- in this batch finds the field the first one wrote. Redis does not
  -- undo a script's writes when a later command fails: a key of the
  -- wrong type (a hand edit) would leave these fields without their
  -- events, as it left the fields flush() wrote before the outbox entry.
  -- reg_key's bucket, from the caller's hash.
  local key, t = K_REG, nil
  if rb > 0 then key = K_REG .. ':' .. (hs[i] % rb) end
  if refusal or redis.call('HSETNX', key, user, NOW_S) == 0 then
    t = redis.call('HGET', key, user)
    if t then t = reg_at(t) end
  end
  if t then
    out[i] = {0, num(t), 0}
    parts[i] = t
  elseif refusal then
    out[i] = {refusal}
    parts[i] = 'r' .. refusal
  else
    created_n = created_n + 1
    EVNONCE, evseq = ARGV[4], regevseq
    emit('registered', {'user', user})
    regevseq = evseq
    if ref ~= '' then
      -- As in register.lua: the referral event names the code and the
      -- drop, never the registrant, and its id comes from its own nonce,
      -- so nothing in it ties it to the registered event. It is an entry
      -- of its own (a packed entry has one nonce), written now: it may
      -- reach the stream before the batch's registered events, which it
      -- does not refer to.
      redis.call('ZINCRBY', KEYS[4], 1, ref)
      referrals = referrals + 1
      EVNONCE, evseq = refnonce, 0
      emit_entry('referral', {'ref', ref})
    end
    out[i] = {0, NOW, 1}
    parts[i] = '+'
  end
end
if referrals > 0 then
  redis.call('HINCRBY', K_COUNTERS, 'referrals', referrals)
end
if created_n > 0 then
  -- The count of registrants (stats), as in register.lua.
  redis.call('HINCRBY', K_COUNTERS, 'regs', created_n)
end
EVNONCE, evseq = ARGV[4], regevseq
flush()
-- Only a run that wrote something is recorded: a repeat of a run that
-- changed nothing is as good as a first run, answered anew.
if created_n > 0 then
  record('2|' .. NOW_S .. '|' .. table.concat(parts, ','))
end
return out
