package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/alicebob/miniredis/v2"
	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/redis/go-redis/v9"

	"github.com/flashdrop/flashdrop/api"
	"github.com/flashdrop/flashdrop/engine"
	"github.com/flashdrop/flashdrop/engine/redisstore"
	"github.com/flashdrop/flashdrop/queue"
)

// ServeConfig is everything `flashdrop serve` can be told.
type ServeConfig struct {
	Listen       string
	RedisURL     string
	NATSURL      string
	JWTSecret    string
	JWTIssuer    string
	JWTAudience  string
	AdminToken   string
	NoDemo       bool
	LogLevel     string
	LogFormat    string
	PublicURL    string
	Batch        api.BatchOptions
	Limits       api.Limits
	SweepEvery   time.Duration
	ShutdownWait time.Duration
	// ScheduleEvery is how often the scheduler looks for due work.
	ScheduleEvery time.Duration
	// Events
	StreamReplicas       int
	WebhooksAllowPrivate bool
	SoldOutTTL           time.Duration
}

// Main is the `serve` program, split into steps so that end-to-end tests
// run exactly what the binary runs: ParseFlags, Run, then Close.
type Main struct {
	Config ServeConfig
	Stdout io.Writer // the start-up banner
	Stderr io.Writer // logs
	// Clock defaults to the system clock; tests may move time.
	Clock engine.Clock
	// Lookup reads environment variables (default os.LookupEnv).
	Lookup func(string) (string, bool)

	// Addr is the address the server listens on, once Run returned.
	Addr string
	// Engine is the running engine, for tests.
	Engine *engine.Engine

	log      *slog.Logger
	mini     *miniredis.Miniredis
	rdb      redis.UniversalClient
	relayRDB redis.UniversalClient // blocking outbox reads get their own pool
	natsSrv  *natsserver.Server
	natsDir  string
	nc       *nats.Conn
	keeper   *queue.StreamKeeper
	relay    *queue.Relay
	flags    *queue.SoldOutFlags
	hooks    *queue.Deliverer
	srv      *api.Server
	sweeper  *engine.Sweeper
	ln       net.Listener
	serveErr chan error
	closeMu  sync.Mutex
	closed   bool

	// scheduler makes series drops, announces, invites, reminds, draws.
	scheduler *engine.Scheduler
}

// NewMain returns a Main writing to the given streams.
func NewMain(stdout, stderr io.Writer) *Main {
	return &Main{Stdout: stdout, Stderr: stderr}
}

