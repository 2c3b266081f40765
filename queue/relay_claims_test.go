package queue_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flashdrop/flashdrop/engine"
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
