package engine

import (
	"context"
	"time"
)

// Store keeps drops and decides every state change atomically. All
// methods take "now" from the caller, so time is the Engine's Clock's.
//
// Implementations must guarantee the invariants of SPEC §3 on their own:
// many Engines on many nodes share one Store. Each state-changing method
// appends its events to the drop's outbox in the same atomic step.
// Errors are the engine's sentinels (or wrap them) for known outcomes.
type Store interface {
	// ShareStore finds wins by share code and counts referrals (share.go).
	ShareStore

	// CreateDrop stores a new, validated drop with its full stock and
	// reports created. If a drop with this id exists with the same
	// configuration (a retried create) it reports created=false and no
	// error; with another configuration, a *DropConflictError.
	CreateDrop(ctx context.Context, d Drop) (created bool, err error)
	// Drop returns one drop. ErrNotFound if missing.
	Drop(ctx context.Context, id string) (Drop, error)
	// Drops returns every drop, ordered by id.
	Drops(ctx context.Context) ([]Drop, error)
	// SetPaused pauses or resumes a drop's sale at now and returns the
	// drop. Resuming promotes down the waitlist the units released while
	// paused (Stats.Owed).
	SetPaused(ctx context.Context, id string, paused bool, now time.Time) (Drop, error)

	// Register registers user for drop at now, crediting ref if the
	// registration is new. created is false for a repeat.
	Register(ctx context.Context, drop, user, ref string, now time.Time) (reg Registration, created bool, err error)

	// ReserveBatch decides many reserve requests for one drop in one
	// atomic step, in order, and answers each. The error is for the batch
	// as a whole (the store is unreachable); per-request outcomes are in
	// the results, one per request.
	ReserveBatch(ctx context.Context, drop string, now time.Time, reqs []ReserveRequest) ([]ReserveResult, error)

	// Confirm turns a hold into a sale. actor is the shopper's id, or ""
	// for an admin. Confirming a confirmed reservation is a no-op.
	Confirm(ctx context.Context, id, actor string, now time.Time) (Reservation, error)
	// Cancel releases a hold. Cancelling a cancelled one is a no-op.
	Cancel(ctx context.Context, id, actor string, now time.Time) (Reservation, error)
	// Reservation returns a reservation by id. ErrNotFound if missing.
	Reservation(ctx context.Context, id string) (Reservation, error)
	// ExpireDue expires up to limit holds of drop whose deadline is at or
	// before now, and returns how many it expired and the earliest
	// deadline of the holds left (zero when none is left), read in the
	// same atomic step.
	ExpireDue(ctx context.Context, drop string, now time.Time, limit int) (expired int, next time.Time, err error)
	// EndWaitlist, once drop's sale has ended at now, tells up to limit
	// shoppers still on its waitlist that their wait ended (an
	// EventWaitlistEnded each; their view says so) and returns how many.
	// Before the end of the sale it does nothing.
	EndWaitlist(ctx context.Context, drop string, now time.Time, limit int) (int, error)

	// ShopperView returns what user sees of drop.
	ShopperView(ctx context.Context, drop, user string) (ShopperView, error)
	// Stats returns the drop's counters, read atomically.
	Stats(ctx context.Context, drop string) (Stats, error)
}

// ReserveRequest is one shopper's press of Buy.
type ReserveRequest struct {
	User     string
	Quantity int64
	// Waitlist asks to join the waitlist if the drop is sold out.
	Waitlist bool
	// IdempotencyKey, if set, makes a retry return the first answer.
	IdempotencyKey string
}

// ReserveResult answers one ReserveRequest: a won Reservation, or Err.
type ReserveResult struct {
	Reservation Reservation
	// Replayed is true when the answer was stored under the request's
	// idempotency key by an earlier request.
	Replayed bool
	Err      error
	// SoldOutVersion, when not 0, says that the store call which decided
	// this request left the drop's sale without stock, and is the version
	// of that news (the sold_out event's data.version). Every result of
	// the call carries it: the node that made the call may flag the drop
	// sold out at once, before the event reaches it.
	SoldOutVersion int64
}

// RegisterRequest is one shopper's registration, for BatchRegistrar.
type RegisterRequest struct {
	User string
	// Ref is a share code the engine checked to be creditable, or "".
	Ref string
}

// RegisterResult answers one RegisterRequest.
type RegisterResult struct {
	Registration Registration
	Created      bool
	Err          error
}

// BatchRegistrar is a Store that registers many shoppers for one drop in
// one atomic step, in order, each with Store.Register's rules. Admission
// gathers concurrent registrations into such calls when the store offers
// it. The error is for the batch as a whole (the store is unreachable);
// per-request outcomes are in the results, one per request.
type BatchRegistrar interface {
	RegisterBatch(ctx context.Context, drop string, now time.Time, reqs []RegisterRequest) ([]RegisterResult, error)
}

// DropIndex is a Store that lists drop ids apart from the drops, so a
// DropList reads each drop once rather than every drop on every refresh
// (the drops of past weeks pile up).
type DropIndex interface {
	// DropIDs lists every drop's id, in any order.
	DropIDs(ctx context.Context) ([]string, error)
	// DropsByID reads the drops of ids, leaving out those that do not
	// exist, in ids' order.
	DropsByID(ctx context.Context, ids []string) ([]Drop, error)
}

// BatchViewer is a Store that reads many shoppers' views of one drop in
// one call, each as Store.ShopperView would. Admission gathers concurrent
// views into such calls when the store offers them: a shopper's page asks
// for her view when it opens and, while she waits on the waitlist,
// whenever units were released, and one round trip each was most of what
// serving a view cost.
type BatchViewer interface {
	ShopperViews(ctx context.Context, drop string, users []string) ([]ShopperView, error)
}

// SoldOutStore is a Store that answers keyed reserve requests for a drop
// whose stock is gone more cheaply than ReserveBatch, with the answer
// ReserveBatch would give: the one already stored under the request's
// idempotency key, else not_registered, or limit_reached or sold_out
// stored under the key for its replays (I5). Admission sends it the
// keyed presses that arrive once the drop's sold-out flag is up: the
// shopper page puts a key on every press, so after a sell-out these are
// most of a release-day crowd. ok is false, with nothing written, when
// the store finds the drop is not a running sale without stock (a
// restock the flag has not heard of, a pause, a closed sale, a draw);
// the requests then go to ReserveBatch. Every request carries a key.
type SoldOutStore interface {
	AnswerSoldOut(ctx context.Context, drop string, now time.Time, reqs []ReserveRequest) (res []ReserveResult, ok bool, err error)
}

// ReservationLister is a Store that pages through a drop's reservations,
// for the shop's fulfilment and reconciliation: a won event can be missed
// (a webhook that gave up, an integration that was down past the stream's
// retention), the reservations cannot.
type ReservationLister interface {
	// ReservationPage reads about n of drop's reservations from cursor
	// ("" for the first page), in no particular order, and returns the
	// cursor of the next page ("" after the last). Every reservation that
	// exists from the first page to the last comes at least once; one may
	// come twice. ErrNotFound if the drop does not exist; a cursor the
	// store did not give is a *ValidationError on "cursor".
	ReservationPage(ctx context.Context, drop, cursor string, n int) ([]Reservation, string, error)
}
