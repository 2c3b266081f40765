package redisstore_test

import (
	"errors"
	"testing"
	"time"

	"github.com/flashdrop/flashdrop/engine"
)

// TestNoRestockedAfterSaleEnd: units released after the sale has ended go
// back to stock, but no restocked event announces them (a closed sale
// does not reopen) and the sold-out version stays with the last news.
// Every path that returns units is taken: a cancel, an expiry, and units
// owed to the waitlist from a pause, handed back by the sweep after the
// end and by a resume after the end.
func TestNoRestockedAfterSaleEnd(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f *fixture) {
		d := f.newDrop(t, 4, 1, func(d *engine.Drop) { d.SaleEndsAt = t0.Add(5 * time.Minute); d.HoldSeconds = 600 })
		f.register(t, d.ID, "alice", "bob", "carol", "dave", "erin")
		f.clock.Set(t0)
		holds := map[string]engine.Reservation{}
		for _, u := range []string{"alice", "bob", "carol", "dave"} {
			r, err := f.eng.Reserve(ctx(t), d.ID, engine.ReserveRequest{User: u, Quantity: 1})
			if err != nil {
				t.Fatalf("%s: %v", u, err)
			}
			holds[u] = r
		}
		if _, err := f.eng.Reserve(ctx(t), d.ID, engine.ReserveRequest{User: "erin", Quantity: 1, Waitlist: true}); !errors.Is(err, engine.ErrSoldOut) {
			t.Fatalf("erin: %v", err)
		}
		// Paused with erin waiting: carol's and dave's units are owed to
		// the waitlist.
		if _, err := f.eng.Pause(ctx(t), d.ID); err != nil {
			t.Fatal(err)
		}
		for _, u := range []string{"carol", "dave"} {
			if _, err := f.eng.Cancel(ctx(t), holds[u].ID, ""); err != nil {
				t.Fatalf("cancel %s: %v", u, err)
			}
		}
		before := f.stats(t, d.ID)
		if before.Available != 0 || before.Owed != 2 || before.SoldOutVersion != 1 {
			t.Fatalf("sold out and paused: %+v", before)
		}

		// The sale ends. The sweep ends erin's wait and hands the owed
		// units back; alice cancels; bob's hold expires.
		f.clock.Set(d.SaleEndsAt)
		if _, err := f.eng.ExpireDrop(ctx(t), d.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := f.eng.Cancel(ctx(t), holds["alice"].ID, ""); err != nil {
			t.Fatal(err)
		}
		f.clock.Set(holds["bob"].ExpiresAt)
		if n, err := f.eng.ExpireDrop(ctx(t), d.ID); err != nil || n != 1 {
			t.Fatalf("expired %d, %v; want bob's hold", n, err)
		}
		if _, err := f.eng.Resume(ctx(t), d.ID); err != nil {
			t.Fatal(err)
		}

		st := f.stats(t, d.ID)
		if st.Available != 4 || st.Held != 0 || st.Owed != 0 || st.Released != 4 {
			t.Fatalf("after the end every unit is back in stock: %+v", st)
		}
		if st.SoldOutVersion != before.SoldOutVersion {
			t.Fatalf("sold-out version %d, want %d: no news after the end", st.SoldOutVersion, before.SoldOutVersion)
		}
		evs := f.events(t, d.ID)
		if n := countEvents(evs, engine.EventRestocked); n != 0 {
			t.Fatalf("%d restocked events after the sale's end: %+v", n, evs)
		}
		if countEvents(evs, engine.EventCancelled) != 3 || countEvents(evs, engine.EventExpired) != 1 {
			t.Fatalf("events: %+v", evs)
		}
		checkInvariants(t, f, d, nil)
	})
}

// TestRestockedWhileTheSaleRuns: before the end, a release that reopens
// a sold-out drop is announced, with the next sold-out version.
func TestRestockedWhileTheSaleRuns(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f *fixture) {
		d := f.newDrop(t, 1, 1, func(d *engine.Drop) { d.SaleEndsAt = t0.Add(5 * time.Minute) })
		f.register(t, d.ID, "alice")
		f.clock.Set(t0)
		r, err := f.eng.Reserve(ctx(t), d.ID, engine.ReserveRequest{User: "alice", Quantity: 1})
		if err != nil {
			t.Fatal(err)
		}
		f.clock.Set(d.SaleEndsAt.Add(-time.Millisecond))
		if _, err := f.eng.Cancel(ctx(t), r.ID, ""); err != nil {
			t.Fatal(err)
		}
		if st := f.stats(t, d.ID); st.Available != 1 || st.SoldOutVersion != 2 {
			t.Fatalf("stats: %+v", st)
		}
		if n := countEvents(f.events(t, d.ID), engine.EventRestocked); n != 1 {
			t.Fatalf("%d restocked events, want 1", n)
		}
		checkInvariants(t, f, d, nil)
	})
}
