package queue_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/redis/go-redis/v9"

	"github.com/flashdrop/flashdrop/engine"
	"github.com/flashdrop/flashdrop/engine/redisstore"
	"github.com/flashdrop/flashdrop/engine/redisstore/redistest"
	"github.com/flashdrop/flashdrop/internal/contract"
	"github.com/flashdrop/flashdrop/internal/testkit"
	"github.com/flashdrop/flashdrop/queue"
	"github.com/flashdrop/flashdrop/queue/natstest"
)

var t0 = time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// world is one test's Redis store, engine on a manual clock, and NATS.
type world struct {
	t     *testing.T
	rdb   *redis.Client
	store *redisstore.Store
	eng   *engine.Engine
	clock *engine.ManualClock
	nats  *natstest.Server
	nc    *nats.Conn
	js    jetstream.JetStream
}

func newWorld(t *testing.T) *world {
	t.Helper()
	// A redis-server of its own: a relay serves every drop in its Redis,
	// so relays of parallel tests, each on its own NATS, must not share one.
	redistest.Require(t)
	rs, err := redistest.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rs.Close() })
	rdb := rs.Client()
	t.Cleanup(func() { rdb.Close() })
	ns := natstest.Start(t)
	nc, js := ns.Connect(t)
	if _, err := queue.EnsureStream(ctx(t), js, queue.StreamOptions{}); err != nil {
		t.Fatal(err)
	}
	clock := engine.NewManualClock(t0.Add(-time.Hour))
	store := redisstore.New(rdb, redisstore.Options{})
	return &world{t: t, rdb: rdb, store: store, eng: engine.New(store, engine.Options{Clock: clock}),
		clock: clock, nats: ns, nc: nc, js: js}
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return c
}

// outboxEvents is every event in drop's outbox, in order.
func (w *world) outboxEvents(drop string) []engine.Event {
	w.t.Helper()
	evs, err := w.store.OutboxEvents(ctx(w.t), drop, 0)
	if err != nil {
		w.t.Fatal(err)
	}
	return evs
}

// relay starts a relay for the test with short timings.
func (w *world) relay(consumer string, outbox engine.Outbox) *queue.Relay {
	return w.relayClaimingAfter(consumer, outbox, 300*time.Millisecond)
}

// relayClaimingAfter is relay with its own claim timeout.
func (w *world) relayClaimingAfter(consumer string, outbox engine.Outbox, claimAfter time.Duration) *queue.Relay {
	return w.relayOn(w.js, consumer, outbox, claimAfter)
}

// relayOn is relayClaimingAfter publishing through js.
func (w *world) relayOn(js jetstream.JetStream, consumer string, outbox engine.Outbox, claimAfter time.Duration) *queue.Relay {
	if outbox == nil {
		outbox = w.store
	}
	r := queue.NewRelay(w.store, outbox, js, queue.RelayOptions{
		Consumer: consumer, ClaimAfter: claimAfter, Block: 100 * time.Millisecond,
		Refresh: 50 * time.Millisecond, PublishTimeout: time.Second, PublicURL: "https://shop.test", Logger: quiet,
	})
	r.Start(context.Background())
	w.t.Cleanup(func() { _ = r.Close() })
	return r
}

// sale creates a drop, registers shoppers and sells it with a waitlist,
// cancels and confirms: every kind of reservation event. It returns the
// drop id and the reservations won.
func (w *world) sale(stock int, shoppers int) (string, []engine.Reservation) {
	w.t.Helper()
	id := w.openSale(stock, shoppers)
	return id, w.buy(id, 0, shoppers)
}

