package redisstore

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// clockKey only routes TIME to one node of a Cluster (its slot's master),
// so that every API node takes its time from the same clock; nothing is
// stored under it.
const clockKey = "fd:clock"

// clockSamples is how many TIME round trips one Sync makes; the one that
// came back fastest is the one believed (the least room for error).
const clockSamples = 5

// SyncedClock is engine.Clock for a fleet: this node's clock corrected by
// its offset from Redis's TIME. Every rule that depends on time (a sale
// opening, a hold's deadline, registration closing, a draw) reads the
// engine's clock and passes it to the scripts, so with local clocks a node
// 300 ms ahead opens the sale 300 ms early for the shoppers it serves,
// which in a rush that sells out in 200 ms decides who wins. With every
// node reading Redis's clock they agree to within their round trips.
//
// Once synced, Now is Redis's time at the measurement plus the time gone
// by since on this process's monotonic clock: a step of the node's wall
// clock (a time service correcting it) does not move it, and drift is
// corrected at the next Sync. Now costs one atomic load over time.Now;
// Sync (at start, then now and then: the caller decides) measures. A
// failed Sync leaves the last measurement in force: Redis being away does
// not move the clock.
type SyncedClock struct {
	rdb   redis.UniversalClient
	local func() time.Time
	cur   atomic.Pointer[ClockOffset]
}

// ClockOffset is what one measurement found: Redis's clock less this
// node's (positive: this node is behind), within ±RoundTrip/2, measured
// at At (this process's clock, monotonic reading included), when Redis's
// read RedisAt.
type ClockOffset struct {
	Offset    time.Duration
	RoundTrip time.Duration
	At        time.Time
	RedisAt   time.Time
}

// NewSyncedClock returns a clock that reads local (time.Now when nil)
// and corrects it by Redis's TIME once Sync has run; until then it is
// local.
func NewSyncedClock(rdb redis.UniversalClient, local func() time.Time) *SyncedClock {
	if local == nil {
		local = time.Now
	}
	return &SyncedClock{rdb: rdb, local: local}
}

// Now is Redis's time by the measurement in force, or the local clock
// before the first.
func (c *SyncedClock) Now() time.Time {
	if o := c.cur.Load(); o != nil {
		return o.RedisAt.Add(time.Since(o.At))
	}
	return c.local()
}

// Offset is the measurement in force, and false before the first Sync.
func (c *SyncedClock) Offset() (ClockOffset, bool) {
	if o := c.cur.Load(); o != nil {
		return *o, true
	}
	return ClockOffset{}, false
}

// Sync measures the offset from Redis's clock (clockSamples round trips,
// the fastest believed) and puts it in force unless it agrees with the
// one in force within their uncertainties: keeping it then means the
// clock does not jitter by a few microseconds at every Sync, while a
// drift or a step of the local clock beyond that is followed. It
// returns the measurement in force.
func (c *SyncedClock) Sync(ctx context.Context) (ClockOffset, error) {
	node, err := c.timeNode(ctx)
	if err != nil {
		return ClockOffset{}, err
	}
	var best *ClockOffset
	var lastErr error
	for range clockSamples {
		t0, local := time.Now(), c.local()
		redisNow, err := node.Time(ctx).Result()
		t1 := time.Now()
		if err != nil {
			lastErr = err
			if ctx.Err() != nil {
				break
			}
			continue
		}
		rtt := t1.Sub(t0) // monotonic: a step of the wall clock is not in it
		// Redis read its clock somewhere in [t0, t1]: the middle is wrong
		// by rtt/2 at most.
		o := &ClockOffset{Offset: redisNow.Sub(local.Add(rtt / 2)), RoundTrip: rtt, At: t0.Add(rtt / 2), RedisAt: redisNow}
		if best == nil || o.RoundTrip < best.RoundTrip {
			best = o
		}
	}
	if best == nil {
		return ClockOffset{}, fmt.Errorf("redisstore: reading Redis's clock: %w", lastErr)
	}
	for {
		old := c.cur.Load()
		next := settle(old, best)
		if next == old || c.cur.CompareAndSwap(old, next) {
			return *next, nil
		}
	}
}

// settle is the measurement to keep: the new one when it is the more
// precise (a shorter round trip), or when it disagrees with the one in
// force past their uncertainties (Redis's time the one in force predicts
// at the new one's moment, against what Redis said: the process's clock
// drifted, or Redis's stepped); else the one in force, so the clock does
// not jitter by a few microseconds at every Sync.
func settle(cur, next *ClockOffset) *ClockOffset {
	if cur == nil || next.RoundTrip < cur.RoundTrip {
		return next
	}
	d := next.RedisAt.Sub(cur.RedisAt.Add(next.At.Sub(cur.At)))
	if d < 0 {
		d = -d
	}
	if d <= (next.RoundTrip+cur.RoundTrip)/2 {
		return cur
	}
	return next
}

// timeNode is where TIME goes: the client itself, or on a Cluster the
// master of clockKey's slot, the same one for every API node (a Cluster
// client would send a keyless command to any node, whose clocks may
// differ from each other).
func (c *SyncedClock) timeNode(ctx context.Context) (redis.Cmdable, error) {
	if cc, ok := c.rdb.(*redis.ClusterClient); ok {
		n, err := cc.MasterForKey(ctx, clockKey)
		if err != nil {
			return nil, fmt.Errorf("redisstore: finding the node to read the clock of: %w", err)
		}
		return n, nil
	}
	return c.rdb, nil
}
