package redisstore_test

import (
	"errors"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/flashdrop/flashdrop/engine"
)

func TestDropLifecycle(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f *fixture) {
		d := f.newDrop(t, 10, 2, func(d *engine.Drop) { d.SaleEndsAt = t0.Add(time.Hour); d.Product = "Red Sneaker" })
		got, err := f.eng.Drop(ctx(t), d.ID)
		if err != nil || !reflect.DeepEqual(got, d) {
			t.Fatalf("read back:\n got %+v\nwant %+v (%v)", got, d, err)
		}
		// A retried create (same configuration) finds the drop; another
		// configuration under the same id is a conflict naming the fields.
		again, created, err := f.eng.CreateDropOnce(ctx(t), d)
		if err != nil || created || !reflect.DeepEqual(again, d) {
			t.Fatalf("same create again: created=%v %+v %v", created, again, err)
		}
		other := d
		other.Stock, other.Name = 11, "Blue"
		_, err = f.eng.CreateDrop(ctx(t), other)
		var conflict *engine.DropConflictError
		if !errors.Is(err, engine.ErrDropExists) || !errors.As(err, &conflict) ||
			!reflect.DeepEqual(conflict.Fields, []string{"name", "stock"}) {
			t.Fatalf("conflicting create: %v", err)
		}
		all, err := f.eng.Drops(ctx(t))
		if err != nil || !containsDrop(all, d.ID) {
			t.Fatalf("list: %v %v", all, err)
		}
		p, err := f.eng.Pause(ctx(t), d.ID)
		if err != nil || !p.Paused {
			t.Fatalf("pause: %+v %v", p, err)
		}
		r, err := f.eng.Resume(ctx(t), d.ID)
		if err != nil || r.Paused {
			t.Fatalf("resume: %+v %v", r, err)
		}
		for _, err := range []error{
			func() error { _, err := f.eng.Drop(ctx(t), "missing-"+d.ID); return err }(),
			func() error { _, err := f.eng.Pause(ctx(t), "missing-"+d.ID); return err }(),
			func() error { _, err := f.eng.Stats(ctx(t), "missing-"+d.ID); return err }(),
			func() error { _, err := f.eng.ShopperView(ctx(t), "missing-"+d.ID, "u"); return err }(),
			func() error { _, _, err := f.eng.Register(ctx(t), "missing-"+d.ID, "u", ""); return err }(),
			func() error {
				_, err := f.eng.Reserve(ctx(t), "missing-"+d.ID, engine.ReserveRequest{User: "u", Quantity: 1})
				return err
			}(),
			func() error { _, err := f.eng.Confirm(ctx(t), d.ID+".nosuch", ""); return err }(),
			func() error { _, err := f.eng.Reservation(ctx(t), d.ID+".nosuch", ""); return err }(),
		} {
			if !errors.Is(err, engine.ErrNotFound) {
				t.Errorf("missing object: want ErrNotFound, got %v", err)
			}
		}
	})
}

func containsDrop(ds []engine.Drop, id string) bool {
	for _, d := range ds {
		if d.ID == id {
			return true
		}
	}
	return false
}

func TestRegistrationWindow(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f *fixture) {
		d := f.newDrop(t, 5, 1)
		f.clock.Set(d.RegistrationOpensAt.Add(-time.Millisecond))
		if _, _, err := f.eng.Register(ctx(t), d.ID, "early", ""); !errors.Is(err, engine.ErrRegistrationNotOpen) {
			t.Fatalf("before the window: %v", err)
		}
		f.clock.Set(d.RegistrationOpensAt)
		reg, created, err := f.eng.Register(ctx(t), d.ID, "alice", "friendcode")
		if err != nil || !created || !reg.RegisteredAt.Equal(d.RegistrationOpensAt) {
			t.Fatalf("register: %+v %v %v", reg, created, err)
		}
		f.clock.Advance(time.Minute)
		again, created, err := f.eng.Register(ctx(t), d.ID, "alice", "othercode")
		if err != nil || created || !again.RegisteredAt.Equal(reg.RegisteredAt) {
			t.Fatalf("repeat must return the first registration: %+v %v %v", again, created, err)
		}
		f.clock.Set(d.RegistrationClosesAt)
		if _, _, err := f.eng.Register(ctx(t), d.ID, "late", ""); !errors.Is(err, engine.ErrRegistrationClosed) {
			t.Fatalf("after the window: %v", err)
		}
		if _, created, err := f.eng.Register(ctx(t), d.ID, "alice", ""); err != nil || created {
			t.Fatalf("a registered shopper asking again after close: %v %v", created, err)
		}
		st := f.stats(t, d.ID)
		// "friendcode" is no share code: it credits nothing (share_test.go).
		if st.Registered != 1 || st.Referrals != 0 {
			t.Fatalf("stats: %+v", st)
		}
		evs := f.events(t, d.ID)
		if countEvents(evs, engine.EventRegistered) != 1 || countEvents(evs, engine.EventReferral) != 0 {
			t.Fatalf("events: %+v", evs)
		}
		v, err := f.eng.ShopperView(ctx(t), d.ID, "alice")
		if err != nil || !v.Registered || v.Reservation != nil || v.WaitlistPosition != nil {
			t.Fatalf("view: %+v %v", v, err)
		}
	})
}

