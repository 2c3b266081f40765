package queue

import (
	"context"
	"sync"
	"time"
)

// lifecycle is the Start/Close contract every long-running part of this
// package keeps: the first start runs a loop in the background, later
// starts do nothing, stop cancels it and waits for it and for every
// goroutine it spawned, and stopping twice (or before starting) is fine.
type lifecycle struct {
	mu      sync.Mutex
	started bool
	stopped bool
	cancel  context.CancelFunc
	wg      sync.WaitGroup
}

// start runs loop with a context that stop cancels.
func (l *lifecycle) start(ctx context.Context, loop func(context.Context)) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.started || l.stopped {
		return
	}
	l.started = true
	ctx, l.cancel = context.WithCancel(ctx)
	l.spawn(func() { loop(ctx) })
}

// spawn runs fn in a goroutine that stop waits for.
func (l *lifecycle) spawn(fn func()) {
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		fn()
	}()
}

// stop cancels the loop and waits for everything started.
func (l *lifecycle) stop() {
	l.mu.Lock()
	l.stopped = true
	cancel := l.cancel
	l.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	l.wg.Wait()
}

// every calls fn at once and then each period until ctx ends.
func every(ctx context.Context, period time.Duration, fn func(context.Context)) {
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		fn(ctx)
		t.Reset(period)
	}
}
