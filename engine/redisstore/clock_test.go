package redisstore_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/flashdrop/flashdrop/engine"
	"github.com/flashdrop/flashdrop/engine/redisstore"
	"github.com/flashdrop/flashdrop/engine/redisstore/redistest"
)

// fastBy is a node's local clock that is off by d.
func fastBy(d time.Duration) func() time.Time { return func() time.Time { return time.Now().Add(d) } }

// checkAgreesWithRedis reads Redis's TIME between two readings of c and
// fails unless it lies between them, give or take the uncertainty of
// c's measurement and Redis's microsecond resolution.
func checkAgreesWithRedis(t *testing.T, c *redisstore.SyncedClock, node redis.Cmdable) {
	t.Helper()
	o, ok := c.Offset()
	if !ok {
		t.Fatal("no offset in force after Sync")
	}
	slack := o.RoundTrip/2 + time.Millisecond
	before := c.Now()
	r, err := node.Time(ctx(t)).Result()
	after := c.Now()
	if err != nil {
		t.Fatal(err)
	}
	if r.Before(before.Add(-slack)) || r.After(after.Add(slack)) {
		t.Fatalf("Redis's TIME %v is not within [%v, %v] ± %v (offset %v)", r, before, after, slack, o.Offset)
	}
}

// TestSyncedClockFollowsRedis: a node whose own clock is 3 s ahead (or
// behind) reads Redis's time once synced, and its own until then.
func TestSyncedClockFollowsRedis(t *testing.T) {
	t.Parallel()
	rdb := redistest.Shared(t).Client()
	t.Cleanup(func() { _ = rdb.Close() })
	for _, skew := range []time.Duration{3 * time.Second, -3 * time.Second} {
		c := redisstore.NewSyncedClock(rdb, fastBy(skew))
		if _, ok := c.Offset(); ok {
			t.Fatal("an offset before the first Sync")
		}
		if d := c.Now().Sub(time.Now()) - skew; d < -time.Second || d > time.Second {
			t.Fatalf("skew %v: before Sync the clock is %v off its local clock", skew, d)
		}
		o, err := c.Sync(ctx(t))
		if err != nil {
			t.Fatal(err)
		}
		// The machine's clock is Redis's (same host): the offset undoes
		// the skew.
		if d := o.Offset + skew; d < -100*time.Millisecond || d > 100*time.Millisecond {
			t.Fatalf("skew %v: offset %v (round trip %v)", skew, o.Offset, o.RoundTrip)
		}
		checkAgreesWithRedis(t, c, rdb)
	}
}

// TestSyncedClockIgnoresAStepOfTheNodesClock: once synced, a step of the
// node's own clock (its time service correcting it by an hour) does not
// move the engine's time, which runs on from Redis's by the process's
// monotonic clock until the next Sync.
func TestSyncedClockIgnoresAStepOfTheNodesClock(t *testing.T) {
	t.Parallel()
	rdb := redistest.Shared(t).Client()
	t.Cleanup(func() { _ = rdb.Close() })
	var step atomic.Int64
	c := redisstore.NewSyncedClock(rdb, func() time.Time { return time.Now().Add(time.Duration(step.Load())) })
	if _, err := c.Sync(ctx(t)); err != nil {
		t.Fatal(err)
	}
	step.Store(int64(time.Hour))
	checkAgreesWithRedis(t, c, rdb)
}

// TestSyncedClockOnACluster: on a Cluster every node of the fleet reads
// the same master's clock.
func TestSyncedClockOnACluster(t *testing.T) {
	t.Parallel()
	cl := redistest.SharedCluster(t).Client()
	t.Cleanup(func() { _ = cl.Close() })
	c := redisstore.NewSyncedClock(cl, fastBy(-2*time.Second))
	if _, err := c.Sync(ctx(t)); err != nil {
		t.Fatal(err)
	}
	node, err := cl.MasterForKey(ctx(t), "fd:clock")
	if err != nil {
		t.Fatal(err)
	}
	checkAgreesWithRedis(t, c, node)
}

