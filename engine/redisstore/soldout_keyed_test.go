package redisstore_test

import (
	"errors"
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
