package redisstore_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/flashdrop/flashdrop/engine"
)

// keyed is a keyed reserve press of one unit.
func keyed(user, key string) engine.ReserveRequest {
	return engine.ReserveRequest{User: user, Quantity: 1, IdempotencyKey: key}
}

// TestAnswerSoldOut: the cheap answer for keyed presses after a sell-out
// gives every press what reserve.lua would: the win its key already
// holds, a stored sold_out (with the waitlist position), a mismatch for
// another body, and sold_out stored for a fresh key, which then answers
// its replays on either path, even after a release brings a unit back.
// While the drop has stock, is paused or has not opened, it writes nothing
// and declines.
func TestAnswerSoldOut(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f *fixture) {
		d := f.newDrop(t, 1, 1)
		f.register(t, d.ID, "winner", "waiter", "late", "limit")

		// Before the sale, and with stock: declined, nothing stored.
		for _, at := range []struct {
			name string
			set  func()
		}{{"before the sale", func() { f.clock.Set(t0.Add(-1)) }}, {"with stock", func() { f.clock.Set(t0) }}} {
			at.set()
			res, ok, err := f.store.AnswerSoldOut(ctx(t), d.ID, f.clock.Now(), []engine.ReserveRequest{keyed("late", "k-early")})
			if err != nil || ok || res != nil {
				t.Fatalf("%s: %+v ok=%v %v, want declined", at.name, res, ok, err)
			}
		}

		// The win sells the drop out; the waiter joins the waitlist.
		res, err := f.eng.ReserveBatch(ctx(t), d.ID, []engine.ReserveRequest{
			keyed("winner", "k-win"), {User: "waiter", Quantity: 1, Waitlist: true, IdempotencyKey: "k-wait"}})
		if err != nil || res[0].Err != nil || !errors.Is(res[1].Err, engine.ErrSoldOut) {
			t.Fatalf("sell-out: %+v %v", res, err)
		}
		won := res[0].Reservation

		presses := []engine.ReserveRequest{
			keyed("winner", "k-win"),                               // a replay of the win (its reply was lost)
			keyed("late", "k-late"),                                // a fresh press
			keyed("late", "k-late"),                                // the same press again, in the same batch
			keyed("waiter", "k-after"),                             // a fresh press from someone on the waitlist
			{User: "winner", Quantity: 2, IdempotencyKey: "k-win"}, // the win's key, another body
			keyed("winner", "k-more"),                              // the winner again: at her limit
			keyed("stranger", "k-who"),                             // not registered
		}
		got, ok, err := f.store.AnswerSoldOut(ctx(t), d.ID, f.clock.Now(), presses)
		if err != nil || !ok || len(got) != len(presses) {
			t.Fatalf("sold out: %+v ok=%v %v", got, ok, err)
		}
		if got[0].Err != nil || !got[0].Replayed || got[0].Reservation.ID != won.ID || got[0].Reservation.Status != engine.StatusHeld {
			t.Errorf("the win's replay: %+v, want %s replayed", got[0], won.ID)
		}
		if pos, ok := soldOutPosition(got[1].Err); !ok || pos != 0 || got[1].Replayed {
			t.Errorf("a fresh press: %+v, want sold_out at 0, not replayed", got[1])
		}
		if _, ok := soldOutPosition(got[2].Err); !ok || !got[2].Replayed {
			t.Errorf("the same press again: %+v, want its stored sold_out", got[2])
		}
		if pos, ok := soldOutPosition(got[3].Err); !ok || pos != 1 {
			t.Errorf("the waiter's press: %+v, want sold_out at position 1", got[3])
		}
		if !errors.Is(got[4].Err, engine.ErrIdempotencyMismatch) {
			t.Errorf("the win's key with another body: %+v, want a mismatch", got[4])
		}

		if !errors.Is(got[5].Err, engine.ErrLimitReached) || got[5].Replayed {
			t.Errorf("the winner's new key: %+v, want limit_reached", got[5])
		}
		if !errors.Is(got[6].Err, engine.ErrNotRegistered) {
			t.Errorf("a stranger's press: %+v, want not_registered", got[6])
		}
		// Each answer is reserve.lua's: the same presses through it again
		// replay what was stored (a stranger's answer is not stored).
		full, err := f.eng.ReserveBatch(ctx(t), d.ID, presses)
		if err != nil {
			t.Fatal(err)
		}
		for i := range presses {
			replay := i != 4 && i != 6 // a mismatch and not_registered are not stored answers
			if (full[i].Err == nil) != (got[i].Err == nil) || (full[i].Err != nil && full[i].Err.Error() != got[i].Err.Error()) ||
				full[i].Reservation.ID != got[i].Reservation.ID || full[i].Replayed != replay {
				t.Errorf("press %d: reserve.lua answers %+v, the cheap path %+v", i, full[i], got[i])
			}
		}

		// The full path finds what the cheap one stored, and so does the
		// cheap one again after the winner's cancel put the unit back.
		again, err := f.eng.ReserveBatch(ctx(t), d.ID, []engine.ReserveRequest{keyed("late", "k-late")})
		if err != nil || !again[0].Replayed || !errors.Is(again[0].Err, engine.ErrSoldOut) {
			t.Fatalf("reserve.lua on the stored answer: %+v %v", again, err)
		}
		if _, err := f.eng.Cancel(ctx(t), won.ID, "winner"); err != nil {
			t.Fatal(err)
		}
		if st := f.stats(t, d.ID); st.Held != 1 {
			t.Fatalf("the cancelled unit should have gone to the waiter: %+v", st)
		}
		if _, err := f.eng.Cancel(ctx(t), mustLatest(t, f, d.ID, "waiter"), "waiter"); err != nil {
			t.Fatal(err)
		}
		if st := f.stats(t, d.ID); st.Available != 1 {
			t.Fatalf("the unit should be back in stock: %+v", st)
		}
		res, ok, err = f.store.AnswerSoldOut(ctx(t), d.ID, f.clock.Now(), []engine.ReserveRequest{keyed("late", "k-late"), keyed("late", "k-new")})
		if err != nil || ok || res != nil {
			t.Fatalf("with a unit back: %+v ok=%v %v, want declined", res, ok, err)
		}
		again, err = f.eng.ReserveBatch(ctx(t), d.ID, []engine.ReserveRequest{keyed("late", "k-late"), keyed("late", "k-new")})
		if err != nil || !again[0].Replayed || !errors.Is(again[0].Err, engine.ErrSoldOut) || again[1].Err != nil {
			t.Fatalf("after the restock: %+v %v; want the stored sold_out, then a win for the new key", again, err)
		}

		// Paused: declined.
		if _, err := f.eng.Pause(ctx(t), d.ID); err != nil {
			t.Fatal(err)
		}
		res, ok, err = f.store.AnswerSoldOut(ctx(t), d.ID, f.clock.Now(), []engine.ReserveRequest{keyed("limit", "k-paused")})
		if err != nil || ok || res != nil {
			t.Fatalf("paused: %+v ok=%v %v, want declined", res, ok, err)
		}
		checkInvariants(t, f, d, nil)
	})
}

