package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"

	"github.com/flashdrop/flashdrop/engine"
	"github.com/flashdrop/flashdrop/engine/redisstore/redistest"
	"github.com/flashdrop/flashdrop/internal/contract"
	"github.com/flashdrop/flashdrop/internal/testkit"
	"github.com/flashdrop/flashdrop/loadtest"
	"github.com/flashdrop/flashdrop/queue"
)

func TestMain(m *testing.M) {
	if os.Getenv("FLASHDROP_TEST_CHILD") == "flood" {
		floodChild()
	}
	// Most of this package's time is spent waiting: for a browser's page,
	// a webhook's retry, a stream's end. Its parallel tests (the browser
	// tests and those on a serve, Redis and NATS of their own) run 4 at
	// once unless -test.parallel says otherwise, where go test's default
	// is the number of cores (2 here): the package took 9 minutes of a
	// 19-minute CI run, and its tests passed 4 at once with the machine's
	// load at 20 to 38.
	flag.Parse()
	parallelSet := false
	flag.Visit(func(f *flag.Flag) { parallelSet = parallelSet || f.Name == "test.parallel" })
	if !parallelSet {
		_ = flag.Set("test.parallel", "4")
	}
	redistest.Main(m, append(redistest.FastHTTPLingerers,
		// toxiproxy v2.5.0 can strand the head of a link's toxic chain:
		// when a toxic is added or removed while the connection closes,
		// the noop stub blocks for ever sending a chunk to a stub that
		// has stopped (link.go's AddToxic/RemoveToxic swap channels
		// under it). It is the library's goroutine, holds no socket of
		// ours, and fails the leak check once in a few full fault runs.
		goleak.IgnoreTopFunction("github.com/Shopify/toxiproxy/v2/toxics.(*NoopToxic).Pipe"),
		goleak.IgnoreAnyFunction("github.com/Shopify/toxiproxy/v2/toxics.(*ToxicStub).Run"))...)
}

