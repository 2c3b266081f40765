package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/flashdrop/flashdrop/engine"
	"github.com/flashdrop/flashdrop/engine/redisstore/redistest"
	"github.com/flashdrop/flashdrop/internal/testkit"
	"github.com/flashdrop/flashdrop/queue"
	"github.com/flashdrop/flashdrop/queue/natstest"
)

// netRig is a `serve` whose Redis and NATS are reached through in-process
// toxiproxy proxies, so a test can slow, reset and cut either link.
type netRig struct {
	t      *testing.T
	m      *Main
	clock  *engine.ManualClock
	base   string
	redis  *toxiproxy.Proxy
	nats   *toxiproxy.Proxy
	natsJS jetstream.JetStream // straight to NATS, past the proxy
	rdb    *redis.Client       // straight to Redis, past the proxy
	client *http.Client
}

// redisConnections is how many connections Redis has accepted so far.
func (r *netRig) redisConnections() int64 {
	r.t.Helper()
	info, err := r.rdb.Info(context.Background(), "stats").Result()
	if err != nil {
		r.t.Fatal(err)
	}
	m := regexp.MustCompile(`total_connections_received:(\d+)`).FindStringSubmatch(info)
	if m == nil {
		r.t.Fatalf("no total_connections_received in INFO stats")
	}
	n, _ := strconv.ParseInt(m[1], 10, 64)
	return n
}

func newNetRig(t *testing.T) *netRig {
	t.Helper()
	redistest.Require(t)
	rs, err := redistest.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rs.Close() })
	ns := natstest.Start(t)
	proxy := toxiproxies(t)
	r := &netRig{t: t, redis: proxy("redis", rs.Addr), nats: proxy("nats", strings.TrimPrefix(ns.URL(), "nats://")), rdb: rs.Client()}
	t.Cleanup(func() { r.rdb.Close() })
	r.m, r.clock, _ = startServe(t, "--redis-url", "redis://"+r.redis.Listen, "--nats-url", "nats://"+r.nats.Listen,
		"--no-demo", "--rate-user", "-1")
	r.base = "http://" + r.m.Addr
	r.client = &http.Client{Timeout: 15 * time.Second}
	t.Cleanup(r.client.CloseIdleConnections)
	nc, err := nats.Connect(ns.URL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	if r.natsJS, err = jetstream.New(nc); err != nil {
		t.Fatal(err)
	}
	return r
}

// toxiproxies returns a maker of started in-process toxiproxy proxies on
// loopback, each stopped when t ends.
func toxiproxies(t *testing.T) func(name, upstream string) *toxiproxy.Proxy {
	tp := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(prometheus.NewRegistry()), zerolog.Nop())
	return func(name, upstream string) *toxiproxy.Proxy {
		p := toxiproxy.NewProxy(tp, name, "127.0.0.1:0", upstream)
		if err := p.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(p.Stop)
		return p
	}
}

// toxic adds a toxic to p (JSON as toxiproxy's API takes it) and returns
// its removal.
func (r *netRig) toxic(p *toxiproxy.Proxy, js string) func() {
	r.t.Helper()
	tw, err := p.Toxics.AddToxicJson(strings.NewReader(js))
	if err != nil {
		r.t.Fatal(err)
	}
	return func() {
		if err := p.Toxics.RemoveToxic(context.Background(), tw.Name); err != nil {
			r.t.Error(err)
		}
	}
}

