package engine_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flashdrop/flashdrop/engine"
)

// sweepStore counts the sweeper's store calls. Each ExpireDue answers the
// next of its scripted counts (then 0), or fails while failing is set.
type sweepStore struct {
	engine.Store
	mu      sync.Mutex
	drops   []engine.Drop
	expires []int
	calls   atomic.Int64
	ended   atomic.Int64
	failing atomic.Bool
}

func (s *sweepStore) Drops(context.Context) ([]engine.Drop, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.drops, nil
}

func (s *sweepStore) ExpireDue(context.Context, string, time.Time, int) (int, error) {
	s.calls.Add(1)
	if s.failing.Load() {
		return 0, errors.New("redis down")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.expires) == 0 {
		return 0, nil
	}
	n := s.expires[0]
	s.expires = s.expires[1:]
	return n, nil
}

func (s *sweepStore) EndWaitlist(context.Context, string, time.Time, int) (int, error) {
	s.ended.Add(1)
	return 0, nil
}

// wait polls cond for up to 10s (engine's tests use no shared kit: the
// package imports nothing of this module, tests included).
func wait(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestSweeperSweepsUntilClosed(t *testing.T) {
	st := &sweepStore{drops: []engine.Drop{{ID: "d"}}, expires: []int{4, 4, 4, 1}}
	e := engine.New(st, engine.Options{ExpireStep: 4})
	var swept atomic.Int64
	sw := engine.NewSweeper(e, engine.SweeperOptions{Interval: time.Millisecond, OnSwept: func(n int) { swept.Add(int64(n)) }})
	if err := sw.Close(); err != nil { // closing a sweeper never started is fine
		t.Fatal(err)
	}
	sw = engine.NewSweeper(e, engine.SweeperOptions{Interval: time.Millisecond, OnSwept: func(n int) { swept.Add(int64(n)) }})
	sw.Start(context.Background())
	wait(t, "every due hold to be swept", func() bool { return swept.Load() == 13 })
	if err := sw.Close(); err != nil {
		t.Fatal(err)
	}
	calls := st.calls.Load()
	if err := sw.Close(); err != nil { // twice is fine
		t.Fatal(err)
	}
	if st.calls.Load() != calls {
		t.Fatal("a closed sweeper kept sweeping")
	}
}

func TestSweeperReportsErrorsAndKeepsGoing(t *testing.T) {
	st := &sweepStore{drops: []engine.Drop{{ID: "d"}}}
	st.failing.Store(true)
	e := engine.New(st, engine.Options{})
	var errs atomic.Int64
	sw := engine.NewSweeper(e, engine.SweeperOptions{Interval: time.Millisecond, OnError: func(error) { errs.Add(1) }})
	sw.Start(context.Background())
	sw.Start(context.Background()) // a second start does nothing
	wait(t, "errors reported", func() bool { return errs.Load() >= 3 })
	st.failing.Store(false)
	before := st.calls.Load()
	wait(t, "sweeps after the store came back", func() bool { return st.calls.Load() > before+2 })
	sw.Close()
}

func TestSweeperEndsWaitlistsOfEndedSalesOnly(t *testing.T) {
	now := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	st := &sweepStore{drops: []engine.Drop{
		{ID: "running", SaleEndsAt: now.Add(time.Hour)},
		{ID: "open-ended"},
		{ID: "ended", SaleEndsAt: now.Add(-time.Minute)},
	}}
	e := engine.New(st, engine.Options{Clock: engine.NewManualClock(now)})
	if _, err := e.ExpireDue(context.Background()); err != nil {
		t.Fatal(err)
	}
	if st.calls.Load() != 3 || st.ended.Load() != 1 {
		t.Fatalf("expire calls %d (want 3), end-waitlist calls %d (want 1, the ended sale's)", st.calls.Load(), st.ended.Load())
	}
}
