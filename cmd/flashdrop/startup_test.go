package main

import (
	"context"
	"io"
	"net"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/flashdrop/flashdrop/engine"
	"github.com/flashdrop/flashdrop/engine/redisstore"
	"github.com/flashdrop/flashdrop/engine/redisstore/redistest"
	"github.com/flashdrop/flashdrop/internal/testkit"
	"github.com/flashdrop/flashdrop/queue/natstest"
)

// startOnRedis runs serve on the Redis at addr with args, its logs at
// info.
func startOnRedis(t *testing.T, addr string, args ...string) (*Main, *testkit.LockedBuffer) {
	t.Helper()
	logs := &testkit.LockedBuffer{}
	m := NewMain(io.Discard, logs)
	m.Lookup = func(string) (string, bool) { return "", false }
	if err := m.ParseFlags(append([]string{"--listen", "127.0.0.1:0", "--no-demo", "--redis-url", addr}, args...)); err != nil {
		t.Fatal(err)
	}
	if err := m.Run(context.Background()); err != nil {
		t.Fatalf("run: %v\nlogs: %s", err, logs)
	}
	t.Cleanup(func() {
		if err := m.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return m, logs
}

// TestGeneratedSecretsOnASharedRedis: a node on a Redis others may share
// says loudly that secrets it generated are its own (a token another node
// accepts would be refused here), and so is its embedded NATS; given
// secrets raise nothing.
func TestGeneratedSecretsOnASharedRedis(t *testing.T) {
	rs := testkit.Redis(t)
	const warning = "generated for this node alone"
	if _, logs := startOnRedis(t, rs.Addr); !strings.Contains(logs.String(), warning) {
		t.Errorf("generated secrets on a shared Redis, no warning:\n%s", logs)
	}
	if _, logs := startOnRedis(t, rs.Addr, "--jwt-secret", fleetSecret); !strings.Contains(logs.String(), "admin_token_generated=true jwt_secret_generated=false") {
		t.Errorf("a generated admin token alone:\n%s", logs)
	}
	_, logs := startOnRedis(t, rs.Addr, "--admin-token", fleetAdmin, "--jwt-secret", fleetSecret)
	if strings.Contains(logs.String(), warning) {
		t.Errorf("secrets given, still a warning:\n%s", logs)
	}
	// Its NATS is its own too: the events of a fleet would scatter.
	if !strings.Contains(logs.String(), "--redis-url without --nats-url") {
		t.Errorf("a node on a shared Redis with an embedded NATS, no warning:\n%s", logs)
	}
}

// TestServeClock: by default a node's engine reads Redis's clock (so that
// every node opens a sale at the same instant), says so in its log and
// exports its offset; --clock local keeps the node's own; anything else is
// refused.
func TestServeClock(t *testing.T) {
	rs := testkit.Redis(t)
	run := func(t *testing.T, args ...string) (*Main, *testkit.LockedBuffer) {
		return startOnRedis(t, rs.Addr, args...)
	}
	t.Run("redis", func(t *testing.T) {
		m, logs := run(t)
		sc, ok := m.Clock.(*redisstore.SyncedClock)
		if !ok {
			t.Fatalf("the engine's clock is %T, want Redis's", m.Clock)
		}
		if _, ok := sc.Offset(); !ok {
			t.Fatal("no offset measured at start")
		}
		if !strings.Contains(logs.String(), "the engine's clock is Redis's") {
			t.Errorf("the log does not say where the time comes from:\n%s", logs)
		}
		r := call(t, "GET", "http://"+m.Addr+"/metrics", m.Config.AdminToken, "")
		if r.status != 200 || !strings.Contains(r.raw, "\nflashdrop_clock_offset_seconds ") {
			t.Errorf("metrics %d without the clock's offset", r.status)
		}
	})
	t.Run("local", func(t *testing.T) {
		m, _ := run(t, "--clock", "local")
		if _, ok := m.Clock.(engine.SystemClock); !ok {
			t.Fatalf("--clock local: the engine's clock is %T", m.Clock)
		}
		if r := call(t, "GET", "http://"+m.Addr+"/metrics", m.Config.AdminToken, ""); strings.Contains(r.raw, "flashdrop_clock_offset_seconds") {
			t.Error("--clock local exports an offset it never measures")
		}
	})
	m := NewMainWith(nil)
	m.Stderr = io.Discard
	if err := m.ParseFlags([]string{"--clock", "ntp"}); err == nil || !strings.Contains(err.Error(), `--clock must be redis or local, got "ntp"`) {
		t.Errorf("--clock ntp: %v", err)
	}
}

// TestServeWarnsOfARedisThatLosesWins: a node on a Redis that keeps no
// append-only file, or syncs it every second, says at start that a crash
// loses acknowledged wins (the runbook's check, made at every start); on
// appendfsync always it says nothing.
func TestServeWarnsOfARedisThatLosesWins(t *testing.T) {
	plain := testkit.Redis(t)
	if _, logs := startOnRedis(t, plain.Addr); !strings.Contains(logs.String(), "Redis keeps no append-only file (appendonly no)") {
		t.Errorf("no warning on a Redis without an append-only file:\n%s", logs)
	}
	durable, err := redistest.StartDurable()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = durable.Close() })
	if _, logs := startOnRedis(t, durable.Addr); strings.Contains(logs.String(), "append") {
		t.Errorf("a warning on a Redis with appendfsync always:\n%s", logs)
	}
	rdb := durable.Client()
	defer rdb.Close()
	if err := rdb.ConfigSet(context.Background(), "appendfsync", "everysec").Err(); err != nil {
		t.Fatal(err)
	}
	if _, logs := startOnRedis(t, durable.Addr); !strings.Contains(logs.String(), "(appendfsync everysec): a Redis crash can lose the last acknowledged wins") {
		t.Errorf("no warning on appendfsync everysec:\n%s", logs)
	}
}

