package redisstore

import "strconv"

// Key builders. Every key of one drop carries the drop id as its cluster
// hash tag, "fd:{<drop>}:…", so each drop's scripts touch exactly one slot
// while different drops spread across shards. Keys are never built inline
// elsewhere; the Lua side builds only reservation keys, with the same
// prefix + "r:" + id rule as reservationKey, the share index
// prefix + "share", the packed reservations prefix + "res", the
// shoppers' sale state prefix + "buyers" and the owed units' releasers
// prefix + "owedby" (lib.lua), because waitlist promotions inside any
// script create reservations the caller cannot name ahead, and the
// registration buckets reg + ":" + b (lib.lua's reg_key, regBucket here),
// because a batch's shoppers are only known inside the script.

const dropIndexKey = "fd:drops" // set of drop ids (its own slot)

type dropKeys struct {
	prefix   string
	drop     string // hash: configuration
	counters string // hash: available, held, confirmed, released, reservations, referrals, wlseq, owed, sov
	// reg is the hash user -> "registered_at[|units held+confirmed|latest
	// reservation id]" of a drop made before registration buckets, and
	// the stem of the buckets reg:0 … reg:<rb-1> of one made since.
	reg   string
	refs  string // zset: referral (share) code -> new registrants it brought
	share string // hash: own part of a share code -> reservation id (written by lib.lua)
	// res is the hash own part of a reservation id -> its packed record
	// (lib.lua's res_get) of a drop made with packed reservations (its
	// drop hash's 'rl' is 1); a drop made before has reservationKey's.
	res string
	// buyers is the hash user -> her sale state, in the reg field's form
	// "registered_at|units held+confirmed|latest reservation id", of a
	// drop whose drop hash's 'sb' is 1 (written by lib.lua once she
	// first wins; it overrides her registration field, which then only
	// says she registered). A drop made before keeps the state in reg.
	buyers string
	// holds is a zset scored by deadline (ms): of a drop with 'hb', one
	// member per call and deadline, "*" and the own ids of its holds
	// joined by ',' (lib.lua); of a drop made before, one reservation id
	// per hold.
	holds  string
	wl     string // zset: user -> waitlist sequence
	wlq    string // hash: user -> quantity wanted
	wlend  string // set: users whose wait ended with the sale
	outbox string // stream: events not yet published
	// owedBy is the hash user -> units of her own releases (cancels,
	// expiries) owed to the waitlist while the drop is paused (counter
	// 'owed' counts them all): on resume her units pass her entry over,
	// as a release while the sale runs does (lib.lua's release).
	owedBy string
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
		res:      p + "res",
		buyers:   p + "buyers",
		holds:    p + "holds",
		wl:       p + "wl",
		wlq:      p + "wlq",
		wlend:    p + "wlend",
		outbox:   p + "outbox",
		owedBy:   p + "owedby",
	}
}

// regBuckets is the number of registration hashes a new drop gets (its
// drop hash's 'rb'). Redis keeps a hash of at most 128 fields
// (hash-max-listpack-entries) as one listpack, about 20 bytes a shopper
// plus the key's own ~100, where a hashtable field costs ~64 B. 16,384
// buckets hold a million registrants at ~63 each (the fullest under 100,
// TestRegistrationBucketsSpreadAMillion);
// past ~1.5 million the fullest turn into hashtables, one by one, and cost
// what one hash did. Every bucket stays in the drop's hash slot.
const regBuckets = 16384

// regHash is the hash of user that picks her registration bucket:
// lib.lua's reg_key, in Go, before its modulo the drop's bucket count.
// register_batch.lua takes it from the caller instead of computing it: a
// byte at a time in Lua it was about a tenth of the script's time for ids
// of 12 bytes, and grows with the id's length.
func regHash(user string) uint64 {
	var h uint64
	for i := 0; i < len(user); i++ {
		h = (h*1000003 + uint64(user[i])) % 2147483647
	}
	return h
}

// regBucket is the bucket of user among rb.
func regBucket(user string, rb int) int { return int(regHash(user) % uint64(rb)) }

// regKey is the hash that holds user's registration in a drop with rb
// buckets (0: the one hash of an older drop).
func (k dropKeys) regKey(user string, rb int) string {
	if rb == 0 {
		return k.reg
	}
	return k.regBucketKey(regBucket(user, rb))
}

// regBucketKey is registration bucket b of a drop made with buckets.
func (k dropKeys) regBucketKey(b int) string { return k.reg + ":" + strconv.Itoa(b) }

// callKey records one script call's answer for a repeat of that call (a
// client retry after a lost reply); callID is the call's public nonce.
// The scripts check it is prefix + "call:" + the nonce they were given.
func (k dropKeys) callKey(callID string) string { return k.prefix + "call:" + callID }

// reservationKey is the hash of one reservation in a drop made before
// packed reservations (k.res).
func (k dropKeys) reservationKey(id string) string { return k.prefix + "r:" + id }

// idempotencyKey holds the stored answer for one (shopper, key) pair;
// digest is a fixed-length hash of both, so neither can forge the other's.
func (k dropKeys) idempotencyKey(digest string) string { return k.prefix + "idem:" + digest }

// all lists the drop's fixed keys, for DeleteDrop and for tests that
// snapshot a drop; the
// registration buckets and reservation hashes are not fixed (a snapshot
// that needs them scans the prefix).
func (k dropKeys) all() []string {
	return []string{k.drop, k.counters, k.reg, k.refs, k.share, k.res, k.buyers, k.holds, k.wl, k.wlq, k.wlend, k.outbox, k.owedBy}
}

// Webhook keys: one hash tag per webhook, and a global index.
const webhookIndexKey = "fd:webhooks"

// deletedWebhooksKey is the sorted set of webhooks deleted whose delivery
// consumers may remain, scored by the deletion's time (ms;
// engine.WebhookStore.DeletedWebhooks).
const deletedWebhooksKey = "fd:webhooks:gone"

type webhookKeys struct {
	cfg    string // hash: url, types, secret, created, reh, by (the creator; absent before it was kept), prev, prev_until, disabled*
	status string // hash: delivered, failed, dead, last_* fields
	dead   string // list: dead-lettered event ids, newest first, capped
	// deadInfo is a hash: dead-lettered event id → its engine.DeadLetter
	// (JSON). Dead letters recorded before it have no entry.
	deadInfo string
	log      string // list: delivery log entries (JSON), newest first, capped
	replay   string // string: the replay lock
}

func webhookKeysFor(id string) webhookKeys {
	p := "fd:wh:{" + id + "}:"
	return webhookKeys{cfg: p + "cfg", status: p + "status", dead: p + "dead", deadInfo: p + "deadinfo", log: p + "log", replay: p + "replay"}
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
