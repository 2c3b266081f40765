package loadtest_test

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/nats-io/nats-server/v2/server"

	"github.com/flashdrop/flashdrop/loadtest"
	"github.com/flashdrop/flashdrop/loadtest/fakeserver"
)

const (
	adminToken = "admin-token-for-tests-0123456789"
	secret     = "a-jwt-secret-of-at-least-32-bytes!!"
)

// startNATS runs a JetStream server in the test's process on a free
// loopback port.
func startNATS(t *testing.T) string {
	t.Helper()
	s, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(), NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats not ready")
	}
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	return s.ClientURL()
}

func startFake(t *testing.T, o fakeserver.Options) *fakeserver.Server {
	t.Helper()
	o.AdminToken, o.JWTSecret = adminToken, []byte(secret)
	f, err := fakeserver.Start(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.Close() })
	return f
}

func baseOptions(target string) loadtest.Options {
	return loadtest.Options{Targets: []string{target}, AdminToken: adminToken, JWTSecret: []byte(secret),
		Users: 200, Stock: 20, HoldSeconds: 1, Lead: time.Minute, Connections: 8, Seed: 7, MaxGeneratorCPU: -1}
}

// startTimedFake runs a fake on a manual clock that starts now and that
// the run's phase hook moves: past T0 when the generator starts waiting
// for it, past every hold when the refills start. Nothing waits for a
// wall clock, so a slow machine cannot make registration miss its window.
func startTimedFake(t *testing.T, o fakeserver.Options) (*fakeserver.Server, loadtest.Option) {
	t.Helper()
	clock := loadtest.NewManualClock(time.Now())
	o.Now = clock.Now
	f := startFake(t, o)
	return f, loadtest.WithPhaseHook(func(p loadtest.Phase) {
		switch p {
		case loadtest.PhaseWait:
			clock.Advance(time.Minute + time.Second)
		case loadtest.PhaseRefill:
			clock.Advance(time.Hour)
		}
	})
}

func TestRunAgainstFakeWithEventsPasses(t *testing.T) {
	nurl := startNATS(t)
	f, hook := startTimedFake(t, fakeserver.Options{NATSURL: nurl})
	o := baseOptions(f.URL)
	o.NATSURL = nurl
	o.Presses = 2
	rep, err := loadtest.Run(context.Background(), o, hook)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	_ = rep.WriteText(&b)
	if rep.ExitCode != 0 {
		t.Fatalf("exit %d\n%s", rep.ExitCode, b.String())
	}
	if !strings.Contains(b.String(), "audit: PASS") {
		t.Fatalf("%s", b.String())
	}
	t.Log(b.String())
}

// TestRunAgainstAServerWithoutRehearsals: a server from before rehearsal
// drops refuses the field; the run creates an ordinary drop instead,
// passes, and its report says what that means for the shop.
func TestRunAgainstAServerWithoutRehearsals(t *testing.T) {
	f, hook := startTimedFake(t, fakeserver.Options{NoRehearsals: true})
	rep, err := loadtest.Run(context.Background(), baseOptions(f.URL), hook)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	_ = rep.WriteText(&b)
	if rep.ExitCode != 0 || !strings.Contains(b.String(), "audit: PASS") {
		t.Fatalf("exit %d\n%s", rep.ExitCode, b.String())
	}
	if len(rep.Notes) == 0 || !strings.Contains(strings.Join(rep.Notes, "\n"), "does not know rehearsal drops") ||
		!strings.Contains(b.String(), "does not know rehearsal drops") {
		t.Fatalf("the report does not say the drop is no rehearsal: %q\n%s", rep.Notes, b.String())
	}
}

