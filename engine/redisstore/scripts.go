package redisstore

import (
	_ "embed"

	"github.com/redis/go-redis/v9"
)

// lib.lua is prepended to the scripts that change reservations, so shared
// rules (ids, holds, release to the waitlist) exist once but every
// operation is still a single atomic script; withLib (prelude.go) leaves
// out the functions a script does not name.
//
//go:embed scripts/lib.lua
var libLua string

var (
	//go:embed scripts/reserve.lua
	reserveLua string
	//go:embed scripts/settle.lua
	settleLua string
	//go:embed scripts/expire.lua
	expireLua string
	//go:embed scripts/register.lua
	registerLua string
	//go:embed scripts/register_batch.lua
	registerBatchLua string
	//go:embed scripts/view.lua
	viewLua string
	//go:embed scripts/create.lua
	createLua string
	//go:embed scripts/pause.lua
	pauseLua string
	//go:embed scripts/stats.lua
	statsLua string
	//go:embed scripts/endsale.lua
	endsaleLua string
	//go:embed scripts/share.lua
	shareLua string
	//go:embed scripts/soldout.lua
	soldOutLua string
)

var (
	// reserveScript decides a batch of reserve requests for one drop.
	// KEYS: drop, counters, reg, holds, wl, wlq, outbox, call, then one
	// idempotency key per request that has one. ARGV: prefix,
	// drop, now, id pool (idPool), event nonce, idempotency TTL, largest quantity,
	// n, then 5 values per request.
	// Returns one reply per request (see scripts/reserve.lua), then, when
	// the call left a running first-come sale without stock, the version
	// of that sold_out news; a repeat of the same call returns the first
	// run's replies, without the version.
	reserveScript = redis.NewScript(withLib(reserveLua))
	// settleScript confirms or cancels one reservation. KEYS: drop,
	// counters, reg, holds, wl, wlq, outbox, reservation. ARGV:
	// prefix, drop, now, nonce, event nonce, id, actor, action. Returns {0, reservation}
	// or {code}.
	settleScript = redis.NewScript(withLib(settleLua))
	// expireScript expires due holds. KEYS: drop, counters, reg, holds,
	// wl, wlq, outbox, call. ARGV: prefix, drop, now, nonce, event nonce,
	// limit. Returns {expired, earliest deadline left in ms or -1}.
	expireScript = redis.NewScript(withLib(expireLua))
	// endsaleScript ends the waitlist of a drop whose sale has ended, in
	// steps. KEYS: drop, counters, reg, holds, wl, wlq, outbox, wlend,
	// call. ARGV: prefix, drop, now, nonce, event nonce, limit. Returns the
	// number of shoppers whose wait it ended.
	endsaleScript = redis.NewScript(withLib(endsaleLua))
	// registerScript registers a shopper. KEYS: drop, counters, reg, refs,
	// outbox, call. ARGV: prefix, drop, now, event nonce, user,
	// ref, referral event nonce. Returns {0, at, created} or {code}.
	registerScript = redis.NewScript(withLib(registerLua))
	// registerBatchScript registers a batch of shoppers for one drop.
	// KEYS: drop, counters, reg, refs, outbox, call. ARGV: prefix, drop,
	// now, event nonce, n, then user, ref, referral event nonce, bucket
	// hash (keys.go's regHash) per request. Returns one {0, at, created}
	// or {code} per request.
	registerBatchScript = redis.NewScript(withLib(registerBatchLua))
	// viewScript reads shoppers' views of one drop. KEYS: drop, reg, wl,
	// wlend. ARGV: prefix, then the users. Returns {0} for a missing drop,
	// else {1, then registered, position, <reservation> or {}, waitlist
	// ended per user}.
	viewScript = redis.NewScript(withLib(viewLua))
	// createScript creates a drop. KEYS: drop, counters, call. ARGV:
	// field/value pairs. Returns {0, created} or {codeExists, field...}.
	createScript = redis.NewScript(createLua)
	// pauseScript sets the pause flag and, on resume, promotes what is
	// owed to the waitlist. KEYS: drop, counters, reg, holds, wl, wlq,
	// outbox. ARGV: prefix, drop, now, nonce, event nonce, '1' or '0'.
	// Returns 0 or codeNotFound.
	pauseScript = redis.NewScript(withLib(pauseLua))
	// statsScript reads the counters. KEYS: drop, counters, reg, wl, holds.
	// Returns the counters of engine.Stats, or codeNotFound.
	statsScript = redis.NewScript(statsLua)
	// shareScript finds a reservation by its share code (read only).
	// KEYS: share index. ARGV: prefix, the code's own part, the code.
	// Returns the reservation, or an empty array.
	shareScript = redis.NewScript(withLib(shareLua))
	// soldOutScript answers keyed reserve presses for a drop with no
	// stock, as reserveScript would. KEYS: drop, counters, reg, wl, call,
	// then one idempotency key per request. ARGV: prefix, drop, now, event
	// nonce, idempotency TTL, n, then user, quantity and fingerprint per
	// request. Returns {0} (not sold out: ask reserveScript) or
	// {1, reply...} in reserveScript's form.
	soldOutScript = redis.NewScript(withLib(soldOutLua))
	// readReservationScript reads one reservation in either layout
	// (lib.lua's res_get). KEYS: drop. ARGV: prefix, id. Returns
	// res_reply's form, or an empty array when there is none.
	readReservationScript = redis.NewScript(withLib(`
P = ARGV[1]
if KEYS[1] ~= P .. 'drop' then return redis.error_reply('ERR flashdrop: malformed reservation read') end
local r = res_reply(ARGV[2])
if r[2] == '' then return {} end
return r
`))
)
