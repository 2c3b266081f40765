package engine

import (
	"context"
	"time"
)

// SweepOnce is one pass of the sweeper's loop, for tests that drive its
// schedule with a manual clock.
func (s *Sweeper) SweepOnce(ctx context.Context) (expired int, backlog bool, err error) {
	return s.sweep(ctx)
}

// SetDropListClock sets the clock a DropList times its listings by.
func SetDropListClock(l *DropList, now func() time.Time) { l.now = now }
