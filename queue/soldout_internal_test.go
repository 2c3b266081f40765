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
	f := NewSoldOutFlags(nil, func(context.Context, string) (bool, bool, int64, error) {
		refreshes.Add(1)
		return true, false, 99, nil
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

// TestLearnSoldOutNeverWaits: a flag busy with a refresh (its lock held
// while the store is asked) does not hold up LearnSoldOut, which runs on a
// reserve lane before the batch's answers; news the flag already has
// costs no lock, and newer news is applied once the flag is free.
func TestLearnSoldOutNeverWaits(t *testing.T) {
	f := NewSoldOutFlags(nil, func(context.Context, string) (bool, bool, int64, error) { return true, false, 1, nil }, SoldOutOptions{})
	f.LearnSoldOut("d", 3)
	if !f.SoldOut("d") {
		t.Fatal("not learned")
	}
	fl := f.flag("d")
	fl.mu.Lock() // a refresh in progress
	done := make(chan struct{})
	go func() {
		f.LearnSoldOut("d", 3) // the same news
		f.LearnSoldOut("d", 4) // newer, but the flag is busy
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("LearnSoldOut waited for a busy flag")
	}
	fl.mu.Unlock()
	if got := fl.version.Load(); got != 3 {
		t.Fatalf("a busy flag took news: version %d", got)
	}
	f.LearnSoldOut("d", 4)
	f.LearnSoldOut("d", 2) // older: ignored
	if got := fl.version.Load(); got != 4 || !f.SoldOut("d") {
		t.Fatalf("version %d, sold out %v: want 4, true", got, f.SoldOut("d"))
	}
}

// TestSoldOutRecheckAndHaltedSale: RecheckSoldOut makes a trusted flag ask
// the store at the next read, even in the flags' first TTL (the clock
// does not move here). A store that answers "halted" (a paused sale
// without stock) clears the flag; sold-out news from before the pause (a
// reserve call in flight at it, an event delivered again, news newer than
// the flag's that the store already had) does not flag the paused drop:
// each is checked against the store first. The same news reported once
// the sale resumes flags it again after that check.
func TestSoldOutRecheckAndHaltedSale(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	var refreshes atomic.Int64
	var halted atomic.Bool
	var stored atomic.Int64 // the store's version
	stored.Store(7)
	f := NewSoldOutFlags(nil, func(context.Context, string) (bool, bool, int64, error) {
		refreshes.Add(1)
		return !halted.Load(), halted.Load(), stored.Load(), nil
	}, SoldOutOptions{TTL: time.Minute, Now: func() time.Time { return t0 }})
	f.LearnSoldOut("d", 7)
	if !f.SoldOut("d") || refreshes.Load() != 0 {
		t.Fatalf("a learnt flag: sold out %v after %d refreshes", f.SoldOut("d"), refreshes.Load())
	}
	halted.Store(true) // the drop is paused
	f.RecheckSoldOut("d")
	if f.SoldOut("d") || refreshes.Load() != 1 {
		t.Fatalf("after a recheck of a paused drop: sold out %v after %d refreshes, want false after 1", f.SoldOut("d"), refreshes.Load())
	}
	// Old news while paused: a batch that was in flight, the last sold_out
	// event again after a reconnect, older news.
	f.LearnSoldOut("d", 7)
	if f.SoldOut("d") || refreshes.Load() != 2 {
		t.Fatalf("a stale reserve call's news flagged the paused drop: sold out %v after %d refreshes", f.SoldOut("d"), refreshes.Load())
	}
	f.set("d", true, 7)
	f.LearnSoldOut("d", 6)
	if f.SoldOut("d") || refreshes.Load() != 3 {
		t.Fatalf("a redelivered event flagged the paused drop: sold out %v after %d refreshes", f.SoldOut("d"), refreshes.Load())
	}
	halted.Store(false)
	f.RecheckSoldOut("d")  // resumed on this node
	f.LearnSoldOut("d", 7) // a reserve call reports the same news
	if !f.SoldOut("d") || refreshes.Load() != 4 {
		t.Fatalf("the news of a resumed sale: sold out %v after %d refreshes, want true after 4", f.SoldOut("d"), refreshes.Load())
	}
	if !f.SoldOut("d") || refreshes.Load() != 4 {
		t.Fatal("the resumed sale's flag is not trusted")
	}
	// A restock (newer news) clears the flag as ever.
	f.set("d", false, 8)
	if f.SoldOut("d") {
		t.Fatal("a restocked drop is sold out")
	}

	// News newer than the flag's, from before the pause: the store had
	// version 10 when it said the sale is halted, and a late event of 9
	// or 10 is old.
	stored.Store(10)
	halted.Store(true)
	f.RecheckSoldOut("d") // paused here; the flag is not sold out
	f.LearnSoldOut("d", 9)
	if f.SoldOut("d") || refreshes.Load() != 5 {
		t.Fatalf("news newer than the flag's from before the pause: sold out %v after %d refreshes", f.SoldOut("d"), refreshes.Load())
	}
	f.set("d", true, 10)
	if f.SoldOut("d") || refreshes.Load() != 6 {
		t.Fatalf("the store's own version again while paused: sold out %v after %d refreshes", f.SoldOut("d"), refreshes.Load())
	}

	// The node that pauses a drop it has no flag for: a reserve call in
	// flight at the pause that takes the last unit is checked first.
	f.RecheckSoldOut("e")
	f.LearnSoldOut("e", 3)
	if f.SoldOut("e") || refreshes.Load() != 7 {
		t.Fatalf("a call in flight at the pause flagged the paused drop: sold out %v after %d refreshes", f.SoldOut("e"), refreshes.Load())
	}
}
