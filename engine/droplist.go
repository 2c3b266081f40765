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
// scheduler, the outbox relay) and its front page each want every drop
// every second or two, so a node shares one list among them rather than
// listing for each. When the list comes from an Engine whose store is a
// DropIndex, a refresh reads the ids and then only the drops it has not
// read before: a drop's configuration never changes after its creation
// except Paused, which no user of the list reads (a drop's view has it
// fresh), so the drops of past weeks cost a node their ids and one read
// each every 20 s: a drop deleted (DeleteDrop) may be made again under its
// id (a minute later at the earliest) with another configuration. The
// list returned is shared: callers must not change it.
type DropList struct {
	from  DropLister
	index DropIndex // nil: every refresh lists every drop
	ttl   time.Duration
	now   func() time.Time // for the TTL

	mu       sync.Mutex
	listed   []Drop
	listedAt time.Time
	known    map[string]Drop // read through the index, by id
	// readAt is when each known drop was read. One read longer than
	// rereadAfter ago is read again: a drop deleted (DeleteDrop) may have
	// been made again under its id with another configuration, and a list
	// that did not see the id leave the index (it did not list in
	// between, or the delete could not take the id out) would otherwise
	// keep the old one. redisstore's tombstone keeps the id free for
	// longer than this.
	readAt map[string]time.Time
}

// rereadAfter is how long a DropList trusts a drop it read.
const rereadAfter = 20 * time.Second

// NewDropList returns a list of from's drops kept for ttl (DefaultViewTTL
// if 0 or less).
func NewDropList(from DropLister, ttl time.Duration) *DropList {
	if ttl <= 0 {
		ttl = DefaultViewTTL
	}
	l := &DropList{from: from, ttl: ttl, now: time.Now, known: map[string]Drop{}, readAt: map[string]time.Time{}}
	if e, ok := from.(*Engine); ok {
		l.index, _ = e.store.(DropIndex)
	}
	return l
}

// Drops returns every drop as of at most the TTL ago (its Paused as of
// when it was first read). A failed listing is not kept: the next caller
// tries again.
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
		return nil, AsUnavailable(err)
	}
	l.listed, l.listedAt = ds, l.now()
	return ds, nil
}

// listIndexed lists the ids and reads the drops not read before.
func (l *DropList) listIndexed(ctx context.Context) ([]Drop, error) {
	ids, err := l.index.DropIDs(ctx)
	if err != nil {
		return nil, fmt.Errorf("list drops: %w", err)
	}
	now := l.now()
	var read []string
	for _, id := range ids {
		if _, ok := l.known[id]; !ok || now.Sub(l.readAt[id]) > rereadAfter {
			read = append(read, id)
		}
	}
	if len(read) > 0 {
		fresh, err := l.index.DropsByID(ctx, read)
		if err != nil {
			return nil, fmt.Errorf("list drops: %w", err)
		}
		// A known drop that a reread did not return stays as it was read:
		// a read that finds nothing may be a fault's, and a list without
		// a drop that exists would stop its relay worker and its sweeps.
		// A drop deleted leaves the list when its id leaves the index.
		for _, d := range fresh {
			l.known[d.ID], l.readAt[d.ID] = d, now
		}
	}
	ds := make([]Drop, 0, len(ids))
	listed := make(map[string]bool, len(ids))
	for _, id := range ids {
		listed[id] = true
		if d, ok := l.known[id]; ok {
			ds = append(ds, d) // an id whose drop is not there yet is left out
		}
	}
	for id := range l.known {
		if !listed[id] {
			delete(l.known, id) // gone from the index
			delete(l.readAt, id)
		}
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i].ID < ds[j].ID })
	return ds, nil
}

// Invalidate makes the next call list again, after this node created a
// drop that its own pages should show at once.
func (l *DropList) Invalidate() {
	l.mu.Lock()
	l.listedAt = time.Time{}
	l.mu.Unlock()
}
