package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/valyala/fasthttp"

	"github.com/flashdrop/flashdrop/engine"
	"github.com/flashdrop/flashdrop/engine/redisstore/redistest"
	"github.com/flashdrop/flashdrop/internal/testkit"
	"github.com/flashdrop/flashdrop/loadtest"
	"github.com/flashdrop/flashdrop/loadtest/fakeserver"
	"github.com/flashdrop/flashdrop/queue/natstest"
)

// loadStack is a real stack for the rehearsal: serve on a real
// redis-server and an in-process NATS, with a manual clock that starts
// now (the generator reads the server's clock from Date headers and the
// drop's created_at) and that the test moves at phase boundaries, so that
// the sale opens and holds expire without anyone sleeping.
type loadStack struct {
	m     *Main
	clock *engine.ManualClock
	nats  *natstest.Server
	base  string
}

func startLoadStack(t *testing.T) *loadStack {
	t.Helper()
	redistest.Require(t)
	rs, err := redistest.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rs.Close() })
	ns := natstest.Start(t)
	m := NewMain(io.Discard, &testkit.LockedBuffer{})
	m.Lookup = func(string) (string, bool) { return "", false }
	if err := m.ParseFlags([]string{"--listen", "127.0.0.1:0", "--log-level", "error", "--no-demo",
		"--redis-url", rs.Addr, "--nats-url", ns.URL(), "--sweep-every", "20ms"}); err != nil {
		t.Fatal(err)
	}
	clock := engine.NewManualClock(time.Now())
	m.Clock = clock
	if err := m.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := m.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return &loadStack{m: m, clock: clock, nats: ns, base: "http://" + m.Addr}
}

// hooks moves the stack's clock: past T0 when the generator starts
// waiting for it, and past every hold's deadline when the refills start.
func (s *loadStack) hooks(lead, hold time.Duration, more func(loadtest.Phase)) loadtest.Option {
	return loadtest.WithPhaseHook(func(p loadtest.Phase) {
		switch p {
		case loadtest.PhaseWait:
			s.clock.Advance(lead + time.Second)
		case loadtest.PhaseRefill:
			s.clock.Advance(hold + time.Second)
		}
		if more != nil {
			more(p)
		}
	})
}

func (s *loadStack) args(extra ...string) []string {
	return append([]string{"--target", s.base, "--admin-token", s.m.Config.AdminToken, "--jwt-secret", s.m.Config.JWTSecret,
		"--nats-url", s.nats.URL(), "--quiet", "--max-generator-cpu", "-1", "--lead", "10s", "--hold", "5s", "--connections", "16"}, extra...)
}

// runLoad runs `flashdrop load` as main would, with hooks.
func runLoad(t *testing.T, ctx context.Context, args []string, extra ...loadtest.Option) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	c := &loadCmd{Stdout: &out, Stderr: &errOut, Lookup: func(string) (string, bool) { return "", false }, Extra: extra}
	code := c.Run(ctx, args)
	return code, out.String(), errOut.String()
}

func readReport(t *testing.T, path string) *loadtest.Report {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rep, err := loadtest.ReadJSON(f)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// TestLoadEndToEndPassesTheAudit rehearses a sale on a real stack: fcfs,
// presses with retries, checkouts that confirm and cancel, holds that
// expire, waitlist refills, unregistered shoppers; the audit passes with
// every check run, and the JSON report says so.
func TestLoadEndToEndPassesTheAudit(t *testing.T) {
	s := startLoadStack(t)
	rep, text := runPassingLoad(t, s, "--users", "600", "--stock", "60", "--presses", "2", "--waitlist-ratio", "0.5",
		"--report", "text", "--report", "json", "--out", "-")
	// The scenario really had every part: wins, sold-out answers, refusals
	// of unregistered shoppers, cancels, expiries and refills.
	var vias = map[string]int{}
	var actions = map[string]int{}
	for _, tl := range rep.Records.Told {
		vias[tl.Via]++
		actions[tl.Action]++
	}
	if rep.Rush.Outcomes["won"] != 60 || rep.Rush.Outcomes["sold_out"] == 0 || rep.Rush.Outcomes["not_registered"] == 0 {
		t.Errorf("rush outcomes %v", rep.Rush.Outcomes)
	}
	if vias["refill"] == 0 || actions["cancel"] == 0 || actions["expire"] == 0 || actions["confirm"] == 0 {
		t.Errorf("told via %v, actions %v", vias, actions)
	}
	if rep.Records.Stats.Held != 0 || rep.Records.Stats.Confirmed != 60 || rep.Records.Stats.Released == 0 {
		t.Errorf("final stats %+v", rep.Records.Stats)
	}
	if !strings.Contains(text, "audit: PASS") {
		t.Errorf("text report:\n%s", text)
	}
	// The drop it made is a rehearsal: shoppers are not shown it.
	if !rep.Drop.Rehearsal || !strings.Contains(text, rep.Drop.ID+" (a rehearsal: not shown to shoppers)") {
		t.Errorf("the report does not say the drop is a rehearsal (%v):\n%s", rep.Drop.Rehearsal, text)
	}
	// A run that passed deletes the rehearsal it made, shoppers and all:
	// one per run would stay in production's Redis and on /ops.
	if r := call(t, "GET", s.base+"/v1/admin/drops/"+rep.Drop.ID, s.m.Config.AdminToken, ""); r.status != 404 {
		t.Errorf("the run's drop %s outlived a passing run: %d %s", rep.Drop.ID, r.status, r.raw)
	}
	if r := call(t, "GET", s.base+"/", "", ""); r.status != 200 || strings.Contains(r.raw, rep.Drop.ID) {
		t.Errorf("the shop's index (%d) lists the rehearsal %s", r.status, rep.Drop.ID)
	}
}

// runPassingLoad runs flashdrop load with args against s, its JSON report
// written to a file too (one more --out), and fails the test unless it
// exits 0 with a complete run whose audit passes every check. It returns
// the report and what the run printed.
func runPassingLoad(t *testing.T, s *loadStack, args ...string) (*loadtest.Report, string) {
	t.Helper()
	out := filepath.Join(t.TempDir(), "r.json")
	code, text, stderr := runLoad(t, context.Background(), s.args(append(args, "--out", out)...),
		s.hooks(10*time.Second, 5*time.Second, nil))
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, text, stderr)
	}
	rep := readReport(t, out)
	if rep.Audit.Verdict != loadtest.AuditPass || !rep.Complete {
		t.Fatalf("audit %s\n%s", rep.Audit.Verdict, text)
	}
	for _, c := range rep.Audit.Checks {
		if c.Status != loadtest.CheckPass {
			t.Errorf("check %s %s: %s", c.ID, c.Status, c.Detail)
		}
	}
	return rep, text
}

