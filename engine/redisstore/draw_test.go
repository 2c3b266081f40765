package redisstore_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flashdrop/flashdrop/engine"
	"github.com/flashdrop/flashdrop/engine/redisstore"
	"github.com/flashdrop/flashdrop/engine/redisstore/redistest"
)

// newDraw creates a draw drop (registration closing a minute before the
// sale at t0, the sale ending at t0+1h) and registers n shoppers.
func (f *fixture) newDraw(t *testing.T, stock int64, n int, edit ...func(*engine.Drop)) (engine.Drop, []string) {
	t.Helper()
	d := f.newDrop(t, stock, 1, append([]func(*engine.Drop){func(d *engine.Drop) {
		d.Mode = engine.ModeDraw
		d.SaleEndsAt = t0.Add(time.Hour)
	}}, edit...)...)
	us := users("u", n)
	f.register(t, d.ID, us...)
	return d, us
}

// record reads a drop's whole public draw record, page by page.
func (f *fixture) record(t *testing.T, drop string, page int64) engine.DrawRecord {
	t.Helper()
	var all engine.DrawRecord
	for off := int64(0); ; {
		rec, err := f.eng.DrawRecord(ctx(t), drop, off, page)
		if err != nil {
			t.Fatalf("draw record at %d: %v", off, err)
		}
		if off == 0 {
			all = rec
			all.Tickets = nil
		}
		all.Tickets = append(all.Tickets, rec.Tickets...)
		if rec.NextOffset == nil {
			return all
		}
		off = *rec.NextOffset
	}
}

// recompute is an outside verifier, written from the README and sharing no
// code with the engine: it returns "" when the record holds together, or
// what is wrong.
func recompute(rec engine.DrawRecord) string {
	seed, err := hex.DecodeString(rec.Seed)
	if err != nil || len(seed) == 0 {
		return "no seed"
	}
	if h := sha256.Sum256(seed); hex.EncodeToString(h[:]) != rec.SeedHash {
		return "the seed does not hash to the commitment"
	}
	sorted := slices.Clone(rec.Tickets)
	sort.Strings(sorted)
	h := sha256.New()
	for _, tk := range sorted {
		h.Write([]byte(tk + "\n"))
	}
	if hex.EncodeToString(h.Sum(nil)) != rec.FrozenDigest || int64(len(sorted)) != rec.Registrants {
		return "the tickets are not the frozen list"
	}
	if !slices.Equal(seedOrder(seed, rec.Tickets), rec.Tickets) {
		return "the published order is not the seed's order"
	}
	if want := min(rec.Registrants, rec.Stock/max(rec.Quantity, 1)); rec.Winners != want {
		return "the number of winners is wrong"
	}
	return ""
}

// seedOrder is the README's draw order of tickets under seed, computed
// from nothing else: ascending HMAC-SHA256(seed, ticket), ties by ticket.
// It returns a new slice.
func seedOrder(seed []byte, tickets []string) []string {
	rank := func(tk string) []byte {
		m := hmac.New(sha256.New, seed)
		m.Write([]byte(tk))
		return m.Sum(nil)
	}
	order := slices.Clone(tickets)
	sort.SliceStable(order, func(i, j int) bool {
		if c := bytes.Compare(rank(order[i]), rank(order[j])); c != 0 {
			return c < 0
		}
		return order[i] < order[j]
	})
	return order
}

