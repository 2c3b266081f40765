package redisstore_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/flashdrop/flashdrop/engine"
)

// TestListReservations: a drop's reservations come page by page, each
// exactly as a read by id gives it, every one of them across the pages
// (a drop of 300, more than Redis keeps in one small table, so its walk
// really pages), a status filter keeps only those in it, a small drop
// comes in one page, and a cursor the store did not give or a missing
// drop are refused. On every backend, the legacy layout of one hash per
// reservation (a walk of the keyspace) among them.
func TestListReservations(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f *fixture) {
		const n = 300
		d := f.newDrop(t, n, 1)
		users := make([]string, n)
		for i := range users {
			users[i] = fmt.Sprintf("shopper-%03d", i)
		}
		f.register(t, d.ID, users...)
		f.clock.Set(t0)
		want := map[string]engine.Status{}
		for i, u := range users {
			r, err := f.eng.Reserve(ctx(t), d.ID, engine.ReserveRequest{User: u, Quantity: 1})
			if err != nil {
				t.Fatalf("reserve %s: %v", u, err)
			}
			want[r.ID] = engine.StatusHeld
			switch {
			case i%3 == 0:
				if _, err := f.eng.Confirm(ctx(t), r.ID, ""); err != nil {
					t.Fatal(err)
				}
				want[r.ID] = engine.StatusConfirmed
			case i%7 == 0:
				if _, err := f.eng.Cancel(ctx(t), r.ID, ""); err != nil {
					t.Fatal(err)
				}
				want[r.ID] = engine.StatusCancelled
			}
		}
		// all walks every page with q and returns what came, by id, and how
		// many pages it took.
		all := func(q engine.ReservationQuery) (map[string]engine.Reservation, int) {
			t.Helper()
			got := map[string]engine.Reservation{}
			pages := 0
			for {
				p, err := f.eng.ListReservations(ctx(t), d.ID, q)
				if err != nil {
					t.Fatalf("page %d: %v", pages, err)
				}
				pages++
				for i, r := range p.Reservations {
					if i > 0 && r.WonAt.Before(p.Reservations[i-1].WonAt) {
						t.Fatalf("page %d is not in the order of won_at", pages)
					}
					got[r.ID] = r
				}
				if p.NextCursor == "" {
					return got, pages
				}
				if pages > 2*n {
					t.Fatal("the pages never end")
				}
				q.Cursor = p.NextCursor
			}
		}
		got, pages := all(engine.ReservationQuery{Limit: 40})
		if len(got) != n {
			t.Fatalf("%d reservations listed, want %d", len(got), n)
		}
		// miniredis answers HSCAN whole, whatever its COUNT.
		if pages < 2 && f.name != "miniredis" {
			t.Errorf("%d reservations came in %d page at a limit of 40", n, pages)
		}
		for id, st := range want {
			r, ok := got[id]
			if !ok || r.Status != st {
				t.Fatalf("%s: listed %v (%+v), want %s", id, ok, r, st)
			}
			one, err := f.eng.Reservation(ctx(t), id, "")
			if err != nil || one != r {
				t.Fatalf("%s listed %+v, read by id %+v (%v)", id, r, one, err)
			}
		}
		confirmed, _ := all(engine.ReservationQuery{Statuses: []engine.Status{engine.StatusConfirmed}})
		settled, _ := all(engine.ReservationQuery{Statuses: []engine.Status{engine.StatusConfirmed, engine.StatusCancelled}})
		var nConfirmed, nSettled int
		for _, st := range want {
			if st == engine.StatusConfirmed {
				nConfirmed++
			}
			if st != engine.StatusHeld {
				nSettled++
			}
		}
		if len(confirmed) != nConfirmed || len(settled) != nSettled {
			t.Fatalf("filtered: %d confirmed (want %d), %d confirmed or cancelled (want %d)", len(confirmed), nConfirmed, len(settled), nSettled)
		}
		for id, r := range confirmed {
			if want[id] != engine.StatusConfirmed || r.Status != engine.StatusConfirmed {
				t.Fatalf("status=confirmed gave %+v", r)
			}
		}

		small := f.newDrop(t, 5, 1)
		f.register(t, small.ID, "alice", "bob")
		f.clock.Set(t0)
		for _, u := range []string{"alice", "bob"} {
			if _, err := f.eng.Reserve(ctx(t), small.ID, engine.ReserveRequest{User: u, Quantity: 1}); err != nil {
				t.Fatal(err)
			}
		}
		// Its one small table comes whole; the legacy layout's walk of the
		// keyspace (a shared server's, here) may take more pages.
		if f.name != "redis-onehash" {
			p, err := f.eng.ListReservations(ctx(t), small.ID, engine.ReservationQuery{})
			if err != nil || len(p.Reservations) != 2 || p.NextCursor != "" {
				t.Fatalf("a drop of 2 reservations: %+v, %v", p, err)
			}
		}
		d = small
		if got, _ := all(engine.ReservationQuery{}); len(got) != 2 {
			t.Fatalf("a drop of 2 reservations: %d listed", len(got))
		}
		var ve *engine.ValidationError
		if _, err := f.eng.ListReservations(ctx(t), small.ID, engine.ReservationQuery{Cursor: "not-a-cursor"}); !errors.As(err, &ve) || ve.Field != "cursor" {
			t.Errorf("a made-up cursor: %v", err)
		}
		if _, err := f.eng.ListReservations(ctx(t), small.ID, engine.ReservationQuery{Statuses: []engine.Status{"won"}}); !errors.As(err, &ve) || ve.Field != "status" {
			t.Errorf("an unknown status: %v", err)
		}
		if _, err := f.eng.ListReservations(ctx(t), "no-such-"+d.ID, engine.ReservationQuery{}); !errors.Is(err, engine.ErrNotFound) {
			t.Errorf("a missing drop: %v", err)
		}
	})
}