// TestLoadDrawPassesTheAudit: --mode draw against a real serve (Redis,
// NATS) passes every check, I5's replays included: after the draw a keyed
// press keeps the shopper's result under its key, as in fcfs. Before
// fd4d9fb the key with another body was answered with the result, and
// this run failed I5 against a correct drop.
func TestLoadDrawPassesTheAudit(t *testing.T) {
	s := startLoadStack(t)
	_, text := runPassingLoad(t, s, "--users", "300", "--stock", "30", "--mode", "draw", "--report", "text", "--report", "json")
	if !strings.Contains(text, "other body refused") {
		t.Errorf("the I5 check did not replay with another body:\n%s", text)
	}
}

// TestLoadAuditFailsOnOversell: a server that sells one unit more than its
// stock fails I1, exit code 2, naming the reservation that made it.
func TestLoadAuditFailsOnOversell(t *testing.T) {
	f := startFakeServer(t, fakeserver.Faults{OversellBy: 1})
	code, text, stderr := runLoad(t, context.Background(), fakeArgs(f.URL, "--users", "100", "--stock", "10"), f.hook(1))
	if code != loadtest.ExitAuditFailed {
		t.Fatalf("exit %d, want 2\n%s\n%s", code, text, stderr)
	}
	if !regexpMatch(`FAIL I1 .*\n\s+reservation \S+ \(user load-\d+, 1 unit\) made 11 units won of a stock of 10`, text) {
		t.Fatalf("I1 does not name the culprit:\n%s", text)
	}
}

// TestLoadAuditFailsOnADoubleWin: a server that lets one shopper win twice
// fails I2, naming her and both reservations. No hold is cancelled: on
// the fake's manual clock, which stands still through the checkout, a
// hold cancelled there ends the instant it was won, and I2 finds no
// moment she held both (the checkout's exact counts cancelled one of her
// holds in some runs, where each win's own die had spared them).
func TestLoadAuditFailsOnADoubleWin(t *testing.T) {
	f := startFakeServer(t, fakeserver.Faults{DoubleWin: true})
	code, text, stderr := runLoad(t, context.Background(), fakeArgs(f.URL, "--users", "100", "--stock", "30", "--presses", "2",
		"--cancel-ratio", "0"), f.hook(1))
	if code != loadtest.ExitAuditFailed {
		t.Fatalf("exit %d, want 2\n%s\n%s", code, text, stderr)
	}
	if !regexpMatch(`FAIL I2 .*\n\s+user load-\d+ held 2 units \(limit 1\): reservations \S+, \S+`, text) {
		t.Fatalf("I2 does not name the culprit:\n%s", text)
	}
}

// TestLoadAuditFailsWhenAWonEventIsLost: a real stack whose stream loses
// one won event (deleted after the relay published it, as a relay that
// acknowledged without publishing would leave it) fails I4, naming the
// reservation.
func TestLoadAuditFailsWhenAWonEventIsLost(t *testing.T) {
	s := startLoadStack(t)
	var lost struct {
		sync.Mutex
		reservation string
	}
	lose := func(p loadtest.Phase) {
		if p != loadtest.PhaseAudit {
			return
		}
		nc, err := nats.Connect(s.nats.URL())
		if err != nil {
			t.Error(err)
			return
		}
		defer nc.Close()
		js, _ := jetstream.New(nc)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		st, err := js.Stream(ctx, "FLASHDROP")
		if err != nil {
			t.Error(err)
			return
		}
		var drops struct {
			Drops []struct {
				ID string `json:"id"`
			} `json:"drops"`
		}
		_ = json.Unmarshal([]byte(call(t, "GET", s.base+"/v1/admin/drops", s.m.Config.AdminToken, "").raw), &drops)
		if len(drops.Drops) != 1 {
			t.Errorf("drops: %+v", drops)
			return
		}
		drop := drops.Drops[0].ID
		subject := "flashdrop." + drop + ".won"
		// Every win's event is in the stream: one per reservation.
		testkit.Eventually(t, 0, "every won event in the stream", func() bool {
			var stats struct {
				Reservations int `json:"reservations"`
			}
			_ = json.Unmarshal([]byte(call(t, "GET", s.base+"/v1/admin/drops/"+drop+"/stats", s.m.Config.AdminToken, "").raw), &stats)
			info, err := st.Info(ctx, jetstream.WithSubjectFilter(subject))
			return err == nil && stats.Reservations > 0 && info.State.Subjects[subject] == uint64(stats.Reservations)
		})
		msg, err := st.GetLastMsgForSubject(ctx, subject)
		if err != nil {
			t.Error(err)
			return
		}
		var ce struct {
			Data struct {
				Reservation string `json:"reservation"`
			} `json:"data"`
		}
		_ = json.Unmarshal(msg.Data, &ce)
		if err := st.DeleteMsg(ctx, msg.Sequence); err != nil {
			t.Error(err)
		}
		lost.Lock()
		lost.reservation = ce.Data.Reservation
		lost.Unlock()
	}
	code, text, stderr := runLoad(t, context.Background(), s.args("--users", "200", "--stock", "20", "--events-wait", "2s"),
		s.hooks(10*time.Second, 5*time.Second, lose))
	if code != loadtest.ExitAuditFailed {
		t.Fatalf("exit %d, want 2\n%s\n%s", code, text, stderr)
	}
	lost.Lock()
	defer lost.Unlock()
	if lost.reservation == "" || !strings.Contains(text, "no won event for reservation "+lost.reservation) {
		t.Fatalf("I4 does not name the lost event's reservation %q:\n%s", lost.reservation, text)
	}
}

