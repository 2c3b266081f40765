package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flashdrop/flashdrop/engine"
	"github.com/flashdrop/flashdrop/internal/contract"
	"github.com/flashdrop/flashdrop/internal/testkit"
	"github.com/flashdrop/flashdrop/queue/natstest"
	"github.com/flashdrop/flashdrop/queue/webhook"
	"github.com/flashdrop/flashdrop/queue/webhooksig"
)

// runKeys runs `flashdrop keys …` against m and returns its output.
func runKeys(t *testing.T, m *Main, token string, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	full := append(args, "--target", "http://"+m.Addr, "--admin-token", token)
	err := keys(context.Background(), full, &out, io.Discard, func(string) (string, bool) { return "", false })
	return out.String(), err
}

var keySecret = regexp.MustCompile(`(?m)^(fdk_(key-[0-9a-f]{16})_[A-Za-z0-9_-]{43})$`)

func TestKeysCommand(t *testing.T) {
	m, _, _ := startServe(t, "--no-demo")
	base := "http://" + m.Addr
	out, err := runKeys(t, m, m.Config.AdminToken, "create", "--name", "listen on a laptop", "--scopes", "events:read,drops:read")
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	got := keySecret.FindStringSubmatch(out)
	if got == nil {
		t.Fatalf("create printed no secret:\n%s", out)
	}
	secret, id := got[1], got[2]
	if r := call(t, "GET", base+"/v1/admin/drops", secret, ""); r.status != 200 {
		t.Fatalf("the new key reads drops: %d %s", r.status, r.raw)
	}
	if r := call(t, "POST", base+"/v1/admin/drops/x/pause", secret, ""); r.status != 403 || !strings.Contains(r.raw, "ops") {
		t.Fatalf("the new key may not pause: %d %s", r.status, r.raw)
	}
	out, err = runKeys(t, m, m.Config.AdminToken, "list")
	if err != nil || !strings.Contains(out, id) || !strings.Contains(out, "listen on a laptop") || strings.Contains(out, secret) {
		t.Fatalf("list: %v\n%s", err, out)
	}
	out, err = runKeys(t, m, m.Config.AdminToken, "rotate", id, "--grace", "0")
	if err != nil {
		t.Fatalf("rotate: %v", err)
	}
	got = keySecret.FindStringSubmatch(out)
	if got == nil || got[1] == secret || got[2] != id {
		t.Fatalf("rotate printed no new secret:\n%s", out)
	}
	if !strings.Contains(out, "the old secret no longer works") {
		t.Fatalf("a rotation with no grace does not say the old secret ended:\n%s", out)
	}
	if r := call(t, "GET", base+"/v1/admin/drops", secret, ""); r.status != 401 {
		t.Fatalf("old secret after a rotation without grace: %d", r.status)
	}
	if r := call(t, "GET", base+"/v1/admin/drops", got[1], ""); r.status != 200 {
		t.Fatalf("new secret: %d", r.status)
	}
	// A key without keys:write cannot manage keys.
	if _, err := runKeys(t, m, got[1], "list"); err == nil || !strings.Contains(err.Error(), "keys:write") {
		t.Fatalf("list with a reading key: %v", err)
	}
	if _, err := runKeys(t, m, m.Config.AdminToken, "revoke", id); err != nil {
		t.Fatalf("revoke: %v", err)
	}
	if r := call(t, "GET", base+"/v1/admin/drops", got[1], ""); r.status != 401 {
		t.Fatalf("revoked key: %d", r.status)
	}
	if _, err := runKeys(t, m, m.Config.AdminToken, "create", "--name", "x", "--scopes", "root"); err == nil || !strings.Contains(err.Error(), "invalid") {
		t.Fatalf("unknown scope: %v", err)
	}
}

// integStack is serve on real Redis and an in-process NATS server, with
// webhook delivery tuned for tests.
type integStack struct {
	m     *Main
	clock *engine.ManualClock
	nats  *natstest.Server
	base  string
	admin string
	logs  *testkit.LockedBuffer
}

// The secrets every node of a test's fleet shares (an API node needs them
// given).
const (
	fleetAdmin  = "test-fleet-admin-token-0123"
	fleetSecret = "test-fleet-jwt-secret-0123456789abcdef"
)

