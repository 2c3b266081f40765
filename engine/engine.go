package engine

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"
)

// Options configure an Engine. The zero value means the defaults.
type Options struct {
	// Clock defaults to the system clock.
	Clock Clock
	// ExpireStep is the most holds one sweep of a drop expires
	// (default 256), which bounds the time any one store call takes.
	ExpireStep int
}

// Engine is the flashdrop service: it validates input, reads the clock, and
// lets the Store decide.
type Engine struct {
	store      Store
	clock      Clock
	expireStep int
	ticketKeys sync.Map // drop id -> []byte, nil for a drop that is no draw (draw.go)
}

// New returns an Engine on store.
func New(store Store, opts Options) *Engine {
	e := &Engine{store: store, clock: opts.Clock, expireStep: opts.ExpireStep}
	if e.clock == nil {
		e.clock = SystemClock{}
	}
	if e.expireStep <= 0 {
		e.expireStep = 256
	}
	return e
}

// Now is the engine's current time.
func (e *Engine) Now() time.Time { return e.clock.Now() }

// CreateDrop validates and stores a new drop and returns it as stored;
// see CreateDropOnce for a retried create.
func (e *Engine) CreateDrop(ctx context.Context, d Drop) (Drop, error) {
	d, _, err := e.CreateDropOnce(ctx, d)
	return d, err
}

// CreateDropOnce validates and stores a new drop, safe to retry: if a drop
// with this id and the same configuration exists (an admin whose first
// reply was lost), it returns that drop with created=false; with another
// configuration, a *DropConflictError naming what differs.
func (e *Engine) CreateDropOnce(ctx context.Context, d Drop) (Drop, bool, error) {
	d.CreatedAt = e.clock.Now()
	d.Paused = false
	d = d.Normalize()
	if err := d.Validate(); err != nil {
		return Drop{}, false, err
	}
	d.Secrets, d.SeedHash = nil, ""
	if d.Mode == ModeDraw {
		// The draw's commitment exists from the drop's first moment; a
		// retry's fresh secrets are ignored by the store (draw.go).
		d.Secrets = NewDrawSecrets()
		d.SeedHash = SeedHash(d.Secrets.Seed)
	}
	created, err := e.store.CreateDrop(ctx, d)
	d.Secrets = nil
	if err != nil {
		return Drop{}, false, fmt.Errorf("create drop=%s: %w", d.ID, err)
	}
	if !created {
		stored, err := e.store.Drop(ctx, d.ID)
		return stored, false, err
	}
	return d, true, nil
}

// Drop returns the drop with id.
func (e *Engine) Drop(ctx context.Context, id string) (Drop, error) {
	if err := ValidateDropID(id); err != nil {
		return Drop{}, fmt.Errorf("%w: drop %q", ErrNotFound, id)
	}
	d, err := e.store.Drop(ctx, id)
	return d, wrap("read drop", id, err)
}

// Drops lists every drop, ordered by id.
func (e *Engine) Drops(ctx context.Context) ([]Drop, error) {
	ds, err := e.store.Drops(ctx)
	if err != nil {
		return nil, fmt.Errorf("list drops: %w", err)
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i].ID < ds[j].ID })
	return ds, nil
}

// Pause stops a drop's sale: every reserve answers ErrSalePaused.
func (e *Engine) Pause(ctx context.Context, id string) (Drop, error) {
	return e.setPaused(ctx, id, true)
}

// Resume lifts a pause.
func (e *Engine) Resume(ctx context.Context, id string) (Drop, error) {
	return e.setPaused(ctx, id, false)
}

func (e *Engine) setPaused(ctx context.Context, id string, paused bool) (Drop, error) {
	if err := ValidateDropID(id); err != nil {
		return Drop{}, fmt.Errorf("%w: drop %q", ErrNotFound, id)
	}
	d, err := e.store.SetPaused(ctx, id, paused, e.clock.Now())
	return d, wrap("set paused", id, err)
}

