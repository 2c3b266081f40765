package engine

import (
	"context"
	"errors"
	"sync"
	"time"
)

// DefaultSweepInterval is how often a Sweeper sweeps unless told otherwise.
const DefaultSweepInterval = time.Second

// Sweeper expires holds whose deadline has passed, so they release their
// units even when nobody touches the drop, and ends the waitlists of sales
// that ended. Every node may run one: the store expires each hold exactly
// once.
//
// It looks at a drop again only when something can be due: each look
// returns the earliest deadline of the holds left, and a hold made after
// a look cannot be due before the look plus the drop's hold time (less
// the clock skew allowed between nodes), nor before the sale's start plus
// the hold time. A drop whose sale ended (for every node's clock) with no
// hold left, and its waitlist ended, is not looked at again. Before, every
// node looked at every drop every second: a script call each (two for an
// ended sale), for drops that ended weeks ago.
type Sweeper struct {
	eng      *Engine
	interval time.Duration
	drops    DropLister
	onError  func(error)
	onSwept  func(int)

	// looks is each drop's schedule, used by the loop alone.
	looks map[string]*dropLook

	mu     sync.Mutex
	cancel context.CancelFunc
	done   chan struct{}
}

// dropLook is when the sweeper looks at a drop next, and what it knew of
// the drop then: a drop whose times or hold changed is looked at at once.
type dropLook struct {
	at            time.Time
	waitlistEnded bool
	starts, ends  time.Time
	hold          int64
}

// SweepSkew is how far apart the nodes' clocks may be for the sweeper's
// schedule to hold: a hold is made with its node's clock, so a node whose
// clock is behind can make one due up to this much before the sweeper's
// reckoning. Beyond it an expiry can be late by the difference, never
// early (I7: the store compares deadlines with the sweeping node's now).
const SweepSkew = 5 * time.Second

// never is a look that does not come.
var never = time.Unix(1<<62, 0)

// SweeperOptions configure a Sweeper. The zero value means the defaults.
type SweeperOptions struct {
	// Interval between sweeps; default 1s. A step that expired a full
	// ExpireStep of holds is followed at once by another.
	Interval time.Duration
	// OnError is told about failed sweeps (the store was unreachable);
	// the sweeper keeps going. Default: ignore.
	OnError func(error)
	// OnSwept is told how many holds each sweep expired (for metrics).
	OnSwept func(int)
	// Drops lists the drops to sweep; default the Engine (the store, on
	// every sweep). A node passes its shared DropList.
	Drops DropLister
}

// NewSweeper returns a stopped Sweeper for e.
func NewSweeper(e *Engine, opts SweeperOptions) *Sweeper {
	s := &Sweeper{eng: e, interval: opts.Interval, drops: opts.Drops, onError: opts.OnError, onSwept: opts.OnSwept,
		looks: map[string]*dropLook{}}
	if s.drops == nil {
		s.drops = e
	}
	if s.interval <= 0 {
		s.interval = DefaultSweepInterval
	}
	if s.onError == nil {
		s.onError = func(error) {}
	}
	if s.onSwept == nil {
		s.onSwept = func(int) {}
	}
	return s
}

// Start begins sweeping in the background until ctx ends or Close is
// called. Starting a started sweeper does nothing.
func (s *Sweeper) Start(ctx context.Context) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done != nil {
		return
	}
	ctx, s.cancel = context.WithCancel(ctx)
	s.done = make(chan struct{})
	go s.loop(ctx, s.done)
}

func (s *Sweeper) loop(ctx context.Context, done chan struct{}) {
	defer close(done)
	t := time.NewTimer(s.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		n, backlog, err := s.sweep(ctx)
		if err != nil && ctx.Err() == nil {
			s.onError(err)
		}
		s.onSwept(n)
		// A backlog (a whole step of a drop was due) is worked off at once
		// rather than one step per interval.
		next := s.interval
		if backlog {
			next = 0
		}
		t.Reset(next)
	}
}

// sweep looks at every drop whose look is due, and reports how many holds
// it expired and whether a drop has more due at once.
func (s *Sweeper) sweep(ctx context.Context) (int, bool, error) {
	ds, err := s.drops.Drops(ctx)
	if err != nil {
		return 0, false, err
	}
	now := s.eng.clock.Now()
	total, backlog := 0, false
	var errs []error
	listed := make(map[string]bool, len(ds))
	for _, d := range ds {
		listed[d.ID] = true
		l := s.looks[d.ID]
		if l == nil || !l.starts.Equal(d.SaleStartsAt) || !l.ends.Equal(d.SaleEndsAt) || l.hold != d.HoldSeconds {
			l = &dropLook{starts: d.SaleStartsAt, ends: d.SaleEndsAt, hold: d.HoldSeconds}
			s.looks[d.ID] = l
		}
		ended := d.SaleEnded(now)
		if now.Before(l.at) && (!ended || l.waitlistEnded) {
			continue
		}
		sw, err := s.eng.sweepDrop(ctx, d.ID, now, ended)
		total += sw.expired
		if err != nil {
			errs = append(errs, err)
			continue // looked at again next sweep
		}
		if sw.expired >= s.eng.expireStep {
			backlog = true
			l.at = time.Time{}
			continue
		}
		// Settled for good only once no node can still take a join.
		l.waitlistEnded = sw.waitlistEnded && d.SaleEnded(now.Add(-SweepSkew))
		l.at = nextLook(d, now, sw.next)
	}
	for id := range s.looks {
		if !listed[id] {
			delete(s.looks, id)
		}
	}
	return total, backlog, errors.Join(errs...)
}

// nextLook is when a drop looked at at now, with next the earliest
// deadline of its holds left (zero if none), can next have a hold due.
func nextLook(d Drop, now, next time.Time) time.Time {
	made := now.Add(-SweepSkew) // the earliest clock a hold made from now on can carry
	if made.Before(d.SaleStartsAt) {
		made = d.SaleStartsAt // no hold is made before the sale opens
	}
	at := made.Add(time.Duration(d.HoldSeconds) * time.Second)
	if d.SaleEnded(now.Add(-SweepSkew)) {
		at = never // no node makes a hold after the sale
	}
	if !next.IsZero() && next.Before(at) {
		at = next
	}
	return at
}

// Close stops the sweeper and waits for a sweep in progress to end. It is
// safe to call more than once, and on a sweeper never started.
func (s *Sweeper) Close() error {
	s.mu.Lock()
	cancel, done := s.cancel, s.done
	s.mu.Unlock()
	if cancel == nil {
		return nil
	}
	cancel()
	<-done
	return nil
}