// TestDrawThirtyOfThreeHundred: 30 units among 300 registrants end with
// exactly 30 holds and 270 waitlisted, each shopper's own view agreeing
// with the published result, which an independent recomputation confirms
// and which a different seed or a tampered list does not.
func TestDrawThirtyOfThreeHundred(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f *fixture) {
		d, us := f.newDraw(t, 30, 300)
		if len(d.SeedHash) != 64 {
			t.Fatalf("a draw drop commits to its seed at creation: %q", d.SeedHash)
		}
		if got, _ := f.eng.Drop(ctx(t), d.ID); got.SeedHash != d.SeedHash {
			t.Fatalf("stored seed hash %q, created %q", got.SeedHash, d.SeedHash)
		}
		rec := f.record(t, d.ID, 100)
		if rec.State != engine.DrawCommitted || rec.Seed != "" || len(rec.Tickets) != 0 || rec.SeedHash != d.SeedHash {
			t.Fatalf("before registration closes: %+v", rec)
		}
		// Registration open: the draw waits.
		if st, err := f.eng.RunDraw(ctx(t), d.ID, engine.DrawOptions{}); err != nil || st.Phase != engine.DrawCommitted {
			t.Fatalf("early run: %+v %v", st, err)
		}
		// Registration closed: the list is frozen and its digest public.
		f.clock.Set(d.RegistrationClosesAt)
		st, err := f.eng.RunDraw(ctx(t), d.ID, engine.DrawOptions{Owner: "node"})
		if err != nil || st.Phase != engine.DrawFrozen || st.Registrants != 300 || st.Winners != 30 || st.FrozenDigest == "" {
			t.Fatalf("freeze: %+v %v", st, err)
		}
		// A node whose clock is behind cannot add anyone now.
		f.clock.Set(d.RegistrationClosesAt.Add(-time.Second))
		if _, _, err := f.eng.Register(ctx(t), d.ID, "late", ""); !errors.Is(err, engine.ErrRegistrationClosed) {
			t.Fatalf("a registration after the freeze: %v", err)
		}
		f.clock.Set(t0.Add(-time.Second))
		if _, err := f.eng.Reserve(ctx(t), d.ID, engine.ReserveRequest{User: us[0], Quantity: 1}); !errors.Is(err, engine.ErrSaleNotOpen) {
			t.Fatalf("before the draw: %v", err)
		}
		if rec := f.record(t, d.ID, 100); rec.State != engine.DrawFrozen || rec.FrozenDigest != st.FrozenDigest || rec.Seed != "" {
			t.Fatalf("frozen record: %+v", rec)
		}

		f.clock.Set(t0)
		st, err = f.eng.RunDraw(ctx(t), d.ID, engine.DrawOptions{Owner: "node", Step: 64})
		if err != nil || st.Phase != engine.DrawDrawn || st.Cursor != 300 {
			t.Fatalf("draw: %+v %v", st, err)
		}
		stats := f.stats(t, d.ID)
		if stats.Held != 30 || stats.Waitlisted != 270 || stats.Available != 0 || stats.Reservations != 30 {
			t.Fatalf("stats after the draw: %+v", stats)
		}

		rec = f.record(t, d.ID, 77)
		if len(rec.Tickets) != 300 || rec.Winners != 30 || rec.State != engine.DrawDrawn ||
			rec.HoldsGiven == nil || *rec.HoldsGiven != 30 || rec.Unheld() != 0 {
			t.Fatalf("record: %d tickets, %d winners (holds given %v), %s", len(rec.Tickets), rec.Winners, rec.HoldsGiven, rec.State)
		}
		if why := recompute(rec); why != "" {
			t.Fatalf("independent recomputation: %s", why)
		}
		// A different seed, or a tampered list, does not verify.
		other := rec
		other.Seed = strings.Repeat("ab", 32)
		other.SeedHash = hex.EncodeToString(sha256Sum(other.Seed))
		if recompute(other) == "" {
			t.Fatal("another seed verified")
		}
		tampered := rec
		tampered.Tickets = slices.Clone(rec.Tickets)
		tampered.Tickets[3] = strings.Repeat("0", 32)
		if recompute(tampered) == "" {
			t.Fatal("a tampered ticket list verified")
		}
		swapped := rec
		swapped.Tickets = slices.Clone(rec.Tickets)
		swapped.Tickets[0], swapped.Tickets[299] = swapped.Tickets[299], swapped.Tickets[0]
		if recompute(swapped) == "" {
			t.Fatal("a winner swapped with the last of the waitlist verified")
		}

		// Each shopper's own view and her press of Buy agree with it.
		rankOf := map[string]int{}
		for i, tk := range rec.Tickets {
			rankOf[tk] = i
		}
		for _, u := range us {
			v, err := f.eng.ShopperView(ctx(t), d.ID, u)
			if err != nil {
				t.Fatal(err)
			}
			r, ok := rankOf[v.Ticket]
			if !ok {
				t.Fatalf("%s's ticket %q is not in the record", u, v.Ticket)
			}
			res, rerr := f.eng.Reserve(ctx(t), d.ID, engine.ReserveRequest{User: u, Quantity: 1})
			if r < 30 {
				if v.Reservation == nil || v.Reservation.Status != engine.StatusHeld || v.WaitlistPosition != nil {
					t.Fatalf("winner %s (rank %d) sees %+v", u, r, v)
				}
				if rerr != nil || res.ID != v.Reservation.ID {
					t.Fatalf("winner %s pressing Buy: %+v %v", u, res, rerr)
				}
			} else {
				if v.Reservation != nil || v.WaitlistPosition == nil || *v.WaitlistPosition != int64(r-30+1) {
					t.Fatalf("rank %d sees %+v", r, v)
				}
				var so *engine.SoldOutError
				if !errors.As(rerr, &so) || so.WaitlistPosition != int64(r-30+1) {
					t.Fatalf("waitlisted %s pressing Buy: %v", u, rerr)
				}
			}
		}
		if st := f.stats(t, d.ID); st.Held != 30 || st.Reservations != 30 || st.Waitlisted != 270 {
			t.Fatalf("pressing Buy after the draw changed something: %+v", st)
		}
		evs := f.events(t, d.ID)
		if countEvents(evs, engine.EventWon) != 30 || countEvents(evs, engine.EventWaitlisted) != 270 ||
			countEvents(evs, engine.EventDrawn) != 1 {
			t.Fatalf("events: %d won, %d waitlisted, %d drawn", countEvents(evs, engine.EventWon),
				countEvents(evs, engine.EventWaitlisted), countEvents(evs, engine.EventDrawn))
		}
		for _, e := range evs {
			if e.Type == engine.EventDrawn && (e.Seed != rec.Seed || *e.Winners != 30 || *e.Waitlisted != 270 ||
				e.HoldsGiven == nil || *e.HoldsGiven != 30 ||
				*e.Registrants != 300 || e.FrozenDigest != rec.FrozenDigest) {
				t.Fatalf("drawn event %+v", e)
			}
		}
		checkInvariants(t, f, d, nil)
	})
}

