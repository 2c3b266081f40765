package queue_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/flashdrop/flashdrop/engine"
	"github.com/flashdrop/flashdrop/engine/redisstore"
	"github.com/flashdrop/flashdrop/internal/testkit"
	"github.com/flashdrop/flashdrop/queue"
)

// countingHook counts the commands a client sends, pipelines included.
type countingHook struct{ n atomic.Int64 }

func (h *countingHook) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h *countingHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error { h.n.Add(1); return next(ctx, cmd) }
}
func (h *countingHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error { h.n.Add(int64(len(cmds))); return next(ctx, cmds) }
}

// node is one serve node's front door (its admission) with its own
// sold-out flags.
type node struct {
	flags *queue.SoldOutFlags
	adm   *engine.Admission
}

func startNode(t *testing.T, w *world, eng *engine.Engine) *node {
	t.Helper()
	flags := queue.NewSoldOutFlags(w.js, func(ctx context.Context, drop string) (bool, bool, int64, error) {
		st, err := eng.Stats(ctx, drop)
		return err == nil && st.Available == 0, false, st.SoldOutVersion, err
	}, queue.SoldOutOptions{TTL: time.Minute, Logger: quiet})
	flags.Start(context.Background())
	t.Cleanup(func() { _ = flags.Close() })
	adm := engine.NewAdmission(eng, engine.AdmissionOptions{SoldOut: flags, ViewTTL: time.Hour})
	t.Cleanup(func() { _ = adm.Close() })
	return &node{flags: flags, adm: adm}
}

// reserve presses Buy once for user, with an idempotency key if given.
func (n *node) reserve(t *testing.T, drop, user string, key ...string) engine.ReserveResult {
	t.Helper()
	req := engine.ReserveRequest{User: user, Quantity: 1}
	if len(key) > 0 {
		req.IdempotencyKey = key[0]
	}
	res, err := n.adm.Reserve(ctx(t), drop, req)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestSoldOutFromMemoryOnEveryNode(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.relay("relay", nil)
	// The nodes' store counts every Redis command it sends.
	hook := &countingHook{}
	counted := redis.NewClient(&redis.Options{Addr: w.rdb.Options().Addr})
	counted.AddHook(hook)
	t.Cleanup(func() { counted.Close() })
	eng := engine.New(redisstore.New(counted, redisstore.Options{}), engine.Options{Clock: w.clock})
	n1, n2 := startNode(t, w, eng), startNode(t, w, eng)

	drop, wins := w.sale(3, 6) // the first three win: sold out
	if len(wins) != 3 {
		t.Fatalf("won %d", len(wins))
	}
	// Warm both nodes' drop caches (the existence check), then wait for
	// the sold_out event to reach both.
	n1.reserve(t, drop, "u0")
	n2.reserve(t, drop, "u0")
	testkit.Eventually(t, 0, "both nodes to learn the sell-out", func() bool {
		return n1.flags.SoldOut(drop) && n2.flags.SoldOut(drop)
	})

	before := hook.n.Load()
	for i := 0; i < 40; i++ {
		n := []*node{n1, n2}[i%2]
		if res := n.reserve(t, drop, fmt.Sprint("crowd-", i)); !errors.Is(res.Err, engine.ErrSoldOut) {
			t.Fatalf("after sell-out: %+v", res)
		}
	}
	if sent := hook.n.Load() - before; sent != 0 {
		t.Fatalf("40 requests after sell-out sent %d Redis commands, want none", sent)
	}
	// A request with an Idempotency-Key still reaches the store: its
	// answer may be a stored win.
	// (u0 won already: the store answers that her limit is reached.)
	if res := n1.reserve(t, drop, "u0", "k1"); !errors.Is(res.Err, engine.ErrLimitReached) || hook.n.Load() == before {
		t.Fatalf("a keyed request must go to Redis: %+v", res)
	}

	// The first release goes to the waitlist's head (u4), so the drop
	// stays sold out; the second finds the waitlist empty and restocks:
	// every node reopens.
	for _, r := range wins[:2] {
		if _, err := w.eng.Cancel(ctx(t), r.ID, ""); err != nil {
			t.Fatal(err)
		}
	}
	testkit.Eventually(t, 0, "both nodes to learn the restock", func() bool {
		return !n1.flags.SoldOut(drop) && !n2.flags.SoldOut(drop)
	})
	if res := n2.reserve(t, drop, "u5"); res.Err != nil {
		t.Fatalf("after the restock: %+v", res)
	}
}

// TestSoldOutFlagLearnsItsOwnSellOut: the node whose reserve call sold the
// last unit flags the drop at once, with no relay running (an API node's
// case, and every node's while the event travels): the crowd after it
// sends Redis nothing. The sold_out event, once a relay publishes it,
// changes nothing; the restocked event after it reopens the drop.
func TestSoldOutFlagLearnsItsOwnSellOut(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	hook := &countingHook{}
	counted := redis.NewClient(&redis.Options{Addr: w.rdb.Options().Addr})
	counted.AddHook(hook)
	t.Cleanup(func() { counted.Close() })
	n := startNode(t, w, engine.New(redisstore.New(counted, redisstore.Options{}), engine.Options{Clock: w.clock}))

	drop := w.openSale(3, 8)
	var wins []engine.Reservation
	for i := 0; i < 3; i++ {
		res := n.reserve(t, drop, fmt.Sprint("u", i))
		if res.Err != nil {
			t.Fatalf("press %d: %+v", i, res)
		}
		wins = append(wins, res.Reservation)
	}
	if !n.flags.SoldOut(drop) {
		t.Fatal("the node that sold the last unit does not know the drop is sold out")
	}
	before := hook.n.Load()
	for i := 3; i < 8; i++ {
		if res := n.reserve(t, drop, fmt.Sprint("u", i)); !errors.Is(res.Err, engine.ErrSoldOut) {
			t.Fatalf("after the sell-out: %+v", res)
		}
	}
	if sent := hook.n.Load() - before; sent != 0 {
		t.Fatalf("5 presses after the sell-out sent %d Redis commands, want none", sent)
	}

	// The events come round: sold_out (the news the node has), then the
	// restock of a cancelled win, which reopens the drop.
	w.relay("relay", nil)
	if _, err := w.eng.Cancel(ctx(t), wins[0].ID, ""); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 0, "the node to learn the restock", func() bool { return !n.flags.SoldOut(drop) })
	if res := n.reserve(t, drop, "u3"); res.Err != nil {
		t.Fatalf("after the restock: %+v", res)
	}
	if !n.flags.SoldOut(drop) {
		t.Fatal("the press that took the restocked unit did not flag the drop again")
	}
}

