package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flashdrop/flashdrop/api"
	"github.com/flashdrop/flashdrop/engine/redisstore/redistest"
	"github.com/flashdrop/flashdrop/internal/testkit"
	"github.com/flashdrop/flashdrop/queue/natstest"
)

const (
	overloadSecret = "overload-secret-0123456789abcdef0123"
	overloadAdmin  = "overload-admin-token-0123456789"
)

// overloadChild is `flashdrop serve` in a child process (this test binary,
// re-executed), so its memory can be read from /proc.
type overloadChild struct {
	t    *testing.T
	cmd  *exec.Cmd
	base string
}

// asOverloadChild turns this test process into the child of
// startOverloadChild: serve with the flags in FLASHDROP_TEST_ARGS, until
// killed. It returns at once in a normal test run.
func asOverloadChild() {
	if os.Getenv("FLASHDROP_TEST_CHILD") != "overload" {
		return
	}
	args := strings.Split(os.Getenv("FLASHDROP_TEST_ARGS"), "\n")
	os.Exit(run(append([]string{"serve"}, args...), os.Stdout, os.Stderr))
}

func startOverloadChild(t *testing.T, extra ...string) *overloadChild {
	t.Helper()
	redistest.Require(t)
	rs, err := redistest.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rs.Close() })
	ns := natstest.Start(t)
	args := append([]string{"--listen", "127.0.0.1:0", "--redis-url", "redis://" + rs.Addr, "--nats-url", ns.URL(),
		"--no-demo", "--log-level", "error", "--jwt-secret", overloadSecret, "--admin-token", overloadAdmin}, extra...)
	cmd := exec.Command(os.Args[0], "-test.run=^"+t.Name()+"$")
	cmd.Env = append(os.Environ(), "FLASHDROP_TEST_CHILD=overload", "FLASHDROP_TEST_ARGS="+strings.Join(args, "\n"))
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr testkit.LockedBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &overloadChild{t: t, cmd: cmd}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		re := regexp.MustCompile(`listening on http://(\S+)`)
		for sc.Scan() {
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				addr <- m[1]
			}
		}
	}()
	select {
	case a := <-addr:
		c.base = "http://" + a
	case <-time.After(60 * time.Second):
		t.Fatalf("serve did not start: %s", stderr.String())
	}
	return c
}

// peakRSS is the child's VmHWM in bytes.
func (c *overloadChild) peakRSS() int64 {
	c.t.Helper()
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", c.cmd.Process.Pid))
	if err != nil {
		c.t.Fatal(err)
	}
	m := regexp.MustCompile(`VmHWM:\s+(\d+) kB`).FindSubmatch(raw)
	if m == nil {
		c.t.Fatalf("no VmHWM in /proc/<pid>/status")
	}
	kb, _ := strconv.ParseInt(string(m[1]), 10, 64)
	return kb << 10
}

// result is one request's answer as a load client sees it.
type result struct {
	status     int
	retryAfter bool
	latency    time.Duration
	err        error
}

func newLoadClient(conns int) *http.Client {
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns, IdleConnTimeout: time.Minute,
	}}
}

func send(client *http.Client, method, url, token, body string) result {
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		return result{err: err, latency: time.Since(start)}
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return result{status: resp.StatusCode, retryAfter: resp.Header.Get("Retry-After") != "", latency: time.Since(start)}
}

