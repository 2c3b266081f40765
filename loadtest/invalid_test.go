package loadtest_test

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flashdrop/flashdrop/loadtest"
	"github.com/flashdrop/flashdrop/loadtest/fakeserver"
)

// existingDrop creates a drop on the fake whose sale opens 30 s after
// now, within the minute startTimedFake's hook moves the clock at T0.
func existingDrop(t *testing.T, f *fakeserver.Server, id string, now time.Time) {
	t.Helper()
	body := fmt.Sprintf(`{"id":%q,"stock":20,"hold_seconds":1,"registration_opens_at":%q,"registration_closes_at":%q,"sale_starts_at":%q}`,
		id, now.Add(-time.Hour).Format(time.RFC3339Nano), now.Add(30*time.Second).Format(time.RFC3339Nano), now.Add(30*time.Second).Format(time.RFC3339Nano))
	postAdmin(t, f.URL+"/v1/admin/drops", body)
}

func invalidText(t *testing.T, rep *loadtest.Report) string {
	t.Helper()
	var b bytes.Buffer
	_ = rep.WriteText(&b)
	return b.String()
}

// TestRushNobodyCouldBuyIsInvalid: a rehearsal in which nobody could buy
// measured nothing of a sale, so it is invalid (exit 3), not a pass: a
// paused drop (every press answered sale_paused, 0 wins: it passed), a
// drop whose stock nobody won. A drop paused and resumed during the rush
// is not (a rehearsal of the kill switch), nor is a shard that found the
// stock taken by the other shards.
func TestRushNobodyCouldBuyIsInvalid(t *testing.T) {
	t.Run("paused drop", func(t *testing.T) {
		now := time.Now()
		f, hook := startTimedFake(t, fakeserver.Options{})
		existingDrop(t, f, "paused1", now)
		if !f.Pause("paused1", true) {
			t.Fatal("no drop to pause")
		}
		o := baseOptions(f.URL)
		o.DropID, o.Stock, o.HoldSeconds, o.UserPrefix = "paused1", 0, 0, "p-"
		rep, err := loadtest.Run(context.Background(), o, hook)
		if err != nil {
			t.Fatal(err)
		}
		text := invalidText(t, rep)
		if rep.ExitCode != loadtest.ExitInvalid || rep.StoppedIn != loadtest.PhaseRush ||
			!strings.Contains(text, "presses were answered sale_paused: the drop was paused during the rush") ||
			!strings.Contains(text, "no press won any of the drop's 20 units (answers: sale_paused ") {
			t.Fatalf("exit %d, stopped in %q\n%s", rep.ExitCode, rep.StoppedIn, text)
		}
	})
	// A pause during the rush that shoppers could buy around is a
	// rehearsal of the kill switch: valid, audited, and said in a note
	// (Pause at +3.5 s, Resume at +9 s made the run invalid, audit NOT
	// RUN). Paused after the 3rd win, resumed after 40 presses were
	// answered sale_paused.
	t.Run("paused during the rush", func(t *testing.T) {
		now := time.Now()
		var f *fakeserver.Server
		var wins, paused atomic.Int64
		f, hook := startTimedFake(t, fakeserver.Options{Delay: func(endpoint, outcome string) {
			switch {
			case endpoint == "reserve" && outcome == "won" && wins.Add(1) == 3:
				f.Pause("paused2", true)
			case endpoint == "reserve" && outcome == "sale_paused" && paused.Add(1) == 40:
				f.Pause("paused2", false)
			}
		}})
		existingDrop(t, f, "paused2", now)
		o := baseOptions(f.URL)
		o.DropID, o.Stock, o.HoldSeconds = "paused2", 0, 0
		o.Connections = 1 // the pause's answers are the 40 presses after the 3rd win
		rep, err := loadtest.Run(context.Background(), o, hook)
		if err != nil {
			t.Fatal(err)
		}
		text := invalidText(t, rep)
		notes := strings.Join(rep.Notes, "\n")
		if rep.ExitCode != loadtest.ExitPass || len(rep.Invalid) > 0 || rep.Audit.Verdict != loadtest.AuditPass ||
			!strings.Contains(notes, "40 of ") || !strings.Contains(notes, "presses were answered sale_paused: the drop was paused during the rush; the run is valid and the audit covers it") ||
			!strings.Contains(text, "audit: PASS") || wins.Load() <= 3 {
			t.Fatalf("exit %d, %d wins, audit %s\n%s", rep.ExitCode, wins.Load(), rep.Audit.Verdict, text)
		}
	})
	t.Run("no win with stock left", func(t *testing.T) {
		f, hook := startTimedFake(t, fakeserver.Options{WinIf: func(string) bool { return false }})
		rep, err := loadtest.Run(context.Background(), baseOptions(f.URL), hook)
		if err != nil {
			t.Fatal(err)
		}
		text := invalidText(t, rep)
		if rep.ExitCode != loadtest.ExitInvalid || !strings.Contains(text, "no press won any of the drop's 20 units (answers: sold_out ") {
			t.Fatalf("exit %d\n%s", rep.ExitCode, text)
		}
	})
	t.Run("a shard the others sold out", func(t *testing.T) {
		now := time.Now()
		// Shard 1 of 2 has the odd shoppers: the even ones took the stock.
		f, hook := startTimedFake(t, fakeserver.Options{WinIf: func(user string) bool {
			var n int
			_, _ = fmt.Sscanf(user, "load-%d", &n)
			return n%2 == 0
		}})
		existingDrop(t, f, "shared", now)
		o := baseOptions(f.URL)
		o.DropID, o.Stock, o.HoldSeconds, o.Shard, o.Shards = "shared", 0, 0, 1, 2
		rep, err := loadtest.Run(context.Background(), o, hook)
		if err != nil {
			t.Fatal(err)
		}
		if text := invalidText(t, rep); len(rep.Invalid) > 0 || rep.Rush.Outcomes["won"] != 0 || rep.Rush.Outcomes["sold_out"] == 0 {
			t.Fatalf("invalid %q, outcomes %v\n%s", rep.Invalid, rep.Rush.Outcomes, text)
		}
	})
}

