package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/redis/go-redis/v9"

	"github.com/flashdrop/flashdrop/engine"
	"github.com/flashdrop/flashdrop/engine/redisstore"
	"github.com/flashdrop/flashdrop/internal/testkit"
	"github.com/flashdrop/flashdrop/queue"
)

func TestRoleFlag(t *testing.T) {
	for _, tc := range []struct {
		args []string
		env  map[string]string
		want string // "" means accepted
	}{
		{args: nil},
		{args: []string{"--role", "all"}},
		{args: []string{"--role", "api", "--redis-url", "127.0.0.1:6379", "--nats-url", "nats://127.0.0.1:4222", "--admin-token", fleetAdmin, "--jwt-secret", fleetSecret}},
		{env: map[string]string{"FLASHDROP_ROLE": "api", "FLASHDROP_REDIS_URL": "127.0.0.1:6379", "FLASHDROP_NATS_URL": "nats://127.0.0.1:4222",
			"FLASHDROP_ADMIN_TOKEN": fleetAdmin, "FLASHDROP_JWT_SECRET": fleetSecret}},
		// An API node runs beside others: secrets of its own would split
		// the fleet.
		{args: []string{"--role", "api", "--redis-url", "127.0.0.1:6379", "--nats-url", "nats://127.0.0.1:4222"}, want: "--role api needs --admin-token and --jwt-secret"},
		{args: []string{"--role", "api", "--redis-url", "127.0.0.1:6379", "--nats-url", "nats://127.0.0.1:4222", "--admin-token", fleetAdmin}, want: "--role api needs --admin-token and --jwt-secret"},
		{args: []string{"--role", "worker"}, want: `--role must be all or api, got "worker"`},
		{args: []string{"--role", "api"}, want: "--role api needs --redis-url and --nats-url"},
		{args: []string{"--role", "api", "--redis-url", "127.0.0.1:6379"}, want: "--role api needs --redis-url and --nats-url"},
		{args: []string{"--role", "api", "--nats-url", "nats://127.0.0.1:4222"}, want: "--role api needs --redis-url and --nats-url"},
		{env: map[string]string{"FLASHDROP_ROLE": "api"}, want: "--role api needs"},
		// A bad secret is refused naming its flag, never the value.
		{args: []string{"--admin-token", "short"}, want: "--admin-token (or FLASHDROP_ADMIN_TOKEN) must be at least 16 bytes"},
		{env: map[string]string{"FLASHDROP_ADMIN_TOKEN": "has a space in it somewhere"}, want: "--admin-token (or FLASHDROP_ADMIN_TOKEN) must be visible ASCII without spaces"},
		{args: []string{"--jwt-secret", "too-short-secret"}, want: "--jwt-secret (or FLASHDROP_JWT_SECRET) must be at least 32 bytes"},
	} {
		m := NewMainWith(tc.env)
		m.Stderr = io.Discard
		err := m.ParseFlags(tc.args)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%v %v: refused: %v", tc.args, tc.env, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%v %v: got %v, want an error with %q", tc.args, tc.env, err, tc.want)
		case err != nil && (strings.Contains(err.Error(), "short") || strings.Contains(err.Error(), "space in it")):
			t.Errorf("%v %v: the error shows the secret: %v", tc.args, tc.env, err)
		}
	}
}

