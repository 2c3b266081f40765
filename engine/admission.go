package engine

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Defaults of AdmissionOptions.
const (
	DefaultBatchMaxSize = 256
	MaxBatchMaxSize     = 1000
	DefaultBatchQueue   = 4096
	DefaultBatchWorkers = 1
	DefaultBatchTimeout = 5 * time.Second
	DefaultViewTTL      = time.Second
)

// Outcomes of admission that are not the store's answer.
var (
	// ErrOverloaded means the drop's queue is full: the request was not
	// taken, so a retry is safe.
	ErrOverloaded = errors.New("engine: overloaded, retry shortly")
	// ErrUnavailable means the store could not be asked or did not answer.
	// For a reserve the outcome is unknown: the client retries with the
	// same idempotency key to learn it.
	ErrUnavailable = errors.New("engine: store unavailable")
)

// SoldOutChecker answers "is this drop sold out?" from memory (every
// node's flags, kept from the event stream). Only a true answer is acted
// on, so an unsure checker answers false.
type SoldOutChecker interface {
	SoldOut(drop string) bool
}

// SoldOutLearner is a SoldOutChecker that can also be told of a sell-out
// this node's own store call saw (ReserveResult.SoldOutVersion): the node
// then answers the crowd from memory at once, not when the sold_out event
// has come round through the outbox, the relay and NATS. version orders
// the news against the events, as theirs does.
type SoldOutLearner interface {
	SoldOutChecker
	LearnSoldOut(drop string, version int64)
}

// SoldOutRechecker is a SoldOutChecker that can be told to check a drop
// against the store at the next press: this node paused or resumed it,
// and a paused sale is answered sale_paused, not sold_out from memory.
type SoldOutRechecker interface {
	RecheckSoldOut(drop string)
}

// BatchOptions bound request coalescing. Zero values mean the defaults.
type BatchOptions struct {
	// MaxSize is the most reserve requests one store call decides
	// (default DefaultBatchMaxSize, at most MaxBatchMaxSize).
	MaxSize int
	// MaxWait is how long a batch that is not full waits for more requests
	// before it goes (default 0: a batch takes whatever queued while the
	// previous one was in the store, so an idle system adds no latency and
	// a busy one batches by itself).
	MaxWait time.Duration
	// QueueSize bounds the requests waiting per drop (default
	// DefaultBatchQueue); past it a request is refused at once with
	// ErrOverloaded rather than left waiting.
	QueueSize int
	// Workers is the number of batches per drop in flight at once
	// (default DefaultBatchWorkers). With one, the next batch forms in the
	// queue while the current one is in the store; each worker more splits
	// that queue into smaller calls, and a call's fixed cost (the drop's
	// checks, the round trip, its share of Redis's event loop) is paid per
	// call. Measured on the 2-core bench (2026-12-04), one worker instead of
	// two cut Redis time per win by about a quarter, and with 1 ms added
	// between serve and Redis it served the release-day rush as fast.
	Workers int
	// Timeout bounds one store call (default DefaultBatchTimeout).
	Timeout time.Duration
}

func (o BatchOptions) withDefaults() BatchOptions {
	if o.MaxSize <= 0 {
		o.MaxSize = DefaultBatchMaxSize
	}
	if o.MaxSize > MaxBatchMaxSize {
		o.MaxSize = MaxBatchMaxSize
	}
	if o.QueueSize <= 0 {
		o.QueueSize = DefaultBatchQueue
	}
	if o.Workers <= 0 {
		o.Workers = DefaultBatchWorkers
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultBatchTimeout
	}
	return o
}

