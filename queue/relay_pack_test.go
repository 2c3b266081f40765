package queue_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/redis/go-redis/v9"

	"github.com/flashdrop/flashdrop/engine"
	"github.com/flashdrop/flashdrop/engine/redisstore"
	"github.com/flashdrop/flashdrop/internal/testkit"
	"github.com/flashdrop/flashdrop/queue"
)

// streamOrder reads drop's messages from the stream in stream order:
// their event ids.
func (w *world) streamOrder(drop string) []string {
	w.t.Helper()
	c := ctx(w.t)
	cons, err := w.js.CreateConsumer(c, queue.StreamName, jetstream.ConsumerConfig{
		FilterSubject: "flashdrop." + drop + ".>", DeliverPolicy: jetstream.DeliverAllPolicy,
		AckPolicy: jetstream.AckNonePolicy, InactiveThreshold: time.Minute,
	})
	if err != nil {
		w.t.Fatal(err)
	}
	defer func() { _ = w.js.DeleteConsumer(c, queue.StreamName, cons.CachedInfo().Name) }()
	pending := int(cons.CachedInfo().NumPending)
	var ids []string
	// As in published: a fetch may come back empty on a loaded machine;
	// only a read that stays empty past the deadline fails.
	deadline := time.Now().Add(30 * time.Second)
	for len(ids) < pending {
		batch, err := cons.Fetch(pending-len(ids), jetstream.FetchMaxWait(2*time.Second))
		if err != nil {
			w.t.Fatal(err)
		}
		n := 0
		for m := range batch.Messages() {
			n++
			ids = append(ids, m.Headers().Get(jetstream.MsgIDHeader))
		}
		if n == 0 && time.Now().After(deadline) {
			w.t.Fatalf("stream: read %d of %d messages", len(ids), pending)
		}
	}
	return ids
}

// checkOrder: the stream holds exactly the outbox's events, each once, in
// the outbox's order.
func (w *world) checkOrder(drop string, all []engine.Event) {
	w.t.Helper()
	got := w.streamOrder(drop)
	if len(got) != len(all) {
		w.t.Fatalf("stream holds %d messages for %d events", len(got), len(all))
	}
	for i, e := range all {
		if got[i] != e.ID {
			w.t.Fatalf("message %d is event %s, want %s (%s)", i, got[i], e.ID, e.Type)
		}
	}
}

// TestRelayFansOutPackedEntry: one outbox entry holding a whole batch's
// events becomes one JetStream message per event, with the event ids the
// outbox gave them, in order, each once.
func TestRelayFansOutPackedEntry(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	drop, wins := w.sale(10, 20)
	all := w.outboxEvents(drop)
	entries, err := w.rdb.XLen(ctx(t), redisstore.OutboxKey(drop)).Result()
	if err != nil {
		t.Fatal(err)
	}
	// 20 registrations, one entry each, and one entry for the whole batch.
	if entries != 21 || len(all) <= 21 {
		t.Fatalf("outbox: %d entries for %d events, want 21 entries and more events", entries, len(all))
	}
	w.relay("node-a", nil)
	perID, won := w.waitPublished(drop, len(all))
	w.checkExactlyOnce(drop, perID, won, wins, len(all))
	w.checkOrder(drop, all)
}

// failingJS fails the publish of the k-th won event (counting from 1) and
// calls crash, as a relay dying between two events of one entry would:
// the entry's first events are on the stream, the rest are not, and the
// entry is not acknowledged. Without crash, only that one publish fails.
type failingJS struct {
	jetstream.JetStream
	k     int64
	won   atomic.Int64
	crash func()
}

func (f *failingJS) PublishMsgAsync(m *nats.Msg, opts ...jetstream.PublishOpt) (jetstream.PubAckFuture, error) {
	if strings.HasSuffix(m.Subject, ".won") && f.won.Add(1) == f.k {
		if f.crash != nil {
			go f.crash()
		}
		return nil, errors.New("failed between two events of an entry")
	}
	return f.JetStream.PublishMsgAsync(m, opts...)
}

