package engine

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"
)

// DropLister lists every drop, ordered by id. The Engine lists from the
// store on every call; a DropList keeps the list for a moment.
type DropLister interface {
	Drops(ctx context.Context) ([]Drop, error)
}

// DropList keeps the list of drops for up to a TTL, refreshed by one
// caller at a time. A node's background workers (the sweeper, the
// scheduler, the outbox relay) and its front page each want every drop's
// configuration every second or two; listing reads all of them from the
// store (one hash per drop), so a node shares one list among them rather
// than listing for each. A settled drop (Drop.Settled) is read once: when
// the list comes from an Engine whose store is a DropIndex, a refresh
// reads the ids and then only the drops not known to be settled, so the
// drops of past weeks cost a node nothing but their ids. The list
// returned is shared: callers must not change it.
type DropList struct {
	from  DropLister
	index DropIndex // nil: every refresh lists every drop
	ttl   time.Duration
	now   func() time.Time // for the TTL
	clock func() time.Time // for the drops' own times: the Engine's

	mu       sync.Mutex
	listed   []Drop
	listedAt time.Time
	settled  map[string]Drop
}

// NewDropList returns a list of from's drops kept for ttl (DefaultViewTTL
// if 0 or less).
func NewDropList(from DropLister, ttl time.Duration) *DropList {
	if ttl <= 0 {
		ttl = DefaultViewTTL
	}
	l := &DropList{from: from, ttl: ttl, now: time.Now, clock: time.Now, settled: map[string]Drop{}}
	if e, ok := from.(*Engine); ok {
		l.index, _ = e.store.(DropIndex)
		l.clock = e.clock.Now
	}
	return l
}

// Drops returns every drop as of at most the TTL ago. A failed listing is
// not kept: the next caller tries again.
func (l *DropList) Drops(ctx context.Context) ([]Drop, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.listedAt.IsZero() && l.now().Sub(l.listedAt) < l.ttl {
		return l.listed, nil
	}
	var ds []Drop
	var err error
	if l.index != nil {
		ds, err = l.listIndexed(ctx)
	} else {
		ds, err = l.from.Drops(ctx)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	l.listed, l.listedAt = ds, l.now()
	return ds, nil
}

// listIndexed lists the ids, reads the drops not known to be settled, and
// remembers those that are now.
func (l *DropList) listIndexed(ctx context.Context) ([]Drop, error) {
	ids, err := l.index.DropIDs(ctx)
	if err != nil {
		return nil, fmt.Errorf("list drops: %w", err)
	}
	var read []string
	for _, id := range ids {
		if _, ok := l.settled[id]; !ok {
			read = append(read, id)
		}
	}
	fresh, err := l.index.DropsByID(ctx, read)
	if err != nil {
		return nil, fmt.Errorf("list drops: %w", err)
	}
	now := l.clock()
	ds := make([]Drop, 0, len(ids))
	listed := make(map[string]bool, len(ids))
	for _, id := range ids {
		listed[id] = true
		if d, ok := l.settled[id]; ok {
			ds = append(ds, d)
		}
	}
	for _, d := range fresh {
		ds = append(ds, d)
		if d.Settled(now) {
			l.settled[d.ID] = d
		}
	}
	for id := range l.settled {
		if !listed[id] {
			delete(l.settled, id) // gone from the index
		}
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i].ID < ds[j].ID })
	return ds, nil
}

// Invalidate makes the next call list again, after a change this node
// made (a drop created, paused or resumed) that its own pages should show
// at once.
func (l *DropList) Invalidate() {
	l.mu.Lock()
	l.listedAt = time.Time{}
	l.mu.Unlock()
}
