package engine

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"
)

// Share codes and referrals (SPEC §2 "Share and referral").
//
// Every win gets a share code "<drop>.<own>", where own is 20 lowercase hex
// digits (80 bits) derived from a per-call secret, so codes cannot be
// guessed. Like a reservation id, the code carries its drop: a lookup by
// code alone reaches the drop's keys (one cluster slot), where the store
// keeps the code's index, written in the same atomic step as the win.
//
// A referral is a registration that names a share code, usually of an
// earlier drop (the card links to the next drop of the series). The engine
// checks the code in Go, in the code's own drop, before the registering
// drop's store call credits it: an unknown code, or the registrant's own,
// credits nothing and is not an error; the store credits a code once per
// new registrant. Nothing about referrals reaches the decisions of a sale:
// registrations are stored the same with or without one.

// ShareCodeSeparator splits a share code into its drop id and its own part.
const ShareCodeSeparator = "."

// Share code own parts: at least 16 hex digits (64 bits), at most
// MaxShareOwnLen.
const (
	MinShareOwnLen = 16
	MaxShareOwnLen = 64
)

// SplitShareCode returns the drop id of a share code, or an error if the
// code is not one the engine could have made.
func SplitShareCode(code string) (drop string, err error) {
	i := strings.LastIndex(code, ShareCodeSeparator)
	if i < 0 {
		return "", invalid("code", "malformed share code")
	}
	drop, own := code[:i], code[i+1:]
	if ValidateDropID(drop) != nil || len(own) < MinShareOwnLen || len(own) > MaxShareOwnLen {
		return "", invalid("code", "malformed share code")
	}
	for i := 0; i < len(own); i++ {
		if c := own[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return "", invalid("code", "malformed share code")
		}
	}
	return drop, nil
}

// ShareStore is what the Store keeps for share codes and referrals.
type ShareStore interface {
	// ReservationByShareCode returns the reservation whose win a share
	// code announces. ErrNotFound if there is none.
	ReservationByShareCode(ctx context.Context, code string) (Reservation, error)
	// TopReferrals returns up to n of drop's credited codes, the most
	// credited first (ties by code).
	TopReferrals(ctx context.Context, drop string, n int) ([]ReferralCount, error)
}

// ReferralCount is how many new registrants of a drop a share code brought.
type ReferralCount struct {
	Code      string `json:"code"`
	Referrals int64  `json:"referrals"`
}

// MaxTopReferrals bounds TopReferrals.
const MaxTopReferrals = 1000

// ShareCard is what a share card shows of a win: never who won.
type ShareCard struct {
	Code string
	// Drop is the drop the win was in.
	Drop     Drop
	Quantity int64
	WonAt    time.Time
	// SecondsAfterStart is how long after the sale start the win came.
	SecondsAfterStart float64
	// ByDraw is true for a drop in draw mode: won in the draw, not by
	// speed.
	ByDraw bool
	// FromWaitlist is true for a hold that came from the waitlist.
	FromWaitlist bool
	// Confirmed is true once the win is a sale: only then is it final (a
	// hold may still be given back, and its card then goes).
	Confirmed bool
	// Next is the drop the card invites friends to register for: the next
	// drop of the series whose registration has not closed, or Drop
	// itself when there is none.
	Next Drop
}

// ErrWinGivenBack is the ErrNotFound of a share code whose win was given
// back (cancelled, or its hold expired): its unit went back to the sale,
// so a card saying "won" would not be true, and a win taken and dropped
// again at once must not be a way to mint cards and referral codes.
var ErrWinGivenBack = errors.New("engine: the win was given back")

// givenBack says whether r's units went back to the sale.
func givenBack(r Reservation) bool {
	return r.Status == StatusCancelled || r.Status == StatusExpired
}

// ShareCard returns the card of a share code. ErrNotFound for a code
// that is malformed or names no win (wrapping ErrWinGivenBack for a win
// given back).
func (e *Engine) ShareCard(ctx context.Context, code string) (ShareCard, error) {
	if _, err := SplitShareCode(code); err != nil {
		return ShareCard{}, fmt.Errorf("%w: share code", ErrNotFound)
	}
	r, err := e.store.ReservationByShareCode(ctx, code)
	if err != nil {
		return ShareCard{}, fmt.Errorf("share card: %w", err)
	}
	d, err := e.store.Drop(ctx, r.Drop)
	if err != nil {
		return ShareCard{}, wrap("share card", r.Drop, err)
	}
	if d.Rehearsal {
		// Nobody real won: a card would be a made-up win to post.
		return ShareCard{}, &DetailError{Err: ErrNotFound, Detail: "a rehearsal's win has no share card"}
	}
	if givenBack(r) {
		return ShareCard{}, &DetailError{Err: fmt.Errorf("%w: %w", ErrNotFound, ErrWinGivenBack),
			Detail: "the win was given back (" + string(r.Status) + "), so it has no share card"}
	}
	c := ShareCard{Code: code, Drop: d, Quantity: r.Quantity, WonAt: r.WonAt,
		ByDraw: d.Mode == ModeDraw, FromWaitlist: r.FromWaitlist, Confirmed: r.Status == StatusConfirmed, Next: d}
	if r.WonAt.After(d.SaleStartsAt) {
		c.SecondsAfterStart = r.WonAt.Sub(d.SaleStartsAt).Seconds()
	}
	if next, ok, err := e.nextInSeries(ctx, d); err != nil {
		return ShareCard{}, err
	} else if ok {
		c.Next = next
	}
	return c, nil
}