// TestRelayCrashInsidePackedEntry: node A publishes part of a batch's
// entry and dies; node B takes the entry over and publishes all of it
// again. Consumers see every event exactly once, in order: the repeats of
// what A had published carry the same Nats-Msg-Id and JetStream drops them.
func TestRelayCrashInsidePackedEntry(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	drop, wins := w.sale(10, 20)
	all := w.outboxEvents(drop)

	var r1 *queue.Relay
	var once sync.Once
	ready := make(chan struct{})
	crashed := make(chan struct{})
	fj := &failingJS{JetStream: w.js, k: 4, crash: func() {
		<-ready
		once.Do(func() { _ = r1.Close(); close(crashed) })
	}}
	r1 = queue.NewRelay(w.store, w.store, fj, queue.RelayOptions{
		Consumer: "node-a", ClaimAfter: time.Hour, Block: 100 * time.Millisecond,
		Refresh: 50 * time.Millisecond, PublishTimeout: time.Second, PublicURL: "https://shop.test", Logger: quiet,
	})
	r1.Start(context.Background())
	t.Cleanup(func() { _ = r1.Close() })
	close(ready)
	testkit.Eventually(t, 20*time.Second, "node A crashes inside the batch's entry", func() bool {
		select {
		case <-crashed:
			return true
		default:
			return false
		}
	})
	// A got the first three wins of the entry out, not the rest (what it
	// sent before the crash may reach the stream a moment later).
	wonOnStream := func() int {
		perID, _ := w.published(drop)
		n := 0
		for _, e := range all {
			if e.Type == engine.EventWon && perID[e.ID] == 1 {
				n++
			}
		}
		return n
	}
	testkit.Eventually(t, 10*time.Second, "node A's three won events on the stream", func() bool { return wonOnStream() >= 3 })
	if n := wonOnStream(); n != 3 {
		t.Fatalf("node A published %d won events before the crash, want 3", n)
	}
	if n, _ := w.store.OutboxLen(ctx(t), drop); n == 0 {
		t.Fatal("the half-published entry was acknowledged")
	}
	w.relayClaimingAfter("node-b", nil, 300*time.Millisecond)
	perID, won := w.waitPublished(drop, len(all))
	w.checkExactlyOnce(drop, perID, won, wins, len(all))
	w.checkOrder(drop, all)
}

// TestRelayReadsOldFormatEntries: entries an older version left in the
// outbox, one event each, are published as before, in order with the
// packed entries written after them.
func TestRelayReadsOldFormatEntries(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	drop, _ := w.sale(4, 6)
	// What an older node wrote: an event per entry, every field its own.
	key := redisstore.OutboxKey(drop)
	ms := t0.Add(2 * time.Second).UnixMilli()
	for i, res := range []string{drop + ".0ld0000000000000000a", drop + ".0ld0000000000000000b"} {
		if err := w.rdb.XAdd(ctx(t), &redis.XAddArgs{Stream: key, Values: []any{
			"id", "0ldnonce-" + string(rune('1'+i)), "type", "won", "time", ms, "drop", drop,
			"reservation", res, "user", "legacy", "quantity", "1", "expires_at", ms + 600000,
			"share_code", drop + ".5hare000000000000000" + string(rune('a'+i)),
		}}).Err(); err != nil {
			t.Fatal(err)
		}
	}
	w.buy(drop, 0, 6) // sold out by now: waitlist events, packed
	all := w.outboxEvents(drop)
	var legacy []engine.Reservation
	for _, e := range all {
		if e.User == "legacy" {
			legacy = append(legacy, engine.Reservation{ID: e.Reservation, User: e.User, Quantity: e.Quantity,
				ExpiresAt: e.ExpiresAt, ShareCode: e.ShareCode})
		}
	}
	if len(legacy) != 2 {
		t.Fatalf("the outbox reads %d of the 2 old-format events", len(legacy))
	}
	w.relay("node-a", nil)
	perID, won := w.waitPublished(drop, len(all))
	w.checkExactlyOnce(drop, perID, won, append(winsOf(all), legacy...), len(all))
	w.checkOrder(drop, all)
	if perID["0ldnonce-1"] != 1 || perID["0ldnonce-2"] != 1 {
		t.Errorf("old-format events keep their ids: %v", perID)
	}
}