// floodChild is BenchmarkLoadVsWrk's generator process: it floods
// FLASHDROP_FLOOD_URL's /healthz with loadtest.Flood, prints the result as
// JSON and exits, so that the bench can pin it to a core like wrk.
func floodChild() {
	conns, err := strconv.Atoi(os.Getenv("FLASHDROP_FLOOD_CONNS"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "FLASHDROP_FLOOD_CONNS:", err)
		os.Exit(2)
	}
	d, err := time.ParseDuration(os.Getenv("FLASHDROP_FLOOD_FOR"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "FLASHDROP_FLOOD_FOR:", err)
		os.Exit(2)
	}
	res, err := loadtest.Flood(context.Background(), os.Getenv("FLASHDROP_FLOOD_URL"), "/healthz", conns, d)
	if err == nil {
		err = json.NewEncoder(os.Stdout).Encode(res)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "flood:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// startServe runs `flashdrop serve` in embedded mode on a free port, with a
// manual clock, exactly as the binary would (ParseFlags, Run, Close).
func startServe(t *testing.T, args ...string) (*Main, *engine.ManualClock, *testkit.LockedBuffer) {
	t.Helper()
	out, logs := &testkit.LockedBuffer{}, &testkit.LockedBuffer{}
	m := NewMain(out, logs)
	m.Lookup = func(string) (string, bool) { return "", false } // ignore the host's FLASHDROP_*
	if err := m.ParseFlags(append([]string{"--listen", "127.0.0.1:0", "--log-level", "warn"}, args...)); err != nil {
		t.Fatal(err)
	}
	clock := engine.NewManualClock(time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC))
	m.Clock = clock
	if err := m.Run(context.Background()); err != nil {
		t.Fatalf("run: %v\nlogs: %s", err, logs)
	}
	t.Cleanup(func() {
		if err := m.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
		if err := m.Close(); err != nil { // twice is fine
			t.Errorf("second close: %v", err)
		}
		if _, err := net.DialTimeout("tcp", m.Addr, time.Second); err == nil {
			t.Errorf("still listening on %s after Close", m.Addr)
		}
	})
	return m, clock, out
}

type httpResult struct {
	status int
	body   map[string]any
	raw    string
	header http.Header
}

// call sends a request to a real serve; the exchange is checked against
// openapi.json.
func call(t *testing.T, method, url, token, body string) httpResult {
	t.Helper()
	return callWith(t, contract.Client(t, nil), method, url, token, body)
}

// callWith is call through client (http.DefaultClient for the load
// tester's fake server, which breaks the contract on purpose).
func callWith(t *testing.T, client *http.Client, method, url, token, body string) httpResult {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	r := httpResult{status: resp.StatusCode, raw: string(raw), header: resp.Header}
	_ = json.Unmarshal(raw, &r.body)
	return r
}

func mint(t *testing.T, m *Main, user string) string {
	t.Helper()
	var out bytes.Buffer
	lookup := func(k string) (string, bool) {
		if k == "FLASHDROP_JWT_SECRET" {
			return m.Config.JWTSecret, true
		}
		return "", false
	}
	if err := token([]string{"--user", user}, &out, io.Discard, lookup, time.Now()); err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(out.String())
}

func TestServeEmbeddedRunsASale(t *testing.T) {
	m, clock, out := startServe(t)
	banner := out.String()
	for _, want := range []string{"EMBEDDED MODE", "NOT durable", m.Config.AdminToken, "demo drop", "curl"} {
		if !strings.Contains(banner, want) {
			t.Errorf("banner lacks %q:\n%s", want, banner)
		}
	}
	// The embedded NATS's address, for `flashdrop events --nats-url` and
	// `flashdrop load --nats-url`: it answers, with the stream.
	natsURL := regexp.MustCompile(`This run's NATS: (nats://127\.0\.0\.1:\d+)`).FindStringSubmatch(banner)
	if natsURL == nil {
		t.Fatalf("the banner does not say where the embedded NATS is:\n%s", banner)
	}
	nc, err := nats.Connect(natsURL[1])
	if err != nil {
		t.Fatalf("the banner's NATS %s: %v", natsURL[1], err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 10*time.Second, "the stream on the banner's NATS", func() bool {
		_, err := js.Stream(context.Background(), "FLASHDROP")
		return err == nil
	})
	base := "http://" + m.Addr
	// The demo drop is there and open for registration.
	demo := call(t, "GET", base+"/v1/drops/demo", "", "")
	if demo.status != 200 || demo.body["state"] != "registration_open" {
		t.Fatalf("demo drop: %d %s", demo.status, demo.raw)
	}
	// A small sale on it: three shoppers, ten units, limit one each.
	toks := []string{mint(t, m, "ann"), mint(t, m, "ben"), mint(t, m, "cat")}
	for _, tok := range toks {
		if r := call(t, "POST", base+"/v1/drops/demo/registrations", tok, ""); r.status != 201 {
			t.Fatalf("register: %d %s", r.status, r.raw)
		}
	}
	clock.Advance(3 * time.Minute) // past the demo's sale start
	var ids []string
	for _, tok := range toks {
		r := call(t, "POST", base+"/v1/drops/demo/reservations", tok, `{"quantity":1}`)
		if r.status != 201 {
			t.Fatalf("reserve: %d %s", r.status, r.raw)
		}
		ids = append(ids, r.body["reservation"].(map[string]any)["id"].(string))
	}
	if r := call(t, "POST", base+"/v1/drops/demo/reservations", toks[0], `{"quantity":1}`); r.status != 409 || r.body["code"] != "limit_reached" {
		t.Fatalf("second buy: %d %s", r.status, r.raw)
	}
	if r := call(t, "POST", base+"/v1/reservations/"+ids[0]+"/confirm", m.Config.AdminToken, ""); r.status != 200 {
		t.Fatalf("confirm: %d %s", r.status, r.raw)
	}
	// The sweeper runs inside serve: once the holds' deadline passes, the
	// two unconfirmed holds come back to stock without anyone asking.
	clock.Advance(11 * time.Minute)
	testkit.Eventually(t, 0, "the sweeper to release the expired holds", func() bool {
		st := call(t, "GET", base+"/v1/admin/drops/demo/stats", m.Config.AdminToken, "")
		return st.body["available"] == float64(9) && st.body["confirmed"] == float64(1) && st.body["held"] == float64(0)
	})
	testkit.Eventually(t, 0, "readiness (Redis, NATS and the stream)", func() bool {
		return call(t, "GET", base+"/readyz", "", "").status == 200
	})
	testkit.Eventually(t, 0, "the relay to drain the outbox", func() bool {
		return strings.Contains(call(t, "GET", base+"/metrics", "", "").raw, "\nflashdrop_outbox_lag 0\n")
	})
	// The embedded server's stream is flushed asynchronously: its store
	// is a directory that dies with the process either way. An external
	// server's is not.
	if o := streamOptions(ServeConfig{NATSURL: "nats://127.0.0.1:4222", StreamReplicas: 3}); o.Embedded || o.Replicas != 3 {
		t.Fatalf("external NATS: %+v", o)
	}
	if st, err := m.js.Stream(context.Background(), queue.StreamName); err != nil {
		t.Fatal(err)
	} else if info, err := st.Info(context.Background()); err != nil || info.Config.PersistMode != jetstream.AsyncPersistMode {
		t.Fatalf("embedded stream: %v, %+v", err, info)
	}

	// Every win was announced: `flashdrop events` tails them from the
	// embedded JetStream, with share links on this server.
	lines := &testkit.LockedBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- events(ctx, []string{"--nats-url", m.natsURL, "--drop", "demo", "--type", "won", "--all"},
			lines, io.Discard, func(string) (string, bool) { return "", false })
	}()
	testkit.Eventually(t, 0, "three won events", func() bool { return strings.Count(lines.String(), "\n") >= 3 })
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("events: %v", err)
	}
	seen := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(lines.String()), "\n") {
		var ce struct {
			Type string `json:"type"`
			Data struct {
				User     string `json:"user"`
				ShareURL string `json:"share_url"`
			} `json:"data"`
		}
		if err := json.Unmarshal([]byte(line), &ce); err != nil || ce.Type != "flashdrop.won" ||
			!strings.HasPrefix(ce.Data.ShareURL, base+"/s/") {
			t.Fatalf("event line %q", line)
		}
		seen[ce.Data.User] = true
	}
	if len(seen) != 3 || !seen["ann"] || !seen["ben"] || !seen["cat"] {
		t.Fatalf("won events for %v", seen)
	}
}

