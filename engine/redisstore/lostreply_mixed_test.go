package redisstore_test

import (
	"errors"
	"testing"

	"github.com/flashdrop/flashdrop/engine"
)

// TestLostReplyMixedBatch: a reserve batch whose reply is lost mixes
// fresh wins (keyed and not, the same shopper twice) with answers that
// take no id from the call's pool and come before them (not registered,
// a keyed replay of an earlier win, limit reached, sold out with and
// without a waitlist join). The repeat must answer each request as the
// first run did: fresh wins by the ids of the first run's won events, in
// request order, not marked replayed; the keyed replay as replayed.
func TestLostReplyMixedBatch(t *testing.T) {
	t.Parallel()
	f, _, armed := armedProxy(t)
	d := f.newDrop(t, 5, 2)
	f.register(t, d.ID, "alice", "bob", "carol", "erin", "dave")
	pre, err := f.store.ReserveBatch(ctx(t), d.ID, t0, []engine.ReserveRequest{{User: "alice", Quantity: 1, IdempotencyKey: "ka"}})
	if err != nil || pre[0].Err != nil {
		t.Fatalf("alice's first win: %+v %v", pre, err)
	}
	before := countEvents(f.events(t, d.ID), engine.EventWon)

	reqs := []engine.ReserveRequest{
		{User: "zed", Quantity: 1},                         // 0 not registered
		{User: "alice", Quantity: 1, IdempotencyKey: "ka"}, // 1 replay of alice's win
		{User: "bob", Quantity: 1, IdempotencyKey: "kb"},   // 2 fresh keyed win
		{User: "bob", Quantity: 1},                         // 3 fresh win, same shopper
		{User: "bob", Quantity: 1, IdempotencyKey: "kb3"},  // 4 limit reached (stored)
		{User: "carol", Quantity: 2},                       // 5 fresh win, sells out
		{User: "erin", Quantity: 1, Waitlist: true},        // 6 sold out, joins the waitlist
		{User: "dave", Quantity: 1, IdempotencyKey: "kd"},  // 7 sold out, stored, no waitlist
	}
	armed.Store(true)
	res, err := f.store.ReserveBatch(ctx(t), d.ID, t0, reqs)
	if err != nil {
		t.Fatal(err)
	}
	if armed.Load() {
		t.Fatal("no reply was dropped")
	}
	var won []engine.Event
	for _, e := range f.events(t, d.ID) {
		if e.Type == engine.EventWon {
			won = append(won, e)
		}
	}
	if len(won) != before+3 {
		t.Fatalf("won events: %d, want %d (one run)", len(won), before+3)
	}
	won = won[before:]
	for j, i := range []int{2, 3, 5} {
		got, e := res[i].Reservation, won[j]
		if res[i].Err != nil || res[i].Replayed || got.ID == "" || got.ID != e.Reservation || got.User != reqs[i].User ||
			got.Quantity != reqs[i].Quantity || got.ShareCode != e.ShareCode || got.Status != engine.StatusHeld {
			t.Fatalf("request %d after a lost reply: %+v, the first run's event %d: %+v", i, res[i], j, e)
		}
	}
	if !errors.Is(res[0].Err, engine.ErrNotRegistered) || res[0].Replayed {
		t.Fatalf("request 0: %+v", res[0])
	}
	if res[1].Err != nil || !res[1].Replayed || res[1].Reservation.ID != pre[0].Reservation.ID {
		t.Fatalf("request 1 (keyed replay of %s): %+v", pre[0].Reservation.ID, res[1])
	}
	if !errors.Is(res[4].Err, engine.ErrLimitReached) || res[4].Replayed {
		t.Fatalf("request 4: %+v", res[4])
	}
	var so *engine.SoldOutError
	if !errors.As(res[6].Err, &so) || so.WaitlistPosition != 1 || res[6].Replayed {
		t.Fatalf("request 6: %+v, want sold out at waitlist position 1", res[6])
	}
	if !errors.Is(res[7].Err, engine.ErrSoldOut) || errors.As(res[7].Err, &so) || res[7].Replayed {
		t.Fatalf("request 7: %+v, want sold out off the waitlist", res[7])
	}
	// The keyed fresh win is what its key replays.
	again, err := f.store.ReserveBatch(ctx(t), d.ID, t0, reqs[2:3])
	if err != nil || !again[0].Replayed || again[0].Reservation.ID != res[2].Reservation.ID {
		t.Fatalf("bob's key after the lost reply: %+v %v, want %s", again, err, res[2].Reservation.ID)
	}
	if st := f.stats(t, d.ID); st.Held != 5 || st.Available != 0 || st.Reservations != 4 {
		t.Fatalf("stats: %+v", st)
	}
}