// TestRelayRetriesPartlyPublishedEntry: a publish fails in the middle of
// a batch's entry and the relay lives on: it must not acknowledge the
// entry, and its retry publishes the rest; the repeats of the first
// events are dropped as duplicates, so each event is on the stream once.
func TestRelayRetriesPartlyPublishedEntry(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	drop, wins := w.sale(10, 20)
	all := w.outboxEvents(drop)
	fj := &failingJS{JetStream: w.js, k: 4}
	r := queue.NewRelay(w.store, w.store, fj, queue.RelayOptions{
		Consumer: "node-a", ClaimAfter: time.Hour, Block: 100 * time.Millisecond,
		Refresh: 50 * time.Millisecond, PublishTimeout: time.Second, PublicURL: "https://shop.test", Logger: quiet,
	})
	r.Start(context.Background())
	t.Cleanup(func() { _ = r.Close() })
	perID, won := w.waitPublished(drop, len(all))
	if fj.won.Load() <= 10 {
		t.Fatalf("%d won publishes: the failed entry was not sent again", fj.won.Load())
	}
	w.checkExactlyOnce(drop, perID, won, wins, len(all))
	w.checkOrder(drop, all)
}

// TestRelayRecycledMessagesCarryTheirOwnEvents: the relay reuses a publish
// call's messages, header maps and body buffer for a later call once
// JetStream acknowledged all of them. Over many small calls (two entries
// a read), one of them failing halfway, every event still reaches the
// stream once, in order, with its own id header, subject and body.
func TestRelayRecycledMessagesCarryTheirOwnEvents(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	drop := w.openSale(60, 80)
	var wins []engine.Reservation
	for from := 0; from < 80; from += 10 {
		wins = append(wins, w.buy(drop, from, from+10)...)
	}
	all := w.outboxEvents(drop)
	cj := &checkingJS{JetStream: w.js}
	cj.watchPuts(t)
	fj := &failingJS{JetStream: cj, k: 23}
	r := queue.NewRelay(w.store, w.store, fj, queue.RelayOptions{
		Consumer: "node-a", Batch: 2, ClaimAfter: time.Hour, Block: 100 * time.Millisecond,
		Refresh: 50 * time.Millisecond, PublishTimeout: time.Second, PublicURL: "https://shop.test", Logger: quiet,
	})
	r.Start(context.Background())
	t.Cleanup(func() { _ = r.Close() })
	perID, won := w.waitPublished(drop, len(all))
	if len(wins) != 60 || fj.won.Load() <= 60 {
		t.Fatalf("%d wins, %d won publishes: want 60 wins and the failed entry sent again", len(wins), fj.won.Load())
	}
	w.checkExactlyOnce(drop, perID, won, wins, len(all))
	w.checkOrder(drop, all)
	if n := cj.checked.Load(); n < int64(len(all)) {
		t.Fatalf("%d messages checked at their answer, want at least %d", n, len(all))
	}
	if msg := cj.changed.Load(); msg != nil {
		t.Errorf("a message changed before JetStream answered it: %s", *msg)
	}
	if msg := cj.early.Load(); msg != nil {
		t.Error(*msg)
	}
}

// TestRelayKeepsMessagesUntilAnswered: a publish call's messages are
// reused only after JetStream answered every one of them. Two drops are
// relayed at once, most answers come a little late, and one comes after
// the relay's deadline, when the relay has already given up on its call
// and publishes the entry again. A scratch put back before the answers,
// or after a failed call, is seen as it goes back (watchPuts), and if a
// later call takes it in time, also as a message rewritten under nats.go,
// which may still send it again.
func TestRelayKeepsMessagesUntilAnswered(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	drops := []string{w.openSale(40, 50), w.openSale(40, 50)}
	wins := map[string][]engine.Reservation{}
	all := map[string][]engine.Event{}
	total := 0
	for _, d := range drops {
		for from := 0; from < 50; from += 10 {
			wins[d] = append(wins[d], w.buy(d, from, from+10)...)
		}
		all[d] = w.outboxEvents(d)
		total += len(all[d])
	}
	const deadline = 300 * time.Millisecond
	cj := &checkingJS{JetStream: w.js, hold: func(n int64) time.Duration {
		if n == 7 {
			return 3 * deadline
		}
		return time.Duration(n%3) * time.Millisecond
	}}
	cj.watchPuts(t)
	r := queue.NewRelay(w.store, w.store, cj, queue.RelayOptions{
		Consumer: "node-a", Batch: 2, ClaimAfter: time.Hour, Block: 100 * time.Millisecond,
		Refresh: 50 * time.Millisecond, PublishTimeout: deadline, PublicURL: "https://shop.test", Logger: quiet,
	})
	r.Start(context.Background())
	t.Cleanup(func() { _ = r.Close() })
	for _, d := range drops {
		perID, won := w.waitPublished(d, len(all[d]))
		w.checkExactlyOnce(d, perID, won, wins[d], len(all[d]))
		w.checkOrder(d, all[d])
	}
	testkit.Eventually(t, 10*time.Second, "every answer checked, the late one too", func() bool {
		return cj.checked.Load() == cj.published.Load()
	})
	if n := cj.published.Load(); n <= int64(total) {
		t.Fatalf("%d messages published for %d events: the call that missed its deadline was not sent again", n, total)
	}
	if msg := cj.changed.Load(); msg != nil {
		t.Errorf("a message changed before JetStream answered it: %s", *msg)
	}
	if msg := cj.early.Load(); msg != nil {
		t.Error(*msg)
	}
}

