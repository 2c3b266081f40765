package redisstore

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/flashdrop/flashdrop/engine"
)

// Options configure a Store. The zero value means the defaults.
type Options struct {
	// IdempotencyTTL is how long a reserve answer is kept under its
	// Idempotency-Key; default and minimum 24h (SPEC I5).
	IdempotencyTTL time.Duration
	// WaitReplicas, when positive, makes every reserve batch wait, on the
	// connection that ran its script, until that many replicas have its
	// writes (WAIT), for at most WaitTimeout (default 1 s). Wins that could
	// not be confirmed replicated are answered engine.ErrUnavailable
	// ("outcome unknown, retry with your Idempotency-Key") instead of a win
	// a failover could take back. Zero: answer as soon as the master ran it
	// (asynchronous replication, what Redis does by default).
	WaitReplicas int
	WaitTimeout  time.Duration
	// OneRegistrationHash makes new drops keep every registrant in one
	// hash, the layout before registration buckets (keys.go), which
	// versions before 2026-12-03 read. Set it while such nodes still run
	// against the same Redis: they would write a bucketed drop's
	// registrations where nodes of this version never look.
	OneRegistrationHash bool
	// ReservationHashes makes new drops keep each reservation in a hash
	// of its own, the layout before packed reservations (keys.go), which
	// versions before 2026-12-04 read. Set it while such nodes still run
	// against the same Redis: they would find no reservation of a drop
	// made with packed ones. It also keeps new drops' sale state in the
	// registration fields (no 'sb'), which nodes from before the buyers
	// hash read: they would miss a winner's units and let her past her
	// limit. And it keeps new drops' wins in outbox entries of format 2
	// (no 'ce'), which relays from before compact wins decode, and their
	// holds indexed one by one (no 'hb'), which sweepers from before
	// per-call hold members expire.
	ReservationHashes bool
}

// DefaultWaitTimeout bounds a reserve batch's WAIT.
const DefaultWaitTimeout = time.Second

// Store is engine.Store (and engine.Outbox, engine.WebhookStore, and the
// API's admin answer store) on Redis. It works with a single node and
// with a Cluster through redis.UniversalClient: every script touches one
// drop's keys, which share a hash tag. Every state-changing script takes
// effect at most once per call, whatever the client retries (lib.lua).
type Store struct {
	rdb     redis.UniversalClient
	idemTTL int64 // seconds
	waitN   int
	waitMS  int64
	groups  sync.Map // outbox keys whose relay group exists
	// regBuckets is what new drops get (keys.go); 0 with
	// Options.OneRegistrationHash.
	regBuckets int
	// packed: new drops keep their reservations packed in one hash
	// (false with Options.ReservationHashes).
	packed bool
}

var _ engine.Store = (*Store)(nil)

// New returns a Store on rdb. The caller owns rdb and closes it. New adds
// a hook to rdb (once per client): a command Redis was not asked or did
// not answer fails with engine.ErrUnavailable.
func New(rdb redis.UniversalClient, opts Options) *Store {
	ttl := opts.IdempotencyTTL
	if ttl < 24*time.Hour {
		ttl = 24 * time.Hour
	}
	wt := opts.WaitTimeout
	if wt <= 0 {
		wt = DefaultWaitTimeout
	}
	s := &Store{rdb: rdb, idemTTL: int64(ttl / time.Second), waitN: max(opts.WaitReplicas, 0), waitMS: wt.Milliseconds(),
		regBuckets: regBuckets, packed: !opts.ReservationHashes}
	if opts.OneRegistrationHash {
		s.regBuckets = 0
	}
	markUnavailable(rdb)
	return s
}

// Ping checks that Redis answers, for readiness probes.
func (s *Store) Ping(ctx context.Context) error { return s.rdb.Ping(ctx).Err() }

// nonce is per-call randomness: the secret one scripts derive reservation
// ids and share codes from, or the public one event ids are made of.
func nonce() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	return hex.EncodeToString(b[:])
}

