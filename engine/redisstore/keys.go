package redisstore

// Key builders. Every key of one drop carries the drop id as its cluster
// hash tag, "fd:{<drop>}:…", so each drop's scripts touch exactly one slot
// while different drops spread across shards. Keys are never built inline
// elsewhere; the Lua side builds only reservation keys, with the same
// prefix + "r:" + id rule as reservationKey, and the share index
// prefix + "share" (lib.lua), because waitlist promotions inside any
// script create reservations the caller cannot name ahead.

const dropIndexKey = "fd:drops" // set of drop ids (its own slot)

type dropKeys struct {
	prefix   string
	drop     string // hash: configuration
	counters string // hash: available, held, confirmed, released, reservations, referrals, wlseq, owed, sov
	reg      string // hash: user -> "registered_at[|units held+confirmed|latest reservation id]"
	refs     string // zset: referral (share) code -> new registrants it brought
	share    string // hash: own part of a share code -> reservation id (written by lib.lua)
	holds    string // zset: reservation id -> expires_at (ms)
	wl       string // zset: user -> waitlist sequence
	wlq      string // hash: user -> quantity wanted
	wlend    string // set: users whose wait ended with the sale
	outbox   string // stream: events not yet published
}

func keysFor(drop string) dropKeys {
	p := "fd:{" + drop + "}:"
	return dropKeys{
		prefix:   p,
		drop:     p + "drop",
		counters: p + "n",
		reg:      p + "reg",
		refs:     p + "referrals",
		share:    p + "share",
		holds:    p + "holds",
		wl:       p + "wl",
		wlq:      p + "wlq",
		wlend:    p + "wlend",
		outbox:   p + "outbox",
	}
}

// callKey records one script call's answer for a repeat of that call (a
// client retry after a lost reply); callID is the call's public nonce.
// The scripts check it is prefix + "call:" + the nonce they were given.
func (k dropKeys) callKey(callID string) string { return k.prefix + "call:" + callID }

// reservationKey is the hash of one reservation.
func (k dropKeys) reservationKey(id string) string { return k.prefix + "r:" + id }

// idempotencyKey holds the stored answer for one (shopper, key) pair;
// digest is a fixed-length hash of both, so neither can forge the other's.
func (k dropKeys) idempotencyKey(digest string) string { return k.prefix + "idem:" + digest }

// all lists the drop's fixed keys, for tests that snapshot a drop.
func (k dropKeys) all() []string {
	return []string{k.drop, k.counters, k.reg, k.refs, k.share, k.holds, k.wl, k.wlq, k.wlend, k.outbox}
}

// Webhook keys: one hash tag per webhook, and a global index.
const webhookIndexKey = "fd:webhooks"

type webhookKeys struct {
	cfg    string // hash: url, types, secret, created
	status string // hash: delivered, failed, dead, last_* fields
	dead   string // list: dead-lettered event ids, newest first, capped
	log    string // list: delivery log entries (JSON), newest first, capped
	replay string // string: the replay lock
}

func webhookKeysFor(id string) webhookKeys {
	p := "fd:wh:{" + id + "}:"
	return webhookKeys{cfg: p + "cfg", status: p + "status", dead: p + "dead", log: p + "log", replay: p + "replay"}
}

// API key keys: not tied to a drop, so all under one global hash tag
// ({keys}), which keeps the index and each key in one slot.
const apiKeyIndexKey = "fd:{keys}:index" // set of key ids

// apiKeyKey is the hash of one API key: name, scopes, created, hash,
// prev_hash, prev_until, rotated, last_used.
func apiKeyKey(id string) string { return "fd:{keys}:k:" + id }

// OutboxKey is the stream key of drop's outbox, for tests and tools that
// look at (or, in migration tests, write) raw outbox entries.
func OutboxKey(drop string) string { return keysFor(drop).outbox }
