package redisstore_test

import (
	"testing"
	"time"

	"github.com/flashdrop/flashdrop/engine"
)

// TestStatsSayWhenExpiriesAreOverdue: the stats carry how long the
// earliest hold not yet expired has been past its deadline. With no
// worker node sweeping (an ops review ran API nodes alone for 20 s: 450
// holds past their deadlines stayed held, and nothing said so), ops see
// it; once a sweep expires them, it is 0 again.
func TestStatsSayWhenExpiriesAreOverdue(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f *fixture) {
		d := f.newDrop(t, 2, 1, func(d *engine.Drop) { d.HoldSeconds = 60 })
		f.register(t, d.ID, "alice", "bob")
		f.clock.Set(t0)
		a, err := f.eng.Reserve(ctx(t), d.ID, engine.ReserveRequest{User: "alice", Quantity: 1})
		if err != nil {
			t.Fatal(err)
		}
		if st := f.stats(t, d.ID); st.ExpiriesOverdue != 0 || !st.NextExpiry.IsZero() {
			t.Fatalf("a hold within its time: %+v", st)
		}
		f.clock.Set(a.ExpiresAt.Add(500 * time.Millisecond))
		if st := f.stats(t, d.ID); st.ExpiriesOverdue != 0 {
			t.Fatalf("half a second past the deadline, within a sweep's time: %+v", st)
		}
		f.clock.Set(a.ExpiresAt.Add(42*time.Second + 300*time.Millisecond))
		if st := f.stats(t, d.ID); st.ExpiriesOverdue != 42 || st.Held != 1 {
			t.Fatalf("42.3 s past the deadline, unswept: %+v", st)
		}
		if n, err := f.eng.ExpireDrop(ctx(t), d.ID); err != nil || n != 1 {
			t.Fatalf("sweep: %d %v", n, err)
		}
		if st := f.stats(t, d.ID); st.ExpiriesOverdue != 0 || st.Held != 0 {
			t.Fatalf("after the sweep: %+v", st)
		}
	})
}