// TestLoadAuditFailsOnAFakeWin: a proxy in front of a real serve turns one
// sold_out answer into a 201 win that never happened. The audit names the
// reservation: it does not exist, no won event announces it, and its unit
// is one more than the stock.
func TestLoadAuditFailsOnAFakeWin(t *testing.T) {
	s := startLoadStack(t)
	fake := "" // the invented reservation id
	var mu sync.Mutex
	upstream := &fasthttp.HostClient{Addr: s.m.Addr, Dial: func(addr string) (net.Conn, error) { return net.Dial("tcp", addr) }}
	proxy := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		ctx.Request.SetHost(s.m.Addr)
		if err := upstream.Do(&ctx.Request, &ctx.Response); err != nil {
			ctx.Error(err.Error(), fasthttp.StatusBadGateway)
			return
		}
		path := string(ctx.Path())
		if !strings.HasSuffix(path, "/reservations") || ctx.Response.StatusCode() != 409 || !bytes.Contains(ctx.Response.Body(), []byte(`"sold_out"`)) {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if fake != "" {
			return
		}
		drop := strings.Split(strings.Trim(path, "/"), "/")[2]
		var claims jwt.RegisteredClaims
		tok := strings.TrimPrefix(string(ctx.Request.Header.Peek("Authorization")), "Bearer ")
		_, _, _ = jwt.NewParser().ParseUnverified(tok, &claims)
		fake = drop + ".f00df00df00df00df00d"
		now := time.Now().UTC()
		body, _ := json.Marshal(map[string]any{"reservation": map[string]any{"id": fake, "drop": drop, "user": claims.Subject,
			"quantity": 1, "status": "held", "won_at": now, "expires_at": now.Add(5 * time.Second), "share_code": "f00d"}})
		ctx.Response.Reset()
		ctx.SetStatusCode(201)
		ctx.SetContentType("application/json")
		ctx.SetBody(body)
	}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- proxy.Serve(ln) }()
	t.Cleanup(func() { _ = proxy.Shutdown(); <-done; upstream.CloseIdleConnections() })
	args := s.args("--users", "200", "--stock", "20", "--events-wait", "2s")
	args[1] = "http://" + ln.Addr().String()
	code, text, stderr := runLoad(t, context.Background(), args, s.hooks(10*time.Second, 5*time.Second, nil))
	if code != loadtest.ExitAuditFailed {
		t.Fatalf("exit %d, want 2\n%s\n%s", code, text, stderr)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, want := range []string{
		"reservation " + fake + " told to user ",
		"no won event for reservation " + fake,
	} {
		if fake == "" || !strings.Contains(text, want) {
			t.Errorf("the report does not say %q:\n%s", want, text)
		}
	}
}

// TestLoadMaxP99CrossedExitsOne: a p99 above --max-p99 exits 1, with the
// audit passing.
func TestLoadMaxP99CrossedExitsOne(t *testing.T) {
	f := startFakeServer(t, fakeserver.Faults{})
	code, text, stderr := runLoad(t, context.Background(), fakeArgs(f.URL, "--users", "50", "--stock", "5", "--max-p99", "1ns"), f.hook(1))
	if code != loadtest.ExitThreshold {
		t.Fatalf("exit %d, want 1\n%s\n%s", code, text, stderr)
	}
	if !strings.Contains(text, "CROSSED max-p99") || !strings.Contains(text, "audit: PASS") {
		t.Fatalf("report:\n%s", text)
	}
}

// TestLoadHelpSaysWhatHappens: --help gives --hold's default with and
// without --embedded (it said 5s, and --embedded used 3s), and every cause
// of exit 3, a report that could not be written and a rush in which nobody
// could buy among them; load report's --help gives --allow-partial.
func TestLoadHelpSaysWhatHappens(t *testing.T) {
	code, out, help := runLoad(t, context.Background(), []string{"--help"})
	if code != 0 || out != "" {
		t.Fatalf("--help: exit %d, stdout %q", code, out)
	}
	flat := strings.Join(strings.Fields(help), " ")
	for _, want := range []string{
		"whole seconds (default 5s; 3s with --embedded)",
		"3 invalid run: a bad flag (refused before any request)", "an unreachable target or one that stopped answering",
		"the generator saturated", "nobody could buy (every press refused", "interrupted", "a report could not be written",
	} {
		if !strings.Contains(flat, want) {
			t.Errorf("--help lacks %q:\n%s", want, help)
		}
	}
	// Flags as serve --help prints them (--name, env named per flag), and
	// no reference to a document the repository does not ship.
	for _, want := range []string{"\n  --admin-token string\n", "(env FLASHDROP_ADMIN_TOKEN)", "(env FLASHDROP_NATS_URL)",
		"\n  --confirm-ratio share\n", "\n  --report format\n", "I6       available + owed + held + confirmed = stock"} {
		if !strings.Contains(help, want) {
			t.Errorf("--help lacks %q:\n%s", want, help)
		}
	}
	for _, bad := range []string{"\n  -admin-token", "SPEC", "§", "(env FLASHDROP_USERS)"} {
		if strings.Contains(help, bad) {
			t.Errorf("--help has %q:\n%s", bad, help)
		}
	}
	_, _, help = runLoad(t, context.Background(), []string{"report", "--help"})
	if flat := strings.Join(strings.Fields(help), " "); !strings.Contains(flat, "--allow-partial judge") || !strings.Contains(flat, "a shard's report missing, without --allow-partial") {
		t.Errorf("load report --help:\n%s", help)
	}
}