// TestExistingDropNotARehearsalIsNoted: a run on a drop named with --drop
// (a sharded run must name one) says in its report when that drop is not
// a rehearsal, and is silent when it is.
func TestExistingDropNotARehearsalIsNoted(t *testing.T) {
	for _, reh := range []bool{false, true} {
		f, hook := startTimedFake(t, fakeserver.Options{})
		now := time.Now()
		body := fmt.Sprintf(`{"id":"tuesday","stock":20,"hold_seconds":1,"rehearsal":%v,"registration_opens_at":%q,"registration_closes_at":%q,"sale_starts_at":%q}`,
			reh, now.Add(-time.Hour).Format(time.RFC3339Nano), now.Add(30*time.Second).Format(time.RFC3339Nano), now.Add(30*time.Second).Format(time.RFC3339Nano))
		postAdmin(t, f.URL+"/v1/admin/drops", body)
		o := baseOptions(f.URL)
		o.DropID, o.Stock, o.HoldSeconds = "tuesday", 0, 0
		rep, err := loadtest.Run(context.Background(), o, hook)
		if err != nil {
			t.Fatal(err)
		}
		noted := strings.Contains(strings.Join(rep.Notes, "\n"), "is not a rehearsal")
		if rep.ExitCode != 0 || noted == reh || rep.Drop.Rehearsal != reh {
			t.Errorf("drop with rehearsal %v: exit %d, notes %q", reh, rep.ExitCode, rep.Notes)
		}
	}
}

// TestInterruptedRunReportsWhatItMeasured: Ctrl-C (a cancelled context)
// stops the run cleanly; the report keeps what was measured, is marked
// incomplete, names the phase, and exits 3.
func TestInterruptedRunReportsWhatItMeasured(t *testing.T) {
	clock := loadtest.NewManualClock(time.Now())
	f := startFake(t, fakeserver.Options{Now: clock.Now})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rep, err := loadtest.Run(ctx, baseOptions(f.URL), loadtest.WithPhaseHook(func(p loadtest.Phase) {
		switch p {
		case loadtest.PhaseWait:
			clock.Advance(2 * time.Minute)
		case loadtest.PhaseRush:
			cancel()
		}
	}))
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	_ = rep.WriteText(&b)
	if rep.Complete || rep.StoppedIn != loadtest.PhaseRush || rep.ExitCode != loadtest.ExitInvalid ||
		rep.Audit.Verdict != loadtest.AuditNotRun || !strings.Contains(b.String(), "INCOMPLETE: stopped in the rush phase") {
		t.Fatalf("complete %v, stopped in %q, exit %d, audit %s\n%s", rep.Complete, rep.StoppedIn, rep.ExitCode, rep.Audit.Verdict, b.String())
	}
	var registered int64
	for _, p := range rep.Phases {
		if p.Name == loadtest.PhaseRegister {
			registered = p.Requests
		}
	}
	if registered == 0 {
		t.Fatalf("the registrations measured before the interrupt are lost:\n%s", b.String())
	}
}

// TestTokensInsteadOfSecret: shoppers' tokens can come ready-made (ops may
// not hold the JWT secret).
func TestTokensInsteadOfSecret(t *testing.T) {
	f, hook := startTimedFake(t, fakeserver.Options{})
	o := baseOptions(f.URL)
	o.JWTSecret = nil
	for i := range 40 {
		user := fmt.Sprintf("given-%d", i)
		tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.RegisteredClaims{Subject: user,
			ExpiresAt: jwt.NewNumericDate(time.Now().Add(48 * time.Hour))}).SignedString([]byte(secret))
		if err != nil {
			t.Fatal(err)
		}
		o.Tokens = append(o.Tokens, loadtest.UserToken{User: user, Token: tok})
	}
	o.Users, o.Stock = 0, 4
	rep, err := loadtest.Run(context.Background(), o, hook)
	if err != nil {
		t.Fatal(err)
	}
	if rep.ExitCode != 0 || rep.Run.Users != 40 || len(rep.Records.Told) == 0 || !strings.HasPrefix(rep.Records.Told[0].User, "given-") {
		var b bytes.Buffer
		_ = rep.WriteText(&b)
		t.Fatalf("exit %d, users %d\n%s", rep.ExitCode, rep.Run.Users, b.String())
	}
}