// drive runs conns connections for d; each sends reserve requests back to
// back, or, with rate > 0, at most rate per second in all (open pacing per
// connection: a request is sent at its slot, or at once when late).
func drive(client *http.Client, url string, tokens []string, conns int, rate float64, d time.Duration) []result {
	var mu sync.Mutex
	var out []result
	var wg sync.WaitGroup
	var n atomic.Int64
	end := time.Now().Add(d)
	for c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var local []result
			var gap time.Duration
			if rate > 0 {
				gap = time.Duration(float64(conns) / rate * float64(time.Second))
			}
			next := time.Now().Add(time.Duration(c) * gap / time.Duration(conns))
			for time.Now().Before(end) {
				if gap > 0 {
					if w := time.Until(next); w > 0 {
						time.Sleep(w) // pacing: the slot of the next request
					}
					next = next.Add(gap)
				}
				i := n.Add(1)
				local = append(local, send(client, "POST", url, tokens[int(i)%len(tokens)], `{"quantity":1}`))
			}
			mu.Lock()
			out = append(out, local...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	return out
}

func p99(ls []time.Duration) time.Duration { return quantile(ls, 0.99) }
func p50(ls []time.Duration) time.Duration { return quantile(ls, 0.50) }

func quantile(ls []time.Duration, q float64) time.Duration {
	if len(ls) == 0 {
		return 0
	}
	slices.Sort(ls)
	return ls[int(float64(len(ls)-1)*q)]
}

// overloadDrop creates a drop with stock to spare and the largest per-user
// limit, so that every reserve is decided by a Redis script (the
// expensive path), registers n shoppers and opens the sale.
func overloadDrop(t *testing.T, c *overloadChild, n int) (string, []string) {
	t.Helper()
	drop := fmt.Sprintf("overload-%d", time.Now().UnixNano())
	now := time.Now().UTC()
	body := fmt.Sprintf(`{"id":%q,"name":"Sneaker","stock":100000000,"per_user_limit":1000,"registration_opens_at":%q,`+
		`"registration_closes_at":%q,"sale_starts_at":%q,"hold_seconds":3600}`, drop,
		now.Add(-time.Minute).Format(time.RFC3339), now.Add(4*time.Second).Format(time.RFC3339), now.Add(5*time.Second).Format(time.RFC3339))
	if r := call(t, "POST", c.base+"/v1/admin/drops", overloadAdmin, body); r.status != 201 {
		t.Fatalf("create: %d %s", r.status, r.raw)
	}
	tokens := make([]string, n)
	for i := range tokens {
		tok, err := api.MintShopperToken([]byte(overloadSecret), fmt.Sprintf("o%d", i), time.Hour, time.Now(), "", "")
		if err != nil {
			t.Fatal(err)
		}
		tokens[i] = tok
		if r := call(t, "POST", c.base+"/v1/drops/"+drop+"/registrations", tok, ""); r.status != 201 {
			t.Fatalf("register: %d %s", r.status, r.raw)
		}
	}
	testkit.Eventually(t, 30*time.Second, "the sale to open", func() bool {
		return call(t, "POST", c.base+"/v1/drops/"+drop+"/reservations", tokens[0], `{"quantity":1}`).status == 201
	})
	return drop, tokens
}

// TestFaultOverload measures the node's capacity on the reserve path, then
// offers ten times its connections and rate. Admitted requests keep a
// bounded p99, the rest are refused fast with 503/429 and Retry-After,
// peak memory stays bounded, and the node recovers by itself.
func TestFaultOverload(t *testing.T) {
	asOverloadChild()
	const conns = 16
	inflight := 4 * conns
	c := startOverloadChild(t, "--rate-user", "-1", "--max-inflight", strconv.Itoa(inflight), "--batch-queue", "256")
	drop, tokens := overloadDrop(t, c, 400)
	url := c.base + "/v1/drops/" + drop + "/reservations"
	runFor := 2 * time.Second
	if faultsFull() {
		runFor = 10 * time.Second
	}

	// Unloaded: one connection, one request at a time.
	client := newLoadClient(10 * conns)
	defer client.CloseIdleConnections()
	var unloaded []time.Duration
	for _, r := range drive(client, url, tokens, 1, 0, time.Second) {
		if r.err != nil || r.status != 201 {
			t.Fatalf("unloaded: %d %v", r.status, r.err)
		}
		unloaded = append(unloaded, r.latency)
	}
	// Capacity: conns connections back to back.
	capRes := drive(client, url, tokens, conns, 0, runFor)
	var capLat []time.Duration
	for _, r := range capRes {
		if r.err != nil || r.status != 201 {
			t.Fatalf("capacity run: %d %v", r.status, r.err)
		}
		capLat = append(capLat, r.latency)
	}
	capacity := float64(len(capRes)) / runFor.Seconds()
	// At the cap: as many connections as the node handles at once, the
	// most an admitted request can ever queue behind.
	var atCap []time.Duration
	for _, r := range drive(client, url, tokens, inflight, 0, runFor) {
		if r.err == nil && r.status == 201 {
			atCap = append(atCap, r.latency)
		}
	}
	rssBefore := c.peakRSS()

	// Overload: ten times the connections and the rate.
	over := drive(client, url, tokens, 10*conns, 10*capacity, runFor)
	var admitted, refused []time.Duration
	noRetryAfter, other := 0, map[string]int{}
	for _, r := range over {
		switch {
		case r.err == nil && r.status == 201:
			admitted = append(admitted, r.latency)
		case r.err == nil && (r.status == 503 || r.status == 429):
			refused = append(refused, r.latency)
			if !r.retryAfter {
				noRetryAfter++
			}
		default:
			other[fmt.Sprint(r.status, r.err)]++
		}
	}
	rssAfter := c.peakRSS()
	t.Logf("unloaded p99 %v; capacity %.0f req/s on %d connections, p99 %v; at the in-flight cap (%d connections) p99 %v; "+
		"at 10x (%d connections, %.0f req/s offered): %d admitted (p50 %v, p99 %v = %.1fx unloaded, %.1fx at capacity, %.1fx at the cap), "+
		"%d refused (p50 %v, p99 %v); peak RSS (VmHWM) %d MiB before, %d MiB after",
		p99(unloaded), capacity, conns, p99(capLat), inflight, p99(atCap), 10*conns, 10*capacity, len(admitted), p50(admitted), p99(admitted),
		float64(p99(admitted))/float64(p99(unloaded)), float64(p99(admitted))/float64(p99(capLat)), float64(p99(admitted))/float64(p99(atCap)),
		len(refused), p50(refused), p99(refused), rssBefore>>20, rssAfter>>20)
	if len(other) > 0 {
		t.Errorf("answers other than 201/503/429: %v", other)
	}
	if noRetryAfter > 0 {
		t.Errorf("%d refusals without Retry-After", noRetryAfter)
	}
	if len(refused) == 0 || len(admitted) == 0 {
		t.Fatalf("at 10x: %d admitted, %d refused; want both", len(admitted), len(refused))
	}
	// Ratios against this run's own baselines, never absolute times, and
	// only in the full run (make test-faults, on a machine of its own): the
	// short CI form runs 2 s on two cores shared with everything else, where
	// one scheduling stall decides a p99. An admitted request queues behind
	// at most the in-flight cap, so its p99 stays near the p99 at the cap
	// whatever is offered (2-3x measured; the margin is the load client's
	// own cost, ten times the connections on the same cores), and a refusal
	// costs no more than an admission.
	if faultsFull() {
		if ratio := float64(p99(admitted)) / float64(p99(atCap)); ratio > 6 {
			t.Errorf("admitted p99 is %.1fx the p99 at the in-flight cap", ratio)
		}
		if p50(refused) > p50(admitted)*3/2 {
			t.Errorf("refusals (p50 %v) are slower than admissions (p50 %v)", p50(refused), p50(admitted))
		}
	}
	if rssAfter > 3*rssBefore {
		t.Errorf("peak RSS grew from %d to %d MiB under overload", rssBefore>>20, rssAfter>>20)
	}
	// Recovery, by itself.
	testkit.Eventually(t, 30*time.Second, "the node to recover after the rush", func() bool {
		return call(t, "GET", c.base+"/healthz", "", "").status == 200 &&
			call(t, "GET", c.base+"/readyz", "", "").status == 200 &&
			call(t, "POST", url, tokens[1], `{"quantity":1}`).status == 201
	})
}

// TestFaultOverloadSlowClients: many connections sending their headers a
// byte at a time, and many oversized bodies at once, hold nothing for long:
// normal requests are answered meanwhile, oversized bodies get 413 whatever
// their number, memory stays bounded, and the read timeout closes the slow
// connections.
func TestFaultOverloadSlowClients(t *testing.T) {
	asOverloadChild()
	c := startOverloadChild(t, "--max-body-bytes", "4096")
	host := strings.TrimPrefix(c.base, "http://")
	slow := 200
	if faultsFull() {
		slow = 2000
	}
	rss0 := c.peakRSS()
	var closed atomic.Int64
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range slow {
		conn, err := net.Dial("tcp", host)
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer conn.Close()
			if _, err := conn.Write([]byte("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")); err != nil {
				closed.Add(1)
				return
			}
			// Watch for the server closing the connection.
			gone := make(chan struct{})
			go func() { _, _ = io.Copy(io.Discard, conn); close(gone) }()
			tick := time.NewTicker(500 * time.Millisecond)
			defer tick.Stop()
			for {
				select {
				case <-gone:
					closed.Add(1)
					return
				case <-stop:
					return
				case <-tick.C:
					_, _ = conn.Write([]byte("a"))
				}
			}
		}()
	}
	// The node answers others while the slow ones dribble.
	for range 20 {
		if r := call(t, "GET", c.base+"/healthz", "", ""); r.status != 200 {
			t.Fatalf("healthz during slowloris: %d", r.status)
		}
	}
	// Oversized bodies, all at once.
	rssSlow := c.peakRSS()
	client := newLoadClient(100)
	defer client.CloseIdleConnections()
	var bodies sync.WaitGroup
	var not413 atomic.Int64
	big := strings.Repeat("x", 1<<20)
	for range 100 {
		bodies.Add(1)
		go func() {
			defer bodies.Done()
			r := send(client, "POST", c.base+"/v1/admin/drops", overloadAdmin, big)
			if r.err == nil && r.status != 413 {
				not413.Add(1)
			}
		}()
	}
	bodies.Wait()
	if n := not413.Load(); n > 0 {
		t.Errorf("%d oversized bodies were not refused with 413", n)
	}
	// 100 MiB of bodies were offered: a node that buffered them would show it.
	rssBodies := c.peakRSS()
	if rssBodies-rssSlow > 48<<20 { // under half of what was offered
		t.Errorf("peak RSS grew by %d MiB with the oversized bodies", (rssBodies-rssSlow)>>20)
	}
	// fasthttp's read timeout (10 s by default) closes every slow one.
	testkit.Eventually(t, 40*time.Second, "the read timeout to close the slow connections", func() bool {
		return closed.Load() == int64(slow)
	})
	close(stop)
	wg.Wait()
	rss1 := c.peakRSS()
	t.Logf("%d slow connections closed by the read timeout; 100 x 1 MiB bodies refused; peak RSS (VmHWM) %d MiB at start, "+
		"%d MiB with the slow connections, %d MiB after the bodies, %d MiB at the end", slow, rss0>>20, rssSlow>>20, rssBodies>>20, rss1>>20)
	if r := call(t, "GET", c.base+"/readyz", "", ""); r.status != 200 {
		t.Fatalf("readyz after: %d %s", r.status, r.raw)
	}
}