// TestServeSaysNATSRefusesTheStream: a NATS server that answers but
// cannot create the stream as asked (three replicas on one server) is a
// setting to fix, and the log says so and what it refused; it said "NATS
// is not answering yet" and retried quietly.
func TestServeSaysNATSRefusesTheStream(t *testing.T) {
	rs := testkit.Redis(t)
	ns := natstest.Start(t)
	_, logs := startOnRedis(t, rs.Addr, "--nats-url", ns.URL(), "--stream-replicas", "3", "--admin-token", fleetAdmin, "--jwt-secret", fleetSecret)
	out := logs.String()
	if !strings.Contains(out, "NATS answers but refuses the stream") || !strings.Contains(out, "replicas") || strings.Contains(out, "NATS is not answering yet") {
		t.Errorf("a refused stream, logged as:\n%s", out)
	}
}

// TestEventsSaysWhatIsMissing: flashdrop events against a NATS that does
// not answer, or one no serve has used, says so (it said "stream
// FLASHDROP: context deadline exceeded"), and never prints the URL's
// token.
func TestEventsSaysWhatIsMissing(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	var out, errOut strings.Builder
	if code := run([]string{"events", "--nats-url", "nats://s3cr3t-token@" + closed}, &out, &errOut); code == 0 ||
		!strings.Contains(errOut.String(), "does not answer") || strings.Contains(errOut.String(), "s3cr3t") {
		t.Errorf("no NATS: exit %d, %s", code, errOut.String())
	}
	ns := natstest.Start(t)
	errOut.Reset()
	if code := run([]string{"events", "--nats-url", ns.URL()}, &out, &errOut); code == 0 || !strings.Contains(errOut.String(), "has no FLASHDROP stream") {
		t.Errorf("a NATS without the stream: exit %d, %s", code, errOut.String())
	}
}

// TestServeOnARedisThatRefusesTIME: a Redis user without TIME (an ACL, a
// proxy) started serve before --clock existed; it still does, on the
// node's own clock, and says so.
func TestServeOnARedisThatRefusesTIME(t *testing.T) {
	rs := testkit.Redis(t)
	rdb := redis.NewClient(&redis.Options{Addr: rs.Addr})
	defer rdb.Close()
	if err := rdb.Do(context.Background(), "ACL", "SETUSER", "notime", "on", ">notime-pw", "~*", "&*", "+@all", "-time").Err(); err != nil {
		t.Fatal(err)
	}
	m, logs := startOnRedis(t, "redis://notime:notime-pw@"+rs.Addr)
	if _, ok := m.Clock.(engine.SystemClock); !ok || !strings.Contains(logs.String(), "could not read Redis's clock") {
		t.Errorf("clock %T, log:\n%s", m.Clock, logs)
	}
	if strings.Contains(logs.String(), "notime-pw") {
		t.Errorf("the password in the log:\n%s", logs)
	}
}