func TestServeNoDemoAndGivenSecrets(t *testing.T) {
	m, _, out := startServe(t, "--no-demo", "--admin-token", "given-admin-token-123456", "--jwt-secret", strings.Repeat("s", 32))
	if strings.Contains(out.String(), "given-admin-token") || strings.Contains(out.String(), strings.Repeat("s", 32)) {
		t.Fatalf("given secrets must not be printed:\n%s", out)
	}
	if r := call(t, "GET", "http://"+m.Addr+"/v1/drops/demo", "", ""); r.status != 404 {
		t.Fatalf("--no-demo still made a demo: %d", r.status)
	}
	if r := call(t, "GET", "http://"+m.Addr+"/v1/admin/drops", "given-admin-token-123456", ""); r.status != 200 {
		t.Fatalf("the given admin token does not work: %d %s", r.status, r.raw)
	}
}

func TestFlagsFromEnvironment(t *testing.T) {
	m := NewMain(io.Discard, io.Discard)
	env := map[string]string{"FLASHDROP_LISTEN": "127.0.0.1:9999", "FLASHDROP_BATCH_MAX_SIZE": "64", "FLASHDROP_NO_DEMO": "true"}
	m.Lookup = func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	if err := m.ParseFlags([]string{"--batch-max-size", "32"}); err != nil {
		t.Fatal(err)
	}
	if m.Config.Listen != "127.0.0.1:9999" || !m.Config.NoDemo {
		t.Errorf("env not applied: %+v", m.Config)
	}
	if m.Config.Batch.MaxSize != 32 {
		t.Errorf("a flag must win over the environment: %d", m.Config.Batch.MaxSize)
	}
	env["FLASHDROP_RATE_USER"] = "lots"
	if err := NewMainWith(env).ParseFlags(nil); err == nil || !strings.Contains(err.Error(), "FLASHDROP_RATE_USER") {
		t.Errorf("a bad variable must be named in the error: %v", err)
	}
	if err := NewMain(io.Discard, io.Discard).ParseFlags([]string{"extra"}); err == nil {
		t.Error("stray arguments must be refused")
	}
}