// AdmissionOptions configure an Admission. Zero values mean the defaults.
type AdmissionOptions struct {
	Batch BatchOptions
	// ViewTTL is how stale a cached drop and its counters may be (default
	// DefaultViewTTL; SPEC §4 lets public availability lag by a second).
	ViewTTL time.Duration
	// SoldOut, if set, answers sold_out from memory for drops every node
	// knows to be sold out.
	SoldOut SoldOutChecker
	// OnBatch is told about every store call of a batch (for metrics).
	OnBatch func(size int, took time.Duration, err error)
	// OnSoldOutFromMemory is told about every request answered by SoldOut.
	OnSoldOutFromMemory func()
	// OnSoldOutKeyed is told how many keyed presses each call of the
	// store's cheap sold-out answer (SoldOutStore) answered.
	OnSoldOutKeyed func(n int)
	// Drops, if set, is the node's shared list of drops (the front page
	// reads it; Invalidate refreshes it). Default: a list of its own, kept
	// for ViewTTL.
	Drops *DropList
}

// Admission is the engine's front door for shoppers' requests under load:
// it gathers concurrent reserve requests for a drop into batched store
// calls (a lane per drop), answers sold_out from memory after a sell-out,
// keeps a short-lived view of each drop (the one existence check of the
// reserve path, the public view, the live stream), and gives time-window
// refusals the time a countdown needs. Every rule stays in the Engine and
// the Store; Admission decides only how requests reach them.
type Admission struct {
	eng   *Engine
	o     AdmissionOptions
	views *dropViews

	// registrations coalesce like reservations when the store can
	// register in batches (nil otherwise: one store call each).
	registrations *coalescer[RegisterRequest, RegisterResult]
	// soldOutKeyed gathers keyed presses for drops flagged sold out into
	// the store's cheap sold-out calls (nil when there is no flag or the
	// store cannot: those presses go to the lanes).
	soldOutKeyed *coalescer[ReserveRequest, ReserveResult]
	// shopperViews coalesce shoppers' views of a drop when the store can
	// read them in batches (nil otherwise: one store call each).
	shopperViews *coalescer[string, ShopperView]
	// learner is o.SoldOut when it can learn a sell-out (nil otherwise).
	learner SoldOutLearner
	// reserves are the reserve lanes, one per drop.
	reserves *coalescer[ReserveRequest, ReserveResult]
}

// NewAdmission returns an Admission in front of eng. Close it to finish
// the requests in its queues.
func NewAdmission(eng *Engine, o AdmissionOptions) *Admission {
	o.Batch = o.Batch.withDefaults()
	if o.ViewTTL <= 0 {
		o.ViewTTL = DefaultViewTTL
	}
	if o.OnBatch == nil {
		o.OnBatch = func(int, time.Duration, error) {}
	}
	if o.OnSoldOutFromMemory == nil {
		o.OnSoldOutFromMemory = func() {}
	}
	if o.OnSoldOutKeyed == nil {
		o.OnSoldOutKeyed = func(int) {}
	}
	a := &Admission{eng: eng, o: o, views: newDropViews(eng, o.ViewTTL, o.Drops)}
	a.learner, _ = o.SoldOut.(SoldOutLearner)
	a.reserves = newCoalescer(o.Batch, func(drop string, reqs []ReserveRequest) ([]ReserveResult, error) {
		ctx, cancel := context.WithTimeout(context.Background(), o.Batch.Timeout)
		start := time.Now()
		res, err := eng.ReserveBatch(ctx, drop, reqs)
		cancel()
		o.OnBatch(len(reqs), time.Since(start), err)
		if err != nil {
			// The outcome is unknown (the script may have run): the client
			// retries with the same idempotency key to learn it.
			return nil, AsUnavailable(err)
		}
		a.learn(drop, res)
		return res, nil
	})
	if br, ok := eng.store.(BatchRegistrar); ok {
		a.registrations = newCoalescer(o.Batch, func(drop string, reqs []RegisterRequest) ([]RegisterResult, error) {
			ctx, cancel := context.WithTimeout(context.Background(), o.Batch.Timeout)
			defer cancel()
			res, err := eng.registerBatch(ctx, br, drop, reqs)
			if err != nil {
				// The outcome is unknown (the script may have run): a
				// registration is idempotent, so the client retries.
				return nil, AsUnavailable(err)
			}
			return res, nil
		})
	}
	if bv, ok := eng.store.(BatchViewer); ok {
		a.shopperViews = newCoalescer(o.Batch, func(drop string, users []string) ([]ShopperView, error) {
			ctx, cancel := context.WithTimeout(context.Background(), o.Batch.Timeout)
			defer cancel()
			vs, err := bv.ShopperViews(ctx, drop, users)
			if err != nil && !errors.Is(err, ErrNotFound) {
				return nil, AsUnavailable(err)
			}
			return vs, err
		})
	}
	if so, ok := eng.store.(SoldOutStore); ok && o.SoldOut != nil {
		a.soldOutKeyed = newCoalescer(o.Batch, func(drop string, reqs []ReserveRequest) ([]ReserveResult, error) {
			ctx, cancel := context.WithTimeout(context.Background(), o.Batch.Timeout)
			defer cancel()
			res, cheap, err := eng.reserveWith(ctx, drop, reqs, so)
			if err != nil {
				// As in the reserve lanes: the outcome is unknown, the key
				// tells it.
				return nil, AsUnavailable(err)
			}
			if cheap {
				o.OnSoldOutKeyed(len(reqs))
			} else {
				a.learn(drop, res)
			}
			return res, nil
		})
	}
	return a
}