// idPool is the secret randomness a reserve call makes its ids of: 20
// crypto-random bytes (80 bits for a reservation id, 80 for its share
// code) for each of the n requests, each of which can win once. Slicing
// it in Lua costs far less than hashing a nonce per win, and every id
// stays independent of the others of its call.
func idPool(n int) string {
	b := make([]byte, 20*n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms
	return hex.EncodeToString(b)
}

func msString(t time.Time) string { return strconv.FormatInt(t.UnixMilli(), 10) }

func fromMS(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMilli(v).UTC()
}

// CreateDrop implements engine.Store. The id joins the drop index before
// the drop is written: the index and the drop live in different slots, so
// this order means a crash in between leaves at worst an index entry with
// no drop, which Drops skips, never a drop nobody can list.
func (s *Store) CreateDrop(ctx context.Context, d engine.Drop) (bool, error) {
	// The engine validated already; checking again keeps junk out of the
	// index when the store is used on its own.
	if err := d.Validate(); err != nil {
		return false, err
	}
	if err := s.rdb.SAdd(ctx, dropIndexKey, d.ID).Err(); err != nil {
		return false, err
	}
	k := keysFor(d.ID)
	args := dropFields(d)
	if s.regBuckets > 0 {
		args = append(args, "rb", strconv.Itoa(s.regBuckets))
	}
	if s.packed {
		// Packed reservations, the shoppers' sale state apart from
		// their registrations, compact wins in the outbox and holds
		// indexed per call: the layout of this version (the same
		// compatibility flag keeps all four off for older nodes).
		args = append(args, "rl", "1", "sb", "1", "ce", "1", "hb", "1")
	}
	if d.Secrets != nil {
		args = append(args, "seed", hex.EncodeToString(d.Secrets.Seed), "tkey", hex.EncodeToString(d.Secrets.TicketKey))
	}
	v, err := createScript.Run(ctx, s.rdb, []string{k.drop, k.counters, k.callKey(nonce()), k.draw(), k.tombstone()}, args...).Slice()
	if err != nil {
		return false, err
	}
	r := reply(v)
	switch code := r.int(0); code {
	case codeOK:
		return r.int(1) == 1, r.err
	case codeDeleted:
		// The index took the id before the script refused it. It stays:
		// readers skip an id without a drop (DropsByID), and taking it out
		// could take out a drop another node made as the tombstone ended.
		left := time.Duration(r.int(1)) * time.Millisecond
		return false, &engine.DetailError{Err: engine.ErrDropDeleted,
			Detail: fmt.Sprintf("a drop with this id was deleted a moment ago; it can be made again in %d s, once every node has seen it go", int64(left.Round(time.Second)/time.Second)+1)}
	case codeExists:
		conflict := &engine.DropConflictError{ID: d.ID}
		for i := 1; i < len(v); i++ {
			conflict.Fields = append(conflict.Fields, apiFieldName(r.str(i)))
		}
		return false, conflict
	default:
		return false, codeErr(code, 0)
	}
}

// apiFieldName names a drop hash field as the API does.
func apiFieldName(f string) string {
	if n, ok := dropFieldNames[f]; ok {
		return n
	}
	return f
}

var dropFieldNames = map[string]string{
	"limit": "per_user_limit", "ro": "registration_opens_at", "rc": "registration_closes_at",
	"ss": "sale_starts_at", "se": "sale_ends_at", "hold": "hold_seconds", "cb": "confirm_by",
	"curl": "checkout_url", "rem": "reminder_seconds", "dq": "draw_quantity",
	"reh": "rehearsal",
}

func dropFields(d engine.Drop) []any {
	se := "0"
	if !d.SaleEndsAt.IsZero() {
		se = msString(d.SaleEndsAt)
	}
	paused := "0"
	if d.Paused {
		paused = "1"
	}
	// "" when not a rehearsal: a drop stored before the field existed
	// has none, and create.lua compares a missing field as "".
	rehearsal := ""
	if d.Rehearsal {
		rehearsal = "1"
	}
	return []any{
		"id", d.ID, "name", d.Name, "product", d.Product,
		"stock", strconv.FormatInt(d.Stock, 10), "limit", strconv.FormatInt(d.PerUserLimit, 10),
		"ro", msString(d.RegistrationOpensAt), "rc", msString(d.RegistrationClosesAt),
		"ss", msString(d.SaleStartsAt), "se", se,
		"hold", strconv.FormatInt(d.HoldSeconds, 10), "mode", string(d.Mode),
		"cb", string(d.ConfirmBy), "curl", d.CheckoutURL,
		"paused", paused, "created", msString(d.CreatedAt),
		"rem", strconv.FormatInt(d.ReminderSeconds, 10), "dq", strconv.FormatInt(d.DrawQuantity, 10),
		"series", d.Series, "sh", d.SeedHash, "reh", rehearsal,
	}
}

func parseDrop(m map[string]string) (engine.Drop, error) {
	var errs []error
	i := func(f string) int64 {
		v, err := strconv.ParseInt(m[f], 10, 64)
		if err != nil {
			errs = append(errs, fmt.Errorf("field %s: %w", f, err))
		}
		return v
	}
	d := engine.Drop{
		ID: m["id"], Name: m["name"], Product: m["product"],
		Stock: i("stock"), PerUserLimit: i("limit"),
		RegistrationOpensAt: fromMS(i("ro")), RegistrationClosesAt: fromMS(i("rc")),
		SaleStartsAt: fromMS(i("ss")), SaleEndsAt: fromMS(i("se")),
		HoldSeconds: i("hold"), Mode: engine.Mode(m["mode"]),
		ConfirmBy: engine.ConfirmBy(m["cb"]), CheckoutURL: m["curl"],
		Paused: m["paused"] == "1", CreatedAt: fromMS(i("created")),
	}
	if d.ConfirmBy == "" {
		d.ConfirmBy = engine.ConfirmByBackend // drops stored before confirm_by existed
	}
	d.Series, d.SeedHash, d.Rehearsal = m["series"], m["sh"], m["reh"] == "1"
	d.ReminderSeconds, _ = strconv.ParseInt(m["rem"], 10, 64)
	d.DrawQuantity, _ = strconv.ParseInt(m["dq"], 10, 64)
	if d.ReminderSeconds == 0 {
		d.ReminderSeconds = engine.DefaultReminderSeconds // drops stored before reminders existed
	}
	if err := errors.Join(errs...); err != nil {
		return engine.Drop{}, fmt.Errorf("redisstore: corrupt drop %q: %w", m["id"], err)
	}
	return d, nil
}

// Drop implements engine.Store.
func (s *Store) Drop(ctx context.Context, id string) (engine.Drop, error) {
	m, err := s.rdb.HGetAll(ctx, keysFor(id).drop).Result()
	if err != nil {
		return engine.Drop{}, err
	}
	if len(m) == 0 {
		return engine.Drop{}, fmt.Errorf("%w: drop %q", engine.ErrNotFound, id)
	}
	return parseDrop(m)
}

// Drops implements engine.Store.
func (s *Store) Drops(ctx context.Context) ([]engine.Drop, error) {
	ids, err := s.DropIDs(ctx)
	if err != nil {
		return nil, err
	}
	sort.Strings(ids)
	return s.DropsByID(ctx, ids)
}

// DropIDs implements engine.DropIndex.
func (s *Store) DropIDs(ctx context.Context) ([]string, error) {
	return s.rdb.SMembers(ctx, dropIndexKey).Result()
}

// DropsByID implements engine.DropIndex. It reads the drops in one
// pipeline (which the cluster client splits by slot).
func (s *Store) DropsByID(ctx context.Context, ids []string) ([]engine.Drop, error) {
	if len(ids) == 0 {
		return []engine.Drop{}, nil
	}
	cmds := make([]*redis.MapStringStringCmd, len(ids))
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, id := range ids {
			cmds[i] = p.HGetAll(ctx, keysFor(id).drop)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := make([]engine.Drop, 0, len(ids))
	for _, c := range cmds {
		if len(c.Val()) == 0 {
			continue // indexed, but its creation never completed
		}
		d, err := parseDrop(c.Val())
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, nil
}

// SetPaused implements engine.Store.
func (s *Store) SetPaused(ctx context.Context, id string, paused bool, now time.Time) (engine.Drop, error) {
	flag := "0"
	if paused {
		flag = "1"
	}
	k := keysFor(id)
	code, err := pauseScript.Run(ctx, s.rdb, []string{k.drop, k.counters, k.reg, k.holds, k.wl, k.wlq, k.outbox},
		k.prefix, id, now.UnixMilli(), nonce(), nonce(), flag).Int64()
	if err != nil {
		return engine.Drop{}, err
	}
	if err := codeErr(code, 0); err != nil {
		return engine.Drop{}, fmt.Errorf("%w: drop %q", err, id)
	}
	return s.Drop(ctx, id)
}

// Register implements engine.Store.
func (s *Store) Register(ctx context.Context, drop, user, ref string, now time.Time) (engine.Registration, bool, error) {
	k := keysFor(drop)
	call := nonce()
	v, err := registerScript.Run(ctx, s.rdb,
		[]string{k.drop, k.counters, k.reg, k.refs, k.outbox, k.callKey(call)},
		k.prefix, drop, now.UnixMilli(), call, user, ref, nonce()).Slice()
	if err != nil {
		return engine.Registration{}, false, err
	}
	r := reply(v)
	if err := codeErr(r.int(0), 0); err != nil {
		return engine.Registration{}, false, err
	}
	reg := engine.Registration{Drop: drop, User: user, RegisteredAt: fromMS(r.int(1))}
	return reg, r.int(2) == 1, r.err
}

// RegisterBatch implements engine.BatchRegistrar: one script call
// registers every shopper of reqs, in order.
func (s *Store) RegisterBatch(ctx context.Context, drop string, now time.Time, reqs []engine.RegisterRequest) ([]engine.RegisterResult, error) {
	k := keysFor(drop)
	call := nonce()
	args := make([]any, 0, 5+4*len(reqs))
	args = append(args, k.prefix, drop, now.UnixMilli(), call, len(reqs))
	for _, r := range reqs {
		refNonce := ""
		if r.Ref != "" {
			refNonce = nonce()
		}
		args = append(args, r.User, r.Ref, refNonce, regHash(r.User))
	}
	v, err := registerBatchScript.Run(ctx, s.rdb,
		[]string{k.drop, k.counters, k.reg, k.refs, k.outbox, k.callKey(call)}, args...).Slice()
	if err != nil {
		return nil, err
	}
	if len(v) != len(reqs) {
		return nil, fmt.Errorf("redisstore: register answered %d of %d requests", len(v), len(reqs))
	}
	out := make([]engine.RegisterResult, len(reqs))
	for i, x := range v {
		r := reply(asSlice(x))
		if err := codeErr(r.int(0), 0); err != nil {
			out[i].Err = err
		} else {
			out[i].Registration = engine.Registration{Drop: drop, User: reqs[i].User, RegisteredAt: fromMS(r.int(1))}
			out[i].Created = r.int(2) == 1
		}
		if r.err != nil {
			return nil, r.err
		}
	}
	return out, nil
}

// ReserveBatch implements engine.Store.
func (s *Store) ReserveBatch(ctx context.Context, drop string, now time.Time, reqs []engine.ReserveRequest) ([]engine.ReserveResult, error) {
	k := keysFor(drop)
	call := nonce()
	keys := []string{k.drop, k.counters, k.reg, k.holds, k.wl, k.wlq, k.outbox, k.callKey(call)}
	args := make([]any, 0, 8+5*len(reqs))
	args = append(args, k.prefix, drop, now.UnixMilli(), idPool(len(reqs)), call, s.idemTTL, engine.MaxPerUserLimit, len(reqs))
	for _, r := range reqs {
		ki := 0
		if r.IdempotencyKey != "" {
			keys = append(keys, k.idempotencyKey(digest(r.User, r.IdempotencyKey)))
			ki = len(keys)
		}
		wl := "0"
		if r.Waitlist {
			wl = "1"
		}
		args = append(args, r.User, r.Quantity, wl, ki, fingerprint(r))
	}
	var v []any
	var err error
	replicated := true
	if s.waitN > 0 {
		v, replicated, err = s.reserveWaited(ctx, keys, args)
	} else {
		v, err = reserveScript.Run(ctx, s.rdb, keys, args...).Slice()
	}
	if err != nil {
		return nil, err
	}
	return decodeReserveReplies(drop, now, reqs, v, replicated, s.waitN)
}

// decodeReserveReplies decodes reserve.lua's replies, one per request and
// perhaps a sold-out version after them;
// replicated false (a WAIT that fell short of waitN replicas) turns what
// a failover could take back into ErrUnavailable.
func decodeReserveReplies(drop string, now time.Time, reqs []engine.ReserveRequest, v []any, replicated bool, waitN int) ([]engine.ReserveResult, error) {
	// One reply more than requests: the version of the sold_out news of a
	// call that left the sale without stock (reserve.lua). Not passed on
	// when the call's writes are not known to be replicated: a failover
	// could take the sell-out back.
	var soldOut int64
	if len(v) == len(reqs)+1 {
		x, ok := v[len(reqs)].(int64)
		if !ok || x <= 0 {
			return nil, fmt.Errorf("redisstore: reserve answered a sold-out version of %v", v[len(reqs)])
		}
		if replicated {
			soldOut = x
		}
		v = v[:len(reqs)]
	}
	if len(v) != len(reqs) {
		return nil, fmt.Errorf("redisstore: reserve answered %d of %d requests", len(v), len(reqs))
	}
	out := make([]engine.ReserveResult, len(reqs))
	for i, x := range v {
		r := reply(asSlice(x))
		code := r.int(0)
		out[i].Replayed = r.int(1) == 1
		switch code {
		case codeWon:
			switch {
			case len(r.v) == 5:
				// A fresh win of this very request: the script answers id,
				// deadline and share code; the rest is the request, a new
				// hold, and the now the script was given.
				at := fromMS(now.UnixMilli())
				out[i].Reservation = engine.Reservation{
					ID: r.str(2), Drop: drop, User: reqs[i].User, Quantity: reqs[i].Quantity,
					Status: engine.StatusHeld, WonAt: at, ExpiresAt: fromMS(r.int(3)), UpdatedAt: at,
					ShareCode: r.str(4),
				}
			case len(r.v) > 2:
				// A reservation as it is now, flattened after the code and
				// replay flag.
				out[i].Reservation = decodeReservation(drop, r.v[2:])
			}
		case codeSoldOut:
			// A request for more than was left carries the units left.
			var left int64
			if len(r.v) > 3 {
				left = r.int(3)
			}
			out[i].Err = soldOutErr(code, r.int(2), left)
		default:
			out[i].Err = codeErr(code, 0)
		}
		if r.err != nil {
			return nil, r.err
		}
		out[i].SoldOutVersion = soldOut
		if !replicated && (code == codeWon || (code == codeSoldOut && r.int(2) > 0)) {
			// Not known to survive a failover: the shopper retries with
			// her key and gets the win (or, after a failover that lost it,
			// a fresh decision), never a win that later vanishes.
			out[i] = engine.ReserveResult{Err: fmt.Errorf("%w: the outcome was not confirmed on %d replica(s) in time; retry with the same Idempotency-Key",
				engine.ErrUnavailable, waitN)}
		}
	}
	return out, nil
}

// AnswerSoldOut implements engine.SoldOutStore: keyed presses for a drop
// whose stock is gone get the answer reserve.lua would give them, with
// two calls each (scripts/soldout.lua) instead of reserve.lua's four. ok
// is false, and nothing was written, when the drop is not a running sale
// without stock; then ReserveBatch decides.
// With WaitReplicas it always answers ok false: a replayed win must be
// confirmed replicated, which only ReserveBatch waits for.
func (s *Store) AnswerSoldOut(ctx context.Context, drop string, now time.Time, reqs []engine.ReserveRequest) ([]engine.ReserveResult, bool, error) {
	if s.waitN > 0 || len(reqs) == 0 {
		return nil, false, nil
	}
	k := keysFor(drop)
	call := nonce()
	keys := make([]string, 0, 5+len(reqs))
	keys = append(keys, k.drop, k.counters, k.reg, k.wl, k.callKey(call))
	args := make([]any, 0, 6+3*len(reqs))
	args = append(args, k.prefix, drop, now.UnixMilli(), call, s.idemTTL, len(reqs))
	for _, r := range reqs {
		if r.IdempotencyKey == "" {
			return nil, false, fmt.Errorf("redisstore: AnswerSoldOut takes keyed requests only")
		}
		keys = append(keys, k.idempotencyKey(digest(r.User, r.IdempotencyKey)))
		args = append(args, r.User, r.Quantity, fingerprint(r))
	}
	v, err := soldOutScript.Run(ctx, s.rdb, keys, args...).Slice()
	if err != nil {
		return nil, false, err
	}
	if len(v) == 0 {
		return nil, false, fmt.Errorf("redisstore: empty sold-out reply")
	}
	if n, _ := v[0].(int64); n != 1 {
		return nil, false, nil
	}
	out, err := decodeReserveReplies(drop, now, reqs, v[1:], true, 0)
	return out, err == nil, err
}

// reserveWaited runs the reserve script and WAIT in one pipeline on the
// drop's master, one connection: WAIT counts the replicas that have this
// connection's writes. It reports whether WaitReplicas replicas have them.
func (s *Store) reserveWaited(ctx context.Context, keys []string, args []any) ([]any, bool, error) {
	var node redis.Cmdable
	switch c := s.rdb.(type) {
	case *redis.ClusterClient:
		m, err := c.MasterForKey(ctx, keys[0])
		if err != nil {
			return nil, false, err
		}
		node = m
	case *redis.Client:
		node = c
	default:
		return nil, false, fmt.Errorf("redisstore: WaitReplicas needs a *redis.Client or *redis.ClusterClient, not %T", s.rdb)
	}
	for attempt := 0; ; attempt++ {
		var eval *redis.Cmd
		var wait *redis.Cmd
		_, err := node.Pipelined(ctx, func(p redis.Pipeliner) error {
			eval = reserveScript.EvalSha(ctx, p, keys, args...)
			wait = p.Do(ctx, "WAIT", s.waitN, max(s.waitMS, 1)) // 0 would block for ever
			return nil
		})
		if err != nil && attempt == 0 && redis.HasErrorPrefix(eval.Err(), "NOSCRIPT") {
			if err := reserveScript.Load(ctx, node).Err(); err != nil {
				return nil, false, err
			}
			continue
		}
		if err := eval.Err(); err != nil {
			return nil, false, err
		}
		v, err := eval.Slice()
		if err != nil {
			return nil, false, err
		}
		n, werr := wait.Int64()
		return v, werr == nil && n >= int64(s.waitN), nil
	}
}

// digest names an idempotency key by shopper and key together, with a
// separator neither can contain (user ids have no control characters).
func digest(user, key string) string {
	h := sha256.Sum256([]byte(user + "\x00" + key))
	return hex.EncodeToString(h[:16])
}

// fingerprint is what "the same request" means for idempotency (I5).
func fingerprint(r engine.ReserveRequest) string {
	return fmt.Sprintf("q%d;w%t", r.Quantity, r.Waitlist)
}

// Confirm implements engine.Store.
func (s *Store) Confirm(ctx context.Context, id, actor string, now time.Time) (engine.Reservation, error) {
	return s.settle(ctx, id, actor, "confirm", now)
}

// Cancel implements engine.Store.
func (s *Store) Cancel(ctx context.Context, id, actor string, now time.Time) (engine.Reservation, error) {
	return s.settle(ctx, id, actor, "cancel", now)
}

func (s *Store) settle(ctx context.Context, id, actor, action string, now time.Time) (engine.Reservation, error) {
	drop, err := engine.SplitReservationID(id)
	if err != nil {
		return engine.Reservation{}, fmt.Errorf("%w: reservation %q", engine.ErrNotFound, id)
	}
	k := keysFor(drop)
	v, err := settleScript.Run(ctx, s.rdb,
		[]string{k.drop, k.counters, k.reg, k.holds, k.wl, k.wlq, k.outbox, k.reservationKey(id)},
		k.prefix, drop, now.UnixMilli(), nonce(), nonce(), id, actor, action).Slice()
	if err != nil {
		return engine.Reservation{}, err
	}
	r := reply(v)
	if err := codeErr(r.int(0), 0); err != nil {
		return engine.Reservation{}, err
	}
	res := decodeReservation(drop, r.slice(1))
	return res, r.err
}

// Reservation implements engine.Store.
func (s *Store) Reservation(ctx context.Context, id string) (engine.Reservation, error) {
	drop, err := engine.SplitReservationID(id)
	if err != nil {
		return engine.Reservation{}, fmt.Errorf("%w: reservation %q", engine.ErrNotFound, id)
	}
	// One read-only script reads either layout (lib.lua's res_get), so
	// the layout lives in one place.
	k := keysFor(drop)
	v, err := readReservationScript.Run(ctx, s.rdb, []string{k.drop}, k.prefix, id).Slice()
	if err != nil {
		return engine.Reservation{}, err
	}
	if len(v) == 0 {
		return engine.Reservation{}, fmt.Errorf("%w: reservation %q", engine.ErrNotFound, id)
	}
	return decodeReservation(drop, v), nil
}

// decodeReservation decodes lib.lua's res_reply.
func decodeReservation(drop string, v []any) engine.Reservation {
	r := reply(v)
	return engine.Reservation{
		ID: r.str(0), Drop: drop, User: r.str(1), Quantity: r.int(2),
		Status: engine.Status(r.str(3)), WonAt: fromMS(r.int(4)), ExpiresAt: fromMS(r.int(5)),
		UpdatedAt: fromMS(r.int(6)), ShareCode: r.str(7), FromWaitlist: r.int(8) == 1,
	}
}

// ExpireDue implements engine.Store.
func (s *Store) ExpireDue(ctx context.Context, drop string, now time.Time, limit int) (int, time.Time, error) {
	k := keysFor(drop)
	call := nonce()
	v, err := expireScript.Run(ctx, s.rdb,
		[]string{k.drop, k.counters, k.reg, k.holds, k.wl, k.wlq, k.outbox, k.callKey(call)},
		k.prefix, drop, now.UnixMilli(), nonce(), call, limit).Int64Slice()
	if err != nil {
		return 0, time.Time{}, err
	}
	if len(v) != 2 {
		return 0, time.Time{}, fmt.Errorf("expire: malformed reply %v", v)
	}
	var next time.Time
	if v[1] >= 0 {
		next = fromMS(v[1])
	}
	return int(v[0]), next, nil
}

// EndWaitlist implements engine.Store.
func (s *Store) EndWaitlist(ctx context.Context, drop string, now time.Time, limit int) (int, error) {
	k := keysFor(drop)
	call := nonce()
	return endsaleScript.Run(ctx, s.rdb,
		[]string{k.drop, k.counters, k.reg, k.holds, k.wl, k.wlq, k.outbox, k.wlend, k.callKey(call)},
		k.prefix, drop, now.UnixMilli(), nonce(), call, limit).Int()
}

// ShopperView implements engine.Store.
func (s *Store) ShopperView(ctx context.Context, drop, user string) (engine.ShopperView, error) {
	vs, err := s.ShopperViews(ctx, drop, []string{user})
	if err != nil {
		return engine.ShopperView{}, err
	}
	return vs[0], nil
}

// ShopperViews implements engine.BatchViewer: the views of users of one
// drop, in their order, from one script call.
func (s *Store) ShopperViews(ctx context.Context, drop string, users []string) ([]engine.ShopperView, error) {
	k := keysFor(drop)
	args := make([]any, 0, 1+len(users))
	args = append(args, k.prefix)
	for _, u := range users {
		args = append(args, u)
	}
	v, err := viewScript.Run(ctx, s.rdb, []string{k.drop, k.reg, k.wl, k.wlend}, args...).Slice()
	if err != nil {
		return nil, err
	}
	r := reply(v)
	if r.int(0) == 0 {
		return nil, fmt.Errorf("%w: drop %q", engine.ErrNotFound, drop)
	}
	out := make([]engine.ShopperView, len(users))
	for i := range users {
		at := 1 + 5*i
		view := engine.ShopperView{Registered: r.int(at) == 1, WaitlistEnded: r.int(at+3) == 1, Units: r.int(at + 4)}
		if pos := r.int(at + 1); pos > 0 {
			view.WaitlistPosition = &pos
		}
		if res := r.slice(at + 2); len(res) > 0 {
			rr := decodeReservation(drop, res)
			view.Reservation = &rr
		}
		out[i] = view
	}
	if r.err != nil {
		return nil, r.err
	}
	return out, nil
}

// Stats implements engine.Store.
func (s *Store) Stats(ctx context.Context, drop string) (engine.Stats, error) {
	k := keysFor(drop)
	x, err := statsScript.Run(ctx, s.rdb, []string{k.drop, k.counters, k.reg, k.wl, k.holds}).Result()
	if err != nil {
		return engine.Stats{}, err
	}
	v, ok := x.([]any)
	if !ok {
		return engine.Stats{}, fmt.Errorf("%w: drop %q", engine.ErrNotFound, drop)
	}
	r := reply(v)
	st := engine.Stats{
		Stock: r.int(0), Available: r.int(1), Held: r.int(2), Confirmed: r.int(3), Released: r.int(4),
		Registered: r.int(5), Waitlisted: r.int(6), Reservations: r.int(7), Referrals: r.int(8),
		Owed: r.int(9), SoldOutVersion: r.int(10),
	}
	if ms := r.int(11); ms > 0 {
		st.NextExpiry = fromMS(ms)
	}
	return st, r.err
}

// reply reads a script's array reply, remembering the first shape error
// instead of failing at every access.
type replyReader struct {
	v   []any
	err error
}

func reply(v []any) *replyReader { return &replyReader{v: v} }

func asSlice(x any) []any {
	v, _ := x.([]any)
	return v
}

func (r *replyReader) at(i int) any {
	if i >= len(r.v) {
		if r.err == nil {
			r.err = fmt.Errorf("redisstore: script reply has %d values, want more than %d", len(r.v), i)
		}
		return nil
	}
	return r.v[i]
}

func (r *replyReader) int(i int) int64 {
	switch x := r.at(i).(type) {
	case int64:
		return x
	case string:
		n, err := strconv.ParseInt(x, 10, 64)
		if err != nil && r.err == nil {
			r.err = fmt.Errorf("redisstore: script reply value %d: %w", i, err)
		}
		return n
	}
	return 0
}

func (r *replyReader) str(i int) string {
	switch x := r.at(i).(type) {
	case string:
		return x
	case int64:
		return strconv.FormatInt(x, 10)
	}
	return ""
}

func (r *replyReader) slice(i int) []any { return asSlice(r.at(i)) }
