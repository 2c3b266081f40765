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
--   * reservation ids and share codes are DROP.."."..<20 hex digits>, 80
--     secret random bits each, unguessable even to someone who knows other
--     ids of the same call. A script that creates many holds (reserve)
--     gets them from the caller: IDPOOL, 40 hex digits of crypto-random
--     bytes per hold it may create, sliced in order (no hashing in Lua);
--     other scripts, and a call whose pool ran out, take the two halves of
--     sha1(NONCE:n) for a per-call secret random NONCE. Both carry DROP, so
--     a lookup by either reaches this slot; the share index P.."share"
--     (code's half -> reservation id) is built here like reservation keys
--     and written with the win;
--     event ids are EVNONCE-n for a second, public, random value, so
--     publishing them reveals nothing about share codes;
--   * scripts stay deterministic given their arguments, as replication needs.
--   * a shopper's whole state in a drop is one field of a reg hash,
--     "<registered_at>" or "<registered_at>|<units held+confirmed>|<latest
--     reservation id>", so the hot path reads and writes it with one call each.
--     Which hash: a drop made since 2026-12-03 has layout('rb')
--     registration buckets (the drop hash's 'rb'), K_REG..':'..b for a bucket b of the user id, small
--     enough for Redis to keep each as a listpack (about 30 B a shopper
--     instead of 64 in one big hashtable); an older drop has no 'rb' and
--     keeps every shopper in K_REG itself. reg_key() chooses; keys.go's
--     regBucket computes the same bucket in Go, and register_batch.lua
--     takes the hash from the caller (keys.go's regHash) instead. In a
--     bucketed field the reservation id is stored without "<drop>.";
--   * a reservation of a drop made since packed reservations (the drop
--     hash's 'rl' = 1) is one field of the hash P.."res": its id without
--     "<drop>." -> "user US qty US status US won US exp US upd US share
--     US wl", the share code also without "<drop>.". A drop made before
--     keeps one hash P.."r:"..<id> per reservation with those fields.
--     res_get, res_put_new and res_set_status are the only places that
--     read or write either (Go reads a reservation through res_get too);
--     a win in BATCH mode is written by flush() with the call's others,
--     one HSET for all, instead of one new key each;
--   * a shopper's sale state (units, latest reservation) of a drop made
--     since 2026-12-04 (the drop hash's 'sb' = 1) is her field of the hash
--     P.."buyers", in the reg field's form "<at>|<units>|<rid>", written
--     once she first wins; it overrides her registration field, which then
--     only says she registered. A batch writes it with one HSET instead of
--     one per shopper's bucket, and a shopper who pressed before is read
--     there without her bucket. A drop made before keeps the state in her
--     registration field. user_state, state_put and preload choose;
--   * a win's event in a BATCH call of a drop made since 2026-12-04
--     evening (the drop hash's 'ce' = 1) is packed positionally, "W US
--     <own id> US user US qty US expires_at US <own share code>", in an
--     outbox entry of format 3, instead of "won US reservation US <id> US
--     user US ..." (format 2): a third of the bytes, and no field names
--     built per win. Older drops keep format 2, which nodes from before
--     read (--reservation-hashes keeps new drops on it for a rolling
--     upgrade); layout('ce') chooses;
--   * the holds' deadlines of a drop made since 2026-12-04 evening (the
--     drop hash's 'hb' = 1) are indexed per call, not per hold: flush()
--     adds one member per deadline to K_HOLDS, "*" followed by the own
--     ids (without "<drop>.") of the call's holds with that deadline,
--     joined by ',' (at most HOLD_GROUP of them), scored by the deadline.
--     A confirm or cancel leaves its hold's id in the member; expire.lua
--     takes a due member whole and releases the ids still held. An older
--     drop has one member per hold, its id. layout('hb') chooses;
--   * BATCH mode (a script sets BATCH = true and calls flush() before it
--     returns): shoppers' fields are read through a cache (preload() fills
--     it with one HMGET) and written back by flush() in one HSET, share
--     index entries likewise, and the call's events go to the outbox as ONE
--     packed entry (see emit) instead of one entry each. A script without
--     BATCH writes each of these at once, as before;
--   * held/reservations counters are summed in HELD/RESERVED, and new
--     holds' deadlines collected in NEW_HOLDS, and all are written by
--     flush(), which every script that can create a hold calls before it
--     returns: three writes per call instead of three per win;
--   * a client library may send a script call again when the reply was
--     lost (go-redis retries after a reset or a read timeout). A script
--     whose second run would change state or answer differently records
--     its answer under K_CALL = P.."call:"..EVNONCE (a key the caller
--     passes, fresh per call) for CALL_TTL seconds, and a repeat of the
--     same call returns that answer without running again (replay()).

local P, DROP, NOW, NONCE, EVNONCE = nil, nil, 0, nil, nil
-- NOW_S is NOW as the caller sent it.
local NOW_S = nil
local K_COUNTERS, K_REG, K_HOLDS, K_WL, K_WLQ, K_OUTBOX
-- K_CALL records this call's answer; K_WLEND is the set of shoppers whose
-- wait ended with the sale.
local K_CALL, K_WLEND
-- CALL_TTL outlives every retry of a call: a retry comes within the
-- caller's deadline (seconds), and the record only has to outlast it.
local CALL_TTL = 30
local seq, evseq = 0, 0
local HELD, RESERVED = 0, 0
-- NEW_HOLDS collects (deadline, id) pairs for one ZADD in flush().
local NEW_HOLDS = {}
-- WL_MAYBE is false when the caller knows the waitlist is empty, which
-- saves a ZREM per win in the common case.
local WL_MAYBE = true
-- BATCH: see the conventions above. IDPOOL, IDNEXT: caller-made ids.
local BATCH = false
local IDPOOL, IDNEXT = '', 1
-- REG caches shoppers' reg fields (false: not registered); REG_DIRTY
-- lists (and DIRTY marks) the shoppers whose field flush() writes; SHARES collects share
-- index pairs; EVENTS the packed events of this call.
local REG, REG_DIRTY, DIRTY, SHARES, EVENTS = {}, {}, {}, {}, {}
-- BUY_DIRTY (and BDIRTY) list the shoppers whose sale state flush()
-- writes to P..'buyers'.
local BUY_DIRTY, BDIRTY = {}, {}
-- RESV collects new reservations' (own id, record) pairs for flush();
-- RESV_AT finds a pending one's record in it (own id -> index of its
-- record), so that a read or an update later in the same call sees it.
local RESV, RESV_AT = {}, {}
-- Packed outbox entries separate events by RS and an event's strings by
-- US; no value can hold either (user ids have no control characters,
-- engine.ValidateUser, and reserve.lua checks it again).
local RS, US = '\30', '\31'

local function num(v)
  return tonumber(v) or 0
end

-- layout(name) is one of the drop's layout fields (the conventions
-- above), 0 when the drop has none, read once per call, unless the
-- script read it with its other drop fields (reserve.lua, soldout.lua
-- fill LAYOUT):
--   rb  the number of registration buckets, 0 for one hash (older drops);
--   rl  1 for packed reservation records in P..'res', 0 for a hash each;
--   sb  1 when shoppers' sale state is in P..'buyers';
--   ce  1 when wins go to the outbox in format 3's compact form;
--   hb  1 when holds are indexed per call.
local LAYOUT = {}

local function layout(name)
  local v = LAYOUT[name]
  if v == nil then
    v = num(redis.call('HGET', P .. 'drop', name))
    LAYOUT[name] = v
  end
  return v
end

-- REGK caches each shopper's registration key for the call. HOLD_GROUP
-- bounds a per-call holds member, so that one expiry call's work stays
-- bounded too.
local REGK = {}
local HOLD_GROUP = 512

-- own_part is an id or share code without its "<drop>." (drop ids have
-- no '.').
local function own_part(id)
  local dot = string.find(id, '.', 1, true)
  if dot then return string.sub(id, dot + 1) end
  return id
end

-- split_us splits a packed record at US.
local function split_us(v)
  local f, i = {}, 1
  while true do
    local j = string.find(v, '\31', i, true)
    if not j then
      f[#f + 1] = string.sub(v, i)
      return f
    end
    f[#f + 1] = string.sub(v, i, j - 1)
    i = j + 1
  end
end

-- packed_record finds rid's packed record: its own id, its index in the
-- call's pending RESV (nil once written), and the record (nil if none).
local function packed_record(rid)
  local own = own_part(rid)
  local at = RESV_AT[own]
  if at then return own, at, RESV[at] end
  return own, nil, redis.call('HGET', P .. 'res', own)
end

-- res_get returns reservation rid's fields in the order user, qty,
-- status, won, exp, upd, share, wl (strings; every one false when there
-- is no such reservation), from either layout.
local function res_get(rid)
  if layout('rl') == 0 then
    return redis.call('HMGET', P .. 'r:' .. rid, 'user', 'qty', 'status', 'won', 'exp', 'upd', 'share', 'wl')
  end
  local _, _, v = packed_record(rid)
  if not v then return {false, false, false, false, false, false, false, false} end
  local f = split_us(v)
  if f[7] ~= '' then f[7] = string.sub(P, 5, -3) .. '.' .. f[7] end
  return f
end

-- res_put_new stores a new held reservation rid (own and share_own: its
-- id and share code without "<drop>."): in BATCH mode with the call's
-- other new ones in flush().
local function res_put_new(rid, own, user, q_s, won, exp_s, share, share_own, wl)
  if layout('rl') == 0 then
    redis.call('HSET', P .. 'r:' .. rid, 'user', user, 'qty', q_s, 'status', 'held', 'won', won,
      'exp', exp_s, 'upd', won, 'share', share, 'wl', wl)
    return
  end
  local v = user .. '\31' .. q_s .. '\31held\31' .. won .. '\31' .. exp_s .. '\31' .. won .. '\31' .. share_own .. '\31' .. wl
  if BATCH then
    RESV[#RESV + 1] = own
    RESV[#RESV + 1] = v
    RESV_AT[own] = #RESV
  else
    redis.call('HSET', P .. 'res', own, v)
  end
end

-- res_set_status sets an existing reservation's status, updated now.
local function res_set_status(rid, status)
  if layout('rl') == 0 then
    redis.call('HSET', P .. 'r:' .. rid, 'status', status, 'upd', NOW_S)
    return
  end
  local own, at, v = packed_record(rid)
  if not v then return end
  local f = split_us(v)
  f[3], f[6] = status, NOW_S
  v = table.concat(f, '\31')
  if at then RESV[at] = v else redis.call('HSET', P .. 'res', own, v) end
end

-- reg_key is the hash that holds user's reg field. The bucket is a
-- polynomial hash of the id's bytes modulo the prime 2^31 - 1 (exact in
-- Lua's doubles: h * 1000003 + 255 < 2^53), modulo layout('rb'). A
-- multiplier near 2^20 spreads ids that differ in their last digits (31
-- filled the fullest of 16,384 buckets with 128 of a million
-- "buyer-<n>", 77 now).
local function reg_key(user)
  if layout('rb') == 0 then return K_REG end
  local k = REGK[user]
  if k then return k end
  local h = 0
  for i = 1, #user do h = (h * 1000003 + string.byte(user, i)) % 2147483647 end
  k = K_REG .. ':' .. (h % layout('rb'))
  REGK[user] = k
  return k
end

-- by_reg_key groups users (no duplicates) by the hash that holds them, in
-- first-seen order: one call per hash for a batch's reads and writes. A
-- group of one is the user id itself, not a table: among 16,384 buckets
-- nearly every bucket of a batch holds one shopper of it, and its caller
-- reads or writes her with HGET or HSET.
local function by_reg_key(users)
  local groups, order = {}, {}
  for _, u in ipairs(users) do
    local k = reg_key(u)
    local g = groups[k]
    if g == nil then
      groups[k] = u
      order[#order + 1] = k
    elseif type(g) == 'string' then
      groups[k] = {g, u}
    else
      g[#g + 1] = u
    end
  end
  return order, groups
end

-- recorded returns this call's recorded answer if the call already ran
-- (its reply was lost and the client sent it again), else nil.
local function recorded()
  local v = redis.call('GET', K_CALL)
  if v then return v end
  return nil
end

-- record keeps this call's answer s for a repeat of the call.
local function record(s)
  redis.call('SET', K_CALL, s, 'EX', CALL_TTL)
end

-- ms formats a number as an integer string. Redis turns Lua numbers passed
-- to redis.call into strings in version-dependent ways (some in exponent
-- form), so every stored time or count goes through here.
local function ms(n)
  return string.format('%d', n)
end

-- ims is ms for the small counts a batch repeats (quantities, units):
-- formatted once per call.
local INTS = {}
local function ims(n)
  local v = INTS[n]
  if not v then
    v = string.format('%d', n)
    INTS[n] = v
  end
  return v
end

-- newids returns a fresh reservation id suffix and share code: the next
-- 40 digits of the caller's pool, else sha1 of the secret nonce.
local function newids()
  local i = IDNEXT
  if i + 39 <= #IDPOOL then
    IDNEXT = i + 40
    return string.sub(IDPOOL, i, i + 19), string.sub(IDPOOL, i + 20, i + 39)
  end
  seq = seq + 1
  local h = redis.sha1hex(NONCE .. ':' .. seq)
  return string.sub(h, 1, 20), string.sub(h, 21, 40)
end

-- preload reads the reg fields of users (a list, duplicates allowed) into
-- the cache, for a BATCH script about to decide them: one HMGET of the
-- buyers hash, then one call per registration bucket for those not found.
local function preload(users)
  local want, seen = {}, {}
  for _, u in ipairs(users) do
    if REG[u] == nil and not seen[u] then
      seen[u] = true
      want[#want + 1] = u
    end
  end
  if #want > 0 and layout('sb') == 1 then
    -- A shopper who pressed before is found here, without her bucket.
    local rest = {}
    for i = 1, #want, 4000 do
      local j = math.min(i + 3999, #want)
      local v = redis.call('HMGET', P .. 'buyers', unpack(want, i, j))
      for k = i, j do
        local x = v[k - i + 1]
        if x then REG[want[k]] = x else rest[#rest + 1] = want[k] end
      end
    end
    want = rest
  end
  local order, groups = by_reg_key(want)
  for _, key in ipairs(order) do
    local g = groups[key]
    if type(g) == 'string' then
      REG[g] = redis.call('HGET', key, g) or false
    else
      for i = 1, #g, 4000 do
        local j = math.min(i + 3999, #g)
        local v = redis.call('HMGET', key, unpack(g, i, j))
        for k = i, j do REG[g[k]] = v[k - i + 1] or false end
      end
    end
  end
end

-- user_state returns a shopper's registration time (nil if not registered),
-- units held or confirmed, and latest reservation id as stored (nil if
-- none; whole_rid makes it whole).
local function user_state(user)
  local v = REG[user]
  if v == nil then
    if layout('sb') == 1 then v = redis.call('HGET', P .. 'buyers', user) end
    if not v then v = redis.call('HGET', reg_key(user), user) or false end
    if BATCH then REG[user] = v end
  end
  if not v then return nil, 0, nil end
  local at, units, rid = string.match(v, '^([^|]*)|([^|]*)|(.*)$')
  if not at then return v, 0, nil end
  return at, tonumber(units) or 0, rid
end

-- whole_rid is a reservation id as user_state read it, with its
-- "<drop>.": a bucketed drop's field keeps the id without it (user_set);
-- drop ids have no '.', so an id with one is whole.
local function whole_rid(rid)
  if rid and layout('rb') > 0 and rid ~= '' and not string.find(rid, '.', 1, true) then
    return string.sub(P, 5, -3) .. '.' .. rid
  end
  return rid
end

-- user_get is user_state with the reservation id whole.
local function user_get(user)
  local at, units, rid = user_state(user)
  return at, units, whole_rid(rid)
end

-- reg_put sets a shopper's reg field to v: at once, or in BATCH mode in
-- the cache, for flush() to write with the call's other fields.
local function reg_put(user, v)
  if not BATCH then
    redis.call('HSET', reg_key(user), user, v)
    -- A cache preload() filled (drawstep) must not answer the old value.
    REG[user] = v
    return
  end
  if not DIRTY[user] then
    DIRTY[user] = true
    REG_DIRTY[#REG_DIRTY + 1] = user
  end
  REG[user] = v
end

-- state_put sets a shopper's sale state to v (the reg field's form): in
-- P..'buyers' when the drop keeps it there, else her reg field.
local function state_put(user, v)
  if layout('sb') ~= 1 then return reg_put(user, v) end
  if not BATCH then
    redis.call('HSET', P .. 'buyers', user, v)
    REG[user] = v
    return
  end
  if not BDIRTY[user] then
    BDIRTY[user] = true
    BUY_DIRTY[#BUY_DIRTY + 1] = user
  end
  REG[user] = v
end

-- user_set writes a shopper's state. In a bucketed drop the latest
-- reservation id goes in without its "<drop>." prefix (whole_rid puts it
-- back): with it, a drop id of 29 bytes or more made a winner's field
-- longer than Redis's hash-max-listpack-value (64), and one such field
-- turns its whole bucket into a hashtable for good.
local function user_set(user, at, units, rid, own)
  rid = rid or ''
  if layout('rb') > 0 and rid ~= '' then
    if own then
      rid = own -- the caller has the id without "<drop>." at hand
    else
      local dot = string.find(rid, '.', 1, true)
      if dot then rid = string.sub(rid, dot + 1) end
    end
  end
  state_put(user, at .. '|' .. ims(units) .. '|' .. rid)
end

-- hset_many writes field/value pairs to a hash in chunks unpack() takes.
local function hset_many(key, pairs)
  for i = 1, #pairs, 4000 do
    redis.call('HSET', key, unpack(pairs, i, math.min(i + 3999, #pairs)))
  end
end

local function flush()
  if HELD ~= 0 then redis.call('HINCRBY', K_COUNTERS, 'held', HELD) end
  if RESERVED ~= 0 then redis.call('HINCRBY', K_COUNTERS, 'reservations', RESERVED) end
  if #NEW_HOLDS > 0 and layout('hb') == 1 then
    -- NEW_HOLDS pairs a deadline with an own id here (new_hold): one
    -- member per deadline and HOLD_GROUP ids. A call's holds nearly
    -- always share one deadline.
    local groups, order = {}, {}
    for i = 1, #NEW_HOLDS, 2 do
      local e = NEW_HOLDS[i]
      local g = groups[e]
      if not g or #g[#g] >= HOLD_GROUP then
        if not g then
          g = {}
          groups[e] = g
          order[#order + 1] = e
        end
        g[#g + 1] = {}
      end
      local ids = g[#g]
      ids[#ids + 1] = NEW_HOLDS[i + 1]
    end
    local args = {}
    for _, e in ipairs(order) do
      for _, ids in ipairs(groups[e]) do
        args[#args + 1] = e
        args[#args + 1] = '*' .. table.concat(ids, ',')
      end
    end
    NEW_HOLDS = args
  end
  -- One variadic ZADD per call; a chunk of at most 2000 pairs keeps the
  -- argument list within what unpack() takes.
  for i = 1, #NEW_HOLDS, 4000 do
    redis.call('ZADD', K_HOLDS, unpack(NEW_HOLDS, i, math.min(i + 3999, #NEW_HOLDS)))
  end
  HELD, RESERVED, NEW_HOLDS = 0, 0, {}
  if #REG_DIRTY > 0 then
    local order, groups = by_reg_key(REG_DIRTY)
    for _, key in ipairs(order) do
      local g = groups[key]
      if type(g) == 'string' then
        redis.call('HSET', key, g, REG[g])
      else
        local kv = {}
        for _, u in ipairs(g) do
          kv[#kv + 1] = u
          kv[#kv + 1] = REG[u]
        end
        hset_many(key, kv)
      end
    end
    REG_DIRTY, DIRTY = {}, {}
  end
  if #BUY_DIRTY > 0 then
    local kv = {}
    for _, u in ipairs(BUY_DIRTY) do
      kv[#kv + 1] = u
      kv[#kv + 1] = REG[u]
    end
    hset_many(P .. 'buyers', kv)
    BUY_DIRTY, BDIRTY = {}, {}
  end
  if #RESV > 0 then
    hset_many(P .. 'res', RESV)
    RESV, RESV_AT = {}, {}
  end
  if #SHARES > 0 then
    hset_many(P .. 'share', SHARES)
    SHARES = {}
  end
  if #EVENTS > 0 then
    -- One entry for all of the call's events: the relay fans it out to
    -- one message per event, event i (from 1) with id EVNONCE-<first+i-1>.
    redis.call('XADD', K_OUTBOX, '*', 'v', layout('ce') == 1 and '3' or '2', 'id', EVNONCE, 'first', ms(evseq - #EVENTS + 1),
      'time', NOW_S, 'drop', DROP, 'ev', table.concat(EVENTS, RS))
    EVENTS = {}
  end
end

-- emit_entry writes one event as an outbox entry of its own, id
-- EVNONCE-n for the next n: the format of every script outside BATCH mode,
-- and of an event in a BATCH script that carries a nonce of its own.
local function emit_entry(etype, fields)
  evseq = evseq + 1
  local args = {'XADD', K_OUTBOX, '*', 'id', EVNONCE .. '-' .. evseq, 'type', etype, 'time', NOW_S, 'drop', DROP}
  for i = 1, #fields do args[#args + 1] = fields[i] end
  redis.call(unpack(args))
end

-- pack keeps one event, already packed as type US name US value ..., for
-- flush() in BATCH mode: the one place that counts it (flush derives the
-- events' ids from evseq and #EVENTS).
local function pack(ev)
  evseq = evseq + 1
  EVENTS[#EVENTS + 1] = ev
end

-- emit appends one event to the drop's outbox: id, type, time, drop, then
-- the type's own fields as name/value pairs. In BATCH mode the event is
-- kept for flush(), packed (its id, time and drop are the entry's).
local function emit(etype, fields)
  if not BATCH then
    emit_entry(etype, fields)
  elseif #fields == 0 then
    pack(etype)
  else
    pack(etype .. US .. table.concat(fields, US))
  end
end

-- res_reply is the wire form of a reservation, decoded by decodeReservation.
local function res_reply(rid)
  local r = res_get(rid)
  return {rid, r[1] or '', num(r[2]), r[3] or '', num(r[4]), num(r[5]), num(r[6]), r[7] or '', num(r[8])}
end

-- reserve_replies turns a reserve call's record (reserve.lua and
-- soldout.lua record "<code>,<replayed>,<payload>" per request, joined by
-- ';', the payload a win's reservation id or a sold_out's waitlist
-- position) back into its replies, appended to out: a win as the
-- reservation is now. A fresh win's payload is empty: its id is the next
-- of the call's pool (newids), as in the first run, since a repeat of a
-- call carries the same arguments. Only reserve.lua records fresh wins
-- (soldout.lua's wins are replays of stored answers, recorded whole).
local function reserve_replies(rec, out)
  for code, rp, payload in string.gmatch(rec, '(%d+),(%d),([^;]*)') do
    code, rp = tonumber(code), tonumber(rp)
    local reply = {code, rp}
    if code == 1 then -- won
      if payload == '' and rp == 0 then payload = DROP .. '.' .. (newids()) end
      for _, v in ipairs(res_reply(payload)) do reply[#reply + 1] = v end
    elseif code == 2 then -- sold out
      reply[3] = num(payload)
    end
    out[#out + 1] = reply
  end
  return out
end

-- stored_reply is a reserve call's answer to a request whose idempotency
-- key holds v, stored as "<fingerprint>\n<code>\n<payload>": the stored
-- answer, replayed (a win as the reservation is now), or a mismatch (9)
-- when the request's fingerprint fp differs.
local function stored_reply(fp, v)
  local sfp, code, payload = string.match(v, '^(.-)\n(%d+)\n(.*)$')
  if sfp ~= fp then return {9, 0} end
  code = tonumber(code)
  if code == 1 then
    local reply = {1, 1}
    for _, x in ipairs(res_reply(payload)) do reply[#reply + 1] = x end
    return reply
  end
  return {code, 1, num(payload)}
end

-- record_replies records replies out[from..] of a reserve call in the
-- form reserve_replies reads back. A fresh win (reserve.lua's five-value
-- reply: code 1, not replayed, id, deadline, share code) took the next id
-- of the call's pool, so it is recorded without its id: a constant
-- string, where building one per win cost about 6 % of a win's script time.
local function record_replies(out, from)
  local parts = {}
  for i = from, #out do
    local o = out[i]
    if o[1] == 1 and o[2] == 0 and #o == 5 then
      parts[#parts + 1] = '1,0,'
    else
      local payload = ''
      if o[1] == 1 then payload = o[3] elseif o[1] == 2 then payload = o[3] or 0 end
      parts[#parts + 1] = o[1] .. ',' .. o[2] .. ',' .. payload
    end
  end
  record(table.concat(parts, ';'))
end

local EXP_AT, EXP_S = nil, nil

-- new_hold gives user a fresh hold of q units, announces the win, and
-- returns the new reservation's id, deadline and share code (the rest of
-- it the caller knows: its arguments, 'held' and NOW). The caller has
-- already taken the units from stock or from a release, and passes the
-- shopper's state as user_state read it. It runs once per win, the script
-- work that grows with a sale's size, so it builds no table it can avoid:
-- on the bench machine every table, concatenation or redis.call costs a
-- few hundred ns to a few µs of Redis's one thread.
local function new_hold(user, at, units, q, hold_ms, from_wl)
  local own, share_own = newids()
  local rid = DROP .. '.' .. own
  local share = DROP .. '.' .. share_own
  local exp = NOW + hold_ms
  -- Every hold of a call with the same hold time ends at the same time:
  -- formatted once (the last deadline is kept; a number key would make
  -- some Lua engines grow a table's array part to it).
  if EXP_AT ~= exp then EXP_AT, EXP_S = exp, ms(exp) end
  local exp_s, q_s = EXP_S, ims(q)
  res_put_new(rid, own, user, q_s, NOW_S, exp_s, share, share_own, from_wl == 1 and '1' or '0')
  if BATCH then
    SHARES[#SHARES + 1] = share_own
    SHARES[#SHARES + 1] = rid
  else
    redis.call('HSET', P .. 'share', share_own, rid)
  end
  NEW_HOLDS[#NEW_HOLDS + 1] = exp_s
  NEW_HOLDS[#NEW_HOLDS + 1] = layout('hb') == 1 and own or rid
  HELD, RESERVED = HELD + q, RESERVED + 1
  user_set(user, at, units + q, rid, own)
  -- A win takes the winner off the waitlist for what she won: her entry
  -- shrinks by q, and goes when nothing is left to wait for.
  if WL_MAYBE then
    local want = redis.call('HGET', K_WLQ, user)
    if want then
      local left = num(want) - q
      if left > 0 then
        redis.call('HSET', K_WLQ, user, ms(left))
      else
        redis.call('ZREM', K_WL, user)
        redis.call('HDEL', K_WLQ, user)
      end
    end
  end
  -- Product and seconds after start follow from the drop and the event
  -- time; the relay adds them, which keeps every outbox entry small.
  if BATCH and from_wl ~= 1 and layout('ce') == 1 then
    -- Format 3's compact win: the relay rebuilds the rest.
    pack('W' .. US .. own .. US .. user .. US .. q_s .. US .. exp_s .. US .. share_own)
  elseif BATCH and from_wl ~= 1 then
    -- emit's packed form, built in one concatenation (no field table).
    pack('won' .. US .. 'reservation' .. US .. rid .. US .. 'user' .. US .. user ..
      US .. 'quantity' .. US .. q_s .. US .. 'expires_at' .. US .. exp_s .. US .. 'share_code' .. US .. share)
  elseif from_wl == 1 then
    emit('won', {'reservation', rid, 'user', user, 'quantity', q_s, 'expires_at', exp_s,
      'share_code', share, 'from_waitlist', '1'})
  else
    emit('won', {'reservation', rid, 'user', user, 'quantity', q_s, 'expires_at', exp_s,
      'share_code', share})
  end
  return rid, exp, share
end

-- restock returns n units to stock, announcing it when the drop had none
-- (the sold-out flags every node keeps reopen on it). Once the sale has
-- ended the units still go back (the counters add up), but nothing is
-- announced: a closed sale does not reopen, and 'restocked' would tell
-- integrations "back in stock" for a drop nobody can buy. Nor in a draw:
-- its units are given by the draw and down its waitlist only, never sold
-- from stock, so a unit back in stock there cannot be bought either.
-- sov, the version of the drop's sold_out/restocked news, grows only with
-- news.
local function restock(n)
  if n <= 0 then return end
  local after = redis.call('HINCRBY', K_COUNTERS, 'available', n)
  if after ~= n then return end
  local c = redis.call('HMGET', P .. 'drop', 'se', 'mode')
  local se = num(c[1])
  if (se > 0 and NOW >= se) or c[2] == 'draw' then return end
  emit('restocked', {'available', ms(after), 'version', ms(redis.call('HINCRBY', K_COUNTERS, 'sov', 1))})
end

-- promote_owned hands released units down the waitlist from its head and
-- returns what nobody there could take. rel lists whose units they are:
-- {releaser (false: none known), units}. Each shopper gets what she asked
-- for (within her limit) from the units of releasers other than herself:
-- her own unit never comes back to her by promotion, so her entry is
-- passed over when only her own are left (she keeps her place for the
-- next release by someone else), and one releaser's units do not cut
-- short a shopper who waits for more. Bounded: every turn gives at least
-- one unit away, drops an entry that can take none, or passes over a
-- releaser's entry (one per releaser).
local function promote_owned(rel, cfg)
  local mine, pool = {}, 0
  for _, r in ipairs(rel) do
    if r[1] then mine[r[1]] = (mine[r[1]] or 0) + r[2] end
    pool = pool + r[2]
  end
  local first, idx = 1, 0
  local guard = pool + #rel + 64
  while pool > 0 and guard > 0 do
    guard = guard - 1
    local head = redis.call('ZRANGE', K_WL, idx, idx)
    if #head == 0 then break end
    local hu = head[1]
    local can = pool - (mine[hu] or 0)
    if can <= 0 then
      idx = idx + 1
    else
      local want = num(redis.call('HGET', K_WLQ, hu))
      redis.call('ZREM', K_WL, hu)
      redis.call('HDEL', K_WLQ, hu)
      local hat, hunits = user_get(hu)
      local g = math.min(want, cfg.limit - hunits, can)
      if hat and g > 0 then
        new_hold(hu, hat, hunits, g, cfg.hold_ms, 1)
        pool = pool - g
        -- Taken from the releasers other than her, first in order.
        local need = g
        for j = first, #rel do
          if need == 0 then break end
          local r = rel[j]
          if r[1] ~= hu and r[2] > 0 then
            local t = math.min(r[2], need)
            r[2], need = r[2] - t, need - t
            if r[1] then mine[r[1]] = mine[r[1]] - t end
          end
          if j == first and r[2] == 0 then first = first + 1 end
        end
      end
    end
  end
  return pool
end

-- promote hands up to pool units one shopper released (skip; nil: none
-- known) down the waitlist: promote_owned with one releaser.
local function promote(pool, cfg, skip)
  return promote_owned({{skip or false, pool}}, cfg)
end

-- sale_over reports whether the drop's sale has ended at NOW.
local function sale_over(cfg)
  return cfg.se > 0 and NOW >= cfg.se
end

-- release ends a held reservation as `status` (cancelled or expired) and
-- hands its units on: while the sale runs, to the head of the waitlist
-- first and then back to stock; while the drop is paused and someone
-- waits, they are owed to the waitlist (counter 'owed', promoted on
-- resume); after the sale has ended, straight back to stock.
local function release(rid, r_user, q, status, cfg, code)
  res_set_status(rid, status)
  -- A per-call member keeps the id until expire.lua takes it.
  if layout('hb') ~= 1 then redis.call('ZREM', K_HOLDS, rid) end
  HELD = HELD - q
  redis.call('HINCRBY', K_COUNTERS, 'released', q)
  local at, units, latest = user_get(r_user)
  user_set(r_user, at, units - q, latest)
  -- With the win's share code (code: the reservation record's), so an
  -- integration that posted its card takes it down by the code alone.
  local fields = {'reservation', rid, 'user', r_user, 'quantity', ms(q)}
  if code and code ~= '' then
    fields[#fields + 1] = 'share_code'
    fields[#fields + 1] = code
  end
  emit(status, fields)

  local pool = q
  if sale_over(cfg) then
    -- no promotion once the sale has ended
  elseif cfg.paused then
    -- The kill switch stops every new hold, promotions included. Whose
    -- units they are is kept (owedby): on resume they pass her own entry
    -- over, as below, so a shopper who cancels while paused never gets
    -- her unit back ahead of the next shopper waiting.
    if redis.call('ZCARD', K_WL) > 0 then
      redis.call('HINCRBY', K_COUNTERS, 'owed', pool)
      redis.call('HINCRBY', P .. 'owedby', r_user, pool)
      pool = 0
    end
  else
    pool = promote(pool, cfg, r_user)
  end
  restock(pool)
end

-- pay_owed hands the units owed to the waitlist during a pause down it
-- (or, once the sale has ended, back to stock) and clears what was owed:
-- one walk from the head (promote_owned), each releaser's units passing
-- her own entry over (owedby). Units owed without a recorded releaser (a
-- release by a node of an older version) go to anyone. What nobody can
-- take is restocked.
local function pay_owed(cfg)
  local owed = num(redis.call('HGET', K_COUNTERS, 'owed'))
  local by = redis.call('HGETALL', P .. 'owedby')
  redis.call('DEL', P .. 'owedby')
  if owed <= 0 then return end
  redis.call('HSET', K_COUNTERS, 'owed', 0)
  if sale_over(cfg) then
    restock(owed)
    return
  end
  -- The releasers' units, in the hash's order, capped at what is owed;
  -- the rest is anyone's.
  local rel, attributed = {}, 0
  for i = 1, #by, 2 do
    local n = math.min(num(by[i + 1]), owed - attributed)
    if n > 0 then
      rel[#rel + 1] = {by[i], n}
      attributed = attributed + n
    end
  end
  rel[#rel + 1] = {false, owed - attributed}
  restock(promote_owned(rel, cfg))
end

-- load_cfg reads what release needs from the drop hash.
local function load_cfg(k_drop)
  local c = redis.call('HMGET', k_drop, 'limit', 'hold', 'paused', 'se')
  return {limit = num(c[1]), hold_ms = num(c[2]) * 1000, paused = c[3] == '1', se = num(c[4])}
end