func TestReserveRules(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f *fixture) {
		d := f.newDrop(t, 3, 2, func(d *engine.Drop) { d.SaleEndsAt = t0.Add(time.Hour) })
		f.register(t, d.ID, "alice", "bob", "carol")
		res := func(user string, q int64) error {
			_, err := f.eng.Reserve(ctx(t), d.ID, engine.ReserveRequest{User: user, Quantity: q})
			return err
		}
		f.clock.Set(t0.Add(-time.Millisecond))
		if err := res("alice", 1); !errors.Is(err, engine.ErrSaleNotOpen) {
			t.Fatalf("before start: %v", err)
		}
		f.clock.Set(t0)
		if err := res("mallory", 1); !errors.Is(err, engine.ErrNotRegistered) {
			t.Fatalf("outsider: %v", err)
		}
		if err := res("alice", 3); !errors.Is(err, engine.ErrLimitReached) {
			t.Fatalf("over the limit at once: %v", err)
		}
		if err := res("alice", 2); err != nil {
			t.Fatalf("alice 2: %v", err)
		}
		if err := res("alice", 1); !errors.Is(err, engine.ErrLimitReached) {
			t.Fatalf("over the limit in total: %v", err)
		}
		if _, err := f.eng.Pause(ctx(t), d.ID); err != nil {
			t.Fatal(err)
		}
		if err := res("bob", 1); !errors.Is(err, engine.ErrSalePaused) {
			t.Fatalf("paused: %v", err)
		}
		if _, err := f.eng.Resume(ctx(t), d.ID); err != nil {
			t.Fatal(err)
		}
		err := res("bob", 2)
		var left *engine.SoldOutError
		if !errors.Is(err, engine.ErrSoldOut) || !errors.As(err, &left) || left.Available != 1 || left.WaitlistPosition != 0 {
			t.Fatalf("more than is left is all or nothing, and says what is left (1): %v", err)
		}
		if err := res("bob", 1); err != nil {
			t.Fatalf("bob 1: %v", err)
		}
		err = res("carol", 1)
		var so *engine.SoldOutError
		if !errors.Is(err, engine.ErrSoldOut) || errors.As(err, &so) {
			t.Fatalf("sold out without joining the waitlist: %v", err)
		}
		st := f.stats(t, d.ID)
		want := engine.Stats{Stock: 3, Available: 0, Held: 3, Registered: 3, Reservations: 2, SoldOutVersion: 1}
		if st != want {
			t.Fatalf("stats %+v, want %+v", st, want)
		}
		evs := f.events(t, d.ID)
		if countEvents(evs, engine.EventWon) != 2 || countEvents(evs, engine.EventSoldOut) != 1 {
			t.Fatalf("events: %+v", evs)
		}
		f.clock.Set(d.SaleEndsAt)
		if err := res("carol", 1); !errors.Is(err, engine.ErrSaleClosed) {
			t.Fatalf("after the sale: %v", err)
		}
	})
}

func TestDrawModeIsNotFCFS(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f *fixture) {
		d := f.newDrop(t, 3, 1, func(d *engine.Drop) { d.Mode = engine.ModeDraw })
		f.register(t, d.ID, "alice")
		f.clock.Set(t0.Add(time.Minute))
		_, err := f.eng.Reserve(ctx(t), d.ID, engine.ReserveRequest{User: "alice", Quantity: 1})
		if !errors.Is(err, engine.ErrSaleNotOpen) {
			t.Fatalf("draw mode before the draw must answer sale_not_open, got %v", err)
		}
	})
}