func soldOutPosition(err error) (int64, bool) {
	var so *engine.SoldOutError
	if errors.As(err, &so) {
		return so.WaitlistPosition, true
	}
	return 0, errors.Is(err, engine.ErrSoldOut)
}

// mustLatest is the id of user's latest reservation in drop.
func mustLatest(t *testing.T, f *fixture, drop, user string) string {
	t.Helper()
	v, err := f.eng.ShopperView(ctx(t), drop, user)
	if err != nil || v.Reservation == nil {
		t.Fatalf("%s's view: %+v %v", user, v, err)
	}
	return v.Reservation.ID
}

// TestAnswerSoldOutLostReply: go-redis sends a cheap sold-out call again
// after its reply is lost. The repeat answers what the first run did: a
// fresh press is sold_out, not a replay of itself.
func TestAnswerSoldOutLostReply(t *testing.T) {
	t.Parallel()
	f, p, armed := armedProxy(t)
	d := f.newDrop(t, 1, 1)
	f.register(t, d.ID, "winner", "late")
	f.clock.Set(t0)
	if res, err := f.eng.ReserveBatch(ctx(t), d.ID, []engine.ReserveRequest{keyed("winner", "k-win")}); err != nil || res[0].Err != nil {
		t.Fatalf("sell-out: %+v %v", res, err)
	}
	// Warm the script, so the armed fault lands on a call Redis runs.
	if _, ok, err := f.store.AnswerSoldOut(ctx(t), d.ID, f.clock.Now(), []engine.ReserveRequest{keyed("late", "k-warm")}); err != nil || !ok {
		t.Fatalf("warm-up: ok=%v %v", ok, err)
	}
	armed.Store(true)
	got, ok, err := f.store.AnswerSoldOut(ctx(t), d.ID, f.clock.Now(), []engine.ReserveRequest{keyed("late", "k-lost"), keyed("winner", "k-win")})
	if err != nil || !ok {
		t.Fatalf("through a lost reply: ok=%v %v", ok, err)
	}
	if p.Faults() != 1 {
		t.Fatalf("the proxy dropped %d replies, want 1", p.Faults())
	}
	if _, isSoldOut := soldOutPosition(got[0].Err); !isSoldOut || got[0].Replayed {
		t.Errorf("a fresh press through a lost reply: %+v, want sold_out, not replayed", got[0])
	}
	if got[1].Err != nil || !got[1].Replayed {
		t.Errorf("the win's replay through a lost reply: %+v", got[1])
	}
}