// TestRoleAPILeavesBackgroundWorkToOtherNodes runs a sale on an API node
// (--role api) and checks that it starts none of the background work,
// and that a node with --role all on the same Redis and NATS does it for
// the API node's requests: it publishes their events and releases their
// expired holds.
func TestRoleAPILeavesBackgroundWorkToOtherNodes(t *testing.T) {
	t.Parallel()
	s := startInteg(t, nil, "--role", "api", "--node-id", "api-1", "--sweep-every", "20ms")
	if s.m.relay != nil || s.m.scheduler != nil || s.m.sweeper != nil {
		t.Fatal("an API node started the relay, the scheduler or the sweeper")
	}
	if r := call(t, "GET", s.base+"/metrics", s.admin, ""); r.status != 200 || strings.Contains(r.raw, "flashdrop_outbox_lag") {
		t.Errorf("an API node has no relay, so no outbox lag to report: %d", r.status)
	}
	if r := call(t, "GET", s.base+"/readyz", "", ""); r.status != 200 {
		t.Errorf("an API node is ready without background work: %d %s", r.status, r.raw)
	}
	// The Redis server is shared by the package's tests: a drop id of
	// this run's own.
	drop := fmt.Sprintf("role%d", time.Now().UnixNano())
	s.sale(t, drop, 3, "alice", "bob")

	// The worker, started after the wins: everything it does for them it
	// finds in Redis.
	startNode(t, s.clock, "--no-demo", "--redis-url", s.m.Config.RedisURL, "--nats-url", s.nats.URL(),
		"--node-id", "worker-1", "--sweep-every", "20ms", "--schedule-every", "20ms")

	_, js := s.nats.Connect(t)
	won := queue.Subject(drop, engine.EventWon)
	testkit.Eventually(t, 10*time.Second, "the worker publishes the API node's two won events", func() bool {
		st, err := js.Stream(context.Background(), queue.StreamName)
		if err != nil {
			return false
		}
		info, err := st.Info(context.Background(), jetstream.WithSubjectFilter(won))
		return err == nil && info.State.Subjects[won] == 2
	})

	rdb := redis.NewClient(&redis.Options{Addr: s.m.Config.RedisURL})
	defer rdb.Close()
	consumers, err := rdb.XInfoConsumers(context.Background(), redisstore.OutboxKey(drop), "relay").Result()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range consumers {
		names = append(names, c.Name)
	}
	if !slices.Contains(names, "worker-1") || slices.Contains(names, "api-1") {
		t.Errorf("outbox readers %v: want worker-1 and not api-1", names)
	}

	// Past every hold's deadline (and the sale's end): the worker releases
	// the API node's holds.
	s.clock.Advance(3 * time.Hour)
	testkit.Eventually(t, 10*time.Second, "the worker releases the expired holds", func() bool {
		r := call(t, "GET", s.base+"/v1/admin/drops/"+drop+"/stats", s.admin, "")
		return r.status == 200 && r.body["held"] == float64(0) && r.body["released"] == float64(2)
	})
	// The worker released them, not an API node's own sweeper.
	if r := call(t, "GET", s.base+"/metrics", s.admin, ""); !strings.Contains(r.raw, "\nflashdrop_holds_expired_total 0\n") {
		t.Errorf("an API node's sweeper released holds:\n%s", grepLines(r.raw, "flashdrop_holds_expired_total"))
	}
}

// TestAPINodeLearnsItsOwnSellOut: an API node runs no relay, so with no
// worker up no sold_out event ever reaches it; the reserve call that sold
// the last unit tells it, and the next press is answered from memory.
func TestAPINodeLearnsItsOwnSellOut(t *testing.T) {
	t.Parallel()
	s := startInteg(t, nil, "--role", "api", "--node-id", "api-2")
	drop := fmt.Sprintf("learn%d", time.Now().UnixNano())
	s.sale(t, drop, 2, "alice", "bob") // bob's win takes the last unit
	r := call(t, "POST", s.base+"/v1/drops/"+drop+"/reservations", mint(t, s.m, "alice"), "")
	if r.status != 409 || r.body["code"] != "sold_out" {
		t.Fatalf("a press after the sell-out: %d %s", r.status, r.raw)
	}
	if m := call(t, "GET", s.base+"/metrics", s.admin, ""); !strings.Contains(m.raw, "\nflashdrop_reserve_sold_out_from_memory_total 1\n") {
		t.Errorf("the press was not answered from memory:\n%s", grepLines(m.raw, "flashdrop_reserve_sold_out_from_memory_total"))
	}
}

// grepLines is the lines of text that contain sub.
func grepLines(text, sub string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