func TestIdempotency(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f *fixture) {
		d := f.newDrop(t, 1, 1, func(d *engine.Drop) { d.ConfirmBy = engine.ConfirmByShopper })
		f.register(t, d.ID, "alice", "bob", "carol")

		// Not final answers are not stored: the retry after T0 wins.
		f.clock.Set(t0.Add(-time.Second))
		req := engine.ReserveRequest{User: "alice", Quantity: 1, IdempotencyKey: "k1"}
		if _, err := f.eng.Reserve(ctx(t), d.ID, req); !errors.Is(err, engine.ErrSaleNotOpen) {
			t.Fatalf("early: %v", err)
		}
		f.clock.Set(t0)
		first, err := f.eng.ReserveBatch(ctx(t), d.ID, []engine.ReserveRequest{req, req})
		if err != nil || first[0].Err != nil || first[0].Replayed {
			t.Fatalf("first: %+v %v", first, err)
		}
		// The second copy in the same batch is a replay of the first.
		if first[1].Err != nil || !first[1].Replayed || first[1].Reservation != first[0].Reservation {
			t.Fatalf("in-batch replay: %+v", first[1])
		}
		again, err := f.eng.ReserveBatch(ctx(t), d.ID, []engine.ReserveRequest{req})
		if err != nil || !again[0].Replayed || again[0].Reservation.ID != first[0].Reservation.ID {
			t.Fatalf("replay: %+v %v", again, err)
		}
		// Same key, different body: rejected, no effect.
		_, err = f.eng.Reserve(ctx(t), d.ID, engine.ReserveRequest{User: "alice", Quantity: 1, Waitlist: true, IdempotencyKey: "k1"})
		if !errors.Is(err, engine.ErrIdempotencyMismatch) {
			t.Fatalf("mismatch: %v", err)
		}
		// The same key from another shopper is another request.
		bobReq := engine.ReserveRequest{User: "bob", Quantity: 1, Waitlist: true, IdempotencyKey: "k1"}
		_, err = f.eng.Reserve(ctx(t), d.ID, bobReq)
		var so *engine.SoldOutError
		if !errors.As(err, &so) || so.WaitlistPosition != 1 {
			t.Fatalf("bob: %v", err)
		}
		// A sold-out answer replays as the same answer.
		_, err = f.eng.Reserve(ctx(t), d.ID, bobReq)
		if !errors.As(err, &so) || so.WaitlistPosition != 1 {
			t.Fatalf("bob replay: %v", err)
		}
		st := f.stats(t, d.ID)
		if st.Reservations != 1 || st.Held != 1 || st.Waitlisted != 1 {
			t.Fatalf("a replay had an effect: %+v", st)
		}
		if n := countEvents(f.events(t, d.ID), engine.EventWon); n != 1 {
			t.Fatalf("won events: %d", n)
		}
		// A replay after confirm shows the reservation as it is now.
		if _, err := f.eng.Confirm(ctx(t), first[0].Reservation.ID, "alice"); err != nil {
			t.Fatal(err)
		}
		again, _ = f.eng.ReserveBatch(ctx(t), d.ID, []engine.ReserveRequest{req})
		if again[0].Reservation.Status != engine.StatusConfirmed || again[0].Reservation.ID != first[0].Reservation.ID {
			t.Fatalf("replay after confirm: %+v", again[0])
		}
	})
}

func TestOneShopperManyConcurrentRequests(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f *fixture) {
		d := f.newDrop(t, 100, 3)
		f.register(t, d.ID, "greedy")
		f.clock.Set(t0)
		var wg sync.WaitGroup
		var mu sync.Mutex
		won := int64(0)
		for i := 0; i < 40; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				batch := []engine.ReserveRequest{{User: "greedy", Quantity: 1}, {User: "greedy", Quantity: 2}}
				res, err := f.eng.ReserveBatch(ctx(t), d.ID, batch)
				if err != nil {
					t.Error(err)
					return
				}
				for _, r := range res {
					if r.Err == nil {
						mu.Lock()
						won += r.Reservation.Quantity
						mu.Unlock()
					} else if !errors.Is(r.Err, engine.ErrLimitReached) {
						t.Errorf("unexpected: %v", r.Err)
					}
				}
			}()
		}
		wg.Wait()
		if won != 3 {
			t.Fatalf("won %d units, limit is 3 and stock plenty", won)
		}
		if st := f.stats(t, d.ID); st.Held != 3 || st.Available != 97 {
			t.Fatalf("stats: %+v", st)
		}
	})
}