// TestLoadBadFlagsExitThreeBeforeAnyRequest: a bad flag exits 3 with a
// clear message, and nothing reaches the target.
func TestLoadBadFlagsExitThreeBeforeAnyRequest(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	accepted := make(chan struct{}, 100)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- struct{}{}
			c.Close()
		}
	}()
	defer ln.Close()
	target := "http://" + ln.Addr().String()
	base := []string{"--target", target, "--admin-token", "tok-0123456789abcdef", "--jwt-secret", strings.Repeat("s", 32)}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--bogus"}, "unknown flag --bogus"},
		{[]string{"--users", "-5"}, "--users must be between"},
		{[]string{"--confirm-ratio", "0.8", "--cancel-ratio", "0.5"}, "must not exceed 1"},
		{[]string{"--arrival", "rate"}, "--arrival rate needs --rate"},
		{[]string{"--shard", "2/2", "--drop", "x"}, "--shard 2/2"},
		{[]string{"--shard", "0/2"}, "--shard needs --drop"},
		{[]string{"--report", "pdf"}, `--report "pdf"`},
		{[]string{"--hold", "1500ms"}, "--hold must be whole seconds"},
		{[]string{"--jwt-secret", "short"}, "at least 32 bytes"},
		{[]string{"stray"}, "unexpected argument"},
		{[]string{"--shard", "0/0", "--drop", "x"}, "--shard 0/0: want i/n with 0 <= i < n"},
		{[]string{"--hold", "0s"}, "--hold must be whole seconds"},
		{[]string{"--report", "json", "--out", filepath.Join(t.TempDir(), "missing", "r.json")}, "cannot write the json report there"},
	} {
		code, _, stderr := runLoad(t, context.Background(), append(append([]string{}, base...), c.args...))
		if code != loadtest.ExitInvalid || !strings.Contains(stderr, c.want) {
			t.Errorf("load %v: exit %d, stderr %q; want 3 and %q", c.args, code, stderr, c.want)
		}
	}
	// A count given as 0 is refused as a negative one is, in the same
	// words (0 used to mean the default: --users 0 ran 1000 shoppers).
	for _, name := range []string{"--users", "--stock", "--per-user-limit", "--connections", "--presses"} {
		code, _, zero := runLoad(t, context.Background(), append(append([]string{}, base...), name, "0"))
		_, _, negative := runLoad(t, context.Background(), append(append([]string{}, base...), name, "-1"))
		if code != loadtest.ExitInvalid || !strings.Contains(zero, name+" must be between 1 and ") ||
			strings.Replace(zero, "got 0", "got -1", 1) != negative {
			t.Errorf("load %s 0: exit %d, stderr %q; want 3 and what %s -1 says, %q", name, code, zero, name, negative)
		}
	}
	select {
	case <-accepted:
		t.Fatal("a bad flag must be refused before any request")
	default:
	}
	// An unreachable target is one line, exit 3.
	dead, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := dead.Addr().String()
	dead.Close()
	code, _, stderr := runLoad(t, context.Background(), []string{"--target", "http://" + addr, "--admin-token", "x", "--jwt-secret", strings.Repeat("s", 32), "--quiet"})
	if code != loadtest.ExitInvalid || strings.Count(strings.TrimSpace(stderr), "\n") != 0 || !strings.Contains(stderr, "unreachable") {
		t.Fatalf("unreachable target: exit %d, stderr %q", code, stderr)
	}
	// So is an unreachable NATS, before any load.
	f := startFakeServer(t, fakeserver.Faults{})
	code, _, stderr = runLoad(t, context.Background(), fakeArgs(f.URL, "--nats-url", "nats://"+addr))
	if code != loadtest.ExitInvalid || strings.Count(strings.TrimSpace(stderr), "\n") != 0 || !strings.Contains(stderr, "--nats-url nats://"+addr+" unreachable") {
		t.Fatalf("unreachable NATS: exit %d, stderr %q", code, stderr)
	}
}

// TestLoadOutCheckedBeforeAnyRequest: an --out that cannot be written is
// refused before any request is sent (it used to be found after the whole
// rehearsal, which then wrote no report at all); the other --out files of
// the refused run are not left behind empty, and an existing one keeps
// what it held. A run loadtest refuses (an unreachable target) leaves no
// file either.
func TestLoadOutCheckedBeforeAnyRequest(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var accepted sync.WaitGroup
	conns := 0 // read once the listener is closed and the loop has ended
	accepted.Add(1)
	go func() {
		defer accepted.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns++
			c.Close()
		}
	}()
	base := []string{"--target", "http://" + ln.Addr().String(), "--admin-token", "tok-0123456789abcdef", "--jwt-secret", strings.Repeat("s", 32), "--quiet"}
	dir := t.TempDir()
	fresh, kept, bad := filepath.Join(dir, "fresh.txt"), filepath.Join(dir, "kept.html"), filepath.Join(dir, "nonexistent", "r.json")
	if err := os.WriteFile(kept, []byte("last week's report"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := runLoad(t, context.Background(), append(base, "--report", "text", "--out", fresh,
		"--report", "json", "--out", bad, "--report", "html", "--out", kept))
	ln.Close()
	accepted.Wait()
	if code != loadtest.ExitInvalid || !strings.Contains(stderr, "--out "+bad+": cannot write the json report there") {
		t.Fatalf("exit %d, stderr %q; want 3 naming %s", code, stderr, bad)
	}
	if conns > 0 {
		t.Fatalf("%d connections to the target: a bad --out must be refused before any request", conns)
	}
	if _, err := os.Stat(fresh); !os.IsNotExist(err) {
		t.Errorf("the refused run left %s behind (%v)", fresh, err)
	}
	if b, err := os.ReadFile(kept); err != nil || string(b) != "last week's report" {
		t.Errorf("the refused run changed %s: %q %v", kept, b, err)
	}

	dead, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := dead.Addr().String()
	dead.Close()
	code, _, stderr = runLoad(t, context.Background(), append(append([]string{}, base...), "--target", "http://"+addr, "--report", "json", "--out", fresh))
	if code != loadtest.ExitInvalid || !strings.Contains(stderr, "unreachable") {
		t.Fatalf("unreachable target: exit %d, stderr %q", code, stderr)
	}
	if _, err := os.Stat(fresh); !os.IsNotExist(err) {
		t.Errorf("the run refused for its target left %s behind (%v)", fresh, err)
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("stdout is closed") }

// TestLoadWritesEveryReportItCan: a report that cannot be written after
// the run (here the text, on a closed stdout) does not cost the others:
// they are written, the verdict still reaches the terminal, and the exit
// code is 3, since CI lacks a report. It used to return at the first
// failure, with no verdict.
func TestLoadWritesEveryReportItCan(t *testing.T) {
	f := startFakeServer(t, fakeserver.Faults{})
	dir := t.TempDir()
	js, page := filepath.Join(dir, "r.json"), filepath.Join(dir, "r.html")
	var stderr bytes.Buffer
	c := &loadCmd{Stdout: failingWriter{}, Stderr: &stderr, Lookup: func(string) (string, bool) { return "", false }, Extra: []loadtest.Option{f.hook(1)}}
	code := c.Run(context.Background(), fakeArgs(f.URL, "--users", "50", "--stock", "5",
		"--report", "text", "--report", "json", "--out", js, "--report", "html", "--out", page))
	if code != loadtest.ExitInvalid {
		t.Fatalf("exit %d, want 3\n%s", code, stderr.String())
	}
	for _, want := range []string{"writing the text report to stdout: stdout is closed", "flashdrop load: pass, but 1 of 3 reports not written (exit 3)"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr.String())
		}
	}
	if rep := readReport(t, js); rep.Verdict != loadtest.VerdictPass {
		t.Errorf("JSON report: verdict %q", rep.Verdict)
	}
	if b, err := os.ReadFile(page); err != nil || !bytes.Contains(b, []byte("</html>")) {
		t.Errorf("HTML report: %d bytes, %v", len(b), err)
	}
}

