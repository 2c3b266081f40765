package redisstore_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/flashdrop/flashdrop/engine"
	"github.com/flashdrop/flashdrop/engine/redisstore"
	"github.com/flashdrop/flashdrop/engine/redisstore/redistest"
)

func TestMain(m *testing.M) { redistest.Main(m) }

// t0 is sale start in every fixture: fixed, so failures are reproducible.
var t0 = time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)

// fixture is one test's view of one backend: a Store, an Engine on a manual
// clock, and the raw client for looking under the hood.
type fixture struct {
	name  string
	rdb   redis.UniversalClient
	store *redisstore.Store
	eng   *engine.Engine
	clock *engine.ManualClock
}

// backend builds a fresh fixture; each test gets its own drop ids, so
// tests share servers safely and run in parallel.
type backend struct {
	name string
	rdb  func(t *testing.T) redis.UniversalClient
}

func backends() []backend {
	return []backend{
		{"redis", func(t *testing.T) redis.UniversalClient {
			c := redistest.Shared(t).Client()
			t.Cleanup(func() { c.Close() })
			return c
		}},
		// Drops made before registration buckets keep every shopper in one
		// hash (lib.lua's reg_key), and drops made before packed
		// reservations a hash per reservation (lib.lua's res_get): the
		// whole suite runs on those layouts too.
		{"redis-onehash", func(t *testing.T) redis.UniversalClient {
			c := redistest.Shared(t).Client()
			t.Cleanup(func() { c.Close() })
			return c
		}},
		// Every behaviour holds on a Redis Cluster too: each drop's keys
		// share a hash tag, so no script ever crosses slots.
		{"cluster", func(t *testing.T) redis.UniversalClient {
			c := redistest.SharedCluster(t).Client()
			t.Cleanup(func() { c.Close() })
			return c
		}},
		// The embedded default of `flashdrop serve` runs on miniredis: the
		// same suite keeps it from drifting from production Redis.
		{"miniredis", func(t *testing.T) redis.UniversalClient {
			m := miniredis.RunT(t)
			c := redis.NewClient(&redis.Options{Addr: m.Addr()})
			t.Cleanup(func() { c.Close() })
			return c
		}},
	}
}

// forEachBackend runs fn once per backend, in parallel subtests.
func forEachBackend(t *testing.T, fn func(t *testing.T, f *fixture)) {
	t.Helper()
	t.Parallel()
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			fn(t, newFixture(b.name, b.rdb(t)))
		})
	}
}

func newFixture(name string, rdb redis.UniversalClient) *fixture {
	clock := engine.NewManualClock(t0.Add(-time.Hour))
	// redis-onehash makes drops in the layouts of older versions: one
	// registration hash, and a hash per reservation.
	legacy := name == "redis-onehash"
	st := redisstore.New(rdb, redisstore.Options{OneRegistrationHash: legacy, ReservationHashes: legacy})
	return &fixture{name: name, rdb: rdb, store: st, clock: clock,
		eng: engine.New(st, engine.Options{Clock: clock})}
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return c
}

var nonID = regexp.MustCompile(`[^A-Za-z0-9_-]+`)

// uniqueID makes a drop id that no other test (or run) uses.
func uniqueID(t *testing.T) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	id := nonID.ReplaceAllString(t.Name(), "-")
	if len(id) > 50 {
		id = id[len(id)-50:]
	}
	return strings.Trim(id, "-") + "-" + hex.EncodeToString(b[:])
}

// newDrop creates an fcfs drop with registration open an hour before t0
// and the sale at t0, with the clock inside the registration window.
func (f *fixture) newDrop(t *testing.T, stock, limit int64, edit ...func(*engine.Drop)) engine.Drop {
	t.Helper()
	d := engine.Drop{
		ID: uniqueID(t), Name: "Sneaker", Stock: stock, PerUserLimit: limit,
		RegistrationOpensAt: t0.Add(-2 * time.Hour), RegistrationClosesAt: t0.Add(-time.Minute),
		SaleStartsAt: t0, HoldSeconds: 600,
	}
	for _, e := range edit {
		e(&d)
	}
	f.clock.Set(t0.Add(-time.Hour))
	got, err := f.eng.CreateDrop(ctx(t), d)
	if err != nil {
		t.Fatalf("create drop: %v", err)
	}
	return got
}

// register registers users (the clock must be in the window).
func (f *fixture) register(t *testing.T, drop string, users ...string) {
	t.Helper()
	for _, u := range users {
		if _, _, err := f.eng.Register(ctx(t), drop, u, ""); err != nil {
			t.Fatalf("register %s: %v", u, err)
		}
	}
}

func (f *fixture) stats(t *testing.T, drop string) engine.Stats {
	t.Helper()
	st, err := f.eng.Stats(ctx(t), drop)
	if err != nil {
		t.Fatalf("stats: %v", err)
	}
	return st
}

func (f *fixture) events(t *testing.T, drop string) []engine.Event {
	t.Helper()
	evs, err := f.store.OutboxEvents(ctx(t), drop, 0)
	if err != nil {
		t.Fatalf("outbox: %v", err)
	}
	return evs
}

func countEvents(evs []engine.Event, typ engine.EventType) int {
	n := 0
	for _, e := range evs {
		if e.Type == typ {
			n++
		}
	}
	return n
}

func users(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = prefix + "-" + itoa(i)
	}
	return out
}

func itoa(i int) string { return strconv.Itoa(i) }