// seriesDropID is SPEC §2's id of a series' weekly drop: <series>-<YYYY-MM-DD>.
var seriesDropID = regexp.MustCompile(`^(.+)-\d{4}-\d{2}-\d{2}$`)

// nextInSeries finds, for a drop of a weekly series, the series' drop with
// the earliest sale whose registration has not closed yet (possibly d
// itself), once it exists. A drop outside any series has none.
func (e *Engine) nextInSeries(ctx context.Context, d Drop) (Drop, bool, error) {
	if d.Series != "" {
		// A scheduler-made drop: its series knows the next one. During
		// a sale that is the week after's (the scheduler makes it when
		// registration closes).
		// The drop alone: NextSeriesDrop would read it, and its stats
		// for a state the card does not show, and the card read it again.
		s, err := e.Series(ctx, d.Series)
		switch {
		case errors.Is(err, ErrNotFound):
			return Drop{}, false, nil // the series was deleted since
		case err != nil:
			return Drop{}, false, fmt.Errorf("next drop of series=%s: %w", d.Series, err)
		}
		now := e.clock.Now()
		id := s.DropID(s.Upcoming(now))
		nd, err := e.store.Drop(ctx, id)
		switch {
		case errors.Is(err, ErrNotFound):
			return Drop{}, false, nil // not made yet
		case err != nil:
			return Drop{}, false, wrap("next drop", id, err)
		}
		return nd, now.Before(nd.RegistrationClosesAt), nil
	}
	// A drop made by hand under the series id convention (SPEC §2): its
	// siblings are the drops sharing the prefix.
	m := seriesDropID.FindStringSubmatch(d.ID)
	if m == nil {
		return Drop{}, false, nil
	}
	ds, err := e.store.Drops(ctx)
	if err != nil {
		return Drop{}, false, fmt.Errorf("list drops: %w", err)
	}
	now := e.clock.Now()
	var best Drop
	found := false
	for _, o := range ds {
		om := seriesDropID.FindStringSubmatch(o.ID)
		if om == nil || om[1] != m[1] || !now.Before(o.RegistrationClosesAt) || o.Rehearsal {
			continue // a rehearsal named like a sibling is no drop to invite friends to
		}
		if !found || o.SaleStartsAt.Before(best.SaleStartsAt) {
			best, found = o, true
		}
	}
	return best, found, nil
}

// creditableRef returns ref if registering user for a drop may credit it,
// else "": the code must name a win that was not given back (a win taken
// and cancelled at once would otherwise mint referral codes for nothing
// bought), and not one of user's own. Only a
// store failure is an error (the client retries; nothing is lost).
func (e *Engine) creditableRef(ctx context.Context, user, ref string) (string, error) {
	if ref == "" {
		return "", nil
	}
	if _, err := SplitShareCode(ref); err != nil {
		return "", nil // not a code the engine made: unknown
	}
	r, err := e.store.ReservationByShareCode(ctx, ref)
	switch {
	case errors.Is(err, ErrNotFound):
		return "", nil
	case err != nil:
		return "", fmt.Errorf("check referral code: %w", err)
	case r.User == user:
		return "", nil // self-referral
	case givenBack(r):
		return "", nil
	}
	return ref, nil
}

// TopReferrals returns drop's share codes that brought the most new
// registrants, at most n (1..MaxTopReferrals), the most first.
func (e *Engine) TopReferrals(ctx context.Context, drop string, n int) ([]ReferralCount, error) {
	if err := ValidateDropID(drop); err != nil {
		return nil, fmt.Errorf("%w: drop %q", ErrNotFound, drop)
	}
	if n < 1 || n > MaxTopReferrals {
		return nil, invalid("limit", "must be between 1 and %d", MaxTopReferrals)
	}
	if _, err := e.store.Drop(ctx, drop); err != nil {
		return nil, wrap("top referrals", drop, err)
	}
	top, err := e.store.TopReferrals(ctx, drop, n)
	if err != nil {
		return nil, wrap("top referrals", drop, err)
	}
	sort.SliceStable(top, func(i, j int) bool {
		if top[i].Referrals != top[j].Referrals {
			return top[i].Referrals > top[j].Referrals
		}
		return top[i].Code < top[j].Code
	})
	return top, nil
}