// TestLoadEmbeddedDemo is the newcomer's one command: an in-process serve,
// a rehearsal against it, the audit and a report.
func TestLoadEmbeddedDemo(t *testing.T) {
	// A lead long enough for 150 registrations on a loaded CI machine
	// (3.5 s were seen with seven test suites sharing two cores).
	code, text, stderr := runLoad(t, context.Background(), []string{"--embedded", "--users", "150", "--hold", "1s", "--quiet",
		"--settle-timeout", "30s", "--lead", "12s"})
	if code != 0 || !strings.Contains(text, "audit: PASS") {
		t.Fatalf("exit %d\n%s\n%s", code, text, stderr)
	}
}

// TestLoadReportMergesShards: two generators (--shard 0/2 and 1/2) against
// one existing drop; `flashdrop load report` merges their JSON reports and
// audits the merged records, which pass. A merge of one of the two is
// incomplete, exit 3 (it passed, exit 0, with only a note), unless
// --allow-partial.
func TestLoadReportMergesShards(t *testing.T) {
	f := startFakeServer(t, fakeserver.Faults{})
	now := f.clock.Now().UTC()
	body := fmt.Sprintf(`{"id":"shared","stock":10,"hold_seconds":1,"registration_opens_at":%q,"registration_closes_at":%q,"sale_starts_at":%q}`,
		now.Add(-time.Minute).Format(time.RFC3339Nano), now.Add(time.Minute).Format(time.RFC3339Nano), now.Add(time.Minute).Format(time.RFC3339Nano))
	if r := callWith(t, http.DefaultClient, "POST", f.URL+"/v1/admin/drops", fakeAdmin, body); r.status != 201 {
		t.Fatalf("create: %d %s", r.status, r.raw)
	}
	dir := t.TempDir()
	var wg sync.WaitGroup
	codes := make([]int, 2)
	errs := make([]string, 2)
	hook := f.hook(2)
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes[i], _, errs[i] = runLoad(t, context.Background(), fakeArgs(f.URL, "--drop", "shared", "--users", "100", "--seed", "5",
				"--shard", fmt.Sprintf("%d/2", i), "--report", "json", "--out", filepath.Join(dir, fmt.Sprintf("s%d.json", i))), hook)
		}()
	}
	wg.Wait()
	if codes[0] != 0 || codes[1] != 0 {
		t.Fatalf("shard exit codes %v: %v", codes, errs)
	}
	code, text, stderr := runLoad(t, context.Background(), []string{"report", filepath.Join(dir, "s0.json"), filepath.Join(dir, "s1.json")})
	if code != 0 || !strings.Contains(text, "audit: PASS") || !strings.Contains(text, "2 generator reports merged") {
		t.Fatalf("merged: exit %d\n%s\n%s", code, text, stderr)
	}
	if !strings.Contains(text, "outcomes: sold_out") && !strings.Contains(text, "won 10") {
		t.Fatalf("merged outcomes:\n%s", text)
	}
	for _, args := range [][]string{
		{"report", filepath.Join(dir, "s1.json")},
		{"report", filepath.Join(dir, "s1.json"), "--allow-partial"},
	} {
		partial := len(args) == 3
		code, text, stderr := runLoad(t, context.Background(), args)
		switch {
		case !partial && (code != loadtest.ExitInvalid || !strings.Contains(text, "INVALID RUN") ||
			!strings.Contains(text, "invalid: incomplete merge: only 1 of 2 shards merged (missing 0/2)") || !strings.Contains(text, "--allow-partial")):
			t.Errorf("a merge lacking shard 0/2: exit %d, want %d\n%s\n%s", code, loadtest.ExitInvalid, text, stderr)
		case partial && (code != 0 || !strings.Contains(text, "audit: PARTIAL") || !strings.Contains(text, "note: only 1 of 2 shards merged (missing 0/2)")):
			t.Errorf("a merge lacking shard 0/2 with --allow-partial: exit %d, want 0\n%s\n%s", code, text, stderr)
		}
	}
	// Its --out is checked before the reports are read and merged, and a
	// report that fails to write does not cost the others.
	shards := []string{"report", filepath.Join(dir, "s0.json"), filepath.Join(dir, "s1.json")}
	bad := filepath.Join(dir, "nonexistent", "m.json")
	code, text, stderr = runLoad(t, context.Background(), append(shards, "--report", "text", "--report", "json", "--out", bad))
	if code != loadtest.ExitInvalid || text != "" || !strings.Contains(stderr, "--out "+bad+": cannot write the json report there") {
		t.Fatalf("merge with a bad --out: exit %d, stdout %q, stderr %q", code, text, stderr)
	}
	if _, err := os.Stat("/dev/full"); err == nil {
		page := filepath.Join(dir, "merged.html")
		code, _, stderr = runLoad(t, context.Background(), append(shards, "--report", "json", "--out", "/dev/full", "--report", "html", "--out", page))
		if b, err := os.ReadFile(page); err != nil || !bytes.Contains(b, []byte("</html>")) {
			t.Errorf("merged HTML after a failed JSON: %d bytes, %v", len(b), err)
		}
		if code != loadtest.ExitInvalid || !strings.Contains(stderr, "writing the json report to /dev/full") || !strings.Contains(stderr, "pass, but 1 of 2 reports not written") {
			t.Errorf("merge with /dev/full: exit %d, stderr %q", code, stderr)
		}
	}
}