func TestSettle(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f *fixture) {
		d := f.newDrop(t, 2, 1, func(d *engine.Drop) { d.ConfirmBy = engine.ConfirmByShopper })
		f.register(t, d.ID, "alice", "bob")
		f.clock.Set(t0)
		a, _ := f.eng.Reserve(ctx(t), d.ID, engine.ReserveRequest{User: "alice", Quantity: 1})
		b, _ := f.eng.Reserve(ctx(t), d.ID, engine.ReserveRequest{User: "bob", Quantity: 1})

		if _, err := f.eng.Confirm(ctx(t), a.ID, "bob"); !errors.Is(err, engine.ErrForbidden) {
			t.Fatalf("another shopper's confirm: %v", err)
		}
		if _, err := f.eng.Reservation(ctx(t), a.ID, "bob"); !errors.Is(err, engine.ErrForbidden) {
			t.Fatalf("another shopper's read: %v", err)
		}
		c, err := f.eng.Confirm(ctx(t), a.ID, "alice")
		if err != nil || c.Status != engine.StatusConfirmed {
			t.Fatalf("confirm: %+v %v", c, err)
		}
		if c2, err := f.eng.Confirm(ctx(t), a.ID, ""); err != nil || c2.Status != engine.StatusConfirmed {
			t.Fatalf("confirm again (admin): %+v %v", c2, err)
		}
		if _, err := f.eng.Cancel(ctx(t), a.ID, "alice"); !errors.Is(err, engine.ErrConfirmed) {
			t.Fatalf("a confirmed unit never returns: %v", err)
		}
		x, err := f.eng.Cancel(ctx(t), b.ID, "bob")
		if err != nil || x.Status != engine.StatusCancelled {
			t.Fatalf("cancel: %+v %v", x, err)
		}
		if x2, err := f.eng.Cancel(ctx(t), b.ID, "bob"); err != nil || x2.Status != engine.StatusCancelled {
			t.Fatalf("cancel again: %+v %v", x2, err)
		}
		if _, err := f.eng.Confirm(ctx(t), b.ID, "bob"); !errors.Is(err, engine.ErrCancelled) {
			t.Fatalf("confirm after cancel: %v", err)
		}
		st := f.stats(t, d.ID)
		want := engine.Stats{Stock: 2, Available: 1, Confirmed: 1, Released: 1, Registered: 2, Reservations: 2, SoldOutVersion: 2}
		if st != want {
			t.Fatalf("stats %+v, want %+v", st, want)
		}
		evs := f.events(t, d.ID)
		if countEvents(evs, engine.EventConfirmed) != 1 || countEvents(evs, engine.EventCancelled) != 1 ||
			countEvents(evs, engine.EventRestocked) != 1 {
			t.Fatalf("events: %+v", evs)
		}
		// The cancelled event carries the win's share code: an
		// integration takes its post down by it alone.
		for _, e := range evs {
			if e.Type == engine.EventCancelled && (e.ShareCode == "" || e.ShareCode != b.ShareCode) {
				t.Fatalf("cancelled event with share code %q, the win's is %q", e.ShareCode, b.ShareCode)
			}
		}
		// The restocked unit can be won again, by the one who let it go.
		if _, err := f.eng.Reserve(ctx(t), d.ID, engine.ReserveRequest{User: "bob", Quantity: 1}); err != nil {
			t.Fatalf("re-reserve after cancel: %v", err)
		}
	})
}

