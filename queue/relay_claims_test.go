package queue_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flashdrop/flashdrop/engine"
	"github.com/flashdrop/flashdrop/internal/testkit"
	"github.com/flashdrop/flashdrop/queue"
)

// claimCountingOutbox counts the relay's outbox reads and those that look
// for entries to claim (a minIdle above 0: an XAUTOCLAIM on Redis).
type claimCountingOutbox struct {
	engine.Outbox
	reads, claims atomic.Int64
}

func (o *claimCountingOutbox) ReadOutbox(ctx context.Context, drop, consumer string, n int, minIdle, block time.Duration) ([]engine.OutboxEntry, error) {
	o.reads.Add(1)
	if minIdle > 0 {
		o.claims.Add(1)
	}
	return o.Outbox.ReadOutbox(ctx, drop, consumer, n, minIdle, block)
}

// TestRelayLooksForClaimsATenthOfTheTimeoutApart: a busy relay reads its
// outbox many times a second, and each look for a dead node's entries is
// a round trip that finds nothing when no node died. With a claim timeout
// of an hour, forty reads in a few seconds look once (the first read).
// Entries arrive one call at a time and each is published before the
// next, so no read returns a full batch (after which the relay looks
// again at once, for the rest of a dead node's backlog).
func TestRelayLooksForClaimsATenthOfTheTimeoutApart(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	drop := w.openSale(1000, 40)
	ob := &claimCountingOutbox{Outbox: w.store}
	w.relayOn(w.js, "node-a", ob, time.Hour)
	want := len(w.outboxEvents(drop))
	w.waitPublished(drop, want)
	for i := range 40 {
		w.buy(drop, i, i+1)
		want++
		w.waitPublished(drop, want)
	}
	reads, claims := ob.reads.Load(), ob.claims.Load()
	if reads < 40 {
		t.Fatalf("the relay read its outbox %d times for 40 calls' entries: the test did not make it read often", reads)
	}
	if claims != 1 {
		t.Errorf("%d of %d reads looked for entries to claim, want 1 (the first) with a claim timeout of an hour", claims, reads)
	}
}

// gatedOutbox counts reads like claimCountingOutbox and lets a test hold
// off the relay's reads and lag reads (gate.Lock) while it plants entries.
type gatedOutbox struct {
	claimCountingOutbox
	gate sync.RWMutex
}

func (o *gatedOutbox) ReadOutbox(ctx context.Context, drop, consumer string, n int, minIdle, block time.Duration) ([]engine.OutboxEntry, error) {
	o.gate.RLock()
	defer o.gate.RUnlock()
	return o.claimCountingOutbox.ReadOutbox(ctx, drop, consumer, n, minIdle, block)
}

func (o *gatedOutbox) OutboxLen(ctx context.Context, drop string) (int64, error) {
	o.gate.RLock()
	defer o.gate.RUnlock()
	return o.claimCountingOutbox.OutboxLen(ctx, drop)
}

// TestIdleRelayLooksForNoClaimsWhileItsOutboxIsEmpty: a relay whose
// outbox is empty (acknowledged entries are deleted, so no node holds one)
// looks for nothing to claim, however often its claim timeout allows: an
// idle drop costs its read and its lag read per Block, not a third round
// trip. Entries that another node then reads and never acknowledges (it
// died) show in the next lag read, and are still claimed and published
// once after the claim timeout.
func TestIdleRelayLooksForNoClaimsWhileItsOutboxIsEmpty(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	drop := w.openSale(1000, 40)
	const claimAfter = 500 * time.Millisecond // a look allowed every 50 ms
	ob := &gatedOutbox{claimCountingOutbox: claimCountingOutbox{Outbox: w.store}}
	w.relayOn(w.js, "node-b", ob, claimAfter)
	want := len(w.outboxEvents(drop))
	w.waitPublished(drop, want)

	// Two reads after the outbox emptied, the worker has read its length
	// as 0; ten reads (a second of Block) later it has still looked for
	// nothing to claim.
	r0 := ob.reads.Load()
	testkit.Eventually(t, 10*time.Second, "two idle reads", func() bool { return ob.reads.Load() >= r0+2 })
	c1, r1 := ob.claims.Load(), ob.reads.Load()
	testkit.Eventually(t, 10*time.Second, "ten more idle reads", func() bool { return ob.reads.Load() >= r1+10 })
	if c, r := ob.claims.Load(), ob.reads.Load(); c != c1 {
		t.Errorf("an idle relay with an empty outbox looked for entries to claim %d times in %d reads, want 0", c-c1, r-r1)
	}

	// node-a reads new entries while node-b's reads are held off, and dies
	// without publishing them.
	ob.gate.Lock()
	wins := w.buy(drop, 0, 10)
	taken, err := w.store.ReadOutbox(ctx(t), drop, "node-a", 256, 0, 0)
	planted := time.Now()
	ob.gate.Unlock()
	if err != nil || len(taken) == 0 {
		t.Fatalf("node-a read %d entries, err %v", len(taken), err)
	}
	for _, e := range taken {
		want += len(e.Events)
	}
	perID, won := w.waitPublished(drop, want)
	took := time.Since(planted)
	w.checkExactlyOnce(drop, perID, won, wins, want)
	if took < claimAfter {
		t.Errorf("node-a's entries were published %v after it read them, before the claim timeout of %v", took, claimAfter)
	}
	t.Logf("node-a's %d entries published %v after it read them (claim timeout %v)", len(taken), took.Round(time.Millisecond), claimAfter)
}

