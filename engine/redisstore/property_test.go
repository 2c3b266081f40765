package redisstore_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/flashdrop/flashdrop/engine"
)

// TestConcurrentSaleProperty runs random mixes of register, reserve (with
// quantities, waitlist flags and repeated idempotency keys), confirm,
// cancel and expiry from many goroutines on a shared manual clock, and
// checks I1–I7 afterwards from Redis state and from the answers given.
func TestConcurrentSaleProperty(t *testing.T) {
	seeds := []uint64{1, 2, 3, 4, 5, 6}
	forEachBackend(t, func(t *testing.T, f *fixture) {
		for _, seed := range seeds {
			t.Run(fmt.Sprint("seed", seed), func(t *testing.T) { runRandomSale(t, f, seed) })
		}
	})
}

func runRandomSale(t *testing.T, f *fixture, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 0xf1a5d))
	stock := int64(5 + rng.IntN(25))
	limit := int64(1 + rng.IntN(3))
	hold := int64(30 + rng.IntN(90))
	confirmBy := []engine.ConfirmBy{engine.ConfirmByBackend, engine.ConfirmByShopper}[rng.IntN(2)]
	d := f.newDrop(t, stock, limit, func(d *engine.Drop) { d.HoldSeconds, d.ConfirmBy = hold, confirmBy })
	ans := newAnswers()

	all := users("u", 20+rng.IntN(40))
	for _, u := range all {
		if rng.IntN(5) > 0 { // one in five never registers
			f.register(t, d.ID, u)
			ans.registered[u] = true
		}
	}
	f.clock.Set(t0)
	// Registration is closed now: a late registration must fail.
	if _, _, err := f.eng.Register(ctx(t), d.ID, "latecomer", ""); !errors.Is(err, engine.ErrRegistrationClosed) {
		t.Fatalf("late registration: %v", err)
	}

	var mu sync.Mutex
	var known []engine.Reservation
	pick := func(r *rand.Rand) (engine.Reservation, bool) {
		mu.Lock()
		defer mu.Unlock()
		if len(known) == 0 {
			return engine.Reservation{}, false
		}
		return known[r.IntN(len(known))], true
	}

	const workers, ops = 8, 40
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			r := rand.New(rand.NewPCG(seed, uint64(w)))
			for i := 0; i < ops; i++ {
				switch op := r.IntN(10); {
				case op < 5: // a batch of reserves, as the API would coalesce them
					n := 1 + r.IntN(6)
					reqs := make([]engine.ReserveRequest, n)
					for j := range reqs {
						reqs[j] = engine.ReserveRequest{
							User: all[r.IntN(len(all))], Quantity: 1 + r.Int64N(limit+1),
							Waitlist: r.IntN(2) == 0,
						}
						if r.IntN(2) == 0 {
							reqs[j].IdempotencyKey = fmt.Sprint("k", r.IntN(3))
						}
					}
					res, err := f.eng.ReserveBatch(ctx(t), d.ID, reqs)
					if err != nil {
						t.Errorf("reserve batch: %v", err)
						return
					}
					for j, x := range res {
						ans.reserve(reqs[j], x)
						if x.Err == nil {
							mu.Lock()
							known = append(known, x.Reservation)
							mu.Unlock()
						} else if !isReserveOutcome(x.Err) {
							t.Errorf("reserve %+v: unexpected %v", reqs[j], x.Err)
						}
					}
				case op < 7: // confirm, by the owner, an admin, or a stranger
					res, ok := pick(r)
					if !ok {
						continue
					}
					actor := []string{res.User, "", "stranger"}[r.IntN(3)]
					got, err := f.eng.Confirm(ctx(t), res.ID, actor)
					switch {
					case err == nil:
						ans.mu.Lock()
						ans.confirmed[got.ID] = true
						ans.mu.Unlock()
					case actor == "stranger" && errors.Is(err, engine.ErrForbidden):
					case actor == res.User && d.ConfirmBy == engine.ConfirmByBackend && errors.Is(err, engine.ErrShopConfirms):
					case errors.Is(err, engine.ErrExpired), errors.Is(err, engine.ErrCancelled):
					default:
						t.Errorf("confirm by %q: %v", actor, err)
					}
				case op < 9: // cancel
					res, ok := pick(r)
					if !ok {
						continue
					}
					_, err := f.eng.Cancel(ctx(t), res.ID, res.User)
					if err != nil && !errors.Is(err, engine.ErrExpired) && !errors.Is(err, engine.ErrConfirmed) {
						t.Errorf("cancel: %v", err)
					}
				default: // time passes and a sweeper runs
					f.clock.Advance(time.Duration(r.Int64N(hold/2+1)) * time.Second)
					if _, err := f.eng.ExpireDrop(ctx(t), d.ID); err != nil {
						t.Errorf("expire: %v", err)
					}
					// I6 holds at every instant, not only at the end:
					// Stats reads all counters atomically.
					st, err := f.eng.Stats(ctx(t), d.ID)
					if err != nil || st.Available+st.Held+st.Confirmed != st.Stock || st.Available < 0 {
						t.Errorf("mid-run I6: %+v %v", st, err)
					}
				}
			}
		}(w)
	}
	wg.Wait()
	checkInvariants(t, f, d, ans)

	// Finally everything still held runs out: the stock is whole again.
	f.clock.Advance(time.Duration(hold)*time.Second + time.Millisecond)
	for {
		n, err := f.eng.ExpireDrop(ctx(t), d.ID)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
		// Promoted holds have fresh deadlines; let those run out too.
		f.clock.Advance(time.Duration(hold)*time.Second + time.Millisecond)
	}
	checkInvariants(t, f, d, ans)
	if st := f.stats(t, d.ID); st.Held != 0 || st.Available+st.Confirmed != st.Stock {
		t.Fatalf("after all holds ran out: %+v", st)
	}
}

func isReserveOutcome(err error) bool {
	for _, want := range []error{engine.ErrSoldOut, engine.ErrLimitReached, engine.ErrNotRegistered, engine.ErrIdempotencyMismatch} {
		if errors.Is(err, want) {
			return true
		}
	}
	return false
}
