package redisstore_test

import (
	"errors"
	"reflect"
	"testing"

	"github.com/flashdrop/flashdrop/engine"
)

// TestShopperViewsInOneCall: one call reads many shoppers' views of a
// drop, each as the single view reads it: a winner with her hold, two on
// the waitlist in order, one registered with nothing, one not registered,
// and the same shopper twice. A drop that does not exist is not found.
func TestShopperViewsInOneCall(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f *fixture) {
		d := f.newDrop(t, 1, 1)
		f.register(t, d.ID, "alice", "bob", "carol", "dave")
		f.clock.Set(t0)
		won, err := f.eng.Reserve(ctx(t), d.ID, engine.ReserveRequest{User: "alice", Quantity: 1})
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range []string{"bob", "carol"} {
			if _, err := f.eng.Reserve(ctx(t), d.ID, engine.ReserveRequest{User: u, Quantity: 1, Waitlist: true}); !errors.Is(err, engine.ErrSoldOut) {
				t.Fatalf("%s: %v", u, err)
			}
		}
		users := []string{"alice", "bob", "carol", "dave", "eve", "alice"}
		vs, err := f.store.ShopperViews(ctx(t), d.ID, users)
		if err != nil || len(vs) != len(users) {
			t.Fatalf("%d views, %v", len(vs), err)
		}
		for i, u := range users {
			one, err := f.store.ShopperView(ctx(t), d.ID, u)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(vs[i], one) {
				t.Errorf("%s: in the batch %+v, alone %+v", u, vs[i], one)
			}
		}
		pos := func(v engine.ShopperView) int64 {
			if v.WaitlistPosition == nil {
				return 0
			}
			return *v.WaitlistPosition
		}
		if a := vs[0]; !a.Registered || a.Reservation == nil || a.Reservation.ID != won.ID || a.Reservation.Status != engine.StatusHeld || pos(a) != 0 {
			t.Errorf("alice: %+v", a)
		}
		if pos(vs[1]) != 1 || pos(vs[2]) != 2 || vs[1].Reservation != nil {
			t.Errorf("the waitlist: bob %+v, carol %+v", vs[1], vs[2])
		}
		if v := vs[3]; !v.Registered || v.Reservation != nil || pos(v) != 0 {
			t.Errorf("dave: %+v", v)
		}
		if v := vs[4]; v.Registered || v.Reservation != nil {
			t.Errorf("eve, not registered: %+v", v)
		}
		if _, err := f.store.ShopperViews(ctx(t), "no-such-drop-"+d.ID, users); !errors.Is(err, engine.ErrNotFound) {
			t.Errorf("a missing drop: %v", err)
		}
	})
}
