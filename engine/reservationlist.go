package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Bounds of a page of ListReservations.
const (
	DefaultReservationPage = 100
	MaxReservationPage     = 1000
)

// ReservationQuery asks for one page of a drop's reservations.
type ReservationQuery struct {
	// Cursor is the NextCursor of the page before ("" for the first).
	Cursor string
	// Limit is how many reservations the page aims at (0: the default).
	Limit int
	// Statuses keeps only reservations in one of them (none: every one).
	Statuses []Status
}

// ReservationPage is one page of a drop's reservations.
type ReservationPage struct {
	Reservations []Reservation `json:"reservations"`
	// NextCursor asks for the next page; it is empty after the last. A
	// page may hold fewer reservations than the limit, none even, before
	// the last: only an empty NextCursor says the list is done.
	NextCursor string `json:"next_cursor,omitempty"`
}

// ErrListUnsupported means the store cannot list reservations.
var ErrListUnsupported = errors.New("engine: this store cannot list reservations")

// listCalls bounds the store calls of one page, so a filter that few
// reservations pass (the confirmed ones of a drop of cancellations)
// answers in bounded time with a cursor to go on from.
const listCalls = 16

// ListReservations returns one page of drop's reservations, about
// q.Limit of them, the page ordered by when they were won (pages are not:
// the store walks its table in its own order). Across pages every
// reservation that exists from the first to the last comes at least
// once; one may come twice (the store walks a table Redis may resize), so
// a caller that counts keys them by id.
func (e *Engine) ListReservations(ctx context.Context, drop string, q ReservationQuery) (ReservationPage, error) {
	if err := ValidateDropID(drop); err != nil {
		return ReservationPage{}, fmt.Errorf("%w: drop %q", ErrNotFound, drop)
	}
	if q.Limit == 0 {
		q.Limit = DefaultReservationPage
	}
	if q.Limit < 1 || q.Limit > MaxReservationPage {
		return ReservationPage{}, invalid("limit", "must be between 1 and %d", MaxReservationPage)
	}
	for _, st := range q.Statuses {
		if !st.valid() {
			return ReservationPage{}, invalid("status", "must be held, confirmed, cancelled or expired (comma-separated), not %q", string(st))
		}
	}
	if len(q.Cursor) > 64 {
		return ReservationPage{}, invalid("cursor", "is not a cursor this API gave")
	}
	lister, ok := e.store.(ReservationLister)
	if !ok {
		return ReservationPage{}, ErrListUnsupported
	}
	page := ReservationPage{Reservations: []Reservation{}}
	seen := map[string]bool{}
	cursor := q.Cursor
	for calls := 0; calls < listCalls; calls++ {
		rs, next, err := lister.ReservationPage(ctx, drop, cursor, q.Limit)
		if err != nil {
			return ReservationPage{}, wrap("list reservations", drop, err)
		}
		for _, r := range rs {
			if seen[r.ID] || (len(q.Statuses) > 0 && !slices.Contains(q.Statuses, r.Status)) {
				continue
			}
			seen[r.ID] = true
			page.Reservations = append(page.Reservations, r)
		}
		cursor = next
		if cursor == "" || len(page.Reservations) >= q.Limit {
			break
		}
	}
	page.NextCursor = cursor
	slices.SortFunc(page.Reservations, func(a, b Reservation) int {
		if c := a.WonAt.Compare(b.WonAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return page, nil
}

// ParseStatuses reads a comma-separated list of statuses ("" for none).
func ParseStatuses(s string) []Status {
	if s == "" {
		return nil
	}
	var out []Status
	for _, f := range strings.Split(s, ",") {
		out = append(out, Status(strings.TrimSpace(f)))
	}
	return out
}

// valid reports whether s is a status a reservation can be in.
func (s Status) valid() bool {
	switch s {
	case StatusHeld, StatusConfirmed, StatusCancelled, StatusExpired:
		return true
	}
	return false
}
