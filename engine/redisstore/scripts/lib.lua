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
--   * ids derive from a per-call random NONCE, so they are unguessable,
--     unique, and the script stays deterministic for replication.

local P, DROP, NOW, NONCE = nil, nil, 0, nil
local K_COUNTERS, K_UNITS, K_LATEST, K_HOLDS, K_WL, K_WLQ, K_OUTBOX
local seq = 0

-- newid returns n hex characters that no other call produces.
local function newid(n)
  seq = seq + 1
  return string.sub(redis.sha1hex(NONCE .. ':' .. seq), 1, n)
end

local function num(v)
  return tonumber(v) or 0
end

-- ms formats a number as an integer string. Redis turns Lua numbers passed
-- to redis.call into strings in version-dependent ways (some in exponent
-- form), so every stored time or count goes through here.
local function ms(n)
  return string.format('%d', n)
end

-- emit appends one event to the drop's outbox: id, type, time, drop, then
-- the type's own fields as name/value pairs.
local function emit(etype, fields)
  local args = {'XADD', K_OUTBOX, '*', 'id', newid(32), 'type', etype, 'time', ms(NOW), 'drop', DROP}
  for i = 1, #fields do args[#args + 1] = fields[i] end
  redis.call(unpack(args))
end

-- res_reply is the wire form of a reservation, decoded by decodeReservation.
local function res_reply(rid)
  local r = redis.call('HMGET', P .. 'r:' .. rid, 'user', 'qty', 'status', 'won', 'exp', 'upd', 'share', 'wl')
  return {rid, r[1] or '', num(r[2]), r[3] or '', num(r[4]), num(r[5]), num(r[6]), r[7] or '', num(r[8])}
end

-- new_hold gives user a fresh hold of q units and announces the win. The
-- caller has already taken the units from stock or from a release.
local function new_hold(user, q, hold_ms, sale_start, product, from_wl)
  local rid = DROP .. '.' .. newid(20)
  local share = newid(20)
  local exp = NOW + hold_ms
  redis.call('HSET', P .. 'r:' .. rid, 'user', user, 'qty', ms(q), 'status', 'held', 'won', ms(NOW),
    'exp', ms(exp), 'upd', ms(NOW), 'share', share, 'wl', ms(from_wl))
  redis.call('ZADD', K_HOLDS, ms(exp), rid)
  redis.call('HINCRBY', K_COUNTERS, 'held', q)
  redis.call('HINCRBY', K_COUNTERS, 'reservations', 1)
  redis.call('HINCRBY', K_UNITS, user, q)
  redis.call('HSET', K_LATEST, user, rid)
  -- A shopper who wins leaves the waitlist: what they waited for is theirs.
  if redis.call('ZREM', K_WL, user) == 1 then redis.call('HDEL', K_WLQ, user) end
  emit('won', {'reservation', rid, 'user', user, 'quantity', ms(q), 'expires_at', ms(exp),
    'share_code', share, 'product', product,
    'seconds_after_start', string.format('%.3f', math.max(0, NOW - sale_start) / 1000),
    'from_waitlist', ms(from_wl)})
  return rid
end

-- release ends a held reservation as `status` (cancelled or expired) and
-- hands its units to the head of the waitlist first, then back to stock.
-- Bounded by the units released: every turn of the loop either gives at
-- least one unit away or drops a waitlist entry that can take none.
local function release(rid, r_user, q, status, cfg)
  redis.call('HSET', P .. 'r:' .. rid, 'status', status, 'upd', ms(NOW))
  redis.call('ZREM', K_HOLDS, rid)
  redis.call('HINCRBY', K_COUNTERS, 'held', -q)
  redis.call('HINCRBY', K_COUNTERS, 'released', q)
  if redis.call('HINCRBY', K_UNITS, r_user, -q) <= 0 then redis.call('HDEL', K_UNITS, r_user) end
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
    local room = cfg.limit - num(redis.call('HGET', K_UNITS, hu))
    local g = math.min(want, room, pool)
    if g > 0 then
      new_hold(hu, g, cfg.hold_ms, cfg.sale_start, cfg.product, 1)
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

-- load_cfg reads what release and new_hold need from the drop hash.
local function load_cfg(k_drop)
  local c = redis.call('HMGET', k_drop, 'limit', 'hold', 'ss', 'product')
  return {limit = num(c[1]), hold_ms = num(c[2]) * 1000, sale_start = num(c[3]), product = c[4] or ''}
end