func startInteg(t *testing.T, tweak func(*webhook.Options), args ...string) *integStack {
	t.Helper()
	// A Redis of the test's own, as its NATS: the node's background
	// workers take up every drop and webhook of the server. On the shared
	// one its relay published what an earlier test left in an outbox
	// (TestAPINodeLearnsItsOwnSellOut's API node has no relay) onto this
	// test's stream, where this test's webhook and listen counted it as
	// its own: TestWebhookMetricsFollowAFailingReceiver, run right after
	// it, saw five failed deliveries before its sale and never its
	// series at 0 (every time).
	rs := testkit.OwnRedis(t)
	ns := natstest.Start(t)
	logs := &testkit.LockedBuffer{}
	m := NewMain(io.Discard, logs)
	m.Lookup = func(string) (string, bool) { return "", false }
	m.WebhookTweak = func(o *webhook.Options) {
		o.BaseBackoff, o.MaxBackoff, o.Refresh = 10*time.Millisecond, 20*time.Millisecond, 50*time.Millisecond
		if tweak != nil {
			tweak(o)
		}
	}
	if err := m.ParseFlags(append([]string{"--listen", "127.0.0.1:0", "--log-level", "warn", "--no-demo",
		"--redis-url", rs.Addr, "--nats-url", ns.URL(), "--webhooks-allow-private",
		"--admin-token", fleetAdmin, "--jwt-secret", fleetSecret}, args...)); err != nil {
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
	})
	return &integStack{m: m, clock: clock, nats: ns, base: "http://" + m.Addr, admin: m.Config.AdminToken, logs: logs}
}

func (s *integStack) call(t *testing.T, method, path string, body any) httpResult {
	t.Helper()
	raw := ""
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		raw = string(b)
	}
	return call(t, method, s.base+path, s.admin, raw)
}

func (s *integStack) must(t *testing.T, status int, method, path string, body any) httpResult {
	t.Helper()
	r := s.call(t, method, path, body)
	if r.status != status {
		t.Fatalf("%s %s: %d %s, want %d", method, path, r.status, r.raw, status)
	}
	return r
}

// sale creates a drop of stock units, registers users, opens the sale and
// has each user buy one; it returns the drop id.
func (s *integStack) sale(t *testing.T, drop string, stock int, users ...string) {
	t.Helper()
	s.saleWith(t, drop, stock, nil, users...)
}

// saleWith is sale with more fields in the drop's creation.
func (s *integStack) saleWith(t *testing.T, drop string, stock int, extra map[string]any, users ...string) {
	t.Helper()
	now := s.clock.Now()
	start := now.Add(30 * time.Minute)
	body := map[string]any{"id": drop, "name": "Sneaker", "stock": stock, "per_user_limit": 1,
		"confirm_by": "shopper", "registration_opens_at": now.Add(-time.Hour), "registration_closes_at": start,
		"sale_starts_at": start, "sale_ends_at": start.Add(time.Hour)}
	for k, v := range extra {
		body[k] = v
	}
	s.must(t, 201, "POST", "/v1/admin/drops", body)
	for _, u := range users {
		if r := call(t, "POST", s.base+"/v1/drops/"+drop+"/registrations", mint(t, s.m, u), ""); r.status != 201 {
			t.Fatalf("register %s: %d %s", u, r.status, r.raw)
		}
	}
	s.clock.Set(start.Add(time.Second))
	for _, u := range users {
		if r := call(t, "POST", s.base+"/v1/drops/"+drop+"/reservations", mint(t, s.m, u), ""); r.status != 201 {
			t.Fatalf("reserve %s: %d %s", u, r.status, r.raw)
		}
	}
}

// receiver is an integration's webhook endpoint: it verifies signatures,
// counts each event id it accepted, and can be down (503) or stalled.
type receiver struct {
	*httptest.Server
	secret string
	down   atomic.Bool
	stall  chan struct{} // when not nil, requests wait for it to close
	mu     sync.Mutex
	got    map[string]int
	order  []string
	types  map[string]string
	drops  map[string]string // event id → its data's drop
	bad    int
	held   atomic.Int32
}

