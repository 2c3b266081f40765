// Package run holds the Start/Close contract of flashdrop's long-running
// parts (the relay, the sold-out flags, the stream keeper, the webhook
// deliverer): a loop started once in the background, stopped once, and
// waited for, with its goroutines; plus the timing helpers those loops
// share.
package run

import (
	"context"
	"sync"
	"time"
)

// Lifecycle runs one background loop: the first Start runs it, later
// starts do nothing, Stop cancels it and waits for it and for every
// goroutine it spawned, and stopping twice (or before starting) is fine.
// The zero value is ready to use.
type Lifecycle struct {
	mu      sync.Mutex
	started bool
	stopped bool
	cancel  context.CancelFunc
	wg      sync.WaitGroup
}

// Start runs loop with a context that Stop cancels.
func (l *Lifecycle) Start(ctx context.Context, loop func(context.Context)) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.started || l.stopped {
		return
	}
	l.started = true
	ctx, l.cancel = context.WithCancel(ctx)
	l.Spawn(func() { loop(ctx) })
}

// Spawn runs fn in a goroutine that Stop waits for.
func (l *Lifecycle) Spawn(fn func()) {
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		fn()
	}()
}

// Stop cancels the loop and waits for everything started.
func (l *Lifecycle) Stop() {
	l.mu.Lock()
	l.stopped = true
	cancel := l.cancel
	l.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	l.wg.Wait()
}

// Every calls fn at once and then each period until ctx ends.
func Every(ctx context.Context, period time.Duration, fn func(context.Context)) {
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

// Backoff doubles a wait from Min to Max; Reset after a success.
type Backoff struct{ min, max, cur time.Duration }

// NewBackoff starts a backoff at min.
func NewBackoff(min, max time.Duration) *Backoff { return &Backoff{min: min, max: max, cur: min} }

// Sleep waits d, or until ctx ends.
func Sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// Wait sleeps the current wait (or until ctx ends) and doubles it.
func (b *Backoff) Wait(ctx context.Context) {
	Sleep(ctx, b.cur)
	if b.cur *= 2; b.cur > b.max {
		b.cur = b.max
	}
}

// Reset starts the waits over at min.
func (b *Backoff) Reset() { b.cur = b.min }
