-- lib.lua: helpers shared by the state-changing scripts. It is prepended to
-- each of them when they are loaded (scripts.go), so every operation is still
-- one atomic script call. It defines no keys of its own: each script sets the
-- locals below from its KEYS and ARGV before calling any helper.
--
-- Conventions (mirrored by keys.go and codes.go):
--   * every key of a drop starts with P = "fd:{<drop>}:" (one cluster slot);
--     reservation hashes are P.."r:"..<reservation id>, built here because
--     waitlist promotions create reservations the caller cannot name ahead;
--   * times are Unix milliseconds passed in by the caller (the engine clock);
--   * reservation ids and share codes are the two halves of
--     sha1(NONCE:n) for a per-call secret random NONCE: unique, and
--     unguessable even to someone who knows other ids of the same call;
--     event ids are EVNONCE-n for a second, public, random value, so
--     publishing them reveals nothing about share codes;
--   * scripts stay deterministic given their arguments, as replication needs.
--   * a shopper's whole state in a drop is one field of the reg hash,
--     "<registered_at>" or "<registered_at>|<units held+confirmed>|<latest
--     reservation id>", so the hot path reads and writes it with one call each;
--   * held/reservations counters are summed in HELD/RESERVED, and new
--     holds' deadlines collected in NEW_HOLDS, and all are written by
--     flush(), which every script that can create a hold calls before it
--     returns: three writes per call instead of three per win.

local P, DROP, NOW, NONCE, EVNONCE = nil, nil, 0, nil, nil
-- NOW_S is NOW as the caller sent it.
local NOW_S = nil
local K_COUNTERS, K_REG, K_HOLDS, K_WL, K_WLQ, K_OUTBOX
local seq, evseq = 0, 0
local HELD, RESERVED = 0, 0
-- NEW_HOLDS collects (deadline, id) pairs for one ZADD in flush().
local NEW_HOLDS = {}
-- WL_MAYBE is false when the caller knows the waitlist is empty, which
-- saves a ZREM per win in the common case.
local WL_MAYBE = true

local function num(v)
  return tonumber(v) or 0
end

-- ms formats a number as an integer string. Redis turns Lua numbers passed
-- to redis.call into strings in version-dependent ways (some in exponent
-- form), so every stored time or count goes through here.
local function ms(n)
  return string.format('%d', n)
end

-- newids returns a fresh reservation id suffix and share code.
local function newids()
  seq = seq + 1
  local h = redis.sha1hex(NONCE .. ':' .. seq)
  return string.sub(h, 1, 20), string.sub(h, 21, 40)
end

-- user_get returns a shopper's registration time (nil if not registered),
-- units held or confirmed, and latest reservation id (nil if none).
local function user_get(user)
  local v = redis.call('HGET', K_REG, user)
  if not v then return nil, 0, nil end
  local at, units, rid = string.match(v, '^([^|]*)|([^|]*)|(.*)$')
  if not at then return v, 0, nil end
  return at, tonumber(units) or 0, rid
end

local function user_set(user, at, units, rid)
  redis.call('HSET', K_REG, user, at .. '|' .. ms(units) .. '|' .. (rid or ''))
end

