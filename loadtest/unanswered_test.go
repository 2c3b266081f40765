package loadtest_test

import (
	"context"
	"fmt"
	"html"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flashdrop/flashdrop/loadtest"
	"github.com/flashdrop/flashdrop/loadtest/fakeserver"
)

// TestRushPressWithNoAnswerThatWonPassesTheAudit: a press without a key
// wins, its answer never comes (timeout), and its resend is answered
// limit_reached. The won event of that win is the outcome the shopper
// never learned: the run passes, the press is recorded with an unknown
// outcome, and the report counts it as a win (the audit failed such a
// run: "a reservation no client was told about").
func TestRushPressWithNoAnswerThatWonPassesTheAudit(t *testing.T) {
	nurl := startNATS(t)
	var wins atomic.Int64
	// The generator reads the fake's clock, which jumps to T0: its estimate
	// of the server's clock bounds when the press's win may come.
	f, hook := startSharedClockFake(t, fakeserver.Options{NATSURL: nurl, Delay: func(endpoint, outcome string) {
		if endpoint == "reserve" && outcome == "won" && wins.Add(1) == 5 {
			time.Sleep(600 * time.Millisecond) // past the request timeout
		}
	}})
	o := baseOptions(f.URL)
	o.NATSURL = nurl
	o.Connections = 1
	o.RequestTimeout = 300 * time.Millisecond
	if err := o.SetRatio("keyed-ratio", 0); err != nil {
		t.Fatal(err)
	}
	rep, err := loadtest.Run(context.Background(), o, hook...)
	if err != nil {
		t.Fatal(err)
	}
	text := invalidText(t, rep)
	if rep.ExitCode != loadtest.ExitPass || rep.Audit.Verdict != loadtest.AuditPass {
		t.Fatalf("exit %d, audit %s\n%s", rep.ExitCode, rep.Audit.Verdict, text)
	}
	if u := rep.Records.Unanswered; len(u) != 1 || u[0].Requests != 1 || u[0].Last != "limit_reached" || u[0].Key != "" {
		t.Fatalf("unanswered presses %+v\n%s", u, text)
	}
	if !strings.Contains(text, "1 press with no answer turned out to be a win (their won events and reservations exist)") ||
		!strings.Contains(strings.Join(rep.Notes, "\n"), "1 press with no answer (none, or a 5xx, when the generator stopped resending): 1 turned out to be a win") {
		t.Fatalf("the resolved press is not reported\n%s", text)
	}
}

// startSharedClockFake is startTimedFake with the generator on the fake's
// manual clock too (a run with one connection): the generator's estimate
// of the server's clock stays right when the hook moves it to T0, as it
// is against a real server, whose clock does not jump a minute.
func startSharedClockFake(t *testing.T, o fakeserver.Options) (*fakeserver.Server, []loadtest.Option) {
	t.Helper()
	clock := loadtest.NewManualClock(time.Now())
	o.Now = clock.Now
	f := startFake(t, o)
	return f, []loadtest.Option{loadtest.WithClock(clock), loadtest.WithPhaseHook(func(p loadtest.Phase) {
		switch p {
		case loadtest.PhaseWait:
			clock.Advance(time.Minute + time.Second)
		case loadtest.PhaseRefill:
			clock.Advance(time.Hour)
		}
	})}
}

// TestKeyedPressIsResentThroughARestart: a press with an Idempotency-Key
// whose answers are lost for 3 s (a node killed and restarted) is resent
// with its key until it is answered, the win its first attempt made, so
// no outcome is left unknown. Four resends (0.75 s of backoff) gave up.
func TestKeyedPressIsResentThroughARestart(t *testing.T) {
	var down atomic.Int64 // until when (Unix ns) reserve answers are lost
	f, hook := startTimedFake(t, fakeserver.Options{Delay: func(endpoint, outcome string) {
		if endpoint != "reserve" {
			return
		}
		if outcome == "won" {
			down.CompareAndSwap(0, time.Now().Add(3*time.Second).UnixNano())
		}
		if time.Now().UnixNano() < down.Load() {
			time.Sleep(250 * time.Millisecond) // past the request timeout
		}
	}})
	o := baseOptions(f.URL)
	o.Connections = 1 // every request while answers are lost is the first winner's
	o.RequestTimeout = 150 * time.Millisecond
	begin := time.Now()
	rep, err := loadtest.Run(context.Background(), o, hook)
	if err != nil {
		t.Fatal(err)
	}
	text := invalidText(t, rep)
	if rep.ExitCode != loadtest.ExitPass || len(rep.Records.Unanswered) != 0 || time.Since(begin) < 3*time.Second {
		t.Fatalf("exit %d, unanswered %+v after %v\n%s", rep.ExitCode, rep.Records.Unanswered, time.Since(begin), text)
	}
	// More attempts than maxRetries allows went unanswered, and every
	// unit's win was told: the lost one too.
	if rep.Rush.Outcomes["timeout"] <= 5 || rep.Rush.Outcomes["won"] != 20 || countVia(rep, "reserve") != 20 {
		t.Fatalf("outcomes %v, %d wins told\n%s", rep.Rush.Outcomes, countVia(rep, "reserve"), text)
	}
}

