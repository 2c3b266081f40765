package redisstore_test

import (
	"errors"
	"testing"
	"time"

	"github.com/flashdrop/flashdrop/engine"
)

func TestSmoke(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f *fixture) {
		d := f.newDrop(t, 2, 1)
		f.register(t, d.ID, "alice", "bob", "carol")
		f.clock.Set(t0.Add(time.Second))
		r, err := f.eng.Reserve(ctx(t), d.ID, engine.ReserveRequest{User: "alice", Quantity: 1})
		if err != nil {
			t.Fatalf("reserve: %v", err)
		}
		t.Logf("%+v", r)
		_, err = f.eng.Reserve(ctx(t), d.ID, engine.ReserveRequest{User: "bob", Quantity: 1})
		if err != nil {
			t.Fatal(err)
		}
		_, err = f.eng.Reserve(ctx(t), d.ID, engine.ReserveRequest{User: "carol", Quantity: 1, Waitlist: true})
		var so *engine.SoldOutError
		if !errors.As(err, &so) || so.WaitlistPosition != 1 {
			t.Fatalf("got %v", err)
		}
		if _, err := f.eng.Cancel(ctx(t), r.ID, "alice"); err != nil {
			t.Fatal(err)
		}
		v, err := f.eng.ShopperView(ctx(t), d.ID, "carol")
		t.Logf("%+v %+v %v", v, v.Reservation, err)
		t.Logf("%+v", f.stats(t, d.ID))
		for _, e := range f.events(t, d.ID) {
			t.Logf("%+v", e)
		}
	})
}
