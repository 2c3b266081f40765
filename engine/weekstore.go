package engine

import (
	"context"
	"time"
)

// WeekStore is what series, draws and the sale's own announcements need
// of the store, beside Store. It is a separate interface so that stores
// without it (test stubs) still serve everything else; Store
// implementations for production implement both.
//
// Every state-changing method takes effect at most once per call and
// answers once, whatever the client library retries, and many nodes may
// call it at once: each says below how.
type WeekStore interface {
	// CreateSeries stores a new, validated series and reports created.
	// If one with this id exists it stores nothing and reports
	// created=false (the engine compares the two).
	CreateSeries(ctx context.Context, s Series) (created bool, err error)
	// Series returns one series. ErrNotFound if missing.
	Series(ctx context.Context, id string) (Series, error)
	// SeriesList returns every series, ordered by id.
	SeriesList(ctx context.Context) ([]Series, error)
	// DeleteSeries removes a series (ErrNotFound if missing); its drops
	// stay.
	DeleteSeries(ctx context.Context, id string) error
	// AddSeriesDrop records that drop is the series' drop selling at
	// saleStartsAt. Repeating it changes nothing.
	AddSeriesDrop(ctx context.Context, series, drop string, saleStartsAt time.Time) error
	// PreviousSeriesDrop is the series' latest recorded drop selling
	// before the given time, or "" if none.
	PreviousSeriesDrop(ctx context.Context, series string, before time.Time) (string, error)

	// Registrants returns about n registrants of drop from cursor ("" to
	// begin) and the cursor to go on from ("" at the end). A registrant
	// may come twice in one walk; callers deduplicate.
	Registrants(ctx context.Context, drop, cursor string, n int) (users []string, next string, err error)

	// DrawSecrets returns a draw drop's secrets, nil for another drop.
	DrawSecrets(ctx context.Context, drop string) (*DrawSecrets, error)
	// DrawState returns where drop's draw is; the seed only once drawn.
	DrawState(ctx context.Context, drop string) (DrawState, error)
	// FreezeDraw closes registration for good once it has closed at now
	// (a node whose clock is behind can no longer register anyone), so
	// the registrant list stays as it is. Repeating it changes nothing.
	FreezeDraw(ctx context.Context, drop string, now time.Time) error
	// SealDraw records the frozen list's digest and size, once: a later
	// call returns the state the first one left, whatever it passes.
	SealDraw(ctx context.Context, drop, digest string, registrants int64) (DrawState, error)
	// TakeDrawLease gives owner the right to run drop's draw until
	// now+ttl, if no other owner holds it at now. The holder renews it
	// the same way. It only saves work: DrawStep is safe without it.
	TakeDrawLease(ctx context.Context, drop, owner string, now time.Time, ttl time.Duration) (bool, error)
	// DrawStep applies entries, the registrants at rank start, start+1,
	// … of the drawn order: holds for winners, the waitlist for the rest,
	// and after the last one the drawn event. It applies them only if
	// the draw is at start (else it changes nothing, so a repeat or a
	// race with another node is harmless) and returns the state after.
	// ErrSaleNotOpen before the sale, ErrSalePaused while paused.
	DrawStep(ctx context.Context, drop string, now time.Time, start int64, entries []DrawEntry) (DrawState, error)
	// DrawOrder returns up to limit tickets of the drawn order from
	// offset.
	DrawOrder(ctx context.Context, drop string, offset, limit int64) ([]string, error)

	// Announce emits the drop's event for moment once, by whichever node
	// comes first once the moment has come; it reports whether this call
	// emitted it. A moment more than grace old is marked done without an
	// event (a drop older than this feature, or a long outage).
	Announce(ctx context.Context, drop string, moment Moment, now time.Time, grace time.Duration) (bool, error)
	// FanOutState returns how far a fan-out of kind to drop's audience is.
	FanOutState(ctx context.Context, drop string, kind EventType) (FanOutState, error)
	// FanOut emits one batch of a fan-out: an event of kind for each
	// user in step that has not had one for this drop yet. It applies the
	// batch only if the fan-out's cursor is step.Expect, and returns the
	// state after.
	FanOut(ctx context.Context, drop string, kind EventType, now time.Time, step FanOutStep) (FanOutState, error)
}

// Moment is a point in a drop's life that is announced once.
type Moment string

// Moments and the event each one emits.
const (
	MomentCreated Moment = "created" // drop_created (series drops)
	MomentOpened  Moment = "opened"  // sale_opened, at sale_starts_at
	MomentClosed  Moment = "closed"  // sale_closed, at sale_ends_at
)

// FanOutState is how far a fan-out is. A fan-out walks the audience in
// passes; a pass is final when it started once the audience could no
// longer grow, and the fan-out is done when its final pass is.
type FanOutState struct {
	// Cursor is where the pass in progress goes on ("" if none is).
	Cursor string
	// InPass is true while a pass is in progress; Final when it is the
	// final one.
	InPass, Final bool
	// Passes counts the non-final passes completed.
	Passes int64
	Done   bool
}

// FanOutStep is one batch of a fan-out.
type FanOutStep struct {
	// Expect is the cursor the batch starts at ("" starts a pass); Next
	// is where the next batch starts.
	Expect, Next string
	// Last ends the pass; Final (read at a pass's first batch) makes it
	// the final pass.
	Last, Final bool
	Users       []string
}