func newReceiver(t *testing.T) *receiver {
	rc := &receiver{got: map[string]int{}, types: map[string]string{}, drops: map[string]string{}}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		stall, secret := rc.stall, rc.secret
		rc.mu.Unlock()
		if stall != nil {
			rc.held.Add(1)
			<-stall
			rc.held.Add(-1)
		}
		if rc.down.Load() {
			http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
			return
		}
		if err := webhooksig.Verify([]byte(secret), r.Header.Get(webhooksig.Header), body, 0, time.Now()); err != nil {
			rc.mu.Lock()
			rc.bad++
			rc.mu.Unlock()
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		// Every delivery (ordinary, test, replay, listen's forwarding)
		// must be what asyncapi.json describes, headers included.
		if err := contract.CheckDelivery(r.Header, body); err != nil {
			t.Errorf("contract (api/spec/asyncapi.json): %v", err)
		}
		var ce struct {
			ID, Type string
			Data     struct{ Drop string }
		}
		_ = json.Unmarshal(body, &ce)
		rc.mu.Lock()
		rc.got[ce.ID]++
		rc.order = append(rc.order, ce.ID)
		rc.types[ce.ID] = ce.Type
		rc.drops[ce.ID] = ce.Data.Drop
		rc.mu.Unlock()
		fmt.Fprintf(w, "thanks for %s", ce.ID)
	}))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *receiver) snapshot() (map[string]int, int) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return maps.Clone(rc.got), rc.bad
}