// TestPhaseLinesWithoutATerminal: every phase says when it starts and when
// it ends, with its counts and time, on the log (stderr with no terminal,
// as in CI); nothing came after "sale open", so a long hold was minutes of
// silence.
func TestPhaseLinesWithoutATerminal(t *testing.T) {
	f, hook := startTimedFake(t, fakeserver.Options{})
	o := baseOptions(f.URL)
	var log bytes.Buffer
	o.Log = &log
	rep, err := loadtest.Run(context.Background(), o, hook)
	if err != nil {
		t.Fatal(err)
	}
	if rep.ExitCode != 0 {
		t.Fatalf("exit %d\n%s", rep.ExitCode, invalidText(t, rep))
	}
	at := 0
	for _, want := range []string{"created drop ", "registering 19", "registered 19", " of 19", " shoppers in ",
		"waiting for T0: the sale starts at ", "sale open",
		"rush: 200 buyers, burst arrival, 1 press each, 8 connections", "rush done in ", ": 200 presses answered, 20 won, sold out ",
		"checkout: 20 wins: 10 to confirm, 4 to cancel, 6 to expire (--confirm-ratio 0.5, --cancel-ratio 0.2)", "checkout done in ", "holds left to expire",
		"refills: waiting up to ", "refills done in ", "no hold left",
		"audit: replaying ", "audit read ", " reservations and the stats in "} {
		i := strings.Index(log.String()[at:], want)
		if i < 0 {
			t.Fatalf("the log lacks %q after offset %d:\n%s", want, at, log.String())
		}
		at += i + len(want)
	}
}