// ParseFlags reads serve's flags, then FLASHDROP_* variables for the rest.
func (m *Main) ParseFlags(args []string) error {
	c := &m.Config
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(m.Stderr)
	fs.Usage = usageWithEnv(fs, "flashdrop serve [flags]")
	fs.StringVar(&c.Listen, "listen", "127.0.0.1:8080", "address to listen on")
	fs.StringVar(&c.RedisURL, "redis-url", "", "Redis: redis://host:port/db, or a Cluster as a comma-separated host:port list or redis-cluster://h1:p1,h2:p2 (empty: embedded in-process server, not durable)")
	fs.StringVar(&c.NATSURL, "nats-url", "", "NATS server URL with JetStream (empty: embedded in-process server, not durable)")
	fs.IntVar(&c.StreamReplicas, "stream-replicas", 1, "replicas of the FLASHDROP stream (3 in a NATS cluster)")
	fs.BoolVar(&c.WebhooksAllowPrivate, "webhooks-allow-private", false, "allow webhook targets on private, loopback or link-local addresses")
	fs.DurationVar(&c.SoldOutTTL, "sold-out-ttl", 2*time.Second, "how long a sold-out flag is trusted before it is checked against Redis")
	fs.StringVar(&c.JWTSecret, "jwt-secret", "", "HS256 secret for shopper tokens, at least 32 bytes (empty: generated and printed)")
	fs.StringVar(&c.JWTIssuer, "jwt-issuer", "", "required iss of shopper tokens (empty: not checked)")
	fs.StringVar(&c.JWTAudience, "jwt-audience", "", "required aud of shopper tokens (empty: not checked)")
	fs.StringVar(&c.AdminToken, "admin-token", "", "bearer token of the shop backend and ops, at least 16 bytes (empty: generated and printed)")
	fs.BoolVar(&c.NoDemo, "no-demo", false, "do not create the demo drop in embedded mode")
	fs.StringVar(&c.LogLevel, "log-level", "info", "debug, info, warn or error")
	fs.StringVar(&c.LogFormat, "log-format", "text", "text or json")
	fs.StringVar(&c.PublicURL, "public-url", "", "URL shoppers reach this service at, for share links in events and printed links (default http://<listen>)")
	fs.IntVar(&c.Batch.MaxSize, "batch-max-size", 256, "most reserve requests decided per Redis script call")
	fs.DurationVar(&c.Batch.MaxWait, "batch-max-wait", 0, "how long a batch that is not full waits for more (0: natural batching, no added latency)")
	fs.IntVar(&c.Batch.QueueSize, "batch-queue", 4096, "reserve requests that may wait per drop before new ones get 503")
	fs.IntVar(&c.Batch.Workers, "batch-workers", 2, "batches per drop in flight at once")
	fs.IntVar(&c.Limits.MaxInFlight, "max-inflight", 8192, "requests handled at once before new ones get 503")
	fs.IntVar(&c.Limits.MaxBodyBytes, "max-body-bytes", 4096, "largest request body")
	fs.Float64Var(&c.Limits.UserRate, "rate-user", 5, "register and reserve requests per second per shopper (negative: off)")
	fs.IntVar(&c.Limits.UserBurst, "rate-user-burst", 10, "burst of the per-shopper limit")
	fs.Float64Var(&c.Limits.IPRate, "rate-ip", 0, "requests per second per client IP (0: off; many shoppers share an IP)")
	fs.IntVar(&c.Limits.IPBurst, "rate-ip-burst", 20, "burst of the per-IP limit")
	fs.DurationVar(&c.SweepEvery, "sweep-every", time.Second, "how often expired holds are released")
	fs.DurationVar(&c.ShutdownWait, "shutdown-wait", 15*time.Second, "how long shutdown waits for requests in flight")
	fs.DurationVar(&c.ScheduleEvery, "schedule-every", time.Second, "how often series drops, sale announcements, invitations, reminders and draws are checked")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("serve: unexpected argument %q", fs.Arg(0))
	}
	return applyEnv(fs, m.Lookup)
}