func TestWebhookTestReplayAfterOutageAndDeliveryLog(t *testing.T) {
	t.Parallel()
	s := startInteg(t, func(o *webhook.Options) { o.MaxAttempts = 2 })
	rc := newReceiver(t)
	hook := s.must(t, 201, "POST", "/v1/admin/webhooks", map[string]any{"url": rc.URL + "/hook", "types": []string{"registered", "won"}})
	id := hook.body["id"].(string)
	rc.mu.Lock()
	rc.secret = hook.body["secret"].(string)
	rc.mu.Unlock()

	// The test button: a signed event now, the receiver's answer back.
	tr := s.must(t, 200, "POST", "/v1/admin/webhooks/"+id+"/test", nil)
	if tr.body["status"] != float64(200) || tr.body["ok"] != true || !strings.HasPrefix(tr.body["body"].(string), "thanks for test-") {
		t.Fatalf("test: %s", tr.raw)
	}
	testID := tr.body["event_id"].(string)
	if got, bad := rc.snapshot(); got[testID] != 1 || bad != 0 {
		t.Fatalf("the receiver verified the test event: %v (bad signatures %d)", got, bad)
	}

	// The receiver goes down while a sale runs: every attempt fails and,
	// after two, each event is dead-lettered.
	rc.down.Store(true)
	outage := time.Now().Add(-time.Second)
	drop := "outage-" + strings.ToLower(id[3:11])
	users := []string{"ann", "ben", "cat"}
	s.sale(t, drop, 3, users...)
	const missed = 6 // three registered and three won
	var dead []any
	testkit.Eventually(t, 30*time.Second, "the missed events to be dead-lettered", func() bool {
		r := s.call(t, "GET", "/v1/admin/webhooks/"+id, nil)
		dead, _ = r.body["dead_letters"].([]any)
		return len(dead) == missed
	})
	rc.down.Store(false)
	if got, _ := rc.snapshot(); len(got) != 1 {
		t.Fatalf("nothing but the test arrived during the outage: %v", got)
	}

	// The delivery log shows the attempts: the test, and failures with
	// their status and error.
	log := s.must(t, 200, "GET", "/v1/admin/webhooks/"+id+"/deliveries", nil)
	entries := log.body["deliveries"].([]any)
	if len(entries) < 1+2*missed {
		t.Fatalf("delivery log has %d entries, want at least %d: %s", len(entries), 1+2*missed, log.raw)
	}
	newest := entries[0].(map[string]any)
	oldest := entries[len(entries)-1].(map[string]any)
	if newest["status"] != float64(503) || !strings.Contains(newest["error"].(string), "down for maintenance") ||
		newest["kind"] != "delivery" || oldest["kind"] != "test" || oldest["event_id"] != testID {
		t.Fatalf("delivery log: newest %v, oldest %v", newest, oldest)
	}

	// Replay since the outage, with the receiver slow: a second replay is
	// refused while the first runs.
	stall := make(chan struct{})
	rc.mu.Lock()
	rc.stall = stall
	rc.mu.Unlock()
	first := make(chan httpResult, 1)
	go func() {
		first <- call(t, "POST", s.base+"/v1/admin/webhooks/"+id+"/replay", s.admin,
			fmt.Sprintf(`{"since":%q,"limit":4}`, outage.UTC().Format(time.RFC3339Nano)))
	}()
	testkit.Eventually(t, 10*time.Second, "the replay to reach the receiver", func() bool {
		select {
		case r := <-first:
			t.Fatalf("the replay ended before reaching the receiver: %d %s", r.status, r.raw)
		default:
		}
		return rc.held.Load() > 0
	})
	busy := s.call(t, "POST", "/v1/admin/webhooks/"+id+"/replay", map[string]any{"since": outage})
	if busy.status != 409 || busy.body["code"] != "replay_running" {
		t.Fatalf("second replay: %d %s", busy.status, busy.raw)
	}
	rc.mu.Lock()
	rc.stall = nil
	rc.mu.Unlock()
	close(stall)
	r := <-first
	if r.status != 200 || r.body["done"] != false || r.body["delivered"] != float64(4) || r.body["cursor"] == nil {
		t.Fatalf("first replay call (limit 4 of %d): %d %s", missed, r.status, r.raw)
	}
	replayed := r.body["event_ids"].([]any)
	// Resume from the cursor until done.
	for r.body["done"] != true {
		r = s.must(t, 200, "POST", "/v1/admin/webhooks/"+id+"/replay", map[string]any{"cursor": r.body["cursor"]})
		replayed = append(replayed, r.body["event_ids"].([]any)...)
	}

	// Every missed event arrived exactly once, by id, and nothing else.
	got, bad := rc.snapshot()
	if bad != 0 {
		t.Fatalf("%d deliveries failed the signature check", bad)
	}
	if len(got) != missed+1 || len(replayed) != missed {
		t.Fatalf("after the replay the receiver has %d ids (want %d missed + the test), the replay answered %d: %v",
			len(got), missed, len(replayed), got)
	}
	for _, d := range dead {
		if got[d.(string)] != 1 {
			t.Fatalf("missed event %s arrived %d times, want exactly once: %v", d, got[d.(string)], got)
		}
	}
	rc.mu.Lock()
	wins := 0
	for _, typ := range rc.types {
		if typ == "flashdrop.won" {
			wins++
		}
	}
	rc.mu.Unlock()
	if wins != len(users) {
		t.Fatalf("%d won events arrived, want %d", wins, len(users))
	}
	s.must(t, 400, "POST", "/v1/admin/webhooks/"+id+"/replay", map[string]any{})
	s.must(t, 400, "POST", "/v1/admin/webhooks/"+id+"/replay", map[string]any{"since": outage, "types": []string{"bought"}})
	// A type the webhook does not get is said, where it answered
	// "delivered 0, done" as if there were nothing to replay.
	if r := s.must(t, 400, "POST", "/v1/admin/webhooks/"+id+"/replay", map[string]any{"since": outage, "types": []string{"won", "confirmed"}}); r.body["field"] != "types" ||
		!strings.Contains(fmt.Sprint(r.body["detail"]), "includes confirmed, which is not among this webhook's types (registered, won)") {
		t.Errorf("a replay of a type the webhook does not get: %s", r.raw)
	}
	s.must(t, 404, "POST", "/v1/admin/webhooks/wh-0000000000000000/test", nil)
}