func sha256Sum(hexSeed string) []byte {
	b, _ := hex.DecodeString(hexSeed)
	h := sha256.Sum256(b)
	return h[:]
}

// checkDrawOnce checks a finished draw of stock units among n: each
// registrant has exactly one won or waitlisted event, the winners are the
// record's first ones, and one drawn event.
func checkDrawOnce(t *testing.T, f *fixture, d engine.Drop, us []string) {
	t.Helper()
	rec := f.record(t, d.ID, 1000)
	if why := recompute(rec); why != "" {
		t.Fatalf("recomputation: %s", why)
	}
	evs := f.events(t, d.ID)
	per := map[string]int{}
	for _, e := range evs {
		if e.Type == engine.EventWon || e.Type == engine.EventWaitlisted {
			per[e.User]++
		}
	}
	for _, u := range us {
		if per[u] != 1 {
			t.Errorf("%s has %d won/waitlisted events", u, per[u])
		}
	}
	if n := countEvents(evs, engine.EventDrawn); n != 1 {
		t.Errorf("%d drawn events", n)
	}
	st := f.stats(t, d.ID)
	if st.Held != rec.Winners || st.Waitlisted != rec.Registrants-rec.Winners {
		t.Errorf("stats %+v for %d winners of %d", st, rec.Winners, rec.Registrants)
	}
	n, err := f.rdb.LLen(ctx(t), redisstore.DrawOrderKeyForTest(d.ID)).Result()
	if err != nil || n != int64(len(us)) {
		t.Errorf("the order lists %d tickets (%v)", n, err)
	}
	checkInvariants(t, f, d, nil)
}