// TestOffsetsOfTheRamp: the p-th arrival of a ramp from r0 to r1 over D
// comes when r0·t + (r1-r0)·t²/(2D) = p.
func TestOffsetsOfTheRamp(t *testing.T) {
	o := loadtest.Options{Arrival: loadtest.ArrivalRamp, Rate: 100, RampTo: 300, Duration: 2 * time.Second}
	n := 0
	for p := 0; ; p++ {
		off, ok := loadtest.OffsetOf(o, p)
		if !ok {
			break
		}
		s := off.Seconds()
		if got := 100*s + 200*s*s/4; math.Abs(got-float64(p)) > 1e-6 {
			t.Fatalf("arrival %d at %v: N(t) = %f", p, off, got)
		}
		n++
	}
	if n != 400 { // ∫0..2 (100 + 100t) dt = 400
		t.Fatalf("%d arrivals, want 400", n)
	}
	o.Arrival = loadtest.ArrivalRate
	if off, ok := loadtest.OffsetOf(o, 150); !ok || off != 1500*time.Millisecond {
		t.Fatalf("rate: %v %v", off, ok)
	}
}

// TestWaitSurvivesOneUnansweredPoll: while the generator waits for T0, one
// poll that times out (a delayed reply) does not call the rehearsal off,
// however many polls came before it; the run goes on to the sale. On the
// real clock with a short lead, so that the last second before T0 is
// polled every few milliseconds.
func TestWaitSurvivesOneUnansweredPoll(t *testing.T) {
	var views atomic.Int64
	f := startFake(t, fakeserver.Options{Delay: func(endpoint, _ string) {
		// Well past the first 50 polls, which were always forgiven.
		if endpoint == "view" && views.Add(1) == 80 {
			time.Sleep(600 * time.Millisecond)
		}
	}})
	o := baseOptions(f.URL)
	o.Lead = 5 * time.Second
	o.RequestTimeout = 300 * time.Millisecond
	rep, err := loadtest.Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	_ = rep.WriteText(&b)
	if views.Load() < 80 || rep.ExitCode != 0 || !strings.Contains(b.String(), "audit: PASS") {
		t.Fatalf("%d view polls, exit %d\n%s", views.Load(), rep.ExitCode, b.String())
	}
}

// TestCheckoutCountsAreExact: the checkout confirms round(confirm-ratio ×
// wins) of the rush's wins and cancels round((confirm + cancel) × wins)
// minus those, exactly, and the same seed picks the same shoppers. Each
// win used to throw its own die: "50% to confirm" sent 57 of 100.
func TestCheckoutCountsAreExact(t *testing.T) {
	for _, c := range []struct {
		confirm, cancel                float64
		confirms, cancels, expirations int
	}{
		{0.5, 0.2, 10, 4, 6},
		{0.33, 0.33, 7, 6, 7},
		{1, 0, 20, 0, 0},
		{0, 0, 0, 0, 20},
	} {
		var picked [2]string
		for i := range picked {
			f, hook := startTimedFake(t, fakeserver.Options{})
			o := baseOptions(f.URL)
			o.Connections = 1 // the same shoppers win in both runs
			_ = o.SetRatio("confirm-ratio", c.confirm)
			_ = o.SetRatio("cancel-ratio", c.cancel)
			_ = o.SetRatio("waitlist-ratio", 0)
			rep, err := loadtest.Run(context.Background(), o, hook)
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]int{}
			var who []string
			for _, tl := range rep.Records.Told {
				if tl.Via == "reserve" {
					got[tl.Action]++
					if tl.Action == "confirm" {
						who = append(who, tl.User)
					}
				}
			}
			sort.Strings(who)
			picked[i] = strings.Join(who, ",")
			if got["confirm"] != c.confirms || got["cancel"] != c.cancels || got["expire"] != c.expirations {
				t.Errorf("confirm %g, cancel %g of 20 wins: %v, want %d confirms, %d cancels, %d expirations",
					c.confirm, c.cancel, got, c.confirms, c.cancels, c.expirations)
			}
		}
		if picked[0] != picked[1] {
			t.Errorf("confirm %g: the same seed confirmed %s, then %s", c.confirm, picked[0], picked[1])
		}
	}
}