func (r *netRig) do(method, path, token, body string, hdr ...string) (int, map[string]any, http.Header, error) {
	req, err := http.NewRequest(method, r.base+path, strings.NewReader(body))
	if err != nil {
		return 0, nil, nil, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := r.client.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	_ = json.Unmarshal(raw, &out)
	return resp.StatusCode, out, resp.Header, nil
}

func (r *netRig) ready() int {
	code, _, _, err := r.do("GET", "/readyz", "", "")
	if err != nil {
		return 0
	}
	return code
}

// sale creates a drop with stock for half of n shoppers and a limit of 2
// (so a request applied twice would show as a second reservation, not as
// limit_reached), registers them, and opens the sale.
func (r *netRig) sale(n int) (drop string, tokens []string) {
	r.t.Helper()
	drop = fmt.Sprintf("net-%d", time.Now().UnixNano())
	now := r.clock.Now()
	body := fmt.Sprintf(`{"id":%q,"name":"Sneaker","stock":%d,"per_user_limit":2,"registration_opens_at":%q,`+
		`"registration_closes_at":%q,"sale_starts_at":%q,"hold_seconds":3600}`, drop, n/2,
		now.Add(-time.Minute).Format(time.RFC3339), now.Add(time.Hour).Format(time.RFC3339), now.Add(2*time.Hour).Format(time.RFC3339))
	if code, b, _, err := r.do("POST", "/v1/admin/drops", r.m.Config.AdminToken, body); err != nil || code != 201 {
		r.t.Fatalf("create drop: %d %v %v", code, b, err)
	}
	for i := range n {
		tok := mint(r.t, r.m, fmt.Sprintf("s%d", i))
		if code, b, _, err := r.do("POST", "/v1/drops/"+drop+"/registrations", tok, ""); err != nil || code != 201 {
			r.t.Fatalf("register: %d %v %v", code, b, err)
		}
		tokens = append(tokens, tok)
	}
	r.clock.Advance(2*time.Hour + time.Second)
	return drop, tokens
}

// answer is the final answer one shopper got for her one reserve request.
type answer struct {
	status  int
	code    string
	id      string
	retries int
}

// wave sends one reserve per shopper (with her Idempotency-Key), retrying
// as clients are told to — on 429/5xx and on transport errors — until a
// final answer; it returns once every shopper has one.
func (r *netRig) wave(drop string, tokens []string, from, to int, answers []answer) {
	r.t.Helper()
	defer func() {
		retries := 0
		for _, a := range answers[from:to] {
			retries += a.retries
		}
		r.t.Logf("wave of shoppers %d-%d: %d client retries", from, to-1, retries)
	}()
	var wg sync.WaitGroup
	sem := make(chan struct{}, 32)
	for i := from; i < to; i++ {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			deadline := time.Now().Add(90 * time.Second)
			for a := 0; ; a++ {
				code, b, _, err := r.do("POST", "/v1/drops/"+drop+"/reservations", tokens[i], `{"quantity":1}`,
					"Idempotency-Key", "buy-"+strconv.Itoa(i))
				if err == nil && code < 500 && code != 429 {
					ans := answer{status: code, retries: a}
					if s, ok := b["code"].(string); ok {
						ans.code = s
					}
					if res, ok := b["reservation"].(map[string]any); ok {
						ans.id, _ = res["id"].(string)
					}
					answers[i] = ans
					return
				}
				if time.Now().After(deadline) {
					r.t.Errorf("shopper %d: no final answer after %d tries (last %d %v)", i, a+1, code, err)
					return
				}
				time.Sleep(50 * time.Millisecond)
			}
		}()
	}
	wg.Wait()
}

// audit checks the answers against Redis (through the API, faults gone)
// and the events on JetStream: every 201 is a held reservation of its
// shopper, no request was applied twice, every win has exactly one won
// event, and nothing else was sold.
func (r *netRig) audit(drop string, tokens []string, answers []answer) {
	t := r.t
	t.Helper()
	admin := r.m.Config.AdminToken
	wins := map[string]bool{}
	retries := 0
	for i, a := range answers {
		retries += a.retries
		switch {
		case a.status == 201:
			if wins[a.id] {
				t.Errorf("reservation %s answered to two shoppers", a.id)
			}
			wins[a.id] = true
			code, b, _, err := r.do("GET", "/v1/reservations/"+a.id, tokens[i], "")
			res, _ := b["reservation"].(map[string]any)
			if err != nil || code != 200 || res["status"] != "held" {
				t.Errorf("I4: shopper %d was answered %s, which reads %d %v %v", i, a.id, code, b, err)
			}
		case a.status == 409 && a.code == "sold_out":
		default:
			t.Errorf("shopper %d: final answer %d %s", i, a.status, a.code)
		}
	}
	code, st, _, err := r.do("GET", "/v1/admin/drops/"+drop+"/stats", admin, "")
	if err != nil || code != 200 {
		t.Fatalf("stats: %d %v", code, err)
	}
	stock := float64(len(tokens) / 2)
	if st["reservations"] != float64(len(wins)) || st["held"] != float64(len(wins)) || st["available"] != stock-float64(len(wins)) {
		t.Errorf("stats %v for %d answered wins: a request was applied twice or a win was lost", st, len(wins))
	}
	if float64(len(wins)) != stock {
		t.Errorf("%d wins for a stock of %v and twice as many shoppers", len(wins), stock)
	}
	testkit.Eventually(t, 60*time.Second, "the relay to drain the outbox", func() bool {
		_, _, _, _ = r.do("GET", "/healthz", "", "")
		code, _, _, err := r.do("GET", "/readyz", "", "")
		if err != nil || code != 200 {
			return false
		}
		req, _ := http.NewRequest("GET", r.base+"/metrics", nil)
		resp, err := r.client.Do(req)
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		return strings.Contains(string(raw), "\nflashdrop_outbox_lag 0\n")
	})
	// The lag is each relay worker's last look, and a worker that could
	// not reach Redis keeps its look from before the fault: 0 can come
	// before the worker has read what the faulted waves wrote (a CI run
	// counted 0 won events for 60 wins that way). So the events are
	// waited for too, up to every answered win; then no copy, and nothing
	// never answered, may be among them.
	var won map[string]int
	testkit.Eventually(t, 60*time.Second, "a won event for every answered win", func() bool {
		won = r.wonEvents(drop)
		return len(won) >= len(wins)
	})
	for id, n := range won {
		if n != 1 || !wins[id] {
			t.Errorf("won event for %s: %d copies, answered to a shopper: %v", id, n, wins[id])
		}
	}
	if len(won) != len(wins) {
		t.Errorf("%d won events for %d wins", len(won), len(wins))
	}
	t.Logf("%d shoppers, %d wins, %d client retries", len(answers), len(wins), retries)
}

