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

// TestShopperViewCountsUnits: a shopper's view says how many units she
// holds or has confirmed over all her reservations, which her latest
// reservation alone cannot: after an older confirmed one and a newer
// cancelled one, she still has units counting against the limit.
func TestShopperViewCountsUnits(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f *fixture) {
		d := f.newDrop(t, 10, 3)
		f.register(t, d.ID, "alice", "bob")
		f.clock.Set(t0)
		units := func(u string) int64 {
			t.Helper()
			v, err := f.store.ShopperView(ctx(t), d.ID, u)
			if err != nil {
				t.Fatal(err)
			}
			return v.Units
		}
		if n := units("alice"); n != 0 {
			t.Fatalf("before any press: %d units", n)
		}
		first, err := f.eng.Reserve(ctx(t), d.ID, engine.ReserveRequest{User: "alice", Quantity: 2})
		if err != nil {
			t.Fatal(err)
		}
		if n := units("alice"); n != 2 {
			t.Fatalf("holding 2: %d units", n)
		}
		if _, err := f.eng.Confirm(ctx(t), first.ID, ""); err != nil {
			t.Fatal(err)
		}
		second, err := f.eng.Reserve(ctx(t), d.ID, engine.ReserveRequest{User: "alice", Quantity: 1})
		if err != nil {
			t.Fatal(err)
		}
		if n := units("alice"); n != 3 {
			t.Fatalf("2 confirmed and 1 held: %d units", n)
		}
		if _, err := f.eng.Reserve(ctx(t), d.ID, engine.ReserveRequest{User: "alice", Quantity: 1}); !errors.Is(err, engine.ErrLimitReached) {
			t.Fatalf("a fourth unit of 3 allowed: %v", err)
		}
		if _, err := f.eng.Cancel(ctx(t), second.ID, ""); err != nil {
			t.Fatal(err)
		}
		v, err := f.store.ShopperView(ctx(t), d.ID, "alice")
		if err != nil {
			t.Fatal(err)
		}
		if v.Units != 2 || v.Reservation == nil || v.Reservation.Status != engine.StatusCancelled {
			t.Fatalf("after cancelling the latest: %d units, latest %+v", v.Units, v.Reservation)
		}
		vs, err := f.store.ShopperViews(ctx(t), d.ID, []string{"bob", "alice", "nobody"})
		if err != nil {
			t.Fatal(err)
		}
		if vs[0].Units != 0 || vs[1].Units != 2 || vs[2].Units != 0 {
			t.Fatalf("in one call: bob %d, alice %d, nobody %d", vs[0].Units, vs[1].Units, vs[2].Units)
		}
	})
}