const fakeAdmin = "fake-admin-token-0123456789"

// fakeStack is a fake server on a manual clock that starts now.
type fakeStack struct {
	*fakeserver.Server
	clock *loadtest.ManualClock
}

func startFakeServer(t *testing.T, faults fakeserver.Faults) *fakeStack {
	t.Helper()
	clock := loadtest.NewManualClock(time.Now())
	f, err := fakeserver.Start(fakeserver.Options{AdminToken: fakeAdmin, JWTSecret: []byte(strings.Repeat("k", 32)), Faults: faults, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.Close() })
	return &fakeStack{f, clock}
}

// hook moves the fake's clock past T0 once `generators` runs wait for it
// (a barrier: no generator may still be registering), and past every hold
// when a run starts its refills. Nothing waits for the wall clock.
func (f *fakeStack) hook(generators int) loadtest.Option {
	var mu sync.Mutex
	waiting := 0
	opened := make(chan struct{})
	return loadtest.WithPhaseHook(func(p loadtest.Phase) {
		switch p {
		case loadtest.PhaseWait:
			mu.Lock()
			waiting++
			if waiting == generators {
				f.clock.Advance(time.Hour)
				close(opened)
			}
			mu.Unlock()
			<-opened
		case loadtest.PhaseRefill:
			f.clock.Advance(time.Hour)
		}
	})
}

func fakeArgs(target string, extra ...string) []string {
	args := []string{"--target", target, "--admin-token", fakeAdmin, "--jwt-secret", strings.Repeat("k", 32),
		"--quiet", "--max-generator-cpu", "-1", "--connections", "8"}
	if !slices.Contains(extra, "--drop") {
		args = append(args, "--lead", "30m", "--hold", "1s", "--seed", "3")
	}
	return append(args, extra...)
}

func regexpMatch(re, s string) bool { return regexp.MustCompile(re).MatchString(s) }

// benchServe runs serve in the benchmark's process: embedded (for
// /healthz) or on a real redis-server and NATS.
func benchServe(b *testing.B, real bool) *Main {
	b.Helper()
	args := []string{"--listen", "127.0.0.1:0", "--no-demo", "--log-level", "error"}
	if real {
		redistest.Require(b)
		rs, err := redistest.Start()
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = rs.Close() })
		args = append(args, "--redis-url", rs.Addr, "--nats-url", natstest.Start(b).URL())
	}
	m := NewMain(io.Discard, io.Discard)
	m.Lookup = func(string) (string, bool) { return "", false }
	if err := m.ParseFlags(args); err != nil {
		b.Fatal(err)
	}
	if err := m.Run(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = m.Close() })
	return m
}

// childServe runs `flashdrop serve` (embedded) in a child process, the
// test binary re-executed through signal_test.go's child hook, so that
// neither wrk nor flashdrop load shares a process with the server. cores
// ("" for none) pins it with taskset.
func childServe(b *testing.B, cores string) string {
	b.Helper()
	cmd := pinnedCommand(cores, os.Args[0], "-test.run=^TestServeStopsCleanlyOnSIGTERM$", "-test.bench=^$")
	cmd.Env = append(os.Environ(), "FLASHDROP_TEST_CHILD=serve")
	cmd.Stderr = os.Stderr // a child that cannot start (taskset refused) says why
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	})
	a, ok := listeningURL(stdout)
	if !ok {
		b.Fatal("the child serve did not start")
	}
	return a
}

// pinnedCommand is name args, run under taskset on cores unless cores is
// "".
func pinnedCommand(cores, name string, args ...string) *exec.Cmd {
	if cores == "" {
		return exec.Command(name, args...)
	}
	return exec.Command("taskset", append([]string{"-c", cores, name}, args...)...)
}

// benchPlacement is where BenchmarkLoadVsWrk runs what: with two cores or
// more and taskset, the server alone on core 1 and the generator (wrk or
// flashdrop load, in turn) on core 0, as make bench's driver places its
// processes. Then each tool has a core of its own and the question
// is the one the benchmark asks: does it drive the server as hard as wrk
// does? Unpinned, the kernel spreads all of them over every core and
// the ratio mostly measures how much CPU each tool takes from the server.
func benchPlacement() (server, generator, text string) {
	n := runtime.NumCPU()
	if _, err := exec.LookPath("taskset"); err != nil || n < 2 {
		return "", "", fmt.Sprintf("%d core(s), not pinned (no taskset or one core): the kernel places every process", n)
	}
	return "1", "0", fmt.Sprintf("%d cores: flashdrop serve on core 1, the generator (wrk, then flashdrop load, in turn) on core 0 (taskset)", n)
}

// benchConns is the connection count of the load benchmarks, for both
// tools.
const benchConns = 64