// TestSoldOutFlagRecoversFromAMissedRestock: a flag whose restock message
// never came is checked against the store once its TTL ran out.
func TestSoldOutFlagRecoversFromAMissedRestock(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.relay("relay", nil)
	drop, wins := w.sale(2, 4)
	now := time.Now()
	var clock atomic.Int64
	clock.Store(now.UnixNano())
	flags := queue.NewSoldOutFlags(w.js, func(ctx context.Context, d string) (bool, bool, int64, error) {
		st, err := w.eng.Stats(ctx, d)
		return err == nil && st.Available == 0, false, st.SoldOutVersion, err
	}, queue.SoldOutOptions{TTL: time.Second, Logger: quiet, Now: func() time.Time { return time.Unix(0, clock.Load()) }})
	flags.Start(context.Background())
	t.Cleanup(func() { _ = flags.Close() })
	testkit.Eventually(t, 0, "the sell-out", func() bool { return flags.SoldOut(drop) })

	// Stop following, restock behind its back, and let the TTL pass.
	_ = flags.Close()
	for _, r := range wins { // the first release goes to the waitlist's head
		if _, err := w.eng.Cancel(ctx(t), r.ID, ""); err != nil {
			t.Fatal(err)
		}
	}
	if !flags.SoldOut(drop) {
		t.Fatal("within its TTL the flag is trusted")
	}
	clock.Add(int64(2 * time.Second))
	if flags.SoldOut(drop) {
		t.Fatal("after its TTL the flag must be re-checked against the store")
	}
}

// TestSoldOutFlagIgnoresOlderNews: a node that sees restocked before an
// older sold_out (reordered delivery) keeps the newer news: the drop is
// open (issue 9 §9).
func TestSoldOutFlagIgnoresOlderNews(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	flags := queue.NewSoldOutFlags(w.js, func(context.Context, string) (bool, bool, int64, error) {
		return false, false, 0, errors.New("the store is not asked within the TTL")
	}, queue.SoldOutOptions{TTL: time.Hour, Logger: quiet})
	flags.Start(context.Background())
	t.Cleanup(func() { _ = flags.Close() })

	publish := func(drop string, typ engine.EventType, version int64) {
		t.Helper()
		ev := engine.Event{ID: fmt.Sprintf("%s-%s-%d", drop, typ, version), Type: typ, Drop: drop,
			Time: time.Now(), Version: version}
		body, err := queue.Envelope(ev, "").Marshal()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.js.Publish(ctx(t), queue.Subject(drop, typ), body); err != nil {
			t.Fatal(err)
		}
	}
	// Reversed: restocked (version 4) arrives before sold_out (version 3).
	publish("reordered", engine.EventRestocked, 4)
	publish("reordered", engine.EventSoldOut, 3)
	// In order, for contrast: restocked 2, then sold_out 5.
	publish("ordered", engine.EventRestocked, 2)
	publish("ordered", engine.EventSoldOut, 5)
	// The consumer reads in stream order: once the marker is in, so is
	// everything before it.
	publish("marker", engine.EventSoldOut, 1)
	testkit.Eventually(t, 0, "the marker", func() bool { return flags.SoldOut("marker") })
	if flags.SoldOut("reordered") {
		t.Fatal("an older sold_out overrode a newer restocked")
	}
	if !flags.SoldOut("ordered") {
		t.Fatal("a newer sold_out was not applied")
	}
}