func TestWebhookAutoDisableAndEnable(t *testing.T) {
	t.Parallel()
	s := startInteg(t, func(o *webhook.Options) { o.MaxAttempts = 1 },
		"--webhook-disable-after", "3", "--webhook-disable-span", "1ms")
	rc := newReceiver(t)
	rc.down.Store(true)
	hook := s.must(t, 201, "POST", "/v1/admin/webhooks", map[string]any{"url": rc.URL + "/hook", "types": []string{"registered", "won"}})
	id := hook.body["id"].(string)
	rc.mu.Lock()
	rc.secret = hook.body["secret"].(string)
	rc.mu.Unlock()
	// A second webhook, healthy, subscribed to webhook_disabled.
	watch := newReceiver(t)
	wh := s.must(t, 201, "POST", "/v1/admin/webhooks", map[string]any{"url": watch.URL + "/ops", "types": []string{"webhook_disabled"}})
	watch.mu.Lock()
	watch.secret = wh.body["secret"].(string)
	watch.mu.Unlock()

	s.sale(t, "disable-"+strings.ToLower(id[3:11]), 3, "ann", "ben", "cat")
	testkit.Eventually(t, 30*time.Second, "the failing webhook to be disabled", func() bool {
		return s.call(t, "GET", "/v1/admin/webhooks/"+id, nil).body["disabled"] == true
	})
	st := s.call(t, "GET", "/v1/admin/webhooks/"+id, nil)
	if !strings.Contains(st.raw, "consecutive failed deliveries") {
		t.Fatalf("disabled webhook: %s", st.raw)
	}
	testkit.Eventually(t, 30*time.Second, "the webhook_disabled event at the ops receiver", func() bool {
		watch.mu.Lock()
		defer watch.mu.Unlock()
		for _, typ := range watch.types {
			if typ == "flashdrop.webhook_disabled" {
				return true
			}
		}
		return false
	})
	// Enabled again with the receiver back, new events are delivered.
	rc.down.Store(false)
	en := s.must(t, 200, "POST", "/v1/admin/webhooks/"+id+"/enable", nil)
	if en.body["disabled"] != false {
		t.Fatalf("enable: %s", en.raw)
	}
	enabled := "enabled-" + strings.ToLower(id[3:11])
	s.sale(t, enabled, 1, "dan")
	// The new sale's events, not any delivery: the first sale's events
	// that waited on the disabled webhook's consumer come after enabling
	// too, and would pass for the new ones.
	testkit.Eventually(t, 30*time.Second, "the new sale's events delivered after enabling", func() bool {
		rc.mu.Lock()
		defer rc.mu.Unlock()
		for _, d := range rc.drops {
			if d == enabled {
				return true
			}
		}
		return false
	})
	s.must(t, 404, "POST", "/v1/admin/webhooks/wh-0000000000000000/enable", nil)
}

// cutProxy forwards TCP connections to a target and can cut them all, as
// a load balancer restart or a network blip would.
type cutProxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	conns  []net.Conn
	held   bool // new connections are closed at once (hold, release)
	wg     sync.WaitGroup
}

// hold cuts every connection and refuses new ones until release.
func (p *cutProxy) hold() {
	p.mu.Lock()
	p.held = true
	p.mu.Unlock()
	p.cut()
}

func (p *cutProxy) release() {
	p.mu.Lock()
	p.held = false
	p.mu.Unlock()
}

func newCutProxy(t *testing.T, target string) *cutProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{ln: ln, target: target}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.mu.Lock()
			held := p.held
			p.mu.Unlock()
			if held {
				c.Close()
				continue
			}
			up, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, up)
			p.mu.Unlock()
			p.wg.Add(2)
			go func() { defer p.wg.Done(); _, _ = io.Copy(up, c); up.Close() }()
			go func() { defer p.wg.Done(); _, _ = io.Copy(c, up); c.Close() }()
		}
	}()
	t.Cleanup(func() { ln.Close(); p.cut(); p.wg.Wait() })
	return p
}