// Reserve decides one shopper's reserve request, batched with the
// concurrent requests for the same drop. The error is for the request as a
// whole (ErrOverloaded, ErrUnavailable, ErrNotFound, or a ValidationError
// for a quantity out of range, told before the drop is looked up); the
// shopper's outcome is in the result.
func (a *Admission) Reserve(ctx context.Context, drop string, req ReserveRequest) (ReserveResult, error) {
	if err := ValidateDropID(drop); err != nil {
		return ReserveResult{}, fmt.Errorf("%w: drop %q", ErrNotFound, drop)
	}
	if a.SoldOutFromMemory(drop, req) {
		return ReserveResult{Err: ErrSoldOut}, nil
	}
	if err := validateQuantity(req.Quantity); err != nil {
		// The client's mistake, told before the store is asked anything.
		return ReserveResult{}, err
	}
	// A lane exists only for a drop that exists (ids come from URLs).
	d, _, err := a.views.get(ctx, drop)
	if err != nil {
		return ReserveResult{}, err
	}
	var res ReserveResult
	if a.soldOutKeyed != nil && req.IdempotencyKey != "" && !req.Waitlist && a.o.SoldOut.SoldOut(drop) {
		// A keyed press after the sell-out: its key may hold an earlier
		// answer (a win whose reply was lost), so only the store can
		// answer it, but with one write, not a reserve decision.
		res, err = a.soldOutKeyed.do(drop, req)
	} else {
		res, err = a.reserves.do(drop, req)
	}
	if err != nil {
		return ReserveResult{}, err
	}
	res.Err = withWindow(d, res.Err)
	return res, nil
}

// SoldOutFromMemory reports whether req is answered sold_out without the
// store, and counts it if so (Reserve answers such a request ErrSoldOut).
// After a sell-out every node knows it: the crowd is answered from
// memory. Not requests whose answer depends on stored state: a replay of
// an idempotency key must get its first answer (I5), and joining the
// waitlist needs the store. Nor a request the store would refuse as
// malformed: a quantity out of range is the client's mistake, and is told
// so (400), sold out or not. It allocates nothing, so a server can ask it
// first.
func (a *Admission) SoldOutFromMemory(drop string, req ReserveRequest) bool {
	if a.o.SoldOut == nil || req.IdempotencyKey != "" || req.Waitlist || validateQuantity(req.Quantity) != nil ||
		!a.o.SoldOut.SoldOut(drop) {
		return false
	}
	a.o.OnSoldOutFromMemory()
	return true
}