// TestDrawAfterTheSaleClosedGivesNothing: a draw that finishes after
// sale_ends_at (every node down through the sale) records its order,
// which verifies, but gives no hold and queues nobody past the close, and
// says so: the record's holds_given and the drawn event's holds_given and
// waitlisted count what was given, not what the order would have given.
// Whole: every step after the close; split: the first step (20 winners
// of 30) in the sale, the rest after it.
func TestDrawAfterTheSaleClosedGivesNothing(t *testing.T) {
	for _, split := range []bool{false, true} {
		forEachBackendNamed(t, map[bool]string{false: "whole", true: "split"}[split], func(t *testing.T, f *fixture) {
			d, _ := f.newDraw(t, 30, 300)
			wantHeld := int64(0)
			if split {
				f.clock.Set(t0)
				st, err := f.eng.RunDraw(ctx(t), d.ID, engine.DrawOptions{Owner: "a", Step: 20, MaxSteps: 1})
				if err != nil || st.Phase != engine.DrawFrozen || st.Cursor != 20 {
					t.Fatalf("the step in the sale: %+v %v", st, err)
				}
				wantHeld = 20
			}
			f.clock.Set(d.SaleEndsAt.Add(time.Minute))
			st, err := f.eng.RunDraw(ctx(t), d.ID, engine.DrawOptions{Owner: "a", Step: 64})
			if err != nil || st.Phase != engine.DrawDrawn || st.HoldsGiven != wantHeld || st.Waitlisted != 0 {
				t.Fatalf("the draw after the close: %+v %v", st, err)
			}
			rec := f.record(t, d.ID, 100)
			if why := recompute(rec); why != "" {
				t.Fatalf("the order no longer verifies: %s", why)
			}
			if rec.Winners != 30 || rec.HoldsGiven == nil || *rec.HoldsGiven != wantHeld || rec.Unheld() != 30-wantHeld {
				t.Fatalf("record: %d winners, holds given %v, unheld %d", rec.Winners, rec.HoldsGiven, rec.Unheld())
			}
			stats := f.stats(t, d.ID)
			if stats.Held != wantHeld || stats.Waitlisted != 0 || stats.Available != 30-wantHeld {
				t.Fatalf("stats: %+v", stats)
			}
			evs := f.events(t, d.ID)
			if n := countEvents(evs, engine.EventWon); int64(n) != wantHeld || countEvents(evs, engine.EventWaitlisted) != 0 {
				t.Fatalf("%d won and %d waitlisted events", n, countEvents(evs, engine.EventWaitlisted))
			}
			for _, e := range evs {
				if e.Type == engine.EventDrawn && (*e.Winners != 30 || e.HoldsGiven == nil || *e.HoldsGiven != wantHeld ||
					*e.Waitlisted != 0 || *e.Registrants != 300) {
					t.Fatalf("drawn event: winners %d, holds_given %v, waitlisted %d", *e.Winners, e.HoldsGiven, *e.Waitlisted)
				}
			}
			if n := countEvents(evs, engine.EventDrawn); n != 1 {
				t.Fatalf("%d drawn events", n)
			}
			checkInvariants(t, f, d, nil)
		})
	}
}

// TestDrawSplitByAnUpgradeClaimsNoLoss: a draw whose first step an older
// version applied (it gave without counting: the counts are deleted here
// as if it had) and whose rest this one applied, in the sale, reports
// every winner held, as the order gave them, not only those it counted.
func TestDrawSplitByAnUpgradeClaimsNoLoss(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f *fixture) {
		d, _ := f.newDraw(t, 30, 300)
		f.clock.Set(t0)
		if st, err := f.eng.RunDraw(ctx(t), d.ID, engine.DrawOptions{Owner: "a", Step: 20, MaxSteps: 1}); err != nil || st.Cursor != 20 {
			t.Fatalf("the first step: %+v %v", st, err)
		}
		if err := f.rdb.HDel(ctx(t), redisstore.DrawKeyForTest(d.ID), "held", "queued", "counted").Err(); err != nil {
			t.Fatal(err)
		}
		st, err := f.eng.RunDraw(ctx(t), d.ID, engine.DrawOptions{Owner: "a", Step: 64})
		if err != nil || st.Phase != engine.DrawDrawn || st.HoldsGiven != 30 || st.Waitlisted != 270 {
			t.Fatalf("the draw: %+v %v", st, err)
		}
		for _, e := range f.events(t, d.ID) {
			if e.Type == engine.EventDrawn && (e.HoldsGiven == nil || *e.HoldsGiven != 30 || *e.Waitlisted != 270) {
				t.Fatalf("drawn event: holds_given %v, waitlisted %d", e.HoldsGiven, *e.Waitlisted)
			}
		}
		if rec := f.record(t, d.ID, 1000); rec.Unheld() != 0 {
			t.Fatalf("the record says %d winners got no hold", rec.Unheld())
		}
	})
}