// TestExpireDueTellsTheNextDeadline: each expiry step answers the
// earliest deadline of the holds it left, which the sweeper waits for
// before it looks at the drop again; none once no hold is left.
func TestExpireDueTellsTheNextDeadline(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f *fixture) {
		d := f.newDrop(t, 5, 1, func(d *engine.Drop) { d.HoldSeconds = 60 })
		f.register(t, d.ID, "alice", "bob", "carol")
		expire := func(want int, wantNext time.Time) {
			t.Helper()
			n, next, err := f.store.ExpireDue(ctx(t), d.ID, f.clock.Now(), 100)
			if err != nil || n != want || !next.Equal(wantNext) {
				t.Fatalf("at %v: expired %d (want %d), next deadline %v (want %v), %v", f.clock.Now(), n, want, next, wantNext, err)
			}
		}
		f.clock.Set(t0)
		expire(0, time.Time{}) // no hold yet
		var deadlines []time.Time
		for i, u := range []string{"alice", "bob", "carol"} {
			f.clock.Set(t0.Add(time.Duration(i) * 10 * time.Second))
			r, err := f.eng.Reserve(ctx(t), d.ID, engine.ReserveRequest{User: u, Quantity: 1})
			if err != nil {
				t.Fatal(err)
			}
			deadlines = append(deadlines, r.ExpiresAt)
		}
		expire(0, deadlines[0])
		f.clock.Set(deadlines[0].Add(-time.Millisecond))
		expire(0, deadlines[0])
		f.clock.Set(deadlines[0])
		expire(1, deadlines[1])
		// bob's hold settled another way: its deadline no longer counts
		// (or, where a settled hold's index entry stays until its
		// deadline, it is the next look and finds nothing due).
		bob, err := f.eng.ShopperView(ctx(t), d.ID, "bob")
		if err != nil || bob.Reservation == nil {
			t.Fatalf("bob's view: %+v %v", bob, err)
		}
		if _, err := f.eng.Cancel(ctx(t), bob.Reservation.ID, "bob"); err != nil {
			t.Fatal(err)
		}
		n, next, err := f.store.ExpireDue(ctx(t), d.ID, f.clock.Now(), 100)
		if err != nil || n != 0 || !(next.Equal(deadlines[1]) || next.Equal(deadlines[2])) {
			t.Fatalf("after bob's cancel: expired %d, next %v (want %v or %v), %v", n, next, deadlines[1], deadlines[2], err)
		}
		if next.Equal(deadlines[1]) {
			f.clock.Set(deadlines[1])
			expire(0, deadlines[2])
		}
		f.clock.Set(deadlines[2])
		expire(1, time.Time{})
	})
}

func TestExpiryNeverEarlyAndWaitlistFirst(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f *fixture) {
		d := f.newDrop(t, 2, 2, func(d *engine.Drop) { d.HoldSeconds = 60 })
		f.register(t, d.ID, "alice", "bob", "carol", "dave")
		f.clock.Set(t0)
		a, err := f.eng.Reserve(ctx(t), d.ID, engine.ReserveRequest{User: "alice", Quantity: 2})
		if err != nil {
			t.Fatal(err)
		}
		if !a.ExpiresAt.Equal(t0.Add(time.Minute)) {
			t.Fatalf("deadline %v", a.ExpiresAt)
		}
		// bob waits for one unit, carol for two; dave does not wait.
		for i, u := range []string{"bob", "carol"} {
			_, err := f.eng.Reserve(ctx(t), d.ID, engine.ReserveRequest{User: u, Quantity: int64(i + 1), Waitlist: true})
			var so *engine.SoldOutError
			if !errors.As(err, &so) || so.WaitlistPosition != int64(i+1) {
				t.Fatalf("%s waitlist: %v", u, err)
			}
		}
		if pos, ok, err := f.eng.WaitlistPosition(ctx(t), d.ID, "carol"); err != nil || !ok || pos != 2 {
			t.Fatalf("carol's position: %d %v %v", pos, ok, err)
		}

		f.clock.Set(a.ExpiresAt.Add(-time.Millisecond))
		if n, err := f.eng.ExpireDrop(ctx(t), d.ID); err != nil || n != 0 {
			t.Fatalf("expired %d before the deadline (%v)", n, err)
		}
		f.clock.Set(a.ExpiresAt)
		// Many sweepers at once: the hold is released exactly once.
		var wg sync.WaitGroup
		var mu sync.Mutex
		total := 0
		for i := 0; i < 8; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				n, err := f.eng.ExpireDrop(ctx(t), d.ID)
				if err != nil {
					t.Error(err)
				}
				mu.Lock()
				total += n
				mu.Unlock()
			}()
		}
		wg.Wait()
		if total != 1 {
			t.Fatalf("expired %d times, want exactly once", total)
		}
		got, _ := f.eng.Reservation(ctx(t), a.ID, "")
		if got.Status != engine.StatusExpired || got.UpdatedAt.Before(got.ExpiresAt) {
			t.Fatalf("expired early or not at all: %+v", got)
		}
		// Two units released: bob (head) gets his one, carol the one left.
		bv, _ := f.eng.ShopperView(ctx(t), d.ID, "bob")
		cv, _ := f.eng.ShopperView(ctx(t), d.ID, "carol")
		if bv.Reservation == nil || bv.Reservation.Quantity != 1 || !bv.Reservation.FromWaitlist || bv.WaitlistPosition != nil {
			t.Fatalf("bob: %+v", bv)
		}
		if cv.Reservation == nil || cv.Reservation.Quantity != 1 || cv.Reservation.Status != engine.StatusHeld {
			t.Fatalf("carol: %+v", cv)
		}
		if !bv.Reservation.ExpiresAt.Equal(a.ExpiresAt.Add(time.Minute)) {
			t.Fatalf("a promoted hold gets a fresh deadline: %v", bv.Reservation.ExpiresAt)
		}
		st := f.stats(t, d.ID)
		want := engine.Stats{Stock: 2, Available: 0, Held: 2, Released: 2, Registered: 4, Reservations: 3, SoldOutVersion: 1}
		if st != want {
			t.Fatalf("stats %+v, want %+v", st, want)
		}
		evs := f.events(t, d.ID)
		if countEvents(evs, engine.EventExpired) != 1 || countEvents(evs, engine.EventWon) != 3 || countEvents(evs, engine.EventRestocked) != 0 {
			t.Fatalf("events: %+v", evs)
		}
		for _, e := range evs {
			if e.Type == engine.EventExpired && (e.ShareCode == "" || e.ShareCode != a.ShareCode) {
				t.Fatalf("expired event with share code %q, the win's is %q", e.ShareCode, a.ShareCode)
			}
		}
		// A confirm that comes after the deadline expires the hold instead;
		// the waitlist is empty now, so the unit returns to stock.
		f.clock.Set(bv.Reservation.ExpiresAt)
		if _, err := f.eng.Confirm(ctx(t), bv.Reservation.ID, "bob"); !errors.Is(err, engine.ErrExpired) {
			t.Fatalf("late confirm: %v", err)
		}
		if st := f.stats(t, d.ID); st.Available != 1 || st.Held != 1 || st.Released != 3 {
			t.Fatalf("after late confirm: %+v", st)
		}
		if countEvents(f.events(t, d.ID), engine.EventRestocked) != 1 {
			t.Fatal("want one restocked event")
		}
	})
}

