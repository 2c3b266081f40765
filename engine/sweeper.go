package engine

import (
	"context"
	"sync"
	"time"
)

// DefaultSweepInterval is how often a Sweeper sweeps unless told otherwise.
const DefaultSweepInterval = time.Second

// Sweeper runs Engine.ExpireDue on an interval, so holds whose deadline
// has passed release their units even when nobody touches the drop. Every
// node may run one: the store expires each hold exactly once.
type Sweeper struct {
	eng      *Engine
	interval time.Duration
	onError  func(error)
	onSwept  func(int)

	mu     sync.Mutex
	cancel context.CancelFunc
	done   chan struct{}
}

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
}

// NewSweeper returns a stopped Sweeper for e.
func NewSweeper(e *Engine, opts SweeperOptions) *Sweeper {
	s := &Sweeper{eng: e, interval: opts.Interval, onError: opts.OnError, onSwept: opts.OnSwept}
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
		n, err := s.eng.ExpireDue(ctx)
		if err != nil && ctx.Err() == nil {
			s.onError(err)
		}
		s.onSwept(n)
		// A backlog (a whole step per drop was due) is worked off at once
		// rather than one step per interval.
		next := s.interval
		if err == nil && n > 0 && n >= s.eng.expireStep {
			next = 0
		}
		t.Reset(next)
	}
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