// TestSyncedClockKeepsItsOffsetWhenRedisIsAway: a failed Sync says so and
// leaves the clock where it was.
func TestSyncedClockKeepsItsOffsetWhenRedisIsAway(t *testing.T) {
	t.Parallel()
	srv, err := redistest.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	rdb := srv.Client()
	defer rdb.Close()
	c := redisstore.NewSyncedClock(rdb, fastBy(time.Hour))
	o, err := c.Sync(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	srv.Kill()
	short, cancel := context.WithTimeout(ctx(t), 2*time.Second)
	defer cancel()
	if _, err := c.Sync(short); err == nil {
		t.Fatal("Sync with Redis down: no error")
	}
	if got, _ := c.Offset(); got != o {
		t.Fatalf("offset after a failed Sync: %+v, was %+v", got, o)
	}
	if d := time.Until(c.Now()); d > time.Minute || d < -time.Minute {
		t.Fatalf("the clock moved to its local time (%v off) when Redis went away", d)
	}
}

// TestSkewedNodeOpensTheSaleOnRedisTime: two API nodes on one Redis, both
// with clocks 2 s fast. The one on its own clock lets its shopper win 2 s
// before the sale opens (what the SyncedClock is for); the synced one
// says "not open" until Redis's clock reaches the opening, then wins.
func TestSkewedNodeOpensTheSaleOnRedisTime(t *testing.T) {
	t.Parallel()
	rdb := redistest.Shared(t).Client()
	t.Cleanup(func() { _ = rdb.Close() })
	st := redisstore.New(rdb, redisstore.Options{})
	const skew = 2 * time.Second
	synced := redisstore.NewSyncedClock(rdb, fastBy(skew))
	if _, err := synced.Sync(ctx(t)); err != nil {
		t.Fatal(err)
	}
	node := engine.New(st, engine.Options{Clock: synced})
	own := engine.New(st, engine.Options{Clock: clockFunc(fastBy(skew))})

	opens := time.Now().Add(time.Second).Truncate(time.Millisecond)
	d, err := node.CreateDrop(ctx(t), engine.Drop{ID: uniqueID(t), Name: "Sneaker", Stock: 2, PerUserLimit: 1,
		RegistrationOpensAt: opens.Add(-time.Hour), RegistrationClosesAt: opens, SaleStartsAt: opens, HoldSeconds: 600})
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{"alice", "bob"} {
		if _, _, err := node.Register(ctx(t), d.ID, u, ""); err != nil {
			t.Fatalf("register %s: %v", u, err)
		}
	}
	// The failure the clock prevents: a node on its own fast clock.
	if _, err := own.Reserve(ctx(t), d.ID, engine.ReserveRequest{User: "bob", Quantity: 1}); err != nil {
		t.Fatalf("the node on its own clock, 2 s fast: %v (the test expects it to win early)", err)
	}
	if now := time.Now(); !now.Before(opens) {
		t.Fatalf("bob's win came back at %v, not before the opening %v: the test ran too late to show the skew", now, opens)
	}
	if _, err := node.Reserve(ctx(t), d.ID, engine.ReserveRequest{User: "alice", Quantity: 1}); !errors.Is(err, engine.ErrSaleNotOpen) {
		t.Fatalf("the synced node before the opening: %v, want sale not open", err)
	}
	// Wait for Redis's clock to pass the opening, then alice wins.
	deadline := time.Now().Add(10 * time.Second)
	for {
		r, err := rdb.Time(ctx(t)).Result()
		if err != nil {
			t.Fatal(err)
		}
		if !r.Before(opens.Add(5 * time.Millisecond)) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("Redis's clock never reached the opening")
		}
		time.Sleep(time.Until(opens) + 5*time.Millisecond)
	}
	r, err := node.Reserve(ctx(t), d.ID, engine.ReserveRequest{User: "alice", Quantity: 1})
	if err != nil {
		t.Fatalf("the synced node after the opening: %v", err)
	}
	if r.WonAt.Before(opens) || r.WonAt.After(time.Now().Add(time.Second)) {
		t.Fatalf("alice won at %v; the sale opened at %v (now %v)", r.WonAt, opens, time.Now())
	}
}

// clockFunc is an engine.Clock from a function.
type clockFunc func() time.Time

func (f clockFunc) Now() time.Time { return f() }