// TestDrawManyNodesOneDraw: nodes that reach sale_starts_at together draw
// once. Distinct owners share the work through the lease; with one owner
// name (a lease that protects nothing), the steps still apply once each.
func TestDrawManyNodesOneDraw(t *testing.T) {
	for _, sameOwner := range []bool{false, true} {
		forEachBackendNamed(t, map[bool]string{false: "lease", true: "race"}[sameOwner], func(t *testing.T, f *fixture) {
			d, us := f.newDraw(t, 25, 200)
			f.clock.Set(t0)
			var wg sync.WaitGroup
			var drew atomic.Int64
			for i := 0; i < 3; i++ {
				wg.Add(1)
				go func(i int) {
					defer wg.Done()
					e := engine.New(f.store, engine.Options{Clock: f.clock})
					owner := "node-" + itoa(i)
					if sameOwner {
						owner = "same"
					}
					// A draw that never ends (a step that keeps failing
					// while another node holds the lease) fails the test
					// instead of hanging it until the suite's timeout.
					deadline := time.Now().Add(time.Minute)
					for {
						if time.Now().After(deadline) {
							t.Errorf("%s: the draw did not finish in a minute", owner)
							return
						}
						st, err := e.RunDraw(ctx(t), d.ID, engine.DrawOptions{Owner: owner, Step: 7})
						if errors.Is(err, engine.ErrBusy) {
							st, err = e.DrawState(ctx(t), d.ID)
						}
						if err != nil {
							t.Error(err)
							return
						}
						if st.Phase == engine.DrawDrawn {
							drew.Add(1)
							return
						}
					}
				}(i)
			}
			wg.Wait()
			if drew.Load() != 3 {
				t.Fatalf("%d nodes saw the draw finish", drew.Load())
			}
			checkDrawOnce(t, f, d, us)
		})
	}
}

// TestDrawResumesAfterANodeDies: a node stops mid-draw (killed after two
// steps, its lease still held); another node is kept off until the lease
// runs out, then finishes the same draw without drawing anyone twice.
func TestDrawResumesAfterANodeDies(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f *fixture) {
		d, us := f.newDraw(t, 30, 300)
		f.clock.Set(t0)
		a := engine.New(f.store, engine.Options{Clock: f.clock})
		st, err := a.RunDraw(ctx(t), d.ID, engine.DrawOptions{Owner: "a", Step: 20, MaxSteps: 2, LeaseTTL: 30 * time.Second})
		if err != nil || st.Phase != engine.DrawFrozen || st.Cursor != 40 {
			t.Fatalf("node a before dying: %+v %v", st, err)
		}
		b := engine.New(f.store, engine.Options{Clock: f.clock})
		if _, err := b.RunDraw(ctx(t), d.ID, engine.DrawOptions{Owner: "b", Step: 20}); !errors.Is(err, engine.ErrBusy) {
			t.Fatalf("node b while a's lease holds: %v", err)
		}
		f.clock.Advance(31 * time.Second)
		st, err = b.RunDraw(ctx(t), d.ID, engine.DrawOptions{Owner: "b", Step: 20})
		if err != nil || st.Phase != engine.DrawDrawn {
			t.Fatalf("node b resuming: %+v %v", st, err)
		}
		// Node a comes back: nothing left to do, nothing done twice.
		if st, err := a.RunDraw(ctx(t), d.ID, engine.DrawOptions{Owner: "a"}); err != nil || st.Phase != engine.DrawDrawn {
			t.Fatalf("node a after: %+v %v", st, err)
		}
		checkDrawOnce(t, f, d, us)
	})
}

// TestDrawThroughLostReplies: every other script reply of the draw is lost
// after Redis ran the call, and go-redis sends the call again; the draw
// still gives each registrant exactly one outcome.
func TestDrawThroughLostReplies(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	faulted := map[string]bool{}
	var n atomic.Int64
	var armed atomic.Bool
	f, p := proxied(t, func(req []byte) redistest.Fault {
		if !armed.Load() || !redistest.IsScript(req) {
			return redistest.Pass
		}
		mu.Lock()
		defer mu.Unlock()
		if faulted[string(req)] || n.Add(1)%2 != 0 {
			return redistest.Pass
		}
		faulted[string(req)] = true
		return redistest.DropReply
	}, nil)
	d, us := f.newDraw(t, 30, 300)
	f.clock.Set(t0)
	armed.Store(true)
	st, err := f.eng.RunDraw(ctx(t), d.ID, engine.DrawOptions{Step: 9})
	armed.Store(false)
	if err != nil || st.Phase != engine.DrawDrawn {
		t.Fatalf("draw: %+v %v", st, err)
	}
	if p.Faults() < 10 {
		t.Fatalf("only %d faults injected", p.Faults())
	}
	checkDrawOnce(t, f, d, us)
}