// TestConfirmedSaysHowItWasWon: a confirmed event with a share code
// carries when its reservation was won and whether from the waitlist, so
// the relay gives it the won event's seconds_after_start and won_by: a
// post on confirmed, where the README says to post a paid win, could not
// say what the card says ("won from the waitlist", "won in 0.4 seconds").
func TestConfirmedSaysHowItWasWon(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f *fixture) {
		d := f.newDrop(t, 2, 1)
		f.register(t, d.ID, "alice", "bob", "carol")
		f.clock.Set(t0.Add(400 * time.Millisecond))
		a, err := f.eng.Reserve(ctx(t), d.ID, engine.ReserveRequest{User: "alice", Quantity: 1})
		if err != nil {
			t.Fatal(err)
		}
		c, err := f.eng.Reserve(ctx(t), d.ID, engine.ReserveRequest{User: "carol", Quantity: 1})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.eng.Reserve(ctx(t), d.ID, engine.ReserveRequest{User: "bob", Quantity: 1, Waitlist: true}); !errors.Is(err, engine.ErrSoldOut) {
			t.Fatalf("bob onto the waitlist: %v", err)
		}
		f.clock.Set(t0.Add(3 * time.Second))
		if _, err := f.eng.Cancel(ctx(t), a.ID, "alice"); err != nil {
			t.Fatal(err)
		}
		bv, err := f.eng.ShopperView(ctx(t), d.ID, "bob")
		if err != nil || bv.Reservation == nil || !bv.Reservation.FromWaitlist {
			t.Fatalf("bob promoted: %+v %v", bv, err)
		}
		f.clock.Set(t0.Add(5 * time.Second))
		for _, id := range []string{c.ID, bv.Reservation.ID} {
			if _, err := f.eng.Confirm(ctx(t), id, ""); err != nil {
				t.Fatal(err)
			}
		}
		want := map[string]struct {
			at time.Time
			wl bool
		}{c.ID: {c.WonAt, false}, bv.Reservation.ID: {bv.Reservation.WonAt, true}}
		n := 0
		for _, e := range f.events(t, d.ID) {
			if e.Type != engine.EventConfirmed {
				continue
			}
			n++
			w := want[e.Reservation]
			if e.ShareCode == "" || !e.WonAt.Equal(w.at) || e.FromWaitlist != w.wl {
				t.Errorf("confirmed %s: won at %v, from the waitlist %v; want %v, %v", e.Reservation, e.WonAt, e.FromWaitlist, w.at, w.wl)
			}
		}
		if n != 2 {
			t.Fatalf("%d confirmed events, want 2", n)
		}
	})
}