func (p *cutProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

func TestListenPrintsForwardsAndResumes(t *testing.T) {
	t.Parallel()
	s := startInteg(t, nil)
	// listen needs only events:read.
	out, err := runKeys(t, s.m, s.admin, "create", "--name", "laptop", "--scopes", "events:read")
	if err != nil {
		t.Fatal(err)
	}
	key := keySecret.FindStringSubmatch(out)[1]
	proxy := newCutProxy(t, s.m.Addr)

	rc := newReceiver(t)
	stdout, stderr := &testkit.LockedBuffer{}, &testkit.LockedBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- listen(ctx, []string{"--target", "http://" + proxy.ln.Addr().String(), "--admin-token", key,
			"--types", "registered,won", "--forward-to", rc.URL + "/hook"}, stdout, stderr, func(string) (string, bool) { return "", false })
	}()
	testkit.Eventually(t, 10*time.Second, "listen to connect", func() bool { return strings.Contains(stderr.String(), "connected") })
	secret := regexp.MustCompile(`whsec_[A-Za-z0-9_-]{43}`).FindString(stdout.String())
	if secret == "" {
		t.Fatalf("listen printed no secret: %s", stdout)
	}
	rc.mu.Lock()
	rc.secret = secret
	rc.mu.Unlock()

	// Drop ids of this run's own: the Redis is shared, and -count=N runs
	// the test again on it.
	dropA, dropB := uniqueDrop("listen-a"), uniqueDrop("listen-b")
	s.sale(t, dropA, 2, "ann", "ben")
	lines := func(typ string) int {
		n := 0
		for l := range strings.SplitSeq(stdout.String(), "\n") {
			if strings.Contains(l, "  "+typ+" ") && (strings.Contains(l, "drop="+dropA+" ") || strings.Contains(l, "drop="+dropB+" ")) {
				n++
			}
		}
		return n
	}
	testkit.Eventually(t, 20*time.Second, "two won lines", func() bool { return lines("won") == 2 })
	if !regexp.MustCompile(`(?m)^\d{4}-\d\d-\d\dT[\d:.]+Z  won +drop=` + regexp.QuoteMeta(dropA) + ` reservation=\S+ user=(ann|ben) quantity=1`).MatchString(stdout.String()) {
		t.Fatalf("a won line shows time, type, drop and key fields:\n%s", stdout)
	}

	// The connection is cut; events published meanwhile arrive after the
	// reconnection, once each.
	proxy.cut()
	s.sale(t, dropB, 3, "cat", "dan", "eve")
	testkit.Eventually(t, 20*time.Second, "the events after the cut", func() bool { return lines("won") == 5 && lines("registered") == 5 })
	if !strings.Contains(stderr.String(), "reconnected, resuming after event") {
		t.Fatalf("listen did not say it resumed:\n%s", stderr)
	}
	testkit.Eventually(t, 10*time.Second, "the forwarded events", func() bool {
		got, _ := rc.snapshot()
		return len(got) == 10
	})
	got, bad := rc.snapshot()
	for id, n := range got {
		if n != 1 {
			t.Fatalf("event %s forwarded %d times", id, n)
		}
	}
	if bad != 0 {
		t.Fatalf("%d forwarded events failed the signature check", bad)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Ctrl-C ends listen cleanly, got %v", err)
	}
	if strings.Contains(stdout.String()+stderr.String(), key) {
		t.Fatal("listen printed its key")
	}
}

// TestListenLeavesRehearsalsOut: listen (GET /v1/admin/events) leaves a
// rehearsal drop's events out, as a webhook does, unless --rehearsals
// (?rehearsals=true), and then marks each one.
func TestListenLeavesRehearsalsOut(t *testing.T) {
	t.Parallel()
	s := startInteg(t, nil)
	type run struct {
		out    *testkit.LockedBuffer
		errOut *testkit.LockedBuffer
		done   chan error
	}
	ctx, cancel := context.WithCancel(context.Background())
	start := func(extra ...string) run {
		r := run{&testkit.LockedBuffer{}, &testkit.LockedBuffer{}, make(chan error, 1)}
		go func() {
			r.done <- listen(ctx, append([]string{"--target", s.base, "--admin-token", s.admin}, extra...),
				r.out, r.errOut, func(string) (string, bool) { return "", false })
		}()
		testkit.Eventually(t, 10*time.Second, "listen to connect", func() bool { return strings.Contains(r.errOut.String(), "connected") })
		return r
	}
	plain, all := start(), start("--rehearsals")
	// Drop ids of this run's own: the Redis is shared, and -count=N runs
	// the test again on it.
	rehLoad, rehReal := uniqueDrop("reh-load"), uniqueDrop("reh-real")
	s.saleWith(t, rehLoad, 2, map[string]any{"rehearsal": true}, "ann", "ben")
	has := func(r run, sub string) bool { return strings.Contains(r.out.String(), sub) }
	testkit.Eventually(t, 20*time.Second, "the rehearsal's wins, marked, with --rehearsals", func() bool {
		return strings.Count(all.out.String(), "drop="+rehLoad+" reservation=") == 2
	})
	// Published after the rehearsal's events were on the stream: once
	// they are in, a rehearsal event let through would be in too.
	s.sale(t, rehReal, 1, "cat")
	testkit.Eventually(t, 20*time.Second, "the ordinary sale's win at both", func() bool {
		return has(plain, "drop="+rehReal+" reservation=") && has(all, "drop="+rehReal+" reservation=")
	})
	if has(plain, rehLoad) {
		t.Errorf("listen without --rehearsals printed the rehearsal's events:\n%s", plain.out)
	}
	for l := range strings.SplitSeq(all.out.String(), "\n") {
		if strings.Contains(l, "drop="+rehLoad+" ") != strings.Contains(l, "  rehearsal  id=") {
			t.Errorf("a line marks rehearsal wrongly: %s", l)
		}
	}
	if r := call(t, "GET", s.base+"/v1/admin/events?rehearsals=yes", s.admin, ""); r.status != 400 || !strings.Contains(r.raw, "rehearsals") {
		t.Errorf("?rehearsals=yes: %d %s", r.status, r.raw)
	}
	cancel()
	for _, r := range []run{plain, all} {
		if err := <-r.done; err != nil {
			t.Fatal(err)
		}
	}
}