// Register registers user for drop. Registering twice is not an error:
// created is false and the first registration is returned. ref is an
// optional share code to credit (share.go: unknown and own codes credit
// nothing).
func (e *Engine) Register(ctx context.Context, drop, user, ref string) (Registration, bool, error) {
	req, err := e.prepareRegister(ctx, drop, user, ref)
	if err != nil {
		return Registration{}, false, err
	}
	reg, created, err := e.store.Register(ctx, drop, req.User, req.Ref, e.clock.Now())
	return reg, created, wrap("register", drop, err)
}

// prepareRegister checks a registration and resolves its referral code to
// one that may be credited ("" otherwise), everything Register does
// before the store.
func (e *Engine) prepareRegister(ctx context.Context, drop, user, ref string) (RegisterRequest, error) {
	if err := ValidateDropID(drop); err != nil {
		return RegisterRequest{}, fmt.Errorf("%w: drop %q", ErrNotFound, drop)
	}
	if err := ValidateUser(user); err != nil {
		return RegisterRequest{}, err
	}
	if err := ValidateRef(ref); err != nil {
		return RegisterRequest{}, err
	}
	ref, err := e.creditableRef(ctx, user, ref)
	if err != nil {
		return RegisterRequest{}, err
	}
	return RegisterRequest{User: user, Ref: ref}, nil
}

// registerBatch registers prepared requests for one drop in one store
// call (the store is a BatchRegistrar) and answers each in order.
func (e *Engine) registerBatch(ctx context.Context, br BatchRegistrar, drop string, reqs []RegisterRequest) ([]RegisterResult, error) {
	got, err := br.RegisterBatch(ctx, drop, e.clock.Now(), reqs)
	if err != nil {
		return nil, wrap("register", drop, err)
	}
	if len(got) != len(reqs) {
		return nil, fmt.Errorf("engine: store answered %d of %d registrations", len(got), len(reqs))
	}
	for i := range got {
		got[i].Err = wrap("register", drop, got[i].Err)
	}
	return got, nil
}

// Reserve decides one reserve request. Callers under load should gather
// concurrent requests and use ReserveBatch instead.
func (e *Engine) Reserve(ctx context.Context, drop string, req ReserveRequest) (Reservation, error) {
	res, err := e.ReserveBatch(ctx, drop, []ReserveRequest{req})
	if err != nil {
		return Reservation{}, err
	}
	return res[0].Reservation, res[0].Err
}

// ReserveBatch decides many requests for one drop in one store call and
// answers each in order. Invalid requests are answered without reaching the
// store. The error is for the whole batch (the store failed).
func (e *Engine) ReserveBatch(ctx context.Context, drop string, reqs []ReserveRequest) ([]ReserveResult, error) {
	res, _, err := e.reserveWith(ctx, drop, reqs, nil)
	return res, err
}

// reserveWith validates reqs, answers the invalid ones, and has the store
// decide the rest: with so first when given, then, if so declines, with
// ReserveBatch. ok reports that so answered.
func (e *Engine) reserveWith(ctx context.Context, drop string, reqs []ReserveRequest, so SoldOutStore) (_ []ReserveResult, ok bool, _ error) {
	if err := ValidateDropID(drop); err != nil {
		return nil, false, fmt.Errorf("%w: drop %q", ErrNotFound, drop)
	}
	// Nearly every batch is valid throughout: it goes to the store as it
	// is, and the store's answers are the batch's, without the copies
	// below (a result is 200 bytes).
	var out []ReserveResult
	valid, idx := reqs, []int(nil)
	for i, r := range reqs {
		err := validateReserve(r)
		if err == nil {
			if out != nil {
				valid = append(valid, r)
				idx = append(idx, i)
			}
			continue
		}
		if out == nil {
			out = make([]ReserveResult, len(reqs))
			valid = make([]ReserveRequest, 0, len(reqs))
			idx = make([]int, 0, len(reqs))
			for j := range i { // the valid ones before this one
				valid = append(valid, reqs[j])
				idx = append(idx, j)
			}
		}
		out[i].Err = err
	}
	if len(valid) == 0 {
		return out, false, nil
	}
	var got []ReserveResult
	var err error
	if so != nil {
		got, ok, err = so.AnswerSoldOut(ctx, drop, e.clock.Now(), valid)
		if err != nil {
			return nil, false, wrap("reserve", drop, err)
		}
	}
	if !ok {
		if got, err = e.store.ReserveBatch(ctx, drop, e.clock.Now(), valid); err != nil {
			return nil, false, wrap("reserve", drop, err)
		}
	}
	if len(got) != len(valid) {
		return nil, false, fmt.Errorf("engine: store answered %d of %d reserve requests", len(got), len(valid))
	}
	if out == nil {
		return got, ok, nil
	}
	for j, i := range idx {
		out[i] = got[j]
	}
	return out, ok, nil
}

