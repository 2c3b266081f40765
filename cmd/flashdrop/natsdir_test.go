package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/flashdrop/flashdrop/internal/testkit"
	"github.com/flashdrop/flashdrop/queue"
)

// TestNATSDirKeepsTheStreamAcrossARestart: one node on a durable Redis
// with the embedded NATS and --nats-dir keeps its stream across a
// restart: the events from before it are still there (a webhook delivery
// still due, a listener's history), and Flashdrop-Sequence goes on from
// where it was instead of starting again from 1, which a receiver
// ordering a reservation's events by it would read as older.
func TestNATSDirKeepsTheStreamAcrossARestart(t *testing.T) {
	redis := testkit.OwnRedis(t)
	dir := t.TempDir()
	args := []string{"--redis-url", redis.Addr, "--nats-dir", dir, "--admin-token", "nats-dir-admin-token-0123456789",
		"--jwt-secret", strings.Repeat("n", 32), "--schedule-every", "1h"}
	lastSeq := func(m *Main, atLeast uint64) uint64 {
		t.Helper()
		nc, js, err := queue.Connect(m.natsURL, "nats-dir-test", nil)
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		deadline := time.Now().Add(30 * time.Second)
		for {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			var info *jetstream.StreamInfo
			s, err := js.Stream(ctx, queue.StreamName)
			if err == nil {
				info, err = s.Info(ctx)
			}
			cancel()
			if err == nil && info.State.LastSeq >= atLeast {
				return info.State.LastSeq
			}
			if time.Now().After(deadline) {
				t.Fatalf("the stream did not reach sequence %d in 30 s (%v, %+v)", atLeast, err, info)
			}
			time.Sleep(50 * time.Millisecond) // polling the stream's state, not a wait for time
		}
	}
	register := func(m *Main, user string) {
		t.Helper()
		if r := call(t, "POST", "http://"+m.Addr+"/v1/drops/kept/registrations", mint(t, m, user), ""); r.status != 201 {
			t.Fatalf("register %s: %d %s", user, r.status, r.raw)
		}
	}

	m, _, _ := startServe(t, args...)
	now := m.Clock.Now()
	body := fmt.Sprintf(`{"id":"kept","name":"Kept","stock":5,"registration_opens_at":%q,"registration_closes_at":%q,"sale_starts_at":%q}`,
		now.Add(-time.Minute).Format(time.RFC3339), now.Add(time.Hour).Format(time.RFC3339), now.Add(time.Hour).Format(time.RFC3339))
	if r := call(t, "POST", "http://"+m.Addr+"/v1/admin/drops", m.Config.AdminToken, body); r.status != 201 {
		t.Fatalf("create: %d %s", r.status, r.raw)
	}
	register(m, "ann")
	register(m, "bea")
	before := lastSeq(m, 2) // two registered
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}

	m2, _, _ := startServe(t, args...)
	if got := lastSeq(m2, before); got < before {
		t.Fatalf("after the restart the stream ends at %d, before it at %d", got, before)
	}
	register(m2, "cat")
	if got := lastSeq(m2, before+1); got <= before {
		t.Fatalf("a new event's sequence %d does not follow %d", got, before)
	}
}

// TestNATSDirNeedsTheEmbeddedServer: --nats-dir with --nats-url is
// refused, naming why, instead of being ignored.
func TestNATSDirNeedsTheEmbeddedServer(t *testing.T) {
	m := NewMain(&testkit.LockedBuffer{}, &testkit.LockedBuffer{})
	m.Lookup = func(string) (string, bool) { return "", false }
	err := m.ParseFlags([]string{"--nats-url", "nats://127.0.0.1:4222", "--nats-dir", t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "--nats-dir") {
		t.Fatalf("--nats-dir with --nats-url: %v", err)
	}
}