// checkingJS checks that every message stays as it was published until
// JetStream answers it: until then nats.go may send it again (after "no
// responders"), so the relay must not reuse it. The relay sees the answer
// only after the check.
type checkingJS struct {
	jetstream.JetStream
	checked atomic.Int64
	changed atomic.Pointer[string]
	// hold, if set, says how long to keep back the answer to the n-th
	// message published (from 1) before checking and passing it on: an
	// answer that comes after the relay's deadline, or while other calls
	// run, is what nats.go's retries after "no responders" look like.
	hold      func(n int64) time.Duration
	published atomic.Int64
	// pending is every message published and not yet answered to the
	// relay, by address: a scratch put back with one of them in it is
	// reused too early (watchPuts), whether or not a later call happens
	// to take it from the pool in time to rewrite it.
	mu      sync.Mutex
	pending map[*nats.Msg]bool
	early   atomic.Pointer[string]
}

// watchPuts makes c check every publish scratch put back for reuse, until
// the test ends: none may hold a message c has not answered yet.
func (c *checkingJS) watchPuts(t *testing.T) {
	t.Cleanup(queue.WatchScratchPuts(func(msgs []nats.Msg) {
		c.mu.Lock()
		defer c.mu.Unlock()
		for i := range msgs {
			if c.pending[&msgs[i]] {
				msg := fmt.Sprintf("a scratch went back for reuse holding message %d of %d before JetStream answered it", i+1, len(msgs))
				c.early.CompareAndSwap(nil, &msg)
				return
			}
		}
	}))
}

type checkedFuture struct {
	msg *nats.Msg
	ok  chan *jetstream.PubAck
	err chan error
}

func (f *checkedFuture) Ok() <-chan *jetstream.PubAck { return f.ok }
func (f *checkedFuture) Err() <-chan error            { return f.err }
func (f *checkedFuture) Msg() *nats.Msg               { return f.msg }

func (c *checkingJS) PublishMsgAsync(m *nats.Msg, opts ...jetstream.PublishOpt) (jetstream.PubAckFuture, error) {
	subject, data, id := m.Subject, string(m.Data), m.Header.Get(jetstream.MsgIDHeader)
	f, err := c.JetStream.PublishMsgAsync(m, opts...)
	if err != nil {
		return nil, err
	}
	cf := &checkedFuture{msg: m, ok: make(chan *jetstream.PubAck, 1), err: make(chan error, 1)}
	var hold time.Duration
	if n := c.published.Add(1); c.hold != nil {
		hold = c.hold(n)
	}
	c.mu.Lock()
	if c.pending == nil {
		c.pending = map[*nats.Msg]bool{}
	}
	c.pending[m] = true
	c.mu.Unlock()
	go func() {
		var ack *jetstream.PubAck
		var ferr error
		select {
		case ack = <-f.Ok():
		case ferr = <-f.Err():
		}
		if hold > 0 {
			time.Sleep(hold) // the delay under test, not a wait for a condition
		}
		if m.Subject != subject || string(m.Data) != data || m.Header.Get(jetstream.MsgIDHeader) != id {
			msg := fmt.Sprintf("%s %s %q became %s %s %q", subject, id, data, m.Subject, m.Header.Get(jetstream.MsgIDHeader), m.Data)
			c.changed.CompareAndSwap(nil, &msg)
		}
		c.checked.Add(1)
		c.mu.Lock()
		delete(c.pending, m)
		c.mu.Unlock()
		if ferr != nil {
			cf.err <- ferr
		} else {
			cf.ok <- ack
		}
	}()
	return cf, nil
}