// openSale creates a drop with shoppers u0, u1, ... registered, and sets
// the clock inside its sale.
func (w *world) openSale(stock int, shoppers int) string {
	w.t.Helper()
	var b [4]byte
	_, _ = rand.Read(b[:])
	id := "relay-" + hex.EncodeToString(b[:])
	w.clock.Set(t0.Add(-time.Hour))
	if _, err := w.eng.CreateDrop(ctx(w.t), engine.Drop{ID: id, Name: "Sneaker", Stock: int64(stock),
		RegistrationOpensAt: t0.Add(-2 * time.Hour), RegistrationClosesAt: t0.Add(-time.Minute), SaleStartsAt: t0}); err != nil {
		w.t.Fatal(err)
	}
	for i := 0; i < shoppers; i++ {
		if _, _, err := w.eng.Register(ctx(w.t), id, fmt.Sprint("u", i), ""); err != nil {
			w.t.Fatal(err)
		}
	}
	w.clock.Set(t0.Add(1500 * time.Millisecond))
	return id
}

func (w *world) buy(id string, from, to int) []engine.Reservation {
	w.t.Helper()
	var reqs []engine.ReserveRequest
	for i := from; i < to; i++ {
		reqs = append(reqs, engine.ReserveRequest{User: fmt.Sprint("u", i), Quantity: 1, Waitlist: i%2 == 0})
	}
	res, err := w.eng.ReserveBatch(ctx(w.t), id, reqs)
	if err != nil {
		w.t.Fatal(err)
	}
	var won []engine.Reservation
	for _, r := range res {
		if r.Err == nil {
			won = append(won, r.Reservation)
		}
	}
	return won
}

// published reads every message of the stream for drop: event id -> count,
// and the won events by reservation id.
func (w *world) published(drop string) (perID map[string]int, won map[string]queue.CloudEvent) {
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
	perID, won = map[string]int{}, map[string]queue.CloudEvent{}
	// A fetch may come back empty while a cluster elects the stream's
	// new leader (TestFaultNATSCluster): only a read that stays empty
	// past the deadline fails.
	deadline := time.Now().Add(30 * time.Second)
	for got := 0; got < pending; {
		batch, err := cons.Fetch(pending-got, jetstream.FetchMaxWait(2*time.Second))
		if err != nil {
			w.t.Fatal(err)
		}
		n := 0
		for m := range batch.Messages() {
			n++
			contract.CheckEvent(w.t, m.Data())
			var ce queue.CloudEvent
			if err := json.Unmarshal(m.Data(), &ce); err != nil {
				w.t.Fatalf("not a CloudEvent: %s", m.Data())
			}
			if m.Headers().Get(jetstream.MsgIDHeader) != ce.ID || m.Subject() != queue.Subject(drop, queue.TypeOf(ce.Type)) ||
				m.Headers().Get("Content-Type") != "application/cloudevents+json" {
				w.t.Errorf("message %s: id header %q, subject %s, headers %v", ce.ID, m.Headers().Get(jetstream.MsgIDHeader), m.Subject(), m.Headers())
			}
			perID[ce.ID]++
			if ce.Type == "flashdrop.won" {
				won[ce.Data.Reservation] = ce
			}
		}
		if n == 0 && time.Now().After(deadline) {
			w.t.Fatalf("stream: read %d of %d messages", got, pending)
		}
		got += n
	}
	return perID, won
}