// BenchmarkLoadVsWrk: the generator is not the bottleneck. Against the
// same /healthz of a serve in its own process, in one run and at equal
// connections, flashdrop load's client (loadtest.Flood: the rush's client
// and recorder, run in a child process so that it can be pinned like wrk)
// is compared with wrk. Each tool's CPU per request is printed too: it is
// what a generator that shares its machine with the server takes from it.
// Run with -benchtime 1x (make bench).
func BenchmarkLoadVsWrk(b *testing.B) {
	wrk, err := exec.LookPath("wrk")
	if err != nil {
		b.Fatal("wrk is not installed: make bench installs it (apt-get install wrk)")
	}
	serverCores, genCores, placement := benchPlacement()
	url := childServe(b, serverCores)
	fmt.Println("placement:", placement)
	// The machine is shared: the two tools take turns, several rounds, and
	// the medians are compared, so a neighbour's burst of CPU does not
	// decide the ratio.
	const rounds, secs = 5, 3
	for range b.N {
		var wrkRates, loadRates, wrkCPU, loadCPU []float64
		var p99 float64
		for range rounds {
			cmd := pinnedCommand(genCores, wrk, "-t", "2", "-c", strconv.Itoa(benchConns), "-d", fmt.Sprintf("%ds", secs), url+"/healthz")
			out, err := cmd.CombinedOutput()
			if err != nil {
				b.Fatalf("wrk: %v\n%s", err, out)
			}
			mm := regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`).FindSubmatch(out)
			if mm == nil {
				b.Fatalf("wrk printed no rate:\n%s", out)
			}
			v, _ := strconv.ParseFloat(string(mm[1]), 64)
			wrkRates = append(wrkRates, v)
			cpu := (cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()).Seconds()
			wrkCPU = append(wrkCPU, cpu/(v*secs)*1e6)

			res := childFlood(b, genCores, url, secs*time.Second)
			if res.Errors > 0 {
				b.Fatalf("flood: %d errors", res.Errors)
			}
			loadRates = append(loadRates, res.RPS)
			loadCPU = append(loadCPU, res.CPUSeconds/float64(res.Requests)*1e6)
			p99 = max(p99, res.Latency.P99)
		}
		wrkRPS, loadRPS := median(wrkRates), median(loadRates)
		fmt.Printf("/healthz, %d connections, %d alternating rounds of %ds: wrk median %.0f req/s %v; flashdrop load median %.0f req/s %v (worst p99 %.3f ms)\n",
			benchConns, rounds, secs, wrkRPS, rounded(wrkRates), loadRPS, rounded(loadRates), p99)
		fmt.Printf("generator CPU per request: wrk median %.1f µs, flashdrop load median %.1f µs\n", median(wrkCPU), median(loadCPU))
		fmt.Printf("load/wrk throughput ratio: %.2f\n", loadRPS/wrkRPS)
		b.ReportMetric(loadRPS/wrkRPS, "load/wrk")
	}
}

// childFlood runs loadtest.Flood against url's /healthz in a child process
// (the test binary, through TestMain's flood hook) pinned to cores, and
// returns what it measured.
func childFlood(b *testing.B, cores, url string, d time.Duration) loadtest.FloodResult {
	b.Helper()
	cmd := pinnedCommand(cores, os.Args[0], "-test.run=^$", "-test.bench=^$")
	cmd.Env = append(os.Environ(), "FLASHDROP_TEST_CHILD=flood", "FLASHDROP_FLOOD_URL="+url,
		"FLASHDROP_FLOOD_CONNS="+strconv.Itoa(benchConns), "FLASHDROP_FLOOD_FOR="+d.String())
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		b.Fatalf("flood child: %v\n%s", err, stderr.Bytes())
	}
	var res loadtest.FloodResult
	if err := json.Unmarshal(out, &res); err != nil {
		b.Fatalf("flood child printed %q: %v", out, err)
	}
	return res
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}

func rounded(v []float64) []int {
	out := make([]int, len(v))
	for i, x := range v {
		out[i] = int(x)
	}
	return out
}

// BenchmarkLoadRegistration: 100,000 shoppers registered by flashdrop load
// on a real stack, the rate printed against the same server's /healthz
// at the same connections. Run with -benchtime 1x (make bench).
func BenchmarkLoadRegistration(b *testing.B) {
	m := benchServe(b, true)
	url := "http://" + m.Addr
	users := 100_000
	if v := os.Getenv("LOAD_BENCH_USERS"); v != "" {
		users, _ = strconv.Atoi(v)
	}
	for range b.N {
		health, err := loadtest.Flood(context.Background(), url, "/healthz", benchConns, 3*time.Second)
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		o := loadtest.Options{Targets: []string{url}, AdminToken: m.Config.AdminToken,
			JWTSecret: []byte(m.Config.JWTSecret), Users: users, Stock: 100, Lead: time.Hour, Connections: benchConns, Seed: 1}
		_ = o.SetRatio("unregistered-ratio", 0) // every shopper registers
		rep, err := loadtest.Run(ctx, o,
			loadtest.WithPhaseHook(func(p loadtest.Phase) {
				if p == loadtest.PhaseWait {
					cancel() // registration is what is measured
				}
			}))
		cancel()
		if err != nil {
			b.Fatal(err)
		}
		var reg loadtest.PhaseReport
		for _, p := range rep.Phases {
			if p.Name == loadtest.PhaseRegister {
				reg = p
			}
		}
		if reg.Requests == 0 || reg.Errors > 0 {
			b.Fatalf("registration: %+v (invalid: %v)", reg, rep.Invalid)
		}
		// /healthz again after: the machine is shared, the baseline is the
		// mean of before and after.
		after, err := loadtest.Flood(context.Background(), url, "/healthz", benchConns, 3*time.Second)
		if err != nil {
			b.Fatal(err)
		}
		hrps := (health.RPS + after.RPS) / 2
		fmt.Printf("registration: %d shoppers in %.1fs = %.0f/s; /healthz %.0f req/s (%.0f before, %.0f after); %d connections\n",
			reg.Requests, reg.Seconds, reg.RPS, hrps, health.RPS, after.RPS, benchConns)
		fmt.Printf("register/healthz throughput ratio: %.2f\n", reg.RPS/hrps)
		b.ReportMetric(reg.RPS/hrps, "register/healthz")
	}
}

// TestLoadReportsNeverHoldTheTargetPassword: a --target with a password
// in its userinfo (http://bob:T4RGETPW@host) runs, and no report (text,
// JSON, HTML), no phase line and no error holds the password; the JSON
// keeps the user and the host with the password redacted. The JSON kept
// it in run.targets. A merge (`load report`) of a report that holds one,
// as those of earlier versions do, writes none either.
func TestLoadReportsNeverHoldTheTargetPassword(t *testing.T) {
	const pw = "T4RGETPW"
	f := startFakeServer(t, fakeserver.Faults{})
	target := strings.Replace(f.URL, "http://", "http://bob:"+pw+"@", 1)
	dir := t.TempDir()
	js, page, txt := filepath.Join(dir, "r.json"), filepath.Join(dir, "r.html"), filepath.Join(dir, "r.txt")
	args := fakeArgs(target, "--users", "50", "--stock", "5", "--report", "json", "--out", js, "--report", "html", "--out", page,
		"--report", "text", "--out", txt)
	args = slices.DeleteFunc(args, func(a string) bool { return a == "--quiet" }) // the phase lines too
	code, stdout, stderr := runLoad(t, context.Background(), args, f.hook(1))
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	check := func(what, s string) {
		t.Helper()
		if strings.Contains(s, pw) {
			t.Errorf("%s holds the target's password:\n%s", what, s)
		}
	}
	check("stdout", stdout)
	check("stderr", stderr)
	for _, name := range []string{js, page, txt} {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		check(name, string(b))
	}
	rep := readReport(t, js)
	want := strings.Replace(f.URL, "http://", "http://bob:xxxxx@", 1)
	if len(rep.Run.Targets) != 1 || rep.Run.Targets[0] != want {
		t.Errorf("run.targets %q, want [%q]", rep.Run.Targets, want)
	}

	// A report of an earlier version, with the password in it, merged.
	raw, _ := os.ReadFile(js)
	old := filepath.Join(dir, "old.json")
	if err := os.WriteFile(old, bytes.ReplaceAll(raw, []byte("bob:xxxxx@"), []byte("bob:"+pw+"@")), 0o644); err != nil {
		t.Fatal(err)
	}
	mjs, mpage := filepath.Join(dir, "m.json"), filepath.Join(dir, "m.html")
	code, stdout, stderr = runLoad(t, context.Background(), []string{"report", old, "--report", "text",
		"--report", "json", "--out", mjs, "--report", "html", "--out", mpage})
	if code != 0 {
		t.Fatalf("merge: exit %d\n%s\n%s", code, stdout, stderr)
	}
	check("the merge's text", stdout+stderr)
	for _, name := range []string{mjs, mpage} {
		b, _ := os.ReadFile(name)
		check(name, string(b))
	}
	if m := readReport(t, mjs); len(m.Run.Targets) != 1 || m.Run.Targets[0] != want {
		t.Errorf("merged run.targets %q, want [%q]", m.Run.Targets, want)
	}

	// Nor do the errors of an unreachable target, or of a bad one.
	dead, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := dead.Addr().String()
	dead.Close()
	for _, tg := range []string{"http://bob:" + pw + "@" + addr, "http://bob:" + pw + "@" + addr + "/some/path"} {
		code, _, stderr = runLoad(t, context.Background(), []string{"--target", tg, "--admin-token", "x", "--jwt-secret", strings.Repeat("s", 32), "--quiet"})
		if code != loadtest.ExitInvalid || !strings.Contains(stderr, "bob:xxxxx@") {
			t.Errorf("target %s: exit %d, stderr %q; want 3 naming it redacted", tg, code, stderr)
		}
		check("the error", stderr)
	}
}

// TestLoadBadFlagSaysWhatItMeant: a mistyped flag gets its error, the
// flag it may have meant (within an edit distance of 2, or one it
// begins), and where the help is, in a few lines, not the whole help:
// `flashdrop load --user 50` printed one line and then some 80 of help,
// which scrolled the error away. --help still prints the help, exit 0.
func TestLoadBadFlagSaysWhatItMeant(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--user", "50"}, "flashdrop load: unknown flag --user: did you mean --users?"},
		{[]string{"--sed", "5"}, "flashdrop load: unknown flag --sed: did you mean --seed?"},
		{[]string{"-confirm-ration", "0.5"}, "flashdrop load: unknown flag --confirm-ration: did you mean --confirm-ratio?"},
		{[]string{"--rep", "json"}, "flashdrop load: unknown flag --rep: did you mean --report?"},
		{[]string{"--xyzzyplugh"}, "flashdrop load: unknown flag --xyzzyplugh\n"},
		{[]string{"--users", "many"}, `flashdrop load: invalid value "many" for flag --users`},
		{[]string{"report", "--alow-partial", "a.json"}, "flashdrop load report: unknown flag --alow-partial: did you mean --allow-partial?"},
	} {
		code, out, stderr := runLoad(t, context.Background(), c.args)
		cmd := "flashdrop load"
		if c.args[0] == "report" {
			cmd += " report"
		}
		if code != loadtest.ExitInvalid || out != "" || !strings.Contains(stderr, c.want) ||
			!strings.HasSuffix(stderr, "\nrun `"+cmd+" --help` for every flag\n") || strings.Count(stderr, "\n") != 2 ||
			strings.Contains(stderr, "usage:") {
			t.Errorf("load %v: exit %d, stderr %q; want 3, %q and where the help is, in two lines", c.args, code, stderr, c.want)
		}
	}
	for _, args := range [][]string{{"--help"}, {"-h"}, {"report", "--help"}} {
		code, out, help := runLoad(t, context.Background(), args)
		if code != 0 || out != "" || !strings.HasPrefix(help, "usage: flashdrop load") || !strings.Contains(help, "\n  --report format\n") {
			t.Errorf("load %v: exit %d, stdout %q, help %q", args, code, out, help)
		}
	}
}

// TestLoadTargetThatIsNotHTTP: a --target that answers something other
// than HTTP (here a NATS port, which greets with a long INFO line) is
// refused in one short line that says so and quotes the first bytes of the
// answer: it was a 1.5-KB fasthttp error holding the peer's whole INFO.
func TestLoadTargetThatIsNotHTTP(t *testing.T) {
	ns := natstest.Start(t)
	target := strings.Replace(ns.URL(), "nats://", "http://", 1)
	code, _, stderr := runLoad(t, context.Background(), []string{"--target", target, "--admin-token", "x",
		"--jwt-secret", strings.Repeat("s", 32), "--quiet"})
	line := strings.TrimSpace(stderr)
	if code != loadtest.ExitInvalid || strings.Contains(line, "\n") || len(line) > 300 ||
		!strings.Contains(line, "flashdrop load: target "+target+" did not answer HTTP (is it a flashdrop serve node?): ") || !strings.Contains(line, "server_id") {
		t.Fatalf("a NATS port as --target: exit %d, %d bytes of stderr: %q", code, len(stderr), stderr)
	}
}