// TestDrawnWaitlistTakesReleasedUnits: a winner's released unit goes to
// the head of the drawn waitlist, as in fcfs; a paused draw waits.
func TestDrawnWaitlistTakesReleasedUnits(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f *fixture) {
		d, _ := f.newDraw(t, 2, 5)
		if _, err := f.eng.Pause(ctx(t), d.ID); err != nil {
			t.Fatal(err)
		}
		f.clock.Set(t0)
		node := engine.DrawOptions{Owner: "node"}
		if st, err := f.eng.RunDraw(ctx(t), d.ID, node); err != nil || st.Phase != engine.DrawFrozen {
			t.Fatalf("a paused draw must wait: %+v %v", st, err)
		}
		if _, err := f.eng.Resume(ctx(t), d.ID); err != nil {
			t.Fatal(err)
		}
		// Paused again mid-draw: the draw stops where it is, without an
		// error, and goes on after the resume.
		if st, err := f.eng.RunDraw(ctx(t), d.ID, engine.DrawOptions{Owner: "node", Step: 2, MaxSteps: 1}); err != nil || st.Cursor != 2 {
			t.Fatalf("first step: %+v %v", st, err)
		}
		if _, err := f.eng.Pause(ctx(t), d.ID); err != nil {
			t.Fatal(err)
		}
		if st, err := f.store.DrawStep(ctx(t), d.ID, f.clock.Now(), 2, nil); !errors.Is(err, engine.ErrSalePaused) {
			t.Fatalf("a step while paused: %+v %v", st, err)
		}
		if st, err := f.eng.RunDraw(ctx(t), d.ID, node); err != nil || st.Phase != engine.DrawFrozen || st.Cursor != 2 {
			t.Fatalf("while paused mid-draw: %+v %v", st, err)
		}
		if _, err := f.eng.Resume(ctx(t), d.ID); err != nil {
			t.Fatal(err)
		}
		if st, err := f.eng.RunDraw(ctx(t), d.ID, node); err != nil || st.Phase != engine.DrawDrawn {
			t.Fatalf("draw after resume: %+v %v", st, err)
		}
		rec := f.record(t, d.ID, 10)
		byTicket := map[string]string{}
		for _, u := range users("u", 5) {
			v, _ := f.eng.ShopperView(ctx(t), d.ID, u)
			byTicket[v.Ticket] = u
		}
		winner, head := byTicket[rec.Tickets[0]], byTicket[rec.Tickets[2]]
		v, _ := f.eng.ShopperView(ctx(t), d.ID, winner)
		if _, err := f.eng.Cancel(ctx(t), v.Reservation.ID, winner); err != nil {
			t.Fatal(err)
		}
		hv, _ := f.eng.ShopperView(ctx(t), d.ID, head)
		if hv.Reservation == nil || !hv.Reservation.FromWaitlist || hv.Reservation.Status != engine.StatusHeld {
			t.Fatalf("the head of the drawn waitlist did not get the released unit: %+v", hv)
		}
		next, _ := f.eng.ShopperView(ctx(t), d.ID, byTicket[rec.Tickets[3]])
		if next.WaitlistPosition == nil || *next.WaitlistPosition != 1 {
			t.Fatalf("the next in line: %+v", next)
		}
		checkInvariants(t, f, d, nil)
	})
}

// forEachBackendNamed is forEachBackend under a named subtest.
func forEachBackendNamed(t *testing.T, name string, fn func(t *testing.T, f *fixture)) {
	t.Run(name, func(t *testing.T) { forEachBackend(t, fn) })
}