func countVia(rep *loadtest.Report, via string) int {
	n := 0
	for _, tl := range rep.Records.Told {
		if tl.Via == via {
			n++
		}
	}
	return n
}

// proxy forwards loopback connections to addr until it is killed, which
// closes its listener and every connection through it, as kill -9 of a
// node does.
type proxy struct {
	ln    net.Listener
	mu    sync.Mutex
	conns []net.Conn
	wg    sync.WaitGroup
}

func startProxy(t *testing.T, addr string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", addr)
			if err != nil {
				_ = c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, up)
			p.mu.Unlock()
			p.wg.Add(2)
			go func() { defer p.wg.Done(); _, _ = io.Copy(up, c); _ = up.Close() }()
			go func() { defer p.wg.Done(); _, _ = io.Copy(c, up); _ = c.Close() }()
		}
	}()
	t.Cleanup(p.kill)
	return p
}

func (p *proxy) kill() {
	_ = p.ln.Close()
	p.mu.Lock()
	for _, c := range p.conns {
		_ = c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

// TestResendsFailOverToAnotherTarget: with several targets, a press whose
// target stopped answering (connection refused) is resent, with its key,
// to the next one: every press is answered, none is left with an unknown
// outcome, and the rush does not wait for the dead target: no press
// outcome is a timeout (a refused connection is known at once; waiting
// on the dead target would show as timeouts, not as wall time, which a
// slow CI machine stretches).
func TestResendsFailOverToAnotherTarget(t *testing.T) {
	clock := loadtest.NewManualClock(time.Now())
	f := startFake(t, fakeserver.Options{Now: clock.Now})
	p := startProxy(t, strings.TrimPrefix(f.URL, "http://"))
	o := baseOptions("http://" + p.ln.Addr().String())
	o.Targets = append(o.Targets, f.URL)
	o.RequestTimeout = time.Second
	rep, err := loadtest.Run(context.Background(), o, loadtest.WithPhaseHook(func(ph loadtest.Phase) {
		switch ph {
		case loadtest.PhaseWait:
			clock.Advance(time.Minute + time.Second)
		case loadtest.PhaseRush:
			p.kill() // the first target dies as the rush starts
		case loadtest.PhaseRefill:
			clock.Advance(time.Hour)
		}
	}))
	if err != nil {
		t.Fatal(err)
	}
	text := invalidText(t, rep)
	if rep.ExitCode != loadtest.ExitPass || len(rep.Records.Unanswered) != 0 || rep.Rush.Outcomes["transport_error"] == 0 ||
		rep.Rush.Outcomes["won"] != 20 || rep.Rush.Outcomes[loadtest.OutcomeTimeout] != 0 {
		t.Fatalf("exit %d, outcomes %v, unanswered %d\n%s", rep.ExitCode, rep.Rush.Outcomes, len(rep.Records.Unanswered), text)
	}
	// A PASS (the invariants held) with requests failed in transport says
	// so on its first line, which read "PASS (exit 0)" alone with 16.7 %
	// of them failed: the text and the HTML report's headline.
	failed := rep.Rush.Outcomes["transport_error"]
	if 100*failed < rep.Rush.Requests {
		t.Fatalf("%d of %d requests failed: too few for the headline", failed, rep.Rush.Requests)
	}
	want := fmt.Sprintf("%% of the rush's requests failed (transport errors %d, 5xx 0; --max-error-rate fails a run on it)", failed)
	first, _, _ := strings.Cut(text, "\n")
	if !strings.HasPrefix(first, "flashdrop load: PASS (exit 0)") || !strings.Contains(first, ", but ") || !strings.Contains(first, want) {
		t.Fatalf("the first line does not say %q:\n%s", want, text)
	}
	var page strings.Builder
	if err := rep.WriteHTML(&page); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(page.String(), html.EscapeString(want)) {
		t.Fatalf("the HTML report's headline does not say %q", want)
	}
}

// TestWaitForT0FailsOverToAnotherTarget: the first target dies before the
// sale opens; the wait for T0 asks the next one (the nodes share one
// store) instead of calling the run invalid after polling the dead one.
func TestWaitForT0FailsOverToAnotherTarget(t *testing.T) {
	clock := loadtest.NewManualClock(time.Now())
	f := startFake(t, fakeserver.Options{Now: clock.Now})
	p := startProxy(t, strings.TrimPrefix(f.URL, "http://"))
	o := baseOptions("http://" + p.ln.Addr().String())
	o.Targets = append(o.Targets, f.URL)
	o.RequestTimeout = time.Second
	rep, err := loadtest.Run(context.Background(), o, loadtest.WithPhaseHook(func(ph loadtest.Phase) {
		switch ph {
		case loadtest.PhaseWait:
			p.kill() // the first target dies before T0
			clock.Advance(time.Minute + time.Second)
		case loadtest.PhaseRefill:
			clock.Advance(time.Hour)
		}
	}))
	if err != nil {
		t.Fatal(err)
	}
	if text := invalidText(t, rep); rep.ExitCode != loadtest.ExitPass || rep.Rush.Outcomes["won"] != 20 {
		t.Fatalf("exit %d, outcomes %v\n%s", rep.ExitCode, rep.Rush.Outcomes, text)
	}
}