// Run starts everything and returns once the server is listening; it
// serves in the background until Close.
func (m *Main) Run(ctx context.Context) (err error) {
	defer func() {
		if err != nil {
			_ = m.Close()
		}
	}()
	if m.log, err = newLogger(m.Stderr, m.Config.LogLevel, m.Config.LogFormat); err != nil {
		return err
	}
	if m.Clock == nil {
		m.Clock = engine.SystemClock{}
	}
	// Secrets not given are generated for this run and written back, so
	// the banner (and tests) can hand them out.
	generated := map[string]bool{}
	if m.Config.AdminToken == "" {
		m.Config.AdminToken, generated["admin"] = randomSecret(24), true
	}
	if m.Config.JWTSecret == "" {
		m.Config.JWTSecret, generated["jwt"] = randomSecret(32), true
	}
	c := m.Config
	embedded := c.RedisURL == ""
	newRedis := func(poolSize int) (redis.UniversalClient, error) { return redisClient(c.RedisURL, poolSize) }
	if embedded {
		m.mini = miniredis.NewMiniRedis()
		if err := m.mini.StartAddr("127.0.0.1:0"); err != nil {
			return fmt.Errorf("starting the embedded Redis: %w", err)
		}
		newRedis = func(poolSize int) (redis.UniversalClient, error) {
			return redis.NewClient(&redis.Options{Addr: m.mini.Addr(), PoolSize: poolSize}), nil
		}
	}
	if m.rdb, err = newRedis(0); err != nil {
		return err
	}
	pingCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	err = m.rdb.Ping(pingCtx).Err()
	cancel()
	if err != nil {
		return fmt.Errorf("redis does not answer: %w", err)
	}
	store := redisstore.New(m.rdb, redisstore.Options{})
	m.Engine = engine.New(store, engine.Options{Clock: m.Clock})
	// Listen now: the address goes into share links, and a busy port
	// should fail start-up before anything else starts.
	if m.ln, err = net.Listen("tcp", c.Listen); err != nil {
		return err
	}
	m.Addr = m.ln.Addr().String()

	// Events: NATS (embedded unless --nats-url), the stream, the relay,
	// the sold-out flags and webhook delivery. None of it blocks start-up
	// or reservations when NATS is down.
	natsURL := c.NATSURL
	if natsURL == "" {
		if m.natsDir, err = os.MkdirTemp("", "flashdrop-nats-"); err != nil {
			return err
		}
		if m.natsSrv, err = queue.StartEmbedded(queue.EmbeddedOptions{StoreDir: m.natsDir}); err != nil {
			return err
		}
		natsURL = m.natsSrv.ClientURL()
	}
	var js jetstream.JetStream
	if m.nc, js, err = queue.Connect(natsURL, "flashdrop-serve", m.log); err != nil {
		return fmt.Errorf("--nats-url: %w", err)
	}
	m.keeper = queue.NewStreamKeeper(js, queue.StreamOptions{Replicas: c.StreamReplicas}, m.log)
	m.keeper.Start(context.Background())
	if !m.keeper.WaitReady(3 * time.Second) {
		m.log.Warn("NATS is not answering yet: serving anyway; events wait in the outbox until it does")
	}
	// The relay holds one blocking outbox read per drop: a pool of its own,
	// large enough that drops never wait for each other (connections are
	// opened only as needed).
	if m.relayRDB, err = newRedis(relayPoolSize); err != nil {
		return err
	}
	relayStore := redisstore.New(m.relayRDB, redisstore.Options{})
	publicURL := c.PublicURL
	if publicURL == "" {
		publicURL = "http://" + m.Addr
	}
	m.relay = queue.NewRelay(relayStore, relayStore, js, queue.RelayOptions{PublicURL: publicURL, Logger: m.log})
	m.relay.Start(context.Background())
	m.flags = queue.NewSoldOutFlags(js, func(ctx context.Context, drop string) (bool, int64, error) {
		st, err := m.Engine.Stats(ctx, drop)
		return err == nil && st.Available == 0, st.SoldOutVersion, err
	}, queue.SoldOutOptions{TTL: c.SoldOutTTL, Logger: m.log})
	m.flags.Start(context.Background())
	m.hooks = queue.NewDeliverer(js, store, queue.WebhookOptions{AllowPrivate: c.WebhooksAllowPrivate, Logger: m.log})
	m.hooks.Start(context.Background())

	ready := func(ctx context.Context) error {
		if err := store.Ping(ctx); err != nil {
			return fmt.Errorf("redis: %w", err)
		}
		if !m.nc.IsConnected() {
			return fmt.Errorf("nats: %s", m.nc.Status())
		}
		if !m.keeper.Ready() {
			return errors.New("nats: stream not created yet")
		}
		return nil
	}
	m.srv, err = api.New(api.Config{
		Engine:           m.Engine,
		Auth:             api.AuthConfig{JWTSecret: []byte(c.JWTSecret), Issuer: c.JWTIssuer, Audience: c.JWTAudience, AdminToken: c.AdminToken},
		Ready:            ready,
		Logger:           m.log,
		Batch:            c.Batch,
		Limits:           c.Limits,
		SoldOut:          m.flags,
		Webhooks:         store,
		AdminIdempotency: store,
		CheckWebhookURL:  queue.CheckWebhookURL(c.WebhooksAllowPrivate),
	})
	if err != nil {
		return err
	}
	m.srv.AddGauge("flashdrop_outbox_lag", "Events in the Redis outboxes not yet published to JetStream.",
		func() float64 { return float64(m.relay.Lag()) })
	m.serveErr = make(chan error, 1)
	go func() { m.serveErr <- m.srv.Serve(m.ln) }()

	m.sweeper = engine.NewSweeper(m.Engine, engine.SweeperOptions{
		Interval: c.SweepEvery,
		OnError: func(err error) {
			m.srv.CountStoreError()
			m.log.Error("expiry sweep failed", "err", err.Error())
		},
		OnSwept: m.srv.CountExpired,
	})
	m.sweeper.Start(context.Background())
	m.scheduler = engine.NewScheduler(m.Engine, engine.SchedulerOptions{
		Interval: c.ScheduleEvery,
		OnError: func(err error) {
			m.srv.CountStoreError()
			m.log.Error("scheduled work failed", "err", err.Error())
		},
	})
	m.scheduler.Start(context.Background())

	var demo *engine.Drop
	if embedded && !c.NoDemo {
		if demo, err = m.createDemo(ctx); err != nil {
			return err
		}
	}
	m.banner(embedded, generated, demo)
	m.log.Info("serving", "addr", m.Addr, "embedded", embedded)
	return nil
}