local function flush()
  if HELD ~= 0 then redis.call('HINCRBY', K_COUNTERS, 'held', HELD) end
  if RESERVED ~= 0 then redis.call('HINCRBY', K_COUNTERS, 'reservations', RESERVED) end
  -- One variadic ZADD per call; a chunk of at most 2000 pairs keeps the
  -- argument list within what unpack() takes.
  for i = 1, #NEW_HOLDS, 4000 do
    redis.call('ZADD', K_HOLDS, unpack(NEW_HOLDS, i, math.min(i + 3999, #NEW_HOLDS)))
  end
  HELD, RESERVED, NEW_HOLDS = 0, 0, {}
end

-- emit appends one event to the drop's outbox: id, type, time, drop, then
-- the type's own fields as name/value pairs.
local function emit(etype, fields)
  evseq = evseq + 1
  local args = {'XADD', K_OUTBOX, '*', 'id', EVNONCE .. '-' .. evseq, 'type', etype, 'time', NOW_S, 'drop', DROP}
  for i = 1, #fields do args[#args + 1] = fields[i] end
  redis.call(unpack(args))
end

-- res_reply is the wire form of a reservation, decoded by decodeReservation.
local function res_reply(rid)
  local r = redis.call('HMGET', P .. 'r:' .. rid, 'user', 'qty', 'status', 'won', 'exp', 'upd', 'share', 'wl')
  return {rid, r[1] or '', num(r[2]), r[3] or '', num(r[4]), num(r[5]), num(r[6]), r[7] or '', num(r[8])}
end

-- new_hold gives user a fresh hold of q units, announces the win, and
-- returns the reservation in res_reply's form. The caller has already taken
-- the units from stock or from a release, and passes the shopper's state
-- as user_get read it.
local function new_hold(user, at, units, q, hold_ms, from_wl)
  local own, share = newids()
  local rid = DROP .. '.' .. own
  local exp = NOW + hold_ms
  local exp_s, q_s = ms(exp), ms(q)
  redis.call('HSET', P .. 'r:' .. rid, 'user', user, 'qty', q_s, 'status', 'held', 'won', NOW_S,
    'exp', exp_s, 'upd', NOW_S, 'share', share, 'wl', from_wl == 1 and '1' or '0')
  NEW_HOLDS[#NEW_HOLDS + 1] = exp_s
  NEW_HOLDS[#NEW_HOLDS + 1] = rid
  HELD, RESERVED = HELD + q, RESERVED + 1
  user_set(user, at, units + q, rid)
  -- A shopper who wins leaves the waitlist: what they waited for is theirs.
  if WL_MAYBE and redis.call('ZREM', K_WL, user) == 1 then redis.call('HDEL', K_WLQ, user) end
  -- Product and seconds after start follow from the drop and the event
  -- time; the relay adds them, which keeps every outbox entry small.
  if from_wl == 1 then
    emit('won', {'reservation', rid, 'user', user, 'quantity', q_s, 'expires_at', exp_s,
      'share_code', share, 'from_waitlist', '1'})
  else
    emit('won', {'reservation', rid, 'user', user, 'quantity', q_s, 'expires_at', exp_s,
      'share_code', share})
  end
  return {rid, user, q, 'held', NOW, exp, NOW, share, from_wl}
end

-- release ends a held reservation as `status` (cancelled or expired) and
-- hands its units to the head of the waitlist first, then back to stock.
-- Bounded by the units released: every turn of the loop either gives at
-- least one unit away or drops a waitlist entry that can take none.
local function release(rid, r_user, q, status, cfg)
  redis.call('HSET', P .. 'r:' .. rid, 'status', status, 'upd', NOW_S)
  redis.call('ZREM', K_HOLDS, rid)
  HELD = HELD - q
  redis.call('HINCRBY', K_COUNTERS, 'released', q)
  local at, units, latest = user_get(r_user)
  user_set(r_user, at, units - q, latest)
  emit(status, {'reservation', rid, 'user', r_user, 'quantity', ms(q)})

  local pool = q
  local guard = q + 64
  while pool > 0 and guard > 0 do
    guard = guard - 1
    local head = redis.call('ZRANGE', K_WL, 0, 0)
    if #head == 0 then break end
    local hu = head[1]
    local want = num(redis.call('HGET', K_WLQ, hu))
    redis.call('ZREM', K_WL, hu)
    redis.call('HDEL', K_WLQ, hu)
    local hat, hunits = user_get(hu)
    local g = math.min(want, cfg.limit - hunits, pool)
    if hat and g > 0 then
      new_hold(hu, hat, hunits, g, cfg.hold_ms, 1)
      pool = pool - g
    end
  end
  if pool > 0 then
    local after = redis.call('HINCRBY', K_COUNTERS, 'available', pool)
    if after == pool then
      emit('restocked', {'available', ms(after)})
    end
  end
end

-- load_cfg reads what release needs from the drop hash.
local function load_cfg(k_drop)
  local c = redis.call('HMGET', k_drop, 'limit', 'hold')
  return {limit = num(c[1]), hold_ms = num(c[2]) * 1000}
end
