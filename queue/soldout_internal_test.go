package queue

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestSoldOutFlagsConcurrent: flags read without a lock while drops are
// added and news arrives (run with -race); a stale flag is refreshed once
// for all the requests waiting on it, and answers as the store does.
func TestSoldOutFlagsConcurrent(t *testing.T) {
	var clock atomic.Int64 // seconds after t0
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	var refreshes atomic.Int64
	f := NewSoldOutFlags(nil, func(context.Context, string) (bool, int64, error) {
		refreshes.Add(1)
		return true, 99, nil
	}, SoldOutOptions{TTL: 2 * time.Second, Now: func() time.Time { return t0.Add(time.Duration(clock.Load()) * time.Second) }})
	const drops = 50
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range drops {
				d := fmt.Sprint("drop-", i)
				if w%2 == 0 {
					f.set(d, i%2 == 0, int64(1+w))
				} else {
					f.SoldOut(d)
				}
			}
		})
	}
	wg.Wait()
	for i := range drops {
		if got := f.SoldOut(fmt.Sprint("drop-", i)); got != (i%2 == 0) {
			t.Fatalf("drop-%d: sold out %v", i, got)
		}
	}
	if f.SoldOut("never-heard-of") {
		t.Fatal("a drop without news is sold out")
	}
	if n := refreshes.Load(); n != 0 {
		t.Fatalf("%d refreshes of fresh flags", n)
	}
	clock.Store(3) // every flag is past its TTL
	for range 8 {
		wg.Go(func() {
			if !f.SoldOut("drop-0") {
				t.Error("a refreshed sold-out flag answered false")
			}
		})
	}
	wg.Wait()
	if n := refreshes.Load(); n != 1 {
		t.Fatalf("%d refreshes for one stale flag, want 1", n)
	}
	if f.SoldOut("drop-1") || refreshes.Load() != 1 {
		t.Fatal("a flag that is not sold out went to the store")
	}
}