// Register registers user for drop; a refusal for the registration window
// carries the time it opens or closed.
func (a *Admission) Register(ctx context.Context, drop, user, ref string) (Registration, bool, error) {
	reg, created, err := a.register(ctx, drop, user, ref)
	if err != nil && (errors.Is(err, ErrRegistrationNotOpen) || errors.Is(err, ErrRegistrationClosed)) {
		if d, _, verr := a.views.get(ctx, drop); verr == nil {
			err = withWindow(d, err)
		}
	}
	return reg, created, err
}

// register registers one shopper, batched with the concurrent
// registrations for the same drop when the store can do that.
func (a *Admission) register(ctx context.Context, drop, user, ref string) (Registration, bool, error) {
	if a.registrations == nil {
		return a.eng.Register(ctx, drop, user, ref)
	}
	req, err := a.eng.prepareRegister(ctx, drop, user, ref)
	if err != nil {
		return Registration{}, false, err
	}
	res, err := a.registrations.do(drop, req)
	if err != nil {
		return Registration{}, false, err
	}
	return res.Registration, res.Created, res.Err
}

// ShopperView returns what user sees of drop (Engine.ShopperView),
// read with the concurrent views of the same drop when the store can.
func (a *Admission) ShopperView(ctx context.Context, drop, user string) (ShopperView, error) {
	if a.shopperViews == nil {
		return a.eng.ShopperView(ctx, drop, user)
	}
	return a.eng.viewWith(ctx, drop, user, func() (ShopperView, error) { return a.shopperViews.do(drop, user) })
}

// View returns a drop and its counters as of at most ViewTTL ago.
func (a *Admission) View(ctx context.Context, drop string) (Drop, Stats, error) {
	if err := ValidateDropID(drop); err != nil {
		return Drop{}, Stats{}, fmt.Errorf("%w: drop %q", ErrNotFound, drop)
	}
	return a.views.get(ctx, drop)
}

// Drops lists every drop as of at most ViewTTL ago, sorted by id, for
// the front page, which shoppers load by the thousand before a sale: it
// is the node's DropList (AdmissionOptions.Drops), so a page view reads
// nothing from the store. A listed drop's Paused may be stale; View has
// it fresh. The slice is shared: callers must not change it.
func (a *Admission) Drops(ctx context.Context) ([]Drop, error) { return a.views.drops.Drops(ctx) }

// Invalidate forgets the cached view of a drop, and makes the list of
// drops refresh, after an admin change (pause, resume, creation) that
// this node made; a sold-out flag is checked against the store at the
// next press (SoldOutRechecker), so that a pause is answered sale_paused
// at once.
func (a *Admission) Invalidate(drop string) {
	a.views.invalidate(drop)
	if r, ok := a.o.SoldOut.(SoldOutRechecker); ok {
		r.RecheckSoldOut(drop)
	}
}

// Queued reports how many requests wait in drop's lane (for tests).
func (a *Admission) Queued(drop string) int { return a.reserves.queued(drop) }

// Close stops taking requests, finishes every queued one, and waits for
// the lanes' workers. Safe to call more than once.
func (a *Admission) Close() error {
	if a.registrations != nil {
		a.registrations.close()
	}
	if a.soldOutKeyed != nil {
		a.soldOutKeyed.close()
	}
	if a.shopperViews != nil {
		a.shopperViews.close()
	}
	a.reserves.close()
	return nil
}

// WindowError is a refusal for a time window (sale not open, registration
// closed, …) with the time that matters to the shopper: "opens at" is what
// a countdown shows.
type WindowError struct {
	Err error
	// What says what happens or happened at At, e.g. "the sale starts at".
	What string
	At   time.Time
}

func (e *WindowError) Error() string {
	return e.Err.Error() + " (" + e.What + " " + e.At.UTC().Format(time.RFC3339) + ")"
}

func (e *WindowError) Unwrap() error { return e.Err }