// outcome is what a shopper learns from a reserve answer, without the
// reservation's id (two drops' ids differ).
type outcome struct {
	code     string
	pos      int64
	replayed bool
	user     string
	qty      int64
	status   engine.Status
}

func outcomeOf(r engine.ReserveResult) outcome {
	o := outcome{replayed: r.Replayed, user: r.Reservation.User, qty: r.Reservation.Quantity, status: r.Reservation.Status}
	for _, c := range []struct {
		err  error
		code string
	}{{engine.ErrSoldOut, "sold_out"}, {engine.ErrNotRegistered, "not_registered"}, {engine.ErrLimitReached, "limit_reached"},
		{engine.ErrIdempotencyMismatch, "idempotency_mismatch"}} {
		if errors.Is(r.Err, c.err) {
			o.code = c.code
		}
	}
	switch {
	case r.Err == nil:
		o.code = "won"
	case o.code == "":
		o.code = r.Err.Error()
	}
	o.pos, _ = soldOutPosition(r.Err)
	return o
}

// TestAnswerSoldOutMatchesReserve: two drops live the same sale; after
// the sell-out one answers every keyed press with reserve.lua, the other
// with soldout.lua, over random presses (keys reused with the same or
// another body, shoppers at their limit, on the waitlist, not
// registered) and releases that go to the waitlist. Every answer must be
// the same.
func TestAnswerSoldOutMatchesReserve(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f *fixture) {
		a, b := f.newDrop(t, 3, 2), f.newDrop(t, 3, 2)
		shoppers := users("s", 8)
		f.register(t, a.ID, shoppers...)
		f.register(t, b.ID, shoppers...)
		f.clock.Set(t0)
		rng := rand.New(rand.NewPCG(uint64(len(f.name)), 42))
		both := func(reqs []engine.ReserveRequest) ([]engine.ReserveResult, []engine.ReserveResult) {
			ra, err := f.eng.ReserveBatch(ctx(t), a.ID, reqs)
			if err != nil {
				t.Fatal(err)
			}
			rb, err := f.eng.ReserveBatch(ctx(t), b.ID, reqs)
			if err != nil {
				t.Fatal(err)
			}
			return ra, rb
		}
		// The sell-out, and a waitlist of three.
		ra, rb := both([]engine.ReserveRequest{keyed("s-0", "k0"), {User: "s-1", Quantity: 2, IdempotencyKey: "k1"},
			{User: "s-2", Quantity: 1, Waitlist: true, IdempotencyKey: "w2"}, {User: "s-3", Quantity: 2, Waitlist: true},
			{User: "s-4", Quantity: 1, Waitlist: true, IdempotencyKey: "w4"}})
		for i := range ra {
			if outcomeOf(ra[i]) != outcomeOf(rb[i]) {
				t.Fatalf("the sell-out differs at %d: %+v vs %+v", i, ra[i], rb[i])
			}
		}
		held := map[string][2]string{} // user -> her reservation in a and in b
		for i := range ra {
			if ra[i].Err == nil {
				held[ra[i].Reservation.User] = [2]string{ra[i].Reservation.ID, rb[i].Reservation.ID}
			}
		}
		who := append(slices.Clone(shoppers), "stranger")
		compared := 0
		seen := map[string]bool{}
		for step := 0; step < 60; step++ {
			if step == 20 || step == 40 {
				// A release: the unit goes to the head of the waitlist.
				u := []string{"s-0", "s-1"}[step/20-1]
				for i, d := range []string{a.ID, b.ID} {
					if _, err := f.eng.Cancel(ctx(t), held[u][i], u); err != nil {
						t.Fatalf("cancel in %s: %v", d, err)
					}
				}
			}
			reqs := make([]engine.ReserveRequest, 1+rng.IntN(8))
			for i := range reqs {
				u := who[rng.IntN(len(who))]
				key := fmt.Sprintf("k%d", rng.IntN(12)) // reused across shoppers and presses
				reqs[i] = engine.ReserveRequest{User: u, Quantity: 1 + rng.Int64N(2), IdempotencyKey: key}
			}
			if step%7 == 0 {
				// The winners' own presses again: replays of their wins
				// (held, then cancelled).
				reqs = append(reqs, keyed("s-0", "k0"), engine.ReserveRequest{User: "s-1", Quantity: 2, IdempotencyKey: "k1"})
			}
			want, err := f.eng.ReserveBatch(ctx(t), a.ID, reqs)
			if err != nil {
				t.Fatal(err)
			}
			got, ok, err := f.store.AnswerSoldOut(ctx(t), b.ID, f.clock.Now(), reqs)
			if err != nil || !ok {
				t.Fatalf("step %d: ok=%v %v (the drop is sold out)", step, ok, err)
			}
			for i := range reqs {
				compared++
				o := outcomeOf(got[i])
				seen[fmt.Sprintf("%s pos>0=%v replayed=%v", o.code, o.pos > 0, o.replayed)] = true
				if outcomeOf(want[i]) != outcomeOf(got[i]) {
					t.Fatalf("step %d, press %+v: reserve.lua %+v, soldout.lua %+v", step, reqs[i], outcomeOf(want[i]), outcomeOf(got[i]))
				}
			}
		}
		if sa, sb := f.stats(t, a.ID), f.stats(t, b.ID); sa != sb {
			t.Fatalf("the drops' counters differ: %+v vs %+v", sa, sb)
		}
		// The presses covered every kind of answer.
		for _, k := range []string{"won pos>0=false replayed=true", "sold_out pos>0=false replayed=false", "sold_out pos>0=true replayed=false",
			"sold_out pos>0=false replayed=true", "limit_reached pos>0=false replayed=false", "limit_reached pos>0=false replayed=true",
			"idempotency_mismatch pos>0=false replayed=false", "not_registered pos>0=false replayed=false"} {
			if !seen[k] {
				t.Errorf("no press was answered %s (answers: %v)", k, seen)
			}
		}
		t.Logf("%d presses answered alike", compared)
		checkInvariants(t, f, b, nil)
	})
}