// validateQuantity checks the units one reserve asks for.
func validateQuantity(q int64) error {
	if q < 1 || q > MaxPerUserLimit {
		return invalid("quantity", "must be between 1 and %d", MaxPerUserLimit)
	}
	return nil
}

func validateReserve(r ReserveRequest) error {
	if err := ValidateUser(r.User); err != nil {
		return err
	}
	if err := validateQuantity(r.Quantity); err != nil {
		return err
	}
	if r.IdempotencyKey != "" {
		return ValidateIdempotencyKey(r.IdempotencyKey)
	}
	return nil
}

// Confirm turns a held reservation into a sale. actor is the shopper's id,
// or "" when the shop backend acts as admin.
func (e *Engine) Confirm(ctx context.Context, id, actor string) (Reservation, error) {
	if err := e.checkReservationCall(id, actor); err != nil {
		return Reservation{}, err
	}
	r, err := e.store.Confirm(ctx, id, actor, e.clock.Now())
	return r, wrapReservation("confirm", id, err)
}

// Cancel releases a held reservation's units (to the waitlist first).
func (e *Engine) Cancel(ctx context.Context, id, actor string) (Reservation, error) {
	if err := e.checkReservationCall(id, actor); err != nil {
		return Reservation{}, err
	}
	r, err := e.store.Cancel(ctx, id, actor, e.clock.Now())
	return r, wrapReservation("cancel", id, err)
}

// Reservation returns a reservation if actor ("" for admin) may see it.
func (e *Engine) Reservation(ctx context.Context, id, actor string) (Reservation, error) {
	if err := e.checkReservationCall(id, actor); err != nil {
		return Reservation{}, err
	}
	r, err := e.store.Reservation(ctx, id)
	if err != nil {
		return Reservation{}, wrapReservation("read", id, err)
	}
	if actor != "" && r.User != actor {
		return Reservation{}, ErrForbidden
	}
	return r, nil
}

func (e *Engine) checkReservationCall(id, actor string) error {
	if _, err := SplitReservationID(id); err != nil {
		// A malformed id cannot exist: answer as the store would.
		return fmt.Errorf("%w: reservation %q", ErrNotFound, id)
	}
	if actor != "" {
		return ValidateUser(actor)
	}
	return nil
}

// swept is what one sweep of one drop did and found.
type swept struct {
	expired int
	// next is the earliest deadline of the holds left (zero if none).
	next time.Time
	// waitlistEnded: the sale had ended and every shopper still waiting
	// was told so.
	waitlistEnded bool
}

// sweepDrop is one sweep of one drop: an expiry step and, once its sale
// has ended, the end of its waitlist.
func (e *Engine) sweepDrop(ctx context.Context, drop string, now time.Time, ended bool) (swept, error) {
	var sw swept
	var err error
	sw.expired, sw.next, err = e.store.ExpireDue(ctx, drop, now, e.expireStep)
	if err != nil {
		return sw, fmt.Errorf("expire drop=%s: %w", drop, err)
	}
	if !ended {
		return sw, nil
	}
	// Released units of an ended sale go back to stock, never down the
	// waitlist, so ending the waitlist before every hold has expired is
	// fine. A long waitlist ends in bounded steps, several per sweep.
	for step := 0; step < 64 && ctx.Err() == nil; step++ {
		done, err := e.store.EndWaitlist(ctx, drop, now, e.expireStep)
		if err != nil {
			return sw, fmt.Errorf("end waitlist drop=%s: %w", drop, err)
		}
		if done < e.expireStep {
			sw.waitlistEnded = true
			break
		}
	}
	return sw, nil
}

