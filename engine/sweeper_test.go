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

func (s *sweepStore) ExpireDue(context.Context, string, time.Time, int) (int, time.Time, error) {
	s.calls.Add(1)
	if s.failing.Load() {
		return 0, time.Time{}, errors.New("redis down")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.expires) == 0 {
		return 0, time.Time{}, nil
	}
	n := s.expires[0]
	s.expires = s.expires[1:]
	return n, time.Time{}, nil
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
	if _, _, err := engine.NewSweeper(e, engine.SweeperOptions{}).SweepOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	if st.calls.Load() != 3 || st.ended.Load() != 1 {
		t.Fatalf("expire calls %d (want 3), end-waitlist calls %d (want 1, the ended sale's)", st.calls.Load(), st.ended.Load())
	}
}

// lookStore answers each drop's expiry step with the deadline set for it
// (next), and counts the steps and waitlist ends per drop.
type lookStore struct {
	engine.Store
	drops   []engine.Drop
	next    map[string]time.Time
	due     map[string]int // expired by the next step
	expires map[string]int
	ends    map[string]int
	fail    bool
}

func (s *lookStore) Drops(context.Context) ([]engine.Drop, error) { return s.drops, nil }

func (s *lookStore) ExpireDue(_ context.Context, drop string, _ time.Time, _ int) (int, time.Time, error) {
	s.expires[drop]++
	if s.fail {
		return 0, time.Time{}, errors.New("redis down")
	}
	n := s.due[drop]
	s.due[drop] = 0
	return n, s.next[drop], nil
}

func (s *lookStore) EndWaitlist(_ context.Context, drop string, _ time.Time, _ int) (int, error) {
	s.ends[drop]++
	return 0, nil
}

// TestSweeperLooksOnlyWhenSomethingCanBeDue drives the sweeper's schedule
// with a manual clock: a drop is looked at again at the earliest deadline
// its last look reported, or when a hold made since could be due (the
// look less SweepSkew plus the hold time, or the sale's start plus the
// hold time), and never again once its sale ended for every clock with
// no hold left and its waitlist ended.
func TestSweeperLooksOnlyWhenSomethingCanBeDue(t *testing.T) {
	now := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	hold := 600 * time.Second
	drop := func(id string, starts, ends time.Duration) engine.Drop {
		d := engine.Drop{ID: id, SaleStartsAt: now.Add(starts), HoldSeconds: int64(hold / time.Second)}
		if ends != 0 {
			d.SaleEndsAt = now.Add(ends)
		}
		return d
	}
	st := &lookStore{
		drops: []engine.Drop{
			drop("upcoming", time.Hour, 0),
			drop("live", -time.Minute, 0),
			drop("idle", -time.Minute, 0),
			drop("ended", -2*time.Hour, -time.Hour),
			drop("ending", -time.Hour, -time.Second),
		},
		next: map[string]time.Time{"live": now.Add(30 * time.Second), "ending": now.Add(20 * time.Second)},
		due:  map[string]int{}, expires: map[string]int{}, ends: map[string]int{},
	}
	clock := engine.NewManualClock(now)
	e := engine.New(st, engine.Options{Clock: clock, ExpireStep: 4})
	sw := engine.NewSweeper(e, engine.SweeperOptions{})
	sweep := func() {
		t.Helper()
		if _, _, err := sw.SweepOnce(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	check := func(when string, expires, ends map[string]int) {
		t.Helper()
		for id, n := range expires {
			if st.expires[id] != n {
				t.Errorf("%s: %s looked at %d times, want %d", when, id, st.expires[id], n)
			}
		}
		for id, n := range ends {
			if st.ends[id] != n {
				t.Errorf("%s: %s's waitlist ended %d times, want %d", when, id, st.ends[id], n)
			}
		}
	}
	sweep()
	check("first sweep", map[string]int{"upcoming": 1, "live": 1, "idle": 1, "ended": 1, "ending": 1},
		map[string]int{"ended": 1, "ending": 1, "live": 0})
	sweep()
	// "ending" ended a second ago: a node whose clock is behind may still
	// add to its waitlist, so it is ended again until SweepSkew has passed.
	check("at once", map[string]int{"upcoming": 1, "live": 1, "idle": 1, "ended": 1, "ending": 2},
		map[string]int{"ended": 1, "ending": 2})
	clock.Set(now.Add(engine.SweepSkew))
	sweep()
	sweep()
	check("the skew later", map[string]int{"live": 1, "ended": 1, "ending": 3}, map[string]int{"ending": 3})

	// ending's hold deadline comes; then nothing is left and no node can
	// make a hold: never again.
	clock.Set(now.Add(20*time.Second - time.Millisecond))
	sweep()
	check("before ending's deadline", map[string]int{"ending": 3}, nil)
	st.next["ending"] = time.Time{}
	clock.Set(now.Add(20 * time.Second))
	sweep()
	check("ending's deadline", map[string]int{"ending": 4}, map[string]int{"ending": 4})
	// live's reported deadline comes.
	clock.Set(now.Add(30*time.Second - time.Millisecond))
	sweep()
	check("before live's deadline", map[string]int{"live": 1}, nil)
	st.next["live"] = time.Time{} // its last hold goes
	clock.Set(now.Add(30 * time.Second))
	sweep()
	check("at live's deadline", map[string]int{"live": 2, "idle": 1, "ending": 4}, nil)

	// idle was last looked at at now: a hold made since, by a node whose
	// clock is up to SweepSkew behind, is due at now-SweepSkew+hold.
	clock.Set(now.Add(hold - engine.SweepSkew - time.Millisecond))
	sweep()
	check("before idle's bound", map[string]int{"idle": 1}, nil)
	clock.Set(now.Add(hold - engine.SweepSkew))
	sweep()
	check("idle's bound", map[string]int{"idle": 2, "live": 1 + 1}, nil)

	// upcoming: no hold before the sale opens, so none due before its
	// start plus the hold time.
	clock.Set(now.Add(time.Hour + hold - time.Millisecond))
	sweep()
	check("before upcoming's bound", map[string]int{"upcoming": 1}, nil)
	clock.Set(now.Add(time.Hour + hold))
	sweep()
	check("upcoming's bound", map[string]int{"upcoming": 2, "ended": 1, "ending": 4}, map[string]int{"ended": 1, "ending": 4})

	// A backlog (a whole step expired) is looked at again at once; a
	// failed look is tried again at the next sweep.
	clock.Set(clock.Now().Add(hold))
	st.due["idle"] = 4
	if _, backlog, err := sw.SweepOnce(context.Background()); err != nil || !backlog {
		t.Fatalf("a whole step expired: backlog %v, %v", backlog, err)
	}
	if _, backlog, err := sw.SweepOnce(context.Background()); err != nil || backlog {
		t.Fatalf("the backlog worked off: backlog %v, %v", backlog, err)
	}
	check("a backlog", map[string]int{"idle": 5}, nil)
	clock.Set(clock.Now().Add(hold))
	st.fail = true
	if _, _, err := sw.SweepOnce(context.Background()); err == nil {
		t.Fatal("a failed look reported no error")
	}
	st.fail = false
	sweep()
	check("after a failure", map[string]int{"idle": 7}, nil)
	sweep()
	check("after the look that worked", map[string]int{"idle": 7, "ended": 1}, nil)

	// A drop whose times change is looked at at once.
	for i := range st.drops { // (listing sorts the store's slice by id)
		if st.drops[i].ID == "ended" {
			st.drops[i].SaleEndsAt = now.Add(24 * time.Hour)
		}
	}
	sweep()
	check("ended reopened", map[string]int{"ended": 2}, nil)
}