// TestRelayReadsASettledDropsOutboxRarely: the outbox of a drop settled
// long ago (engine.Drop.Settled by the relay's clock, here the system's,
// while the engine's manual clock stays inside the sale) is read once per
// SettledPoll while it is empty, not once per Block; what is added to it
// meanwhile is still published, once.
func TestRelayReadsASettledDropsOutboxRarely(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	drop := w.openSale(1000, 40)
	// openSale's drop has no end; this one ended an hour after t0, days
	// before the real now.
	settled := "settled-" + drop
	w.clock.Set(t0.Add(-time.Hour))
	if _, err := w.eng.CreateDrop(ctx(t), engine.Drop{ID: settled, Name: "Sneaker", Stock: 100,
		RegistrationOpensAt: t0.Add(-2 * time.Hour), RegistrationClosesAt: t0.Add(-time.Minute), SaleStartsAt: t0,
		SaleEndsAt: t0.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if d, err := w.eng.Drop(ctx(t), settled); err != nil || !d.Settled(time.Now()) {
		t.Fatalf("the drop is not settled now: %+v %v", d, err)
	}
	for i := range 20 {
		if _, _, err := w.eng.Register(ctx(t), settled, fmt.Sprint("u", i), ""); err != nil {
			t.Fatal(err)
		}
	}
	w.clock.Set(t0.Add(1500 * time.Millisecond))
	ob := &countingOutbox{Outbox: w.store, drop: settled}
	r := queue.NewRelay(w.store, ob, w.js, queue.RelayOptions{Consumer: "node-a", Block: 100 * time.Millisecond,
		Refresh: 50 * time.Millisecond, SettledPoll: time.Second, PublishTimeout: time.Second, PublicURL: "https://shop.test", Logger: quiet})
	r.Start(context.Background())
	t.Cleanup(func() { _ = r.Close() })
	before, _ := w.waitPublished(settled, len(w.outboxEvents(settled)))

	// Idle: the live drop's worker reads every Block, the settled one's
	// every SettledPoll.
	r0, l0 := ob.reads.Load(), ob.others.Load()
	testkit.Eventually(t, 20*time.Second, "20 reads of the live drop's outbox", func() bool { return ob.others.Load() >= l0+20 })
	if n := ob.reads.Load() - r0; n > 3 {
		t.Errorf("the settled drop's outbox was read %d times while the live one's was read 20 times (Block 100ms, SettledPoll 1s)", n)
	}

	// Entries added now are published, once: a won event for every win
	// at least (some shoppers joined the waitlist instead).
	wins := w.buy(settled, 0, 10)
	perID, won := w.waitPublished(settled, len(before)+len(wins))
	w.checkExactlyOnce(settled, perID, won, wins, len(perID))
}

// countingOutbox counts reads of one drop's outbox (reads) and of the
// others (others).
type countingOutbox struct {
	engine.Outbox
	drop          string
	reads, others atomic.Int64
}

func (o *countingOutbox) ReadOutbox(ctx context.Context, drop, consumer string, n int, minIdle, block time.Duration) ([]engine.OutboxEntry, error) {
	if drop == o.drop {
		o.reads.Add(1)
	} else {
		o.others.Add(1)
	}
	return o.Outbox.ReadOutbox(ctx, drop, consumer, n, minIdle, block)
}