// ExpireDrop is one sweep of a single drop: at most ExpireStep holds
// whose deadline has passed, and, after its sale, the end of its waitlist
// (the store checks the end). A Sweeper does this for every drop whose
// holds can be due.
func (e *Engine) ExpireDrop(ctx context.Context, drop string) (int, error) {
	if err := ValidateDropID(drop); err != nil {
		return 0, fmt.Errorf("%w: drop %q", ErrNotFound, drop)
	}
	sw, err := e.sweepDrop(ctx, drop, e.clock.Now(), true)
	return sw.expired, err
}

// ShopperView returns what user sees of drop (SPEC §4 `me`).
func (e *Engine) ShopperView(ctx context.Context, drop, user string) (ShopperView, error) {
	return e.viewWith(ctx, drop, user, func() (ShopperView, error) { return e.store.ShopperView(ctx, drop, user) })
}

// viewWith checks the request, reads the store's view of user with read
// (one store call, or Admission's lane), and adds the draw ticket, which
// is derived, not stored.
func (e *Engine) viewWith(ctx context.Context, drop, user string, read func() (ShopperView, error)) (ShopperView, error) {
	if err := ValidateDropID(drop); err != nil {
		return ShopperView{}, fmt.Errorf("%w: drop %q", ErrNotFound, drop)
	}
	if err := ValidateUser(user); err != nil {
		return ShopperView{}, err
	}
	v, err := read()
	if err != nil || !v.Registered {
		return v, wrap("shopper view", drop, err)
	}
	v.Ticket, err = e.ticketOf(ctx, drop, user)
	return v, wrap("ticket", drop, err)
}

// WaitlistPosition returns user's 1-based waitlist position for drop, or
// ok=false when they are not on it.
func (e *Engine) WaitlistPosition(ctx context.Context, drop, user string) (pos int64, ok bool, err error) {
	v, err := e.ShopperView(ctx, drop, user)
	if err != nil || v.WaitlistPosition == nil {
		return 0, false, err
	}
	return *v.WaitlistPosition, true, nil
}

// Stats returns a drop's counters.
func (e *Engine) Stats(ctx context.Context, drop string) (Stats, error) {
	if err := ValidateDropID(drop); err != nil {
		return Stats{}, fmt.Errorf("%w: drop %q", ErrNotFound, drop)
	}
	st, err := e.store.Stats(ctx, drop)
	if !st.NextExpiry.IsZero() {
		if late := e.clock.Now().Sub(st.NextExpiry); late >= time.Second {
			st.ExpiriesOverdue = int64(late / time.Second)
		}
		st.NextExpiry = time.Time{}
	}
	return st, wrap("stats", drop, err)
}

// SoldOutNow reads from the store whether every reserve press of drop
// would be answered sold_out: the sale is running (open, not paused, not
// ended, not a draw) and has no stock. version is that news's version
// (Stats.SoldOutVersion), for the nodes' sold-out flags.
//
// A drop without stock whose sale is halted (paused, before its start,
// past its end, or a draw) is not sold out in this sense: its presses
// must get sale_paused, sale_not_open or sale_closed from the store.
// halted says so, with the version the store holds, so that a flag can
// tell old news (that version or older) from a resumed sale's.
func (e *Engine) SoldOutNow(ctx context.Context, drop string) (soldOut, halted bool, version int64, err error) {
	d, err := e.Drop(ctx, drop)
	if err != nil {
		return false, false, 0, err
	}
	st, err := e.Stats(ctx, drop)
	if err != nil {
		return false, false, 0, err
	}
	if st.Available > 0 {
		return false, false, st.SoldOutVersion, nil
	}
	if d.Paused || d.Mode == ModeDraw || d.State(e.clock.Now(), st.Available) != StateSoldOut {
		return false, true, st.SoldOutVersion, nil
	}
	return true, false, st.SoldOutVersion, nil
}

// wrap names the operation and drop of a store error, so a log line says
// what failed; errors.Is still sees the cause.
func wrap(op, drop string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s drop=%s: %w", op, drop, err)
}

// wrapReservation is wrap for operations on one reservation.
func wrapReservation(op, id string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s reservation=%s: %w", op, id, err)
}