// withWindow gives a window refusal its time, from the drop; other errors
// pass through.
func withWindow(d Drop, err error) error {
	if err == nil {
		return nil
	}
	switch {
	case errors.Is(err, ErrSaleNotOpen):
		return &WindowError{Err: err, What: "the sale starts at", At: d.SaleStartsAt}
	case errors.Is(err, ErrRegistrationNotOpen):
		return &WindowError{Err: err, What: "registration opens at", At: d.RegistrationOpensAt}
	case errors.Is(err, ErrRegistrationClosed):
		return &WindowError{Err: err, What: "registration closed at", At: d.RegistrationClosesAt}
	case errors.Is(err, ErrSaleClosed):
		return &WindowError{Err: err, What: "the sale ended at", At: d.SaleEndsAt}
	}
	return err
}

// learn passes on a sell-out that a store call's results report.
func (a *Admission) learn(drop string, res []ReserveResult) {
	if a.learner == nil {
		return
	}
	for i := range res {
		if v := res[i].SoldOutVersion; v > 0 {
			a.learner.LearnSoldOut(drop, v)
			return
		}
	}
}

// --- cached views ---

// dropViews keeps each drop's configuration and counters for up to ttl, so
// the public view, the live stream and the reserve path's "does this drop
// exist" check cost one store read per drop per ttl per node, not one per
// request.
type dropViews struct {
	eng *Engine
	ttl time.Duration
	now func() time.Time

	mu      sync.Mutex
	entries map[string]*viewEntry

	// drops is the list of drops, shared with the node's background
	// workers when AdmissionOptions.Drops says so.
	drops *DropList
}

type viewEntry struct {
	mu      sync.Mutex // one refresh at a time per drop
	fetched time.Time
	drop    Drop
	stats   Stats
	err     error // ErrNotFound is cached too, briefly
}

// maxCachedViews bounds the cache: ids come from URLs, so anyone can ask
// for any number of drops that do not exist.
const maxCachedViews = 10000

func newDropViews(eng *Engine, ttl time.Duration, drops *DropList) *dropViews {
	if drops == nil {
		drops = NewDropList(eng, ttl)
	}
	return &dropViews{eng: eng, ttl: ttl, now: time.Now, entries: map[string]*viewEntry{}, drops: drops}
}

// get returns the drop and its counters as of at most ttl ago.
func (c *dropViews) get(ctx context.Context, id string) (Drop, Stats, error) {
	c.mu.Lock()
	e, ok := c.entries[id]
	if !ok {
		e = &viewEntry{}
		if len(c.entries) >= maxCachedViews {
			c.evictLocked()
		}
		c.entries[id] = e
	}
	c.mu.Unlock()

	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.fetched.IsZero() && c.now().Sub(e.fetched) < c.ttl {
		return e.drop, e.stats, e.err
	}
	d, err := c.eng.Drop(ctx, id)
	var st Stats
	if err == nil {
		st, err = c.eng.Stats(ctx, id)
	}
	if err != nil && !errors.Is(err, ErrNotFound) {
		// A store failure is not remembered: the next caller tries again.
		return Drop{}, Stats{}, AsUnavailable(err)
	}
	e.drop, e.stats, e.err, e.fetched = d, st, err, c.now()
	return d, st, err
}

// evictLocked drops stale entries, or everything if none is stale.
func (c *dropViews) evictLocked() {
	now := c.now()
	for id, e := range c.entries {
		if e.mu.TryLock() {
			stale := now.Sub(e.fetched) >= c.ttl
			e.mu.Unlock()
			if stale {
				delete(c.entries, id)
			}
		}
	}
	if len(c.entries) >= maxCachedViews {
		c.entries = map[string]*viewEntry{}
	}
}

// invalidate forgets a drop and the list, after an admin change such as
// pause or creation.
func (c *dropViews) invalidate(id string) {
	c.mu.Lock()
	delete(c.entries, id)
	c.mu.Unlock()
	c.drops.Invalidate()
}

// AsUnavailable marks a store error ErrUnavailable, once: an error marked
// already (redisstore marks every command Redis could not answer, with
// this) is not marked again, so a log line names the cause once.
func AsUnavailable(err error) error {
	if errors.Is(err, ErrUnavailable) {
		return err
	}
	return fmt.Errorf("%w: %w", ErrUnavailable, err)
}