// waitPublished waits until the outbox of drop is empty (everything
// acknowledged) and returns what the stream holds.
func (w *world) waitPublished(drop string, wantEvents int) (map[string]int, map[string]queue.CloudEvent) {
	w.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		n, err := w.store.OutboxLen(ctx(w.t), drop)
		if err != nil {
			w.t.Fatal(err)
		}
		if n == 0 {
			perID, won := w.published(drop)
			if len(perID) >= wantEvents {
				return perID, won
			}
		}
		if time.Now().After(deadline) {
			perID, _ := w.published(drop)
			st, _ := w.js.Stream(ctx(w.t), queue.StreamName)
			si, _ := st.Info(ctx(w.t))
			w.t.Fatalf("outbox of %s holds %d events; the stream has %d of the %d wanted (%d messages in all)",
				drop, n, len(perID), wantEvents, si.State.Msgs)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// checkExactlyOnce: every event once, every win one won event with
// matching data.
func (w *world) checkExactlyOnce(drop string, perID map[string]int, won map[string]queue.CloudEvent, wins []engine.Reservation, events int) {
	w.t.Helper()
	if len(perID) != events {
		w.t.Errorf("stream holds %d distinct events, the drop made %d", len(perID), events)
	}
	for id, n := range perID {
		if n != 1 {
			w.t.Errorf("event %s published %d times", id, n)
		}
	}
	for _, r := range wins {
		ce, ok := won[r.ID]
		if !ok {
			w.t.Errorf("I4: win %s has no won event", r.ID)
			continue
		}
		d := ce.Data
		if d.User != r.User || d.Quantity != r.Quantity || !d.ExpiresAt.Equal(r.ExpiresAt) || d.ShareCode != r.ShareCode ||
			d.ShareURL != "https://shop.test/s/"+r.ShareCode || d.Product != "Sneaker" || d.SecondsAfterStart == nil ||
			*d.SecondsAfterStart != ce.Time.Sub(t0).Seconds() || ce.SpecVersion != "1.0" || ce.Subject != r.ID {
			w.t.Errorf("won event %+v does not match reservation %+v", ce, r)
		}
	}
}

func TestRelayPublishesEveryEventOnce(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	drop, wins := w.sale(10, 20)
	// Cancel one and confirm one: more kinds of events.
	if _, err := w.eng.Cancel(ctx(t), wins[0].ID, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := w.eng.Confirm(ctx(t), wins[1].ID, ""); err != nil {
		t.Fatal(err)
	}
	all := w.outboxEvents(drop)
	allWins := winsOf(all)
	w.relay("node-a", nil)
	perID, won := w.waitPublished(drop, len(all))
	w.checkExactlyOnce(drop, perID, won, allWins, len(all))
	for _, typ := range []string{"registered", "won", "sold_out", "waitlisted", "cancelled", "confirmed"} {
		if !hasType(all, typ) {
			t.Errorf("the sale made no %s event", typ)
		}
	}
	// The paid win carries its card, as its won event does: an
	// integration that shares only paid wins posts on confirmed.
	c := ctx(t)
	cons, err := w.js.CreateConsumer(c, queue.StreamName, jetstream.ConsumerConfig{
		FilterSubject: queue.Subject(drop, engine.EventConfirmed), DeliverPolicy: jetstream.DeliverAllPolicy,
		AckPolicy: jetstream.AckNonePolicy, InactiveThreshold: time.Minute,
	})
	if err != nil {
		t.Fatal(err)
	}
	m, err := cons.Next(jetstream.FetchMaxWait(5 * time.Second))
	if err != nil {
		t.Fatal(err)
	}
	var ce queue.CloudEvent
	if err := json.Unmarshal(m.Data(), &ce); err != nil {
		t.Fatal(err)
	}
	paid := won[wins[1].ID].Data
	if d := ce.Data; d.Reservation != wins[1].ID || d.ShareCode != wins[1].ShareCode || d.ShareURL != paid.ShareURL || d.ShareURL == "" ||
		d.Product != paid.Product || d.Product == "" || d.ShareImageURL != d.ShareURL+".png" || paid.ShareImageURL != paid.ShareURL+".png" {
		t.Errorf("confirmed %+v; its won event %+v", d, paid)
	}
}

// winsOf turns the won events of an outbox snapshot into reservations to
// check the published data against (promotions from the waitlist included).
func winsOf(evs []engine.Event) []engine.Reservation {
	var out []engine.Reservation
	for _, e := range evs {
		if e.Type == engine.EventWon {
			out = append(out, engine.Reservation{ID: e.Reservation, User: e.User, Quantity: e.Quantity,
				ExpiresAt: e.ExpiresAt, ShareCode: e.ShareCode})
		}
	}
	return out
}

func hasType(evs []engine.Event, typ string) bool {
	for _, e := range evs {
		if string(e.Type) == typ {
			return true
		}
	}
	return false
}

func TestRelayKilledMidStreamAndRestarted(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	drop, _ := w.sale(30, 40)
	before := w.outboxEvents(drop)
	r1 := w.relay("node-a", nil)
	// Kill it once part of the outbox is out.
	deadline := time.Now().Add(20 * time.Second)
	for {
		if n, _ := w.store.OutboxLen(ctx(t), drop); n < int64(len(before)) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the first relay published nothing")
		}
		time.Sleep(time.Millisecond)
	}
	if err := r1.Close(); err != nil {
		t.Fatal(err)
	}
	// The sale goes on while no relay runs: holds run out, and their units
	// go to the waitlist (fresh won events).
	w.clock.Advance(11 * time.Minute)
	if n, err := w.eng.ExpireDrop(ctx(t), drop); err != nil || n == 0 {
		t.Fatalf("expire: %d %v", n, err)
	}
	all := w.outboxEvents(drop)
	seen, _ := w.published(drop)
	// Entries the first relay published but did not acknowledge are in
	// both; count each event once.
	distinct := map[string]bool{}
	for id := range seen {
		distinct[id] = true
	}
	for _, e := range all {
		distinct[e.ID] = true
	}
	total := len(distinct)
	t.Logf("before: %d events; first relay published %d; outbox now %d; distinct %d", len(before), len(seen), len(all), total)
	// Another node takes over, claiming what the first left pending.
	w.relay("node-b", nil)
	perID, won := w.waitPublished(drop, total)
	w.checkExactlyOnce(drop, perID, won, nil, total)
	if len(won) <= 30 {
		t.Errorf("want the 30 first wins and the promotions, got %d won events", len(won))
	}
}

func TestRelayWaitsOutNATSDowntime(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	drop, _ := w.sale(5, 10)
	first := w.outboxEvents(drop)
	r := w.relay("node-a", nil)
	w.waitPublished(drop, len(first))

	w.nats.Stop()
	// Reservations keep succeeding while NATS is down: they only need Redis.
	w.clock.Set(t0.Add(time.Hour))
	if n, err := w.eng.ExpireDrop(ctx(t), drop); err != nil || n == 0 {
		t.Fatalf("expiry during the outage: %d %v", n, err)
	}
	more := w.buy(drop, 0, 10) // the released units, won again
	if len(more) == 0 {
		t.Fatal("nothing won during the outage")
	}
	// Keep selling for a few seconds, several relay publish timeouts: a
	// second drop, created during the outage, sells, cancels and sells
	// again, and every call succeeds without NATS.
	now := w.clock.Now()
	drop2 := drop + "-b"
	if _, err := w.eng.CreateDrop(ctx(t), engine.Drop{ID: drop2, Name: "Sneaker", Stock: 3,
		RegistrationOpensAt: now.Add(-time.Minute), RegistrationClosesAt: now.Add(time.Second), SaleStartsAt: now.Add(time.Second)}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := w.eng.Register(ctx(t), drop2, "steady", ""); err != nil {
		t.Fatal(err)
	}
	w.clock.Advance(time.Second)
	cycles := 0
	for end := time.Now().Add(2500 * time.Millisecond); time.Now().Before(end); cycles++ {
		res, err := w.eng.Reserve(ctx(t), drop2, engine.ReserveRequest{User: "steady", Quantity: 1})
		if err != nil {
			t.Fatalf("reserve during the outage: %v", err)
		}
		if _, err := w.eng.Cancel(ctx(t), res.ID, ""); err != nil {
			t.Fatalf("cancel during the outage: %v", err)
		}
	}
	t.Logf("%d reserve+cancel cycles while NATS was down", cycles)
	rest2 := w.outboxEvents(drop2)
	rest := w.outboxEvents(drop)
	if len(rest) == 0 {
		t.Fatal("events should wait in the outbox while NATS is down")
	}
	// The lag counts what waits, though the relay's publishes keep failing
	// (it read the lag only between reads, and stayed at its look from
	// before the outage).
	var waiting int64
	for _, id := range []string{drop, drop2} {
		n, err := w.store.OutboxLen(ctx(t), id)
		if err != nil {
			t.Fatal(err)
		}
		waiting += n
	}
	testkit.Eventually(t, 20*time.Second, fmt.Sprintf("a lag of the %d entries waiting", waiting), func() bool { return r.Lag() == waiting })
	if d := r.LagUnknownFor(time.Now()); d != 0 {
		t.Errorf("the lag is unknown for %v while Redis answers", d)
	}
	w.nats.Restart(t)
	perID, won := w.waitPublished(drop, len(first)+len(rest))
	for _, e := range append(first, rest...) {
		if perID[e.ID] != 1 {
			t.Errorf("%s event %s (%s) is on the stream %d times", e.Type, e.ID, e.Time, perID[e.ID])
		}
	}
	w.checkExactlyOnce(drop, perID, won, winsOf(rest), len(first)+len(rest))
	perID2, won2 := w.waitPublished(drop2, len(rest2))
	w.checkExactlyOnce(drop2, perID2, won2, nil, len(rest2))
	if len(won2) != cycles {
		t.Errorf("drop 2: %d won events for %d wins", len(won2), cycles)
	}
}

// crashingOutbox publishes, then "crashes" before acknowledging: AckOutbox
// fails and stops the relay, as a process dying at that point would, and
// fails for as long as the relay still tries (a dead process acknowledges
// nothing).
type crashingOutbox struct {
	engine.Outbox
	crash   func()
	crashed atomic.Bool
}

func (c *crashingOutbox) AckOutbox(ctx context.Context, drop string, refs ...string) error {
	if c.crashed.CompareAndSwap(false, true) {
		go c.crash()
	}
	return errors.New("crashed between publish and ack")
}

// downOutbox fails every call while down is set, as a Redis out of reach.
type downOutbox struct {
	engine.Outbox
	down atomic.Bool
}

var errOutOfReach = errors.New("dial tcp: connection refused")

func (d *downOutbox) ReadOutbox(ctx context.Context, drop, consumer string, n int, minIdle, block time.Duration) ([]engine.OutboxEntry, error) {
	if d.down.Load() {
		return nil, errOutOfReach
	}
	return d.Outbox.ReadOutbox(ctx, drop, consumer, n, minIdle, block)
}

func (d *downOutbox) ReadOwnPending(ctx context.Context, drop, consumer string, n int) ([]engine.OutboxEntry, error) {
	if d.down.Load() {
		return nil, errOutOfReach
	}
	return d.Outbox.ReadOwnPending(ctx, drop, consumer, n)
}

func (d *downOutbox) AckOutbox(ctx context.Context, drop string, refs ...string) error {
	if d.down.Load() {
		return errOutOfReach
	}
	return d.Outbox.AckOutbox(ctx, drop, refs...)
}

func (d *downOutbox) OutboxLen(ctx context.Context, drop string) (int64, error) {
	if d.down.Load() {
		return 0, errOutOfReach
	}
	return d.Outbox.OutboxLen(ctx, drop)
}

// TestRelayLagUnknownWhileOutboxUnreadable: while the relay cannot read an
// outbox, its lag is a look from before (0 here, with events written
// meanwhile), and LagUnknownFor says so and for how long; once the outbox
// reads again, both are true again.
func TestRelayLagUnknownWhileOutboxUnreadable(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	drop, _ := w.sale(4, 8)
	first := w.outboxEvents(drop)
	ob := &downOutbox{Outbox: w.store}
	r := w.relay("node-a", ob)
	w.waitPublished(drop, len(first))
	testkit.Eventually(t, 0, "a lag of 0 read", func() bool { return r.Lag() == 0 && r.LagUnknownFor(time.Now()) == 0 })

	ob.down.Store(true)
	// Events written while the relay cannot read them (the store itself
	// answers: only the relay's path to it is cut).
	w.clock.Set(t0.Add(time.Hour))
	if n, err := w.eng.ExpireDrop(ctx(t), drop); err != nil || n == 0 {
		t.Fatalf("expiry: %d %v", n, err)
	}
	rest := w.outboxEvents(drop)
	if len(rest) == 0 {
		t.Fatal("the expiry wrote no event")
	}
	testkit.Eventually(t, 0, "the lag unknown for a while", func() bool { return r.LagUnknownFor(time.Now()) >= 200*time.Millisecond })
	if r.Lag() != 0 {
		t.Errorf("lag %d: the look from before the cut was 0", r.Lag())
	}
	if now := time.Now(); r.LagUnknownFor(now.Add(time.Second))-r.LagUnknownFor(now) != time.Second {
		a, b := r.LagUnknownFor(now), r.LagUnknownFor(now.Add(time.Second))
		t.Errorf("unknown for %v, then %v a second later: it should count from the first failed read", a, b)
	}

	ob.down.Store(false)
	testkit.Eventually(t, 0, "the lag known again", func() bool { return r.LagUnknownFor(time.Now()) == 0 })
	perID, won := w.waitPublished(drop, len(first)+len(rest))
	w.checkExactlyOnce(drop, perID, won, nil, len(first)+len(rest))
	testkit.Eventually(t, 0, "a lag of 0 again", func() bool { return r.Lag() == 0 && r.LagUnknownFor(time.Now()) == 0 })
}

// flakyAckOutbox fails its first acknowledgements, as a Redis that went
// away after the relay published would.
type flakyAckOutbox struct {
	engine.Outbox
	fail atomic.Int64
}

func (f *flakyAckOutbox) AckOutbox(ctx context.Context, drop string, refs ...string) error {
	if f.fail.Add(-1) >= 0 {
		return errors.New("connection refused")
	}
	return f.Outbox.AckOutbox(ctx, drop, refs...)
}

// countingJS counts the relay's publishes.
type countingJS struct {
	jetstream.JetStream
	published atomic.Int64
}

func (c *countingJS) PublishMsgAsync(m *nats.Msg, opts ...jetstream.PublishOpt) (jetstream.PubAckFuture, error) {
	c.published.Add(1)
	return c.JetStream.PublishMsgAsync(m, opts...)
}

// outageOutbox is an outbox behind a Redis that can be down: while down
// is set every call fails. start, when set, begins the outage at the
// first acknowledgement, after that relay published and before its
// acknowledgement lands.
type outageOutbox struct {
	engine.Outbox
	down       *atomic.Bool
	start      func()
	failedAcks atomic.Int64
}

var errRedisDown = errors.New("connection refused")

func (o *outageOutbox) ReadOutbox(ctx context.Context, drop, consumer string, n int, minIdle, block time.Duration) ([]engine.OutboxEntry, error) {
	if o.down.Load() {
		return nil, errRedisDown
	}
	return o.Outbox.ReadOutbox(ctx, drop, consumer, n, minIdle, block)
}

func (o *outageOutbox) ReadOwnPending(ctx context.Context, drop, consumer string, n int) ([]engine.OutboxEntry, error) {
	if o.down.Load() {
		return nil, errRedisDown
	}
	return o.Outbox.ReadOwnPending(ctx, drop, consumer, n)
}

func (o *outageOutbox) AckOutbox(ctx context.Context, drop string, refs ...string) error {
	if o.start != nil {
		o.start()
	}
	if o.down.Load() {
		o.failedAcks.Add(1)
		return errRedisDown
	}
	return o.Outbox.AckOutbox(ctx, drop, refs...)
}

// TestRelayClaimsNothingRightAfterAnOutage: Redis goes away after node A
// published a batch and before it acknowledged it, for longer than the
// claim timeout. Node B, which failed to reach Redis meanwhile, claims
// nothing for a claim timeout after Redis is back, so A's retried
// acknowledgement lands first and nothing is published twice.
func TestRelayClaimsNothingRightAfterAnOutage(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	drop, _ := w.sale(8, 12)
	all := w.outboxEvents(drop)
	const claimAfter, outage = 3 * time.Second, 3500 * time.Millisecond
	var down atomic.Bool
	began := make(chan struct{})
	var once sync.Once
	a := &outageOutbox{Outbox: w.store, down: &down, start: func() {
		once.Do(func() {
			down.Store(true)
			close(began)
			time.AfterFunc(outage, func() { down.Store(false) })
		})
	}}
	js := &countingJS{JetStream: w.js}
	w.relayOn(js, "node-a", a, claimAfter)
	select {
	case <-began:
	case <-time.After(20 * time.Second):
		t.Fatal("node A never acknowledged a publish")
	}
	// B starts well into the outage (A has failed four acknowledgements,
	// about 0.75 s): its backoff is then shorter than A's when Redis comes
	// back, so its first read after the outage comes before A's retry,
	// the read that would claim A's entries.
	testkit.Eventually(t, 0, "node A's acknowledgements to fail", func() bool { return a.failedAcks.Load() >= 4 })
	w.relayOn(js, "node-b", &outageOutbox{Outbox: w.store, down: &down}, claimAfter)
	perID, won := w.waitPublished(drop, len(all))
	w.checkExactlyOnce(drop, perID, won, winsOf(all), len(all))
	testkit.Eventually(t, 0, "the outbox acknowledged", func() bool {
		n, err := w.store.OutboxLen(ctx(t), drop)
		return err == nil && n == 0 && !down.Load()
	})
	if got := js.published.Load(); got != int64(len(all)) {
		t.Fatalf("%d publishes for %d events: node B claimed what node A had published", got, len(all))
	}
}

// TestRelayRetriesOnlyTheAck: when acknowledging the outbox fails after a
// publish, the relay retries the acknowledgement, not the publish: every
// event goes to JetStream once, however long the acknowledgement takes.
// (Other nodes hold back their claims after an outage:
// TestRelayClaimsNothingRightAfterAnOutage.)
func TestRelayRetriesOnlyTheAck(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	drop, _ := w.sale(8, 12)
	all := w.outboxEvents(drop)
	ob := &flakyAckOutbox{Outbox: w.store}
	ob.fail.Store(4)
	js := &countingJS{JetStream: w.js}
	w.relayOn(js, "node-a", ob, time.Hour)
	perID, won := w.waitPublished(drop, len(all))
	w.checkExactlyOnce(drop, perID, won, winsOf(all), len(all))
	testkit.Eventually(t, 0, "the outbox acknowledged", func() bool {
		n, err := w.store.OutboxLen(ctx(t), drop)
		return err == nil && n == 0
	})
	if ob.fail.Load() >= 0 {
		t.Fatal("fewer than 4 acknowledgements failed")
	}
	if got := js.published.Load(); got != int64(len(all)) {
		t.Fatalf("%d publishes for %d events: a failed acknowledgement made the relay publish again", got, len(all))
	}
}

// crashNodeA runs relay "node-a" (claiming others' entries after
// claimAfter) until it publishes a batch and "dies" before acknowledging
// it, and returns the drop's events as they stood before.
func (w *world) crashNodeA(drop string, claimAfter time.Duration) []engine.Event {
	w.t.Helper()
	all := w.outboxEvents(drop)
	var r1 *queue.Relay
	var once sync.Once
	ready := make(chan struct{})
	co := &crashingOutbox{Outbox: w.store, crash: func() { <-ready; once.Do(func() { _ = r1.Close() }) }}
	r1 = w.relayClaimingAfter("node-a", co, claimAfter)
	close(ready)
	testkit.Eventually(w.t, 20*time.Second, "a publish and the crash", co.crashed.Load)
	_ = r1.Close()
	return all
}

func TestCrashBetweenPublishAndAck(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	drop, _ := w.sale(8, 12)
	all := w.crashNodeA(drop, 300*time.Millisecond)
	// Everything the first relay published is on the stream, but still in
	// the outbox: the next relay publishes it again.
	w.relay("node-b", nil)
	perID, won := w.waitPublished(drop, len(all))
	w.checkExactlyOnce(drop, perID, won, winsOf(all), len(all))
}

// TestRestartedRelayTakesBackItsOwnAtOnce: a node that dies between
// publishing and acknowledging, restarted under the same name, publishes
// what it had read at once, not after the claim timeout (an hour here).
func TestRestartedRelayTakesBackItsOwnAtOnce(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	drop, _ := w.sale(8, 12)
	all := w.crashNodeA(drop, time.Hour)
	// Its entries wait in node-a's pending list; the restart takes them.
	w.relayClaimingAfter("node-a", nil, time.Hour)
	perID, won := w.waitPublished(drop, len(all))
	w.checkExactlyOnce(drop, perID, won, winsOf(all), len(all))
}