// TestDrawKeyedPressKeepsItsFirstAnswer: after the draw, a press of Buy
// answers the shopper's result and changes nothing; with an
// Idempotency-Key it is still I5's: a replay gets the first answer (even
// after a promotion changed her result), the key with another body is
// refused.
func TestDrawKeyedPressKeepsItsFirstAnswer(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f *fixture) {
		d, us := f.newDraw(t, 1, 2)
		f.clock.Set(d.RegistrationClosesAt)
		if _, err := f.eng.RunDraw(ctx(t), d.ID, engine.DrawOptions{Owner: "node"}); err != nil {
			t.Fatal(err)
		}
		f.clock.Set(t0)
		if st, err := f.eng.RunDraw(ctx(t), d.ID, engine.DrawOptions{Owner: "node"}); err != nil || st.Phase != engine.DrawDrawn {
			t.Fatalf("draw: %+v %v", st, err)
		}
		press := func(u, key string, q int64, waitlist bool) (engine.ReserveResult, error) {
			t.Helper()
			res, err := f.eng.ReserveBatch(ctx(t), d.ID, []engine.ReserveRequest{{User: u, Quantity: q, IdempotencyKey: key, Waitlist: waitlist}})
			if err != nil {
				t.Fatal(err)
			}
			return res[0], res[0].Err
		}
		winner, waiting := us[0], us[1]
		if v, _ := f.eng.ShopperView(ctx(t), d.ID, winner); v.Reservation == nil {
			winner, waiting = us[1], us[0]
		}
		won, err := press(winner, "kw", 1, false)
		if err != nil || won.Reservation.Status != engine.StatusHeld || won.Replayed {
			t.Fatalf("the winner's keyed press: %+v %v", won, err)
		}
		if again, err := press(winner, "kw", 1, false); err != nil || !again.Replayed || again.Reservation.ID != won.Reservation.ID {
			t.Fatalf("its replay: %+v %v", again, err)
		}
		if _, err := press(winner, "kw", 1, true); !errors.Is(err, engine.ErrIdempotencyMismatch) {
			t.Fatalf("the key with another body: %v, want idempotency mismatch", err)
		}
		var so *engine.SoldOutError
		if _, err := press(waiting, "kl", 1, false); !errors.As(err, &so) || so.WaitlistPosition != 1 {
			t.Fatalf("the waiting shopper's keyed press: %v", err)
		}
		// The winner lets her unit go: it goes to the head of the drawn
		// waitlist. The waiting shopper's key still answers what it did.
		if _, err := f.eng.Cancel(ctx(t), won.Reservation.ID, ""); err != nil {
			t.Fatal(err)
		}
		if v, _ := f.eng.ShopperView(ctx(t), d.ID, waiting); v.Reservation == nil || v.Reservation.Status != engine.StatusHeld {
			t.Fatalf("the promotion: %+v", v)
		}
		res, err := press(waiting, "kl", 1, false)
		if !errors.As(err, &so) || so.WaitlistPosition != 1 || !res.Replayed {
			t.Fatalf("the replay after her promotion: %+v %v, want the first answer (sold out, position 1)", res, err)
		}
		if res, err := press(waiting, "kl2", 1, false); err != nil || res.Reservation.Status != engine.StatusHeld {
			t.Fatalf("a new key after her promotion: %+v %v", res, err)
		}
		checkInvariants(t, f, d, nil)
	})
}

// TestDrawReleaseIsNotRestocked: a draw's units are given by the draw and
// down its waitlist, never sold from stock. A winner's cancelled unit with
// nobody waiting goes back to stock, but no restocked event tells
// integrations "back in stock" for a unit nobody can buy.
func TestDrawReleaseIsNotRestocked(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f *fixture) {
		d, us := f.newDraw(t, 2, 2)
		f.clock.Set(t0)
		if st, err := f.eng.RunDraw(ctx(t), d.ID, engine.DrawOptions{Owner: "node"}); err != nil || st.Phase != engine.DrawDrawn {
			t.Fatalf("draw: %+v %v", st, err)
		}
		if st := f.stats(t, d.ID); st.Available != 0 || st.Held != 2 {
			t.Fatalf("both registrants win both units: %+v", st)
		}
		v, err := f.eng.ShopperView(ctx(t), d.ID, us[0])
		if err != nil || v.Reservation == nil {
			t.Fatalf("%s's view: %+v %v", us[0], v, err)
		}
		if _, err := f.eng.Cancel(ctx(t), v.Reservation.ID, us[0]); err != nil {
			t.Fatal(err)
		}
		if st := f.stats(t, d.ID); st.Available != 1 || st.Held != 1 {
			t.Fatalf("the cancelled unit back in stock: %+v", st)
		}
		if n := countEvents(f.events(t, d.ID), engine.EventRestocked); n != 0 {
			t.Fatalf("%d restocked events in a draw", n)
		}
		checkInvariants(t, f, d, nil)
	})
}