func TestAdminEventsStreamRules(t *testing.T) {
	t.Parallel()
	s := startInteg(t, nil, "--max-streams", "1")
	r := s.must(t, 201, "POST", "/v1/admin/keys", map[string]any{"name": "ops", "scopes": []string{"ops"}})
	err := listen(context.Background(), []string{"--target", s.base, "--admin-token", r.body["secret"].(string)},
		io.Discard, io.Discard, func(string) (string, bool) { return "", false })
	if err == nil || !strings.Contains(err.Error(), "403") || !strings.Contains(err.Error(), "events:read") {
		t.Fatalf("listen with a key lacking events:read: %v", err)
	}
	if r := s.call(t, "GET", "/v1/admin/events?types=bought", nil); r.status != 400 {
		t.Fatalf("unknown type: %d %s", r.status, r.raw)
	}
	// A Last-Event-ID no stream reaches is the client's mistake (400), not
	// an outage: the largest uint64 wrapped to sequence 0, which JetStream
	// refused, and the answer was 503.
	for _, id := range []string{"18446744073709551615", "9223372036854775808", "-1", "x"} {
		req, _ := http.NewRequest("GET", s.base+"/v1/admin/events", nil)
		req.Header.Set("Authorization", "Bearer "+s.admin)
		req.Header.Set("Last-Event-ID", id)
		resp, err := contract.Client(t, nil).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 400 {
			t.Fatalf("Last-Event-ID %s: %d, want 400", id, resp.StatusCode)
		}
	}
	// The stream takes a slot under --max-streams.
	req, _ := http.NewRequest("GET", s.base+"/v1/admin/events?types=won", nil)
	req.Header.Set("Authorization", "Bearer "+s.admin)
	resp, err := contract.Client(t, nil).Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("first stream: %v %v", err, resp)
	}
	defer resp.Body.Close()
	if r := s.call(t, "GET", "/v1/admin/events", nil); r.status != 503 {
		t.Fatalf("second stream over --max-streams 1: %d %s", r.status, r.raw)
	}
	// The frames are as openapi.json describes them: a numeric id (the
	// JetStream sequence), the type, and a CloudEvent asyncapi.json knows.
	frames := make(chan map[string]string, 8)
	go func() {
		defer close(frames)
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
		f := map[string]string{}
		for sc.Scan() {
			line := sc.Text()
			if line == "" {
				if f["data"] != "" {
					frames <- f
				}
				f = map[string]string{}
				continue
			}
			if k, v, ok := strings.Cut(line, ": "); ok && !strings.HasPrefix(line, ":") {
				f[k] = v
			}
		}
	}()
	s.sale(t, uniqueDrop("sse-frames"), 2, "ann", "ben") // the Redis is shared: an id of this run's own
	seqs := map[string]bool{}
	for len(seqs) < 2 {
		var f map[string]string
		select {
		case f = <-frames:
		case <-time.After(20 * time.Second):
			t.Fatalf("the stream sent %d won events of 2", len(seqs))
		}
		if f == nil {
			t.Fatalf("the stream ended after %d won events of 2", len(seqs))
		}
		if !regexp.MustCompile(`^[1-9][0-9]*$`).MatchString(f["id"]) || seqs[f["id"]] || f["event"] != "won" {
			t.Fatalf("frame %v: want a new numeric id and event won", f)
		}
		seqs[f["id"]] = true
		contract.CheckEvent(t, []byte(f["data"]))
		var ce struct{ Type string }
		if err := json.Unmarshal([]byte(f["data"]), &ce); err != nil || ce.Type != "flashdrop.won" {
			t.Fatalf("frame data %s: %v", f["data"], err)
		}
	}
}