// Err reports the server's failure, if it stops on its own.
func (m *Main) Err() <-chan error { return m.serveErr }

// Close shuts down gracefully: stop accepting, finish requests in flight
// and their batches, stop the sweeper, close Redis. Safe to call twice.
func (m *Main) Close() error {
	m.closeMu.Lock()
	defer m.closeMu.Unlock()
	if m.closed {
		return nil
	}
	m.closed = true
	var errs []error
	if m.srv != nil && m.ln != nil {
		wait := m.Config.ShutdownWait
		if wait <= 0 {
			wait = 15 * time.Second
		}
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		errs = append(errs, m.srv.Shutdown(ctx))
		cancel()
		if err := <-m.serveErr; err != nil {
			errs = append(errs, err)
		}
	} else if m.ln != nil {
		errs = append(errs, m.ln.Close())
	}
	// The relay goes last among the workers, so events of the final
	// requests are published before NATS closes (or wait in the outbox).
	if m.sweeper != nil {
		errs = append(errs, m.sweeper.Close())
	}
	if m.scheduler != nil {
		errs = append(errs, m.scheduler.Close())
	}
	if m.hooks != nil {
		errs = append(errs, m.hooks.Close())
	}
	if m.flags != nil {
		errs = append(errs, m.flags.Close())
	}
	if m.relay != nil {
		errs = append(errs, m.relay.Close())
	}
	if m.keeper != nil {
		errs = append(errs, m.keeper.Close())
	}
	if m.nc != nil {
		m.nc.Close()
	}
	if m.natsSrv != nil {
		m.natsSrv.Shutdown()
		m.natsSrv.WaitForShutdown()
	}
	if m.natsDir != "" {
		errs = append(errs, os.RemoveAll(m.natsDir))
	}
	for _, c := range []redis.UniversalClient{m.relayRDB, m.rdb} {
		if c != nil {
			errs = append(errs, c.Close())
		}
	}
	if m.mini != nil {
		m.mini.Close()
	}
	return errors.Join(errs...)
}

// relayPoolSize bounds the relay's Redis connections: one per drop whose
// outbox it follows, with room for years of weekly drops.
const relayPoolSize = 1024

// redisClient connects to a single Redis or, for an address list or a
// redis-cluster:// URL, to a Cluster. poolSize 0 keeps go-redis's default.
func redisClient(u string, poolSize int) (redis.UniversalClient, error) {
	if rest, ok := strings.CutPrefix(u, "redis-cluster://"); ok {
		return redis.NewClusterClient(&redis.ClusterOptions{Addrs: strings.Split(rest, ","), PoolSize: poolSize}), nil
	}
	if strings.Contains(u, ",") {
		return redis.NewClusterClient(&redis.ClusterOptions{Addrs: strings.Split(u, ","), PoolSize: poolSize}), nil
	}
	if !strings.Contains(u, "://") {
		u = "redis://" + u
	}
	opts, err := redis.ParseURL(u)
	if err != nil {
		return nil, fmt.Errorf("--redis-url: %w", err)
	}
	if poolSize > 0 {
		opts.PoolSize = poolSize
	}
	return redis.NewClient(opts), nil
}

func newLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format: want text or json, got %q", format)
}

func randomSecret(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// createDemo makes the embedded default's demo drop: registration open
// now, the sale two minutes later, so a newcomer sees the whole flow. It
// is free, so the shopper confirms her own hold (no shop checkout).
func (m *Main) createDemo(ctx context.Context) (*engine.Drop, error) {
	now := m.Clock.Now()
	d, err := m.Engine.CreateDrop(ctx, engine.Drop{
		ID: "demo", Name: "Demo Sneaker", Stock: 10, PerUserLimit: 1,
		RegistrationOpensAt: now.Add(-time.Second), RegistrationClosesAt: now.Add(2 * time.Minute),
		SaleStartsAt: now.Add(2 * time.Minute), SaleEndsAt: now.Add(62 * time.Minute), HoldSeconds: 600,
		ConfirmBy: engine.ConfirmByShopper,
	})
	if err != nil {
		return nil, fmt.Errorf("creating the demo drop: %w", err)
	}
	return &d, nil
}

// banner is printed once, to stdout, not to the log: generated secrets
// appear here and nowhere else.
func (m *Main) banner(embedded bool, generated map[string]bool, demo *engine.Drop) {
	w := m.Stdout
	base := m.Config.PublicURL
	if base == "" {
		base = "http://" + m.Addr
	}
	fmt.Fprintf(w, "flashdrop %s listening on %s\n\n", version, base)
	if embedded {
		fmt.Fprint(w, `  !!  EMBEDDED MODE: the store is an in-process Redis-protocol server (miniredis).
  !!  Single process and NOT durable: every drop, registration and reservation
  !!  is lost when this process stops. Use --redis-url in production.
`)
	}
	if m.natsSrv != nil {
		fmt.Fprint(w, `  !!  EMBEDDED NATS: events go to an in-process JetStream in a temporary directory,
  !!  deleted on exit. Use --nats-url in production.
`)
	}
	fmt.Fprintln(w)
	c := m.Config
	if generated["admin"] {
		fmt.Fprintf(w, "  admin token (generated; set --admin-token to choose one):\n    %s\n", c.AdminToken)
	}
	if generated["jwt"] {
		fmt.Fprintf(w, "  shopper tokens (JWT secret generated for this run; set --jwt-secret to keep one):\n"+
			"    FLASHDROP_JWT_SECRET=%s go run ./cmd/flashdrop token --user alice\n", c.JWTSecret)
	}
	if demo != nil {
		admin := "<your admin token>"
		if generated["admin"] {
			admin = c.AdminToken
		}
		shopper, err := api.MintShopperToken([]byte(c.JWTSecret), "demo-shopper", 24*time.Hour, m.Clock.Now(), c.JWTIssuer, c.JWTAudience)
		if err != nil {
			shopper = "<mint one with flashdrop token>"
		}
		fmt.Fprintf(w, `
  demo drop %q: registration open now, sale at %s (in %s).
  Try it:
    export BASE=%s ADMIN=%s TOKEN=%s
    curl -s $BASE/v1/drops/demo
    curl -s -X POST -H "Authorization: Bearer $TOKEN" $BASE/v1/drops/demo/registrations
    # after the sale opens:
    curl -s -X POST -H "Authorization: Bearer $TOKEN" -H "Idempotency-Key: buy-1" -d '{"quantity":1}' $BASE/v1/drops/demo/reservations
    curl -s -H "Authorization: Bearer $ADMIN" $BASE/v1/admin/drops/demo/stats
`, demo.ID, demo.SaleStartsAt.Format(time.TimeOnly), demo.SaleStartsAt.Sub(m.Clock.Now()).Round(time.Second), base, admin, shopper)
	}
	fmt.Fprintln(w)
}