// NewMainWith is a Main whose environment is env.
func NewMainWith(env map[string]string) *Main {
	m := NewMain(io.Discard, io.Discard)
	m.Lookup = func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	return m
}

func TestTokenCommand(t *testing.T) {
	var out, errOut bytes.Buffer
	noEnv := func(string) (string, bool) { return "", false }
	if err := token([]string{"--user", "alice"}, &out, &errOut, noEnv, time.Now()); err == nil {
		t.Fatal("token without a secret must fail")
	}
	if err := token([]string{"--jwt-secret", strings.Repeat("k", 32)}, &out, &errOut, noEnv, time.Now()); err == nil {
		t.Fatal("token without a user must fail")
	}
	if err := token([]string{"--user", "alice", "--jwt-secret", strings.Repeat("k", 32), "--ttl", "1m"}, &out, &errOut, noEnv, time.Now()); err != nil {
		t.Fatal(err)
	}
	if parts := strings.Split(strings.TrimSpace(out.String()), "."); len(parts) != 3 {
		t.Fatalf("not a JWT: %q", out.String())
	}
}

func TestRunUnknownCommand(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run([]string{"frobnicate"}, &out, &errOut); code != 2 || !strings.Contains(errOut.String(), "unknown command") {
		t.Fatalf("code %d, stderr %q", code, errOut.String())
	}
	if code := run([]string{"version"}, &out, &errOut); code != 0 || !strings.Contains(out.String(), "flashdrop") {
		t.Fatalf("version: %d %q", code, out.String())
	}
	// A subcommand's help, and a mistyped subcommand, are answered before
	// any flag is checked (keys --help said the admin token was missing).
	errOut.Reset()
	if code := run([]string{"keys", "--help"}, &out, &errOut); code != 0 || !strings.Contains(errOut.String(), "usage: flashdrop keys create") ||
		strings.Contains(errOut.String(), "admin-token (or") {
		t.Fatalf("keys --help: %d %q", code, errOut.String())
	}
	errOut.Reset()
	if code := run([]string{"keys", "crate"}, &out, &errOut); code != 1 || !strings.Contains(errOut.String(), `unknown subcommand "crate"`) {
		t.Fatalf("keys crate: %d %q", code, errOut.String())
	}
}

func TestEventsCommandRejectsBadFilters(t *testing.T) {
	noEnv := func(string) (string, bool) { return "", false }
	for _, args := range [][]string{{"--drop", "no spaces"}, {"--type", "bought"}, {"stray"}} {
		if err := events(context.Background(), args, io.Discard, io.Discard, noEnv); err == nil {
			t.Errorf("events %v: want an error", args)
		}
	}
}

// TestServeSellsWhileNATSIsDown: with NATS unreachable, serve still starts
// and sells (events wait in the outbox); /readyz names the missing NATS,
// and /readyz?exclude=nats, the balancer's check, stays green.
func TestServeSellsWhileNATSIsDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close() // nothing listens there now
	m, clock, _ := startServe(t, "--nats-url", "nats://"+dead)
	base := "http://" + m.Addr
	tok := mint(t, m, "dora")
	if r := call(t, "POST", base+"/v1/drops/demo/registrations", tok, ""); r.status != 201 {
		t.Fatalf("register: %d %s", r.status, r.raw)
	}
	clock.Advance(3 * time.Minute)
	if r := call(t, "POST", base+"/v1/drops/demo/reservations", tok, ""); r.status != 201 {
		t.Fatalf("reserve with NATS down: %d %s", r.status, r.raw)
	}
	r := call(t, "GET", base+"/readyz", "", "")
	if r.status != 503 || !strings.Contains(r.raw, "nats") {
		t.Fatalf("readyz with NATS down: %d %s", r.status, r.raw)
	}
	// The balancer's check: the node sells, so it keeps its traffic.
	if r := call(t, "GET", base+"/readyz?exclude=nats", "", ""); r.status != 200 {
		t.Fatalf("readyz?exclude=nats with NATS down: %d %s", r.status, r.raw)
	}
	if r := call(t, "GET", base+"/readyz?exclude=redis", "", ""); r.status != 503 || !strings.Contains(r.raw, "nats") {
		t.Fatalf("readyz?exclude=redis with NATS down: %d %s", r.status, r.raw)
	}
	if r := call(t, "GET", base+"/readyz?exclude=natz", "", ""); r.status != 400 || r.body["field"] != "exclude" ||
		!strings.Contains(r.raw, "redis, nats") {
		t.Fatalf("readyz?exclude=natz: %d %s", r.status, r.raw)
	}
}