// wonEvents counts the won events of drop on JetStream by reservation.
func (r *netRig) wonEvents(drop string) map[string]int {
	r.t.Helper()
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cons, err := r.natsJS.OrderedConsumer(c, queue.StreamName, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{queue.Subject(drop, engine.EventWon)},
	})
	if err != nil {
		r.t.Fatal(err)
	}
	info, err := cons.Info(c)
	if err != nil {
		r.t.Fatal(err)
	}
	out := map[string]int{}
	for left := int(info.NumPending); left > 0; {
		batch, err := cons.Fetch(left, jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			r.t.Fatal(err)
		}
		n := 0
		for m := range batch.Messages() {
			n++
			var ce queue.CloudEvent
			if err := json.Unmarshal(m.Data(), &ce); err != nil {
				r.t.Fatal(err)
			}
			out[ce.Data.Reservation]++
		}
		if n == 0 {
			r.t.Fatalf("read %d won events, %d left", len(out), left)
		}
		left -= n
	}
	return out
}

// metrics is the node's /metrics page ("" when it does not answer).
func (r *netRig) metrics() string {
	resp, err := r.client.Get(r.base + "/metrics")
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return string(raw)
}

// partition cuts p for d (its listener and every connection through it),
// checks /readyz turns red meanwhile, and restores it; a wave of shoppers
// runs through the partition. checks, if any, run once /readyz is red,
// before the partition's d.
func (r *netRig) partition(p *toxiproxy.Proxy, d time.Duration, during func(), checks ...func()) {
	r.t.Helper()
	p.Stop()
	done := make(chan struct{})
	go func() { defer close(done); during() }()
	testkit.Eventually(r.t, 10*time.Second, "/readyz to go red during the partition", func() bool { return r.ready() == 503 })
	for _, c := range checks {
		c()
	}
	time.Sleep(d) // the partition's length is the fault itself, not a wait for a condition
	if err := p.Start(); err != nil {
		r.t.Fatal(err)
	}
	testkit.Eventually(r.t, 30*time.Second, "/readyz to go green after the partition", func() bool { return r.ready() == 200 })
	<-done
}

// TestFaultNetworkRedis: between serve and Redis, a latency spike, replies
// reset mid-script (the script ran, its answer is lost; go-redis and the
// client retry) and a partition of a few seconds. No request is applied
// twice, every acknowledged win is in Redis with one won event, and
// readiness goes red during the partition and back after.
func TestFaultNetworkRedis(t *testing.T) {
	n := 120
	if faultsFull() {
		n = 1200
	}
	r := newNetRig(t)
	drop, tokens := r.sale(n)
	answers := make([]answer, n)
	third := n / 3

	removeLatency := r.toxic(r.redis, `{"name":"spike","type":"latency","stream":"downstream","attributes":{"latency":400,"jitter":200}}`)
	r.wave(drop, tokens, 0, third, answers)
	removeLatency()

	// Half the connections have their replies cut: Redis ran the script,
	// the node never hears back.
	// Every reply from Redis resets its connection: the script ran, the
	// node never hears back; go-redis retries on a new connection, the
	// client retries with her key, and the script's call record answers a
	// repeat without running it again. The toxic stays until Redis has seen
	// connections replaced, proof that the fault bit mid-sale.
	conns := r.redisConnections()
	removeReset := r.toxic(r.redis, `{"name":"reset","type":"reset_peer","stream":"downstream","attributes":{"timeout":0}}`)
	waveDone := make(chan struct{})
	go func() { defer close(waveDone); r.wave(drop, tokens, third, 2*third, answers) }()
	testkit.Eventually(t, 30*time.Second, "connections to Redis reset mid-script", func() bool {
		return r.redisConnections()-conns >= 3
	})
	removeReset()
	<-waveDone
	t.Logf("%d connections to Redis replaced during the reset wave", r.redisConnections()-conns)

	// While Redis is cut off, the node's outbox lag is a count from before:
	// the node says it cannot read it, so that ops do not read its 0 as
	// "every event published".
	lagUnknown := regexp.MustCompile(`(?m)^flashdrop_outbox_lag_unknown_seconds ([0-9.e+-]+)$`)
	r.partition(r.redis, 3*time.Second, func() { r.wave(drop, tokens, 2*third, n, answers) }, func() {
		testkit.Eventually(t, 10*time.Second, "the outbox lag unknown during the partition", func() bool {
			m := lagUnknown.FindStringSubmatch(r.metrics())
			return m != nil && m[1] != "0"
		})
	})
	testkit.Eventually(t, 30*time.Second, "the outbox lag known again", func() bool {
		m := lagUnknown.FindStringSubmatch(r.metrics())
		return m != nil && m[1] == "0"
	})
	r.audit(drop, tokens, answers)
}

