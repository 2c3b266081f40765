package api

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/flashdrop/flashdrop/engine"
)

// dropCache keeps each drop's configuration and counters for up to ttl, so
// the public view, the live stream and the reserve path's "does this drop
// exist" check cost one store read per drop per ttl per node, not one per
// request. SPEC §4 allows the public availability to lag by a second.
type dropCache struct {
	eng *engine.Engine
	ttl time.Duration
	now func() time.Time

	mu      sync.Mutex
	entries map[string]*dropEntry
}

type dropEntry struct {
	mu      sync.Mutex // one refresh at a time per drop
	fetched time.Time
	drop    engine.Drop
	stats   engine.Stats
	err     error // engine.ErrNotFound is cached too, briefly
}

// maxCachedDrops bounds the cache: ids come from URLs, so anyone can ask
// for any number of drops that do not exist.
const maxCachedDrops = 10000

func newDropCache(eng *engine.Engine, ttl time.Duration) *dropCache {
	return &dropCache{eng: eng, ttl: ttl, now: time.Now, entries: map[string]*dropEntry{}}
}

// get returns the drop and its counters as of at most ttl ago.
func (c *dropCache) get(ctx context.Context, id string) (engine.Drop, engine.Stats, error) {
	c.mu.Lock()
	e, ok := c.entries[id]
	if !ok {
		e = &dropEntry{}
		if len(c.entries) >= maxCachedDrops {
			c.evictLocked()
		}
		c.entries[id] = e
	}
	c.mu.Unlock()

	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.fetched.IsZero() && c.now().Sub(e.fetched) < c.ttl {
		return e.drop, e.stats, e.err
	}
	d, err := c.eng.Drop(ctx, id)
	var st engine.Stats
	if err == nil {
		st, err = c.eng.Stats(ctx, id)
	}
	if err != nil && !errors.Is(err, engine.ErrNotFound) {
		// A store failure is not remembered: the next caller tries again.
		return engine.Drop{}, engine.Stats{}, err
	}
	e.drop, e.stats, e.err, e.fetched = d, st, err, c.now()
	return d, st, err
}

// evictLocked drops stale entries, or everything if none is stale.
func (c *dropCache) evictLocked() {
	now := c.now()
	for id, e := range c.entries {
		if e.mu.TryLock() {
			stale := now.Sub(e.fetched) >= c.ttl
			e.mu.Unlock()
			if stale {
				delete(c.entries, id)
			}
		}
	}
	if len(c.entries) >= maxCachedDrops {
		c.entries = map[string]*dropEntry{}
	}
}

// invalidate forgets a drop, after an admin change such as pause.
func (c *dropCache) invalidate(id string) {
	c.mu.Lock()
	delete(c.entries, id)
	c.mu.Unlock()
}