func TestRedisURLForms(t *testing.T) {
	for _, c := range []struct {
		url     string
		cluster bool
		ok      bool
	}{
		{"redis://127.0.0.1:6379/0", false, true},
		{"127.0.0.1:6379", false, true},
		{"rediss://u:p@redis.example:6380/1", false, true},
		{"redis-cluster://10.0.0.1:7000,10.0.0.2:7000", true, true},
		{"10.0.0.1:7000,10.0.0.2:7000,10.0.0.3:7000", true, true},
		{"redis://127.0.0.1:6379/notadb", false, false},
	} {
		rdb, err := redisClient(c.url, 0)
		if (err == nil) != c.ok {
			t.Errorf("%s: err %v", c.url, err)
			continue
		}
		if err != nil {
			continue
		}
		_, isCluster := rdb.(*redis.ClusterClient)
		if isCluster != c.cluster {
			t.Errorf("%s: cluster client %v, want %v", c.url, isCluster, c.cluster)
		}
		rdb.Close()
	}
}

// runBareNode runs an embedded node without the demo drop, for tests of
// its own start and stop; the caller closes it (closeWithin).
func runBareNode(t *testing.T) *Main {
	t.Helper()
	m := NewMain(io.Discard, io.Discard)
	m.Lookup = func(string) (string, bool) { return "", false }
	if err := m.ParseFlags([]string{"--listen", "127.0.0.1:0", "--log-level", "error", "--no-demo"}); err != nil {
		t.Fatal(err)
	}
	if err := m.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	return m
}

// closeWithin closes m and returns Close's error, failing the test as
// what when Close does not return within 30 s.
func closeWithin(t *testing.T, m *Main, what string) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- m.Close() }()
	select {
	case err := <-done:
		return err
	case <-time.After(30 * time.Second):
		t.Fatalf("%s: Close did not return within 30 s", what)
		return nil
	}
}

// TestCloseRightAfterRun closes nodes the moment Run returns, before the
// HTTP server's goroutine may have started serving: Close must still
// return (fasthttp's Shutdown alone left such a Serve accepting forever,
// and Close waiting for it).
func TestCloseRightAfterRun(t *testing.T) {
	for i := range 10 {
		m := runBareNode(t)
		if err := closeWithin(t, m, fmt.Sprintf("close %d", i)); err != nil {
			t.Fatalf("close %d: %v", i, err)
		}
	}
}

// TestCloseAfterTheServerStopped is `flashdrop serve`'s path when the
// HTTP server stops on its own: the caller takes the server's result from
// Err, then closes, and Close must not wait for that result again.
func TestCloseAfterTheServerStopped(t *testing.T) {
	m := runBareNode(t)
	// A listener that fails under the server, as a permanent accept
	// error would.
	_ = m.ln.Close()
	select {
	case <-m.Err():
	case <-time.After(30 * time.Second):
		t.Fatal("the server did not stop when its listener closed")
	}
	_ = closeWithin(t, m, "after the server's result was taken")
}

// TestDefaultPublicURL: without --public-url, links use the address serve
// listens on, and localhost for an address that means every interface
// (no browser opens http://[::]:8080).
func TestDefaultPublicURL(t *testing.T) {
	for addr, want := range map[string]string{
		"127.0.0.1:8080": "http://127.0.0.1:8080",
		"[::]:8080":      "http://localhost:8080",
		"0.0.0.0:9000":   "http://localhost:9000",
		":8080":          "http://localhost:8080",
		"[::1]:8080":     "http://[::1]:8080",
		"shop.lan:8080":  "http://shop.lan:8080",
	} {
		if got := defaultPublicURL(addr); got != want {
			t.Errorf("defaultPublicURL(%q) = %q, want %q", addr, got, want)
		}
	}
}