// TestRefillGivesUpOnADeadTarget: a target that dies after the checkouts
// is not polled until the settle timeout (7,210 transport errors in 20 s
// were seen): the refills give up after a run of requests without an
// answer, and the run is invalid, stopped in the refill phase.
func TestRefillGivesUpOnADeadTarget(t *testing.T) {
	clock := loadtest.NewManualClock(time.Now())
	f := startFake(t, fakeserver.Options{Now: clock.Now})
	var mu sync.Mutex
	unanswered := 0
	o := baseOptions(f.URL)
	o.SettleTimeout = 30 * time.Second
	_ = o.SetRatio("waitlist-ratio", 1)
	rep, err := loadtest.Run(context.Background(), o,
		loadtest.WithPhaseHook(func(p loadtest.Phase) {
			switch p {
			case loadtest.PhaseWait:
				clock.Advance(time.Minute + time.Second)
			case loadtest.PhaseRefill:
				_ = f.Close() // the holds are still held: the refills would wait for them
			}
		}),
		loadtest.WithTrace(func(e loadtest.Exchange) {
			if e.Phase == loadtest.PhaseRefill && e.Err != nil {
				mu.Lock()
				unanswered++
				mu.Unlock()
			}
		}))
	if err != nil {
		t.Fatal(err)
	}
	text := invalidText(t, rep)
	var refill float64
	for _, p := range rep.Phases {
		if p.Name == loadtest.PhaseRefill {
			refill = p.Seconds
		}
	}
	// 50 in a row, and the presses already under way on the other
	// connections with their resends.
	if rep.StoppedIn != loadtest.PhaseRefill || rep.ExitCode != loadtest.ExitInvalid ||
		!strings.Contains(text, "refills: ") || !strings.Contains(text, "requests in a row got no answer") ||
		!strings.Contains(text, "the target stopped answering") || unanswered > 50+8*5+5 || refill >= 20 {
		t.Fatalf("stopped in %q, exit %d, %d unanswered refill requests in %.1fs\n%s", rep.StoppedIn, rep.ExitCode, unanswered, refill, text)
	}
}

// TestRefusedCredentialIsNamed: a 401 says which credential to check,
// not only "HTTP 401 unauthorized": --admin-token when the drop is
// created or read, --jwt-secret (or --tokens-file) when the shoppers
// register.
func TestRefusedCredentialIsNamed(t *testing.T) {
	now := time.Now()
	f, hook := startTimedFake(t, fakeserver.Options{})
	existingDrop(t, f, "creds", now)
	wrongAdmin := func(o *loadtest.Options) { o.AdminToken = "not-the-admin-token-0123456789" }
	for _, tc := range []struct {
		name string
		set  func(*loadtest.Options)
		want string
	}{
		{"creating the drop", wrongAdmin, "creating drop "},
		{"reading the drop", func(o *loadtest.Options) {
			wrongAdmin(o)
			o.DropID, o.Stock, o.HoldSeconds = "creds", 0, 0
		}, "reading drop creds: "},
		{"registering, tokens signed", func(o *loadtest.Options) { o.JWTSecret = []byte("not-the-secret-of-the-target-0123") },
			"registrations failed (first: "},
		{"registering, tokens from a file", func(o *loadtest.Options) {
			o.Users, o.JWTSecret = 2, nil
			o.Tokens = []loadtest.UserToken{{User: "u1", Token: "not.a.token"}, {User: "u2", Token: "not.a.token"}}
		}, "registrations failed (first: "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := baseOptions(f.URL)
			tc.set(&o)
			rep, err := loadtest.Run(context.Background(), o, hook)
			msg := ""
			switch {
			case err != nil:
				msg = err.Error()
			case rep.ExitCode == loadtest.ExitInvalid:
				msg = strings.Join(rep.Invalid, "; ")
			default:
				t.Fatalf("the run was not refused: exit %d", rep.ExitCode)
			}
			check := "check --admin-token"
			if strings.HasPrefix(tc.name, "registering") {
				check = "check --jwt-secret"
				if o.Tokens != nil {
					check = "check the tokens of --tokens-file"
				}
			}
			if !strings.Contains(msg, tc.want) || !strings.Contains(msg, "HTTP 401 unauthorized") || !strings.Contains(msg, check) {
				t.Errorf("got %q, want %q … HTTP 401 unauthorized … %q", msg, tc.want, check)
			}
		})
	}
}
