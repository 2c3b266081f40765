package queue_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/flashdrop/flashdrop/engine"
	"github.com/flashdrop/flashdrop/engine/redisstore"
	"github.com/flashdrop/flashdrop/engine/redisstore/redistest"
	"github.com/flashdrop/flashdrop/internal/testkit"
	"github.com/flashdrop/flashdrop/queue"
)

// faultsFull is true when the fault tests run at full length (make
// test-faults); CI runs their short form.
var faultsFull = os.Getenv("FLASHDROP_FAULTS") == "full"

// freePort returns a loopback port nobody listens on right now: cluster
// routes must be known before the servers start.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// natsCluster is three in-process nats-server nodes with JetStream, each
// with its own store, routed to each other on loopback, fsyncing every
// write (sync_interval: always), as docs/production.md tells operators.
type natsCluster struct {
	mu    sync.Mutex
	nodes []*server.Server
}

func startNATSCluster(t *testing.T) *natsCluster {
	t.Helper()
	cports := []int{freePort(t), freePort(t), freePort(t)}
	var routes []string
	for _, p := range cports {
		routes = append(routes, "nats://127.0.0.1:"+strconv.Itoa(p))
	}
	c := &natsCluster{}
	for i := range 3 {
		srv, err := server.NewServer(&server.Options{
			ServerName: fmt.Sprintf("n%d", i+1), Host: "127.0.0.1", Port: server.RANDOM_PORT,
			JetStream: true, StoreDir: t.TempDir(), NoLog: true, NoSigs: true,
			SyncInterval: 2 * time.Minute, SyncAlways: true,
			Cluster: server.ClusterOpts{Name: "flashdrop", Host: "127.0.0.1", Port: cports[i]},
			Routes:  server.RoutesFromStr(strings.Join(routes, ",")),
		})
		if err != nil {
			t.Fatal(err)
		}
		srv.Start()
		c.nodes = append(c.nodes, srv)
	}
	t.Cleanup(func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		for _, s := range c.nodes {
			s.Shutdown()
			s.WaitForShutdown()
		}
	})
	for _, s := range c.nodes {
		if !s.ReadyForConnections(20 * time.Second) {
			t.Fatal("a NATS node did not start")
		}
	}
	return c
}

func (c *natsCluster) urls() string {
	var out []string
	for _, s := range c.nodes {
		out = append(out, s.ClientURL())
	}
	return strings.Join(out, ",")
}

// killStreamLeader shuts down the node leading the FLASHDROP stream and
// returns its name.
func (c *natsCluster) killStreamLeader(t *testing.T) string {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, s := range c.nodes {
		if s.Running() && s.JetStreamIsStreamLeader(server.DEFAULT_GLOBAL_ACCOUNT, queue.StreamName) {
			s.Shutdown()
			s.WaitForShutdown()
			return s.Name()
		}
	}
	t.Fatal("no node leads the stream")
	return ""
}

// TestFaultNATSCluster: a sale runs with its relays publishing to a
// three-node NATS cluster (stream at 3 replicas, fsync always) while the
// stream's leader is shut down. The relays follow the new leader; the
// stream ends with every outbox event exactly once (JetStream's
// deduplication absorbs the relays' retries), and a durable consumer
// reading throughout receives every event, a second time only as a
// flagged redelivery.
func TestFaultNATSCluster(t *testing.T) {
	t.Parallel()
	redistest.Require(t)
	rs, err := redistest.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rs.Close() })
	rdb := rs.Client()
	t.Cleanup(func() { rdb.Close() })
	cl := startNATSCluster(t)
	nc, err := nats.Connect(cl.urls(), nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	// The cluster elects its meta leader after the routes connect.
	testkit.Eventually(t, 30*time.Second, "the stream at 3 replicas", func() bool {
		c, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_, err := queue.EnsureStream(c, js, queue.StreamOptions{Replicas: 3})
		return err == nil
	})
	clock := engine.NewManualClock(t0.Add(-time.Hour))
	store := redisstore.New(rdb, redisstore.Options{})
	w := &world{t: t, rdb: rdb, store: store, eng: engine.New(store, engine.Options{Clock: clock}), clock: clock, nc: nc, js: js}
	for _, node := range []string{"node-a", "node-b"} {
		w.relay(node, nil)
	}

	batches, per := 6, 40
	if faultsFull {
		batches, per = 20, 200
	}
	shoppers := batches * per
	drop := fmt.Sprintf("fault-nats-%d", time.Now().UnixNano())
	clock.Set(t0.Add(-time.Hour))
	if _, err := w.eng.CreateDrop(ctx(t), engine.Drop{ID: drop, Name: "Sneaker", Stock: int64(shoppers / 2),
		RegistrationOpensAt: t0.Add(-2 * time.Hour), RegistrationClosesAt: t0.Add(-time.Minute), SaleStartsAt: t0}); err != nil {
		t.Fatal(err)
	}
	for i := range shoppers {
		if _, _, err := w.eng.Register(ctx(t), drop, fmt.Sprint("u", i), ""); err != nil {
			t.Fatal(err)
		}
	}
	clock.Set(t0.Add(time.Second))
	// A durable consumer, as a downstream service would have, reading
	// throughout the sale.
	cons, err := js.CreateOrUpdateConsumer(ctx(t), queue.StreamName, jetstream.ConsumerConfig{
		Durable: "fault-consumer", FilterSubject: "flashdrop." + drop + ".>",
		DeliverPolicy: jetstream.DeliverAllPolicy, AckPolicy: jetstream.AckExplicitPolicy, AckWait: 2 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	seen := map[string]int{}
	unflagged := 0 // a second delivery not marked as a redelivery: a duplicate in the stream
	cc, err := cons.Consume(func(m jetstream.Msg) {
		id := m.Headers().Get(jetstream.MsgIDHeader)
		md, _ := m.Metadata()
		mu.Lock()
		seen[id]++
		if seen[id] > 1 && (md == nil || md.NumDelivered < 2) {
			unflagged++
		}
		mu.Unlock()
		_ = m.Ack()
	})
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Stop()

	// Each batch's answers are what clients were told: every win among
	// them must reach the stream as exactly one won event.
	var wins []engine.Reservation
	var killed string
	for b := range batches {
		if b == batches/2 {
			killed = cl.killStreamLeader(t)
			t.Logf("shut down the stream leader %s mid-sale", killed)
		}
		wins = append(wins, w.buy(drop, b*per, (b+1)*per)...)
	}
	if len(wins) != shoppers/2 {
		t.Fatalf("%d wins for a stock of %d", len(wins), shoppers/2)
	}
	// registered + won for each, waitlisted for some, one sold_out.
	perID, won := w.waitPublished(drop, shoppers+len(wins)+1)
	w.checkExactlyOnce(drop, perID, won, wins, len(perID))
	if len(won) != len(wins) {
		t.Errorf("%d won events for %d wins", len(won), len(wins))
	}
	testkit.Eventually(t, 60*time.Second, "the durable consumer receives every event", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(seen) >= len(perID)
	})
	mu.Lock()
	defer mu.Unlock()
	for id := range seen {
		if perID[id] == 0 {
			t.Errorf("the consumer received %s, which the stream does not hold", id)
		}
	}
	if unflagged > 0 {
		t.Errorf("%d events reached the consumer twice without being redeliveries", unflagged)
	}
	redelivered := 0
	for _, n := range seen {
		redelivered += n - 1
	}
	t.Logf("%d events, %d won; leader %s killed; %d redeliveries to the durable consumer", len(perID), len(won), killed, redelivered)
}