// TestExampleReceiver builds examples/receiver, runs it as a process, and
// drives a sale through it: it verifies, handles won once per event id
// (a replay's copies are dropped as duplicates), handles invited, and
// refuses forged and stale deliveries.
func TestExampleReceiver(t *testing.T) {
	t.Parallel()
	s := startInteg(t, nil)
	bin := filepath.Join(t.TempDir(), "receiver")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/flashdrop/flashdrop/examples/receiver").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	// The secret is the webhook's, so the webhook comes first; its URL
	// needs the receiver's port, so take a free one.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	hook := s.must(t, 201, "POST", "/v1/admin/webhooks", map[string]any{"url": "http://" + addr + "/hook", "types": []string{"won", "invited"}})
	secret := hook.body["secret"].(string)
	out := &testkit.LockedBuffer{}
	cmd := exec.Command(bin, "--listen", addr)
	cmd.Env = append(os.Environ(), "FLASHDROP_WEBHOOK_SECRET="+secret)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	testkit.Eventually(t, 10*time.Second, "the receiver to listen", func() bool { return strings.Contains(out.String(), "listening on") })

	since := time.Now().Add(-time.Second)
	drop := uniqueDrop("receiver-a") // the Redis is shared: an id of this run's own
	s.sale(t, drop, 3, "ann", "ben", "cat")
	count := func(prefix string) int {
		return strings.Count(out.String(), "\n"+prefix) + boolInt(strings.HasPrefix(out.String(), prefix))
	}
	testkit.Eventually(t, 20*time.Second, "three won events handled", func() bool { return count("won ") == 3 })
	if !regexp.MustCompile(`won \S+: (ann|ben|cat) holds ` + regexp.QuoteMeta(drop) + `\.\S+; share http://\S+/s/` + regexp.QuoteMeta(drop) + `\.`).MatchString(out.String()) {
		t.Fatalf("won lines:\n%s", out)
	}
	// A replay sends the same ids again: handled once, acknowledged twice.
	r := s.must(t, 200, "POST", "/v1/admin/webhooks/"+hook.body["id"].(string)+"/replay", map[string]any{"since": since, "types": []string{"won"}})
	if r.body["delivered"] != float64(3) || r.body["done"] != true {
		t.Fatalf("replay: %s", r.raw)
	}
	// The process's output reaches out through a pipe: wait for it.
	testkit.Eventually(t, 10*time.Second, "three duplicates dropped", func() bool { return count("duplicate ") == 3 })
	if count("won ") != 3 {
		t.Fatalf("after the replay: %d won, %d duplicates\n%s", count("won "), count("duplicate "), out)
	}
	// invited, as the scheduler sends it; then a forgery and a stale copy.
	inv := []byte(`{"specversion":"1.0","id":"inv-1","source":"/flashdrop/drops/next","type":"flashdrop.invited","subject":"next",` +
		`"time":"2026-11-24T10:00:00Z","datacontenttype":"application/json","data":{"drop":"next","user":"ann",` +
		`"url":"http://shop.example/d/next","sale_starts_at":"2026-12-01T10:00:00Z"}}`)
	post := func(sig string) int {
		req, _ := http.NewRequest("POST", "http://"+addr+"/hook", bytes.NewReader(inv))
		req.Header.Set(webhooksig.Header, sig)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if st := post(webhooksig.Sign([]byte("whsec_not-the-secret"), inv, time.Now())); st != 401 {
		t.Fatalf("forged: %d", st)
	}
	if st := post(webhooksig.Sign([]byte(secret), inv, time.Now().Add(-time.Hour))); st != 400 {
		t.Fatalf("stale: %d", st)
	}
	if st := post(webhooksig.Sign([]byte(secret), inv, time.Now())); st != 204 {
		t.Fatalf("invited: %d", st)
	}
	testkit.Eventually(t, 10*time.Second, "the invited line", func() bool {
		return strings.Contains(out.String(), "invited inv-1: ann to next on sale at 2026-12-01T10:00:00Z, page http://shop.example/d/next")
	})
	if count("refused: ") != 2 || count("won ") != 3 {
		t.Fatalf("receiver output:\n%s", out)
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