// TestFaultNetworkNATS: the same faults between serve and NATS. The sale
// goes on (the outbox holds events in Redis); readiness goes red while
// NATS is cut off and back after; every win reaches JetStream exactly once.
func TestFaultNetworkNATS(t *testing.T) {
	n := 120
	if faultsFull() {
		n = 1200
	}
	r := newNetRig(t)
	drop, tokens := r.sale(n)
	answers := make([]answer, n)
	third := n / 3

	removeLatency := r.toxic(r.nats, `{"name":"spike","type":"latency","stream":"upstream","attributes":{"latency":400,"jitter":200}}`)
	r.wave(drop, tokens, 0, third, answers)
	removeLatency()

	// Publishes and their acks are cut on half the connections.
	removeReset := r.toxic(r.nats, `{"name":"reset","type":"reset_peer","stream":"downstream","toxicity":0.5,"attributes":{"timeout":100}}`)
	r.wave(drop, tokens, third, 2*third, answers)
	removeReset()

	r.partition(r.nats, 3*time.Second, func() { r.wave(drop, tokens, 2*third, n, answers) })
	r.audit(drop, tokens, answers)
}

// TestReadyzSeesAHungBackend: a backend that keeps its connection but
// answers nothing (a process stopped, a network that drops everything) is
// not ready, and /readyz says so within its own bound. An ops review
// stopped nats-server for 23 s and /readyz stayed green (the connection
// stays up until nats.go's pings miss, minutes later), and a stopped Redis
// took 5 s to show (the Redis client's read timeout, whatever the
// request's deadline). The balancer's check (?exclude=nats) stays green
// while only NATS hangs.
func TestReadyzSeesAHungBackend(t *testing.T) {
	r := newNetRig(t)
	testkit.Eventually(t, 30*time.Second, "/readyz green", func() bool { return r.ready() == 200 })
	detail := func(path string) (int, string) {
		code, body, _, err := r.do("GET", path, "", "")
		if err != nil {
			return 0, err.Error()
		}
		d, _ := body["detail"].(string)
		return code, d
	}
	hang := `{"name":"hang","type":"timeout","stream":"downstream","attributes":{"timeout":0}}`

	unhang := r.toxic(r.nats, hang)
	var got string
	testkit.Eventually(t, 15*time.Second, "/readyz red while NATS hangs", func() bool {
		code, d := detail("/readyz")
		got = d
		return code == 503
	})
	if !strings.HasPrefix(got, "nats: ") {
		t.Errorf("/readyz while NATS hangs says %q", got)
	}
	if code, d := detail("/readyz?exclude=nats"); code != 200 {
		t.Errorf("the balancer's check while only NATS hangs: %d %s", code, d)
	}
	unhang()
	testkit.Eventually(t, 60*time.Second, "/readyz green after NATS came back", func() bool { return r.ready() == 200 })

	unhang = r.toxic(r.redis, hang)
	testkit.Eventually(t, 15*time.Second, "/readyz red while Redis hangs", func() bool {
		code, d := detail("/readyz?exclude=nats")
		got = d
		return code == 503
	})
	// Given up at /readyz's own bound, not at the Redis client's timeout.
	if got != "redis: no answer within 2s" {
		t.Errorf("/readyz while Redis hangs says %q", got)
	}
	unhang()
	testkit.Eventually(t, 60*time.Second, "/readyz green after Redis came back", func() bool { return r.ready() == 200 })
}
