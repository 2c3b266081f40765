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
	"math"
	"net"
	"os"
	"runtime/debug"
	"runtime/metrics"
	"strings"
	"sync"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/redis/go-redis/v9"
	"golang.org/x/image/font/opentype"

	"github.com/flashdrop/flashdrop/api"
	"github.com/flashdrop/flashdrop/engine"
	"github.com/flashdrop/flashdrop/engine/redisstore"
	bgrun "github.com/flashdrop/flashdrop/internal/run"
	"github.com/flashdrop/flashdrop/queue"
	"github.com/flashdrop/flashdrop/queue/webhook"
)

// ServeConfig is everything `flashdrop serve` can be told.
type ServeConfig struct {
	Listen   string
	RedisURL string
	// RedisWaitReplicas makes reserve batches WAIT for that many replicas
	// before their wins are answered (0: asynchronous replication).
	RedisWaitReplicas int
	NATSURL           string
	// NATSDir keeps the embedded NATS server's JetStream files across
	// restarts (no --nats-url); empty: a temporary directory.
	NATSDir     string
	JWTSecret   string
	JWTIssuer   string
	JWTAudience string
	AdminToken  string
	NoDemo      bool
	LogLevel    string
	LogFormat   string
	PublicURL   string
	CardFont    string // font file for the runes share cards' Go fonts lack (Run reads it)
	// CORSOrigins are the storefront origins whose pages may call the
	// shopper API from the browser (comma-separated; "*" any).
	CORSOrigins string
	// SignInURL is the shop's sign-in page, a URL template whose {url}
	// becomes the drop page's own address (api.Config.SignInURL).
	SignInURL    string
	Batch        engine.BatchOptions
	Limits       api.Limits
	SweepEvery   time.Duration
	ShutdownWait time.Duration
	// NodeID names this node where nodes share work (the outbox relay's
	// consumer group, the draw's lease); stable across restarts.
	NodeID string
	// Role is RoleAll (the default) or RoleAPI: a node that only answers
	// requests and leaves the background work to the RoleAll nodes.
	Role string
	// ScheduleEvery is how often the scheduler looks for due work.
	ScheduleEvery time.Duration
	// Events
	StreamReplicas       int
	WebhooksAllowPrivate bool
	WebhooksAllowHTTP    bool
	SoldOutTTL           time.Duration
	// A webhook is disabled after WebhookDisableAfter failed attempts in
	// a row spanning at least WebhookDisableSpan.
	WebhookDisableAfter int
	WebhookDisableSpan  time.Duration
	// WebhookMaxAttempts is how many attempts an event gets before it is
	// dead-lettered.
	WebhookMaxAttempts int
	// PprofListen, if set, serves net/http/pprof on an address of its own
	// (loopback for a bare port), never on the public listener.
	PprofListen string
	// Clock is where the engine's time comes from: ClockRedis or
	// ClockLocal.
	Clock string
	// GCPercent is Go's garbage collection target for the serve process
	// (GOGC); 0 leaves it to GOGC if that is set, else DefaultGCPercent.
	GCPercent int

	// OneRegistrationHash creates drops in the registration layout of
	// versions before 2026-12-03, for a rolling upgrade from one.
	OneRegistrationHash bool
	// ReservationHashes creates drops with a Redis hash per reservation,
	// the layout of versions before 2026-12-04, for a rolling upgrade
	// from one.
	ReservationHashes bool
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
	// PprofAddr is where profiles are served (--pprof-listen), if anywhere.
	PprofAddr string
	// Engine is the running engine, for tests.
	Engine *engine.Engine

	log *slog.Logger
	// memLimitErr is why serve could not set its soft memory limit.
	memLimitErr error
	mini        *miniredis.Miniredis
	rdb         redis.UniversalClient
	relayRDB    redis.UniversalClient   // blocking outbox reads get their own pool
	synced      *redisstore.SyncedClock // with --clock redis
	nodeID      string                  // --node-id, or its default
	store       *redisstore.Store
	natsURL     string
	nc          *nats.Conn
	js          jetstream.JetStream
	keeper      *queue.StreamKeeper
	relay       *queue.Relay
	sweeper     *engine.Sweeper
	flags       *queue.SoldOutFlags
	metrics     *api.Metrics
	adm         *engine.Admission
	drops       *engine.DropList
	srv         *api.Server
	cardFont    *opentype.Font // --card-font, parsed
	ln          net.Listener
	serveErr    chan error
	// serveDone is closed once Serve returned, with its result in
	// serveRes: the stop step reads them there, since Err's reader may
	// already have taken serveErr's one value.
	serveDone chan struct{}
	serveRes  error
	// stops undoes the started components in reverse order (Close).
	stops   []func() error
	closeMu sync.Mutex
	closed  bool

	// WebhookTweak, if set, adjusts the webhook deliverer's options (tests
	// shorten its backoff).
	WebhookTweak func(*webhook.Options)
	deliverer    *webhook.Deliverer

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
	fs.IntVar(&c.RedisWaitReplicas, "redis-wait-replicas", 0, "acknowledge a reserve batch's wins only once this many replicas of its shard have them (WAIT); unconfirmed wins are answered 503, retry with the same Idempotency-Key (0: asynchronous replication, a failover can lose acknowledged wins)")
	fs.BoolVar(&c.OneRegistrationHash, "one-registration-hash", false, "create new drops with all registrants in one Redis hash, the layout of versions before 2026-12-03: set it while nodes of such a version still run against the same Redis, then restart without it (drops keep the layout they were created with)")
	fs.BoolVar(&c.ReservationHashes, "reservation-hashes", false, "create new drops with a Redis hash per reservation and the sale state in the registration fields, the layouts of versions before 2026-12-04 (and of that day before the buyers hash, the compact outbox wins and the holds indexed per call): set it while nodes of such a version still run against the same Redis, then restart without it (drops keep the layout they were created with)")
	fs.StringVar(&c.NATSURL, "nats-url", "", "NATS server URL with JetStream (empty: embedded in-process server, not durable)")
	fs.StringVar(&c.NATSDir, "nats-dir", "", "without --nats-url: the embedded NATS server keeps its stream in this directory (made if missing) across restarts, so the events' history, the webhook deliveries still due and Flashdrop-Sequence survive a restart (empty: a temporary directory deleted on exit)")
	fs.StringVar(&c.Role, "role", RoleAll, "all: answer requests and do the background work (publish the outbox to NATS, deliver webhooks, release expired holds, run the schedule); api: answer requests only, so that release-day traffic gets the node's whole CPU (needs --redis-url, --nats-url and at least one node with --role all)")
	fs.StringVar(&c.NodeID, "node-id", "", "this node's name among the nodes, kept across restarts so a restarted node republishes at once the events it had read (default: host name and listen port)")
	fs.IntVar(&c.StreamReplicas, "stream-replicas", 1, "replicas of the FLASHDROP stream (3 in a NATS cluster)")
	fs.BoolVar(&c.WebhooksAllowPrivate, "webhooks-allow-private", false, "allow webhook targets on private or loopback addresses (and plain http to such an address); link-local and cloud metadata addresses stay refused")
	fs.BoolVar(&c.WebhooksAllowHTTP, "webhooks-allow-http", false, "allow new webhooks with a plain http:// target on any host: events carry shoppers' ids and share codes, which http shows to every network on the way")
	fs.IntVar(&c.WebhookDisableAfter, "webhook-disable-after", engine.DefaultDisableAfter,
		"failed delivery attempts in a row (spanning at least --webhook-disable-span) that disable a webhook")
	fs.DurationVar(&c.WebhookDisableSpan, "webhook-disable-span", engine.DefaultDisableSpan,
		"least time a webhook's failures in a row must span before it is disabled")
	fs.IntVar(&c.WebhookMaxAttempts, "webhook-max-attempts", webhook.DefaultMaxAttempts,
		"delivery attempts of one event before it is dead-lettered (backoff 1s doubling to 5m: 12 attempts span about 18.5 minutes)")
	fs.DurationVar(&c.SoldOutTTL, "sold-out-ttl", queue.DefaultSoldOutTTL, "how long a sold-out flag is trusted before it is checked against Redis")
	fs.StringVar(&c.JWTSecret, "jwt-secret", "", "HS256 secret for shopper tokens, at least 32 bytes (empty: generated and printed)")
	fs.StringVar(&c.JWTIssuer, "jwt-issuer", "", "required iss of shopper tokens (empty: not checked)")
	fs.StringVar(&c.JWTAudience, "jwt-audience", "", "required aud of shopper tokens (empty: not checked)")
	fs.StringVar(&c.AdminToken, "admin-token", "", "bearer token of the shop backend and ops, at least 16 bytes (empty: generated and printed)")
	fs.BoolVar(&c.NoDemo, "no-demo", false, "do not create the demo drop in embedded mode")
	fs.StringVar(&c.LogLevel, "log-level", "info", "debug, info, warn or error")
	fs.StringVar(&c.LogFormat, "log-format", "text", "text or json")
	fs.StringVar(&c.PublicURL, "public-url", "", "URL shoppers reach this service at, for share links in events and printed links (default http://<listen>)")
	fs.StringVar(&c.CardFont, "card-font", "", "font file (TTF, OTF, or a TTC's first font) for the characters of share card images that the built-in Go fonts lack, e.g. CJK (empty: a product name with such characters shows as \"A limited drop\")")
	fs.StringVar(&c.CORSOrigins, "cors-origins", "", "comma-separated origins of storefronts whose pages may call the shopper API (/v1/drops/…, /v1/reservations/…, /v1/series/…) from the browser, such as https://shop.example; * for any; never the admin API (empty: none, the API answers only same-origin pages and non-browser clients)")
	fs.StringVar(&c.SignInURL, "sign-in-url", "", "the shop's sign-in page, where a drop page sends a visitor who is not signed in, as a URL template: {url} becomes the page's own address, query-escaped (with a share card's ?ref=), e.g. https://shop.example/login?next={url}; the shop signs her in and sends her back with #token= (empty: the page tells her to open it from the shop's link)")
	fs.IntVar(&c.Batch.MaxSize, "batch-max-size", engine.DefaultBatchMaxSize, "most reserve requests decided per Redis script call")
	fs.DurationVar(&c.Batch.MaxWait, "batch-max-wait", 0, "how long a batch that is not full waits for more (0: natural batching, no added latency)")
	fs.IntVar(&c.Batch.QueueSize, "batch-queue", engine.DefaultBatchQueue, "reserve requests that may wait per drop before new ones get 503")
	fs.IntVar(&c.Batch.Workers, "batch-workers", engine.DefaultBatchWorkers, "batches per drop in flight at once (1: the next forms while one is in Redis; more make smaller, costlier calls)")
	fs.IntVar(&c.Limits.MaxInFlight, "max-inflight", api.DefaultMaxInFlight, "requests handled at once before new ones get 503")
	fs.IntVar(&c.Limits.MaxBodyBytes, "max-body-bytes", api.DefaultMaxBodyBytes, "largest request body")
	fs.IntVar(&c.Limits.MaxStreams, "max-streams", api.DefaultMaxStreams, "live event streams open at once on this node before new ones get 503")
	fs.IntVar(&c.Limits.MaxStreamsPerClient, "max-streams-per-client", api.DefaultMaxStreamsPerClient,
		"live event streams open at once per client address, an IPv6 client by its /64 (negative: no bound, e.g. behind a proxy that hides client addresses)")
	fs.Float64Var(&c.Limits.UserRate, "rate-user", api.DefaultUserRate, "register and reserve requests per second per shopper (negative: off)")
	fs.IntVar(&c.Limits.UserBurst, "rate-user-burst", api.DefaultUserBurst, "burst of the per-shopper limit")
	fs.Float64Var(&c.Limits.IPRate, "rate-ip", 0, "requests per second per client IP, an IPv6 client by its /64 (0: off; many shoppers share an IP)")
	fs.IntVar(&c.Limits.IPBurst, "rate-ip-burst", api.DefaultIPBurst, "burst of the per-IP limit")
	fs.DurationVar(&c.SweepEvery, "sweep-every", engine.DefaultSweepInterval, "how often expired holds are released")
	fs.DurationVar(&c.ShutdownWait, "shutdown-wait", DefaultShutdownWait, "how long shutdown waits for requests in flight")
	fs.DurationVar(&c.ScheduleEvery, "schedule-every", engine.DefaultScheduleInterval,
		"how often series drops, sale announcements, invitations, reminders and draws are checked")
	fs.StringVar(&c.PprofListen, "pprof-listen", "", "serve Go profiles (net/http/pprof) on this address, e.g. :6060 (a bare port is loopback only; empty: off)")
	fs.StringVar(&c.Clock, "clock", ClockRedis, "where the engine's time comes from: redis (this node's clock corrected by its offset from Redis's TIME, measured at start and every 30 s, so that every node opens a sale, ends a hold and closes registration at the same instant) or local (this node's clock as it is)")
	fs.IntVar(&c.GCPercent, "gc-percent", 0, fmt.Sprintf("Go's garbage collection target, as GOGC: the heap may grow by this percentage of the live heap between collections (0: GOGC if set and not empty, else %d)", DefaultGCPercent))
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("serve: unexpected argument %q", fs.Arg(0))
	}
	if err := applyEnv(fs, m.Lookup); err != nil {
		return err
	}
	// A secret given is checked here, so the error names the flag (and
	// never the value).
	var se *api.SecretError
	if c.AdminToken != "" && errors.As(api.CheckAdminToken(c.AdminToken), &se) {
		return fmt.Errorf("--admin-token (or FLASHDROP_ADMIN_TOKEN) %s", se.Rule)
	}
	if c.JWTSecret != "" && errors.As(api.CheckJWTSecret([]byte(c.JWTSecret)), &se) {
		return fmt.Errorf("--jwt-secret (or FLASHDROP_JWT_SECRET) %s", se.Rule)
	}
	if err := api.ParseCORSOrigins(c.corsOrigins()); err != nil {
		return fmt.Errorf("--cors-origins: %w", err)
	}
	if err := api.CheckSignInURL(c.SignInURL); err != nil {
		return fmt.Errorf("--sign-in-url: %w", err)
	}
	switch {
	case c.GCPercent < 0:
		return fmt.Errorf("--gc-percent must be 0 (GOGC if set, else %d) or more, got %d", DefaultGCPercent, c.GCPercent)
	case c.RedisWaitReplicas < 0:
		return fmt.Errorf("--redis-wait-replicas must be 0 or more, got %d", c.RedisWaitReplicas)
	case c.WebhookMaxAttempts < 1:
		return fmt.Errorf("--webhook-max-attempts must be 1 or more, got %d", c.WebhookMaxAttempts)
	case c.RedisWaitReplicas > 0 && c.RedisURL == "":
		return errors.New("--redis-wait-replicas needs --redis-url: the embedded Redis has no replicas")
	case c.Clock != ClockRedis && c.Clock != ClockLocal:
		return fmt.Errorf("--clock must be %s or %s, got %q", ClockRedis, ClockLocal, c.Clock)
	case c.Role != RoleAll && c.Role != RoleAPI:
		return fmt.Errorf("--role must be %s or %s, got %q", RoleAll, RoleAPI, c.Role)
	case c.NATSDir != "" && c.NATSURL != "":
		return errors.New("--nats-dir is the embedded NATS server's directory: with --nats-url there is none (the NATS server keeps its own store)")
	case c.Role == RoleAPI && (c.RedisURL == "" || c.NATSURL == ""):
		// An embedded Redis or NATS would be this node's alone, and no
		// other node could do the background work for it.
		return errors.New("--role api needs --redis-url and --nats-url: its background work is done by a node with --role all on the same Redis and NATS")
	case c.Role == RoleAPI && (c.AdminToken == "" || c.JWTSecret == ""):
		// Generated ones would be this node's alone: the other nodes'
		// tokens would be refused here, and its own there.
		return errors.New("--role api needs --admin-token and --jwt-secret (or FLASHDROP_ADMIN_TOKEN and FLASHDROP_JWT_SECRET), the same on every node: generated ones would be this node's alone")
	}
	return nil
}

// corsOrigins is --cors-origins as a list.
func (c *ServeConfig) corsOrigins() []string {
	if strings.TrimSpace(c.CORSOrigins) == "" {
		return nil
	}
	return strings.Split(c.CORSOrigins, ",")
}

// The sources of --clock.
const (
	// ClockRedis corrects the node's clock by its offset from Redis's.
	ClockRedis = "redis"
	// ClockLocal takes the node's clock as it is: right when every node's
	// time service keeps them within a few milliseconds of each other.
	ClockLocal = "local"
)

// clockSyncEvery is how often a node measures its offset from Redis's
// clock again: a local clock drifts by up to about 50 ppm, 1.5 ms in
// 30 s, and a time service may step it at any moment.
const clockSyncEvery = 30 * time.Second

// The roles of --role.
const (
	// RoleAll answers requests and does the background work.
	RoleAll = "all"
	// RoleAPI only answers requests. The work a request leaves behind in
	// Redis (the outbox's events, holds that expire, scheduled drops) is
	// shared out among the RoleAll nodes, which read it from Redis no
	// matter which node wrote it. A node's events cost it about a quarter
	// of its CPU under a rush (the relay and, with the embedded default,
	// JetStream), so API nodes without them answer more per core.
	RoleAPI = "api"
)

// DefaultGCPercent is serve's garbage collection target unless GOGC or
// --gc-percent says otherwise. A win allocates a few KB, so at Go's
// default of 100 serve collected often: in the all-wins benchmark (make
// bench) about a tenth of serve's CPU went to marking. 400 took serve's
// CPU per win from 48-54 µs to 41-43 µs over three interleaved pairs of
// runs (800 saved nothing more), and serve's peak resident memory in a
// short run from 243 to 367 MiB. GOMEMLIMIT still caps the total if set.
const DefaultGCPercent = 400

// gcPercent is the collection target serve sets, and false when it leaves
// the runtime's own (GOGC set in the environment, no --gc-percent).
func (c ServeConfig) gcPercent(lookup func(string) (string, bool)) (int, bool) {
	if c.GCPercent > 0 {
		return c.GCPercent, true
	}
	if v, ok := lookup("GOGC"); ok && v != "" {
		return 0, false
	}
	return DefaultGCPercent, true
}

// currentGOGC is the collection target the runtime runs with (-1: off,
// which the runtime reports as the largest uint64).
func currentGOGC() int64 {
	sample := []metrics.Sample{{Name: "/gc/gogc:percent"}}
	metrics.Read(sample)
	if v := sample[0].Value.Uint64(); v <= math.MaxInt64 {
		return int64(v)
	}
	return -1
}

// cardFont reads and parses --card-font, if set: a file that is not a
// font stops serve at start rather than leaving every card to fail.
func (c ServeConfig) cardFont() (*opentype.Font, error) {
	if c.CardFont == "" {
		return nil, nil
	}
	b, err := os.ReadFile(c.CardFont)
	if err != nil {
		return nil, fmt.Errorf("--card-font: %w", err)
	}
	f, err := api.ParseCardFont(b)
	if err != nil {
		return nil, fmt.Errorf("--card-font %s: %w", c.CardFont, err)
	}
	return f, nil
}

// background says whether this node does the background work.
func (c ServeConfig) background() bool { return c.Role != RoleAPI }

// DefaultShutdownWait is how long SIGINT/SIGTERM waits for requests in
// flight unless --shutdown-wait says otherwise.
const DefaultShutdownWait = 15 * time.Second

// Run starts everything and returns once the server is listening; it
// serves in the background until Close. Each component starts in order
// and registers how to stop it; Close (also on a failed start) stops them
// in reverse.
func (m *Main) Run(ctx context.Context) (err error) {
	defer func() {
		if err != nil {
			_ = m.Close()
		}
	}()
	if m.log, err = newLogger(m.Stderr, m.Config.LogLevel, m.Config.LogFormat); err != nil {
		return err
	}
	redisLog.Store(m.log)
	if m.cardFont, err = m.Config.cardFont(); err != nil {
		return err
	}
	if m.memLimitErr != nil {
		m.log.Warn("no soft memory limit set; set GOMEMLIMIT", "err", m.memLimitErr)
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
	embedded := m.Config.RedisURL == ""
	for _, start := range []func(context.Context) error{
		m.startRedis, m.listen, m.startPprof, m.startNATS, m.startEvents, m.startServices, m.startSweeper, m.startScheduler, m.startHTTP,
	} {
		if err := start(ctx); err != nil {
			return err
		}
	}
	if !embedded && m.Config.NATSURL == "" {
		m.log.Warn("--redis-url without --nats-url: the events of the wins this node's relay reads go to its own in-process NATS, so listeners, webhooks and load audits on another node's NATS miss them; give every node sharing this Redis the same --nats-url")
		if m.Config.NATSDir == "" {
			// One node on a durable Redis looks like production; its
			// events would not outlive the process.
			m.log.Warn("--redis-url without --nats-url or --nats-dir: the embedded NATS keeps its stream in a temporary directory, so a restart loses the events' history and the webhook deliveries still due, and starts Flashdrop-Sequence again from 1; give --nats-dir (or --nats-url) to keep them")
		}
	}
	if !embedded && (generated["admin"] || generated["jwt"]) {
		m.log.Warn("the admin token or the JWT secret was generated for this node alone: nodes that share a Redis need the same --admin-token and --jwt-secret (or FLASHDROP_ADMIN_TOKEN and FLASHDROP_JWT_SECRET), else a token one node accepts is refused by the others, and a restart makes new ones",
			"admin_token_generated", generated["admin"], "jwt_secret_generated", generated["jwt"])
	}
	var demo *engine.Drop
	if embedded && !m.Config.NoDemo {
		if demo, err = m.createDemo(ctx); err != nil {
			return err
		}
	}
	m.banner(embedded, generated, demo)
	if m.Config.PublicURL == "" && defaultPublicURL(m.Addr) != "http://"+m.Addr {
		m.log.Warn("no --public-url while listening on every interface: share links and events say "+m.publicURL()+
			"; set --public-url to the address shoppers open", "listen", m.Addr)
	}
	// Where it serves from, with no credential: a fleet's logs tell its
	// nodes apart, and a node on the wrong Redis or NATS shows at once.
	m.log.Info("serving", "addr", m.Addr, "node_id", m.nodeID, "role", m.Config.Role, "embedded", embedded,
		"redis", redisAddrs(m.rdb), "nats", m.nc.ConnectedUrlRedacted(), "clock", m.Config.Clock,
		"gogc", currentGOGC(), "gomemlimit", debug.SetMemoryLimit(-1))
	return nil
}

// onStop registers how to undo a started component.
func (m *Main) onStop(stop func() error) { m.stops = append(m.stops, stop) }

// startRedis connects to Redis (or starts the embedded server) and builds
// the store and the engine on it.
func (m *Main) startRedis(ctx context.Context) (err error) {
	c := m.Config
	newRedis := func(poolSize int) (redis.UniversalClient, error) { return redisClient(c.RedisURL, poolSize) }
	if c.RedisURL == "" {
		m.mini = miniredis.NewMiniRedis()
		if err := m.mini.StartAddr("127.0.0.1:0"); err != nil {
			return fmt.Errorf("starting the embedded Redis: %w", err)
		}
		m.onStop(func() error { m.mini.Close(); return nil })
		newRedis = func(poolSize int) (redis.UniversalClient, error) {
			return redis.NewClient(&redis.Options{Addr: m.mini.Addr(), PoolSize: poolSize}), nil
		}
	}
	if m.rdb, err = newRedis(0); err != nil {
		return err
	}
	m.onStop(m.rdb.Close)
	// The relay holds one blocking outbox read per drop: a pool of its
	// own, large enough that drops never wait for each other (connections
	// are opened only as needed).
	if m.relayRDB, err = newRedis(relayPoolSize); err != nil {
		return err
	}
	m.onStop(m.relayRDB.Close)
	pingCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	err = m.rdb.Ping(pingCtx).Err()
	cancel()
	if err != nil {
		return fmt.Errorf("--redis-url: Redis at %s does not answer: %w", redisAddrs(m.rdb), err)
	}
	if m.Clock == nil {
		if c.Clock == ClockRedis {
			if err := m.syncClock(ctx); err != nil {
				return err
			}
		} else {
			m.Clock = engine.SystemClock{}
		}
	}
	if c.RedisURL != "" {
		m.checkDurability(ctx)
	}
	m.store = redisstore.New(m.rdb, c.storeOptions())
	m.Engine = engine.New(m.store, engine.Options{Clock: m.Clock})
	// One list of drops for the node: the sweeper, the scheduler, the
	// relay and the front page each want it every second or two, and a
	// listing is a round trip to Redis (and a read of each new drop).
	m.drops = engine.NewDropList(m.Engine, 0)
	return nil
}

// checkDurability warns when a Redis primary would lose acknowledged
// wins in a crash (docs/production.md, "Durability": the runbook's check,
// made at every start). A Redis that refuses CONFIG (a managed one) is
// left to the runbook.
func (m *Main) checkDurability(ctx context.Context) {
	check := func(ctx context.Context, node *redis.Client) error {
		cfg, err := node.ConfigGet(ctx, "append*").Result()
		if err != nil {
			m.log.Debug("could not read Redis's persistence settings; check them by hand (docs/production.md)", "redis", node.Options().Addr, "err", err.Error())
			return nil
		}
		switch {
		case cfg["appendonly"] != "yes":
			m.log.Warn("Redis keeps no append-only file (appendonly "+cfg["appendonly"]+"): a Redis restart loses every win since its last snapshot; set appendonly yes and appendfsync always (docs/production.md)",
				"redis", node.Options().Addr)
		case cfg["appendfsync"] != "always":
			m.log.Warn("Redis writes its append-only file to disk every second or less (appendfsync "+cfg["appendfsync"]+"): a Redis crash can lose the last acknowledged wins; set appendfsync always (docs/production.md)",
				"redis", node.Options().Addr)
		}
		return nil
	}
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	switch c := m.rdb.(type) {
	case *redis.Client:
		_ = check(cctx, c)
	case *redis.ClusterClient:
		_ = c.ForEachMaster(cctx, check)
	}
}

// syncClock makes the engine's clock this node's corrected by its offset
// from Redis's (--clock redis), and keeps measuring it. Every rule that
// depends on time runs in a Redis script on the calling node's idea of
// now; on their own clocks, a node 300 ms fast would open the sale 300 ms
// early for its shoppers, and in a rush that sells out in 200 ms that
// decides who wins.
func (m *Main) syncClock(ctx context.Context) error {
	sc := redisstore.NewSyncedClock(m.rdb, nil)
	sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	o, err := sc.Sync(sctx)
	cancel()
	if err != nil {
		// A Redis that refuses TIME (an ACL without it, a proxy) ran
		// before --clock existed: serve on the node's own clock, loudly.
		m.log.Error("could not read Redis's clock: the engine runs on this node's own clock, as with --clock local; nodes whose clocks disagree open a sale at different instants (allow TIME, or set --clock local to say so)",
			"err", err.Error())
		m.Clock = engine.SystemClock{}
		return nil
	}
	m.Clock, m.synced = sc, sc
	m.logClock(o, 0)
	logged := o.Offset
	var lc bgrun.Lifecycle
	lc.Start(context.Background(), func(ctx context.Context) {
		bgrun.Every(ctx, clockSyncEvery, func(ctx context.Context) {
			sctx, cancel := context.WithTimeout(ctx, clockSyncEvery)
			o, err := sc.Sync(sctx)
			cancel()
			switch {
			case ctx.Err() != nil:
			case err != nil:
				m.log.Warn("could not read Redis's clock; the last offset stays in force", "err", err.Error())
			case o.Offset-logged > clockLogStep || logged-o.Offset > clockLogStep:
				m.logClock(o, o.Offset-logged)
				logged = o.Offset
			}
		})
	})
	m.onStop(func() error { lc.Stop(); return nil })
	return nil
}

// clockLogStep is how far the offset moves before the log says so again;
// clockWarnAt is an offset worth an operator's look at the node's time
// service.
const (
	clockLogStep = 100 * time.Millisecond
	clockWarnAt  = time.Second
)

// logClock says where the node's clock stands against Redis's (and how
// far it moved since the last report, when it did).
func (m *Main) logClock(o redisstore.ClockOffset, moved time.Duration) {
	args := []any{"offset", o.Offset.Round(time.Microsecond).String(), "round_trip", o.RoundTrip.Round(time.Microsecond).String()}
	if moved != 0 {
		args = append(args, "moved", moved.Round(time.Microsecond).String())
	}
	if o.Offset >= clockWarnAt || o.Offset <= -clockWarnAt {
		m.log.Warn("this node's clock is far from Redis's: the engine uses Redis's time (--clock redis), but check the node's time service", args...)
		return
	}
	m.log.Info("the engine's clock is Redis's (offset: Redis's clock less this node's)", args...)
}

// listen takes the address now: it goes into share links, and a busy port
// should fail start-up before anything else starts.
func (m *Main) listen(context.Context) (err error) {
	if m.ln, err = net.Listen("tcp", m.Config.Listen); err != nil {
		return err
	}
	m.Addr = m.ln.Addr().String()
	// Closed by the HTTP server once it serves; until then, here.
	m.onStop(func() error {
		if m.serveErr == nil {
			return m.ln.Close()
		}
		return nil
	})
	return nil
}

// startNATS connects to NATS (embedded unless --nats-url) and keeps the
// stream. None of the event side blocks start-up or reservations when
// NATS is down.
func (m *Main) startNATS(context.Context) (err error) {
	m.natsURL = m.Config.NATSURL
	if m.natsURL == "" {
		dir := m.Config.NATSDir
		if dir == "" {
			if dir, err = os.MkdirTemp("", "flashdrop-nats-"); err != nil {
				return err
			}
			tmp := dir
			m.onStop(func() error { return os.RemoveAll(tmp) })
		} else if err := os.MkdirAll(dir, 0o700); err != nil {
			return fmt.Errorf("--nats-dir: %w", err)
		}
		srv, err := queue.StartEmbedded(queue.EmbeddedOptions{StoreDir: dir})
		if err != nil {
			return err
		}
		m.onStop(func() error { srv.Shutdown(); srv.WaitForShutdown(); return nil })
		m.natsURL = srv.ClientURL()
	}
	if m.nc, m.js, err = queue.Connect(m.natsURL, "flashdrop-serve", m.log); err != nil {
		return fmt.Errorf("--nats-url: %w", err)
	}
	m.onStop(func() error { m.nc.Close(); return nil })
	m.keeper = queue.NewStreamKeeper(m.js, streamOptions(m.Config), m.log)
	m.keeper.Start(context.Background())
	m.onStop(m.keeper.Close)
	if !m.keeper.WaitReady(3 * time.Second) {
		if refused, ok := queue.StreamRefused(m.keeper.Err()); ok {
			m.log.Error("NATS answers but refuses the stream: serving anyway; events wait in the outbox until the setting is fixed", "refusal", refused)
		} else {
			m.log.Warn("NATS is not answering yet: serving anyway; events wait in the outbox until it does")
		}
	}
	return nil
}

// streamOptions are the stream's settings for c: with no --nats-url and
// no --nats-dir the stream is the embedded server's, whose directory dies
// with the process. With --nats-dir a later process reads it, so an
// acknowledged event must be written (the default persistence).
func streamOptions(c ServeConfig) queue.StreamOptions {
	return queue.StreamOptions{Replicas: c.StreamReplicas, Embedded: c.NATSURL == "" && c.NATSDir == ""}
}

// startEvents starts the outbox relay and the sold-out flags. The relay
// stops after everything that makes events (it is registered first), so
// the final requests' events are published before NATS closes, or wait
// in the outbox.
func (m *Main) startEvents(context.Context) error {
	c := m.Config
	relayStore := redisstore.New(m.relayRDB, redisstore.Options{})
	nodeID := c.NodeID
	if nodeID == "" {
		// Host and port: the same node restarted keeps its name, and two
		// nodes on one host differ.
		host, _ := os.Hostname()
		_, port, _ := net.SplitHostPort(m.Addr)
		nodeID = host + ":" + port
	}
	m.nodeID = nodeID
	if c.background() {
		m.relay = queue.NewRelay(m.drops, relayStore, m.js, queue.RelayOptions{Consumer: nodeID, PublicURL: m.publicURL(), Logger: m.log,
			Clock: m.Clock})
		m.relay.Start(context.Background())
		m.onStop(m.relay.Close)
	}
	m.flags = queue.NewSoldOutFlags(m.js, m.Engine.SoldOutNow, queue.SoldOutOptions{TTL: c.SoldOutTTL, Logger: m.log})
	m.flags.Start(context.Background())
	m.onStop(m.flags.Close)
	return nil
}

// startServices builds the metrics, the admission in front of the engine,
// and starts webhook delivery.
func (m *Main) startServices(context.Context) error {
	c := m.Config
	m.metrics = api.NewMetrics()
	if m.synced != nil {
		m.metrics.AddGauge("flashdrop_clock_offset_seconds", "Redis's clock less this node's, as last measured (--clock redis adds it to this node's clock).",
			func() float64 {
				o, _ := m.synced.Offset()
				return o.Offset.Seconds()
			})
	}
	if m.relay != nil {
		m.metrics.AddGauge("flashdrop_outbox_lag", "Entries in the Redis outboxes not yet published to JetStream (an entry holds one script call's events).",
			func() float64 { return float64(m.relay.Lag()) })
		m.metrics.AddGauge("flashdrop_outbox_lag_unknown_seconds", "How long this node has been unable to read an outbox (0: every relay worker's last read worked); while over 0, flashdrop_outbox_lag is a look from before and may read 0 with events waiting.",
			func() float64 { return m.relay.LagUnknownFor(time.Now()).Seconds() })
	}
	m.adm = engine.NewAdmission(m.Engine, engine.AdmissionOptions{
		Batch: c.Batch, SoldOut: m.flags,
		OnBatch: m.metrics.ObserveBatch, OnSoldOutFromMemory: m.metrics.CountSoldOutFromMemory,
		OnSoldOutKeyed: m.metrics.CountSoldOutKeyed, Drops: m.drops,
	})
	// Closed after the HTTP server: requests in flight finish their batches.
	m.onStop(m.adm.Close)
	o := webhook.Options{AllowPrivate: c.WebhooksAllowPrivate, Logger: m.log, EngineNow: m.Clock.Now,
		Disable:     engine.DisableRule{After: c.WebhookDisableAfter, Span: c.WebhookDisableSpan},
		MaxAttempts: c.WebhookMaxAttempts}
	o.OnAttempt = func(id string, out webhook.Outcome) { m.metrics.AddWebhookAttempts(id, string(out), 1) }
	if m.WebhookTweak != nil {
		m.WebhookTweak(&o)
	}
	// An API node keeps the deliverer for the admin API's test sends and
	// replays, but delivers nothing from the stream.
	m.deliverer = webhook.NewDeliverer(m.js, m.store, o)
	if c.background() {
		m.deliverer.Start(context.Background())
	}
	m.onStop(m.deliverer.Close)
	m.watchWebhookStates()
	return nil
}

// webhookStateEvery is how often a node reads the webhooks' states for
// its metrics.
const webhookStateEvery = 5 * time.Second

// watchWebhookStates keeps flashdrop_webhook_disabled in line with the
// store, read every webhookStateEvery on every node (the state is the
// deployment's; a scrape never waits on Redis), and starts each webhook's
// flashdrop_webhook_deliveries_total series at 0, so that an alert on its
// increase sees the first failure too. A webhook listed before and gone
// since was deleted: its series go; so do those of every webhook marked
// deleted (kept 10 minutes), at every read, since an attempt in flight
// when it was deleted ends after that and makes its series again, as
// does one deleted between two reads (a commit review).
func (m *Main) watchWebhookStates() {
	var lc bgrun.Lifecycle
	lc.Start(context.Background(), func(ctx context.Context) {
		// prev is the last listing's webhooks; one seen there and missing
		// now was deleted. Only those: a webhook created after a
		// listing is counted before the next one lists it.
		prev := map[string]bool{}
		bgrun.Every(ctx, webhookStateEvery, func(ctx context.Context) {
			rctx, cancel := context.WithTimeout(ctx, webhookStateEvery)
			hooks, err := m.store.Webhooks(rctx)
			cancel()
			if err != nil {
				// The last states stay; the failure is counted, as any
				// store call's made outside a request.
				if ctx.Err() == nil {
					m.metrics.CountStoreError()
				}
				return
			}
			states := make(map[string]bool, len(hooks))
			for _, h := range hooks {
				states[h.ID] = h.Disabled
				for _, out := range webhook.Outcomes() {
					m.metrics.AddWebhookAttempts(h.ID, string(out), 0)
				}
			}
			m.metrics.SetWebhookStates(states) // it keeps a copy; states goes on as prev
			forget := func(id string) {
				if _, ok := states[id]; !ok {
					m.metrics.ForgetWebhook(id)
				}
			}
			for id := range prev {
				forget(id)
			}
			dctx, cancel := context.WithTimeout(ctx, webhookStateEvery)
			if marks, err := m.store.DeletedWebhooks(dctx); err == nil {
				for _, g := range marks {
					forget(g.ID)
				}
			}
			cancel()
			prev = states
		})
	})
	m.onStop(func() error { lc.Stop(); return nil })
}

// startSweeper releases expired holds in the background.
func (m *Main) startSweeper(context.Context) error {
	if !m.Config.background() {
		return nil
	}
	m.sweeper = engine.NewSweeper(m.Engine, engine.SweeperOptions{
		Interval: m.Config.SweepEvery,
		OnError: func(err error) {
			m.metrics.CountStoreError()
			m.log.Error("expiry sweep failed", "err", err.Error())
		},
		OnSwept: m.metrics.CountExpired,
		Drops:   m.drops,
	})
	m.sweeper.Start(context.Background())
	m.onStop(m.sweeper.Close)
	return nil
}

// startScheduler does the clock-driven work of series and drops in the
// background. A node's id, when set, names it in draw leases, so a node
// restarted under its id resumes a draw it was running at once.
func (m *Main) startScheduler(context.Context) error {
	if !m.Config.background() {
		return nil
	}
	m.scheduler = engine.NewScheduler(m.Engine, engine.SchedulerOptions{
		Interval: m.Config.ScheduleEvery,
		Owner:    m.Config.NodeID,
		Drops:    m.drops,
		OnError: func(err error) {
			m.metrics.CountStoreError()
			m.log.Error("scheduled work failed", "err", err.Error())
		},
	})
	m.scheduler.Start(context.Background())
	m.onStop(m.scheduler.Close)
	return nil
}

// startHTTP serves the API; it is the first to stop, gracefully.
func (m *Main) startHTTP(context.Context) (err error) {
	c := m.Config
	// Readiness is Redis and NATS (SPEC §4). A balancer that should keep
	// a node selling while NATS is away checks /readyz?exclude=nats.
	// /readyz answers anyone: its detail names what is not ready, not
	// where it lives (a Redis error names the address it dialled); the
	// cause is in the log.
	ready := []api.ReadyCheck{{Name: "redis", Check: func(ctx context.Context) error {
		if err := m.store.Ping(ctx); err != nil {
			m.log.Debug("not ready: redis does not answer a ping", "err", err.Error())
			return errors.New("redis: does not answer a ping")
		}
		return nil
	}}, {Name: "nats", Check: func(ctx context.Context) error {
		if !m.nc.IsConnected() {
			return fmt.Errorf("nats: %s", m.nc.Status())
		}
		if !m.keeper.Ready() {
			return errors.New("nats: stream not created yet")
		}
		// A hung server keeps the connection up for minutes (nats.go's
		// pings notice it after two missed ones, 4 min by default): a
		// ping answered is what says NATS takes the relay's publishes.
		if err := m.nc.FlushWithContext(ctx); err != nil {
			m.log.Debug("not ready: nats does not answer a ping", "err", err.Error())
			return errors.New("nats: does not answer a ping")
		}
		return nil
	}}}
	hooks := engine.NewWebhooks(m.store, m.Clock, webhook.CheckURL(c.WebhooksAllowPrivate, c.WebhooksAllowHTTP))
	hooks.SetSender(m.deliverer)
	m.srv, err = api.New(api.Config{
		Metrics:          m.metrics,
		Auth:             api.AuthConfig{JWTSecret: []byte(c.JWTSecret), Issuer: c.JWTIssuer, Audience: c.JWTAudience, AdminToken: c.AdminToken},
		ReadyChecks:      ready,
		Logger:           m.log,
		Limits:           c.Limits,
		AdminIdempotency: m.store,
		PublicURL:        m.publicURL(),
		CardFont:         m.cardFont,
		CORSOrigins:      c.corsOrigins(),
		SignInURL:        c.SignInURL,
		Keys:             engine.NewKeys(m.store, m.Clock),
		Events:           queue.NewEventLog(m.js),
	}.WithEngine(m.Engine, m.adm, hooks))
	if err != nil {
		return err
	}
	m.serveErr, m.serveDone = make(chan error, 1), make(chan struct{})
	go func() {
		m.serveRes = m.srv.Serve(m.ln)
		close(m.serveDone)
		m.serveErr <- m.serveRes
	}()
	m.onStop(func() error {
		wait := m.Config.ShutdownWait
		if wait <= 0 {
			wait = DefaultShutdownWait
		}
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		defer cancel()
		err := m.srv.Shutdown(ctx)
		<-m.serveDone
		return errors.Join(err, m.serveRes)
	})
	return nil
}

// publicURL is where shoppers reach this node: --public-url, or the
// address it listens on.
func (m *Main) publicURL() string {
	if m.Config.PublicURL != "" {
		return strings.TrimSuffix(m.Config.PublicURL, "/")
	}
	return defaultPublicURL(m.Addr)
}

// defaultPublicURL is the base of links without --public-url: the address
// serve listens on, except that an unspecified host (":8080" listens on
// every interface, and reads back as [::]:8080) is no address a browser
// can open; localhost is, on the machine that runs it.
func defaultPublicURL(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "http://" + addr
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, port)
}

// Err reports the server's failure, if it stops on its own.
func (m *Main) Err() <-chan error { return m.serveErr }

// Close shuts down gracefully, undoing the start in reverse: stop
// accepting and finish requests in flight and their batches, stop the
// sweeper, webhook delivery, the flags and the relay, then NATS and Redis.
// Safe to call twice.
func (m *Main) Close() error {
	m.closeMu.Lock()
	defer m.closeMu.Unlock()
	if m.closed {
		return nil
	}
	m.closed = true
	var errs []error
	for i := len(m.stops) - 1; i >= 0; i-- {
		errs = append(errs, m.stops[i]())
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
		return redisstore.NewClusterClient(strings.Split(rest, ","), poolSize), nil
	}
	if strings.Contains(u, ",") {
		return redisstore.NewClusterClient(strings.Split(u, ","), poolSize), nil
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

// redisAddrs is where rdb connects: its addresses only, never a password.
func redisAddrs(rdb redis.UniversalClient) string {
	switch c := rdb.(type) {
	case *redis.Client:
		return c.Options().Addr
	case *redis.ClusterClient:
		return strings.Join(c.Options().Addrs, ",")
	}
	return "?"
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
	base := m.publicURL()
	fmt.Fprintf(w, "flashdrop %s listening on %s\n\n", version, base)
	if embedded {
		fmt.Fprint(w, `  !!  EMBEDDED MODE: the store is an in-process Redis-protocol server (miniredis).
  !!  Single process and NOT durable: every drop, registration and reservation
  !!  is lost when this process stops. Use --redis-url in production.
`)
	}
	if m.Config.NATSURL == "" && m.Config.NATSDir == "" {
		// Its loopback address, so that `flashdrop events` and `flashdrop
		// load --nats-url` (its I4 check) can follow this run's events.
		fmt.Fprintf(w, `  !!  EMBEDDED NATS: events go to an in-process JetStream in a temporary directory,
  !!  deleted on exit. Use --nats-url (or --nats-dir) in production. This run's NATS: %s
`, m.natsURL)
	} else if m.Config.NATSURL == "" {
		fmt.Fprintf(w, "  Embedded NATS, its stream kept in %s. This run's NATS: %s\n", m.Config.NATSDir, m.natsURL)
	}
	fmt.Fprintln(w)
	c := m.Config
	if generated["admin"] {
		fmt.Fprintf(w, "  admin token (generated; set --admin-token to choose one):\n    %s\n", c.AdminToken)
	}
	self := selfCommand(os.Args[0])
	if generated["jwt"] {
		fmt.Fprintf(w, "  shopper tokens (JWT secret generated for this run; set --jwt-secret to keep one):\n"+
			"    FLASHDROP_JWT_SECRET=%s %s token --user alice\n", c.JWTSecret, self)
	}
	if demo != nil {
		admin := "<your admin token>"
		if generated["admin"] {
			admin = c.AdminToken
		}
		// Tokens are checked against the wall clock, not the engine's.
		shopper, err := api.MintShopperToken([]byte(c.JWTSecret), "demo-shopper", 24*time.Hour, time.Now(), c.JWTIssuer, c.JWTAudience)
		if err != nil {
			shopper = "<mint one with " + self + " token>"
		}
		// The shopper's page takes its token from the URL fragment, which
		// browsers never send to a server: it stays out of every log.
		fmt.Fprintf(w, `
  demo drop %q: registration open now, sale at %s (in %s).
  Open the shopper page, signed in as demo-shopper:
    %s/d/demo#token=%s
  The ops page: %s/ops (paste the admin token)
  Or with curl:
    export BASE=%s ADMIN=%s TOKEN=%s
    curl -s $BASE/v1/drops/demo
    curl -s -X POST -H "Authorization: Bearer $TOKEN" $BASE/v1/drops/demo/registrations
    # after the sale opens:
    curl -s -X POST -H "Authorization: Bearer $TOKEN" -H "Idempotency-Key: buy-1" -d '{"quantity":1}' $BASE/v1/drops/demo/reservations
    curl -s -H "Authorization: Bearer $ADMIN" $BASE/v1/admin/drops/demo/stats
`, demo.ID, demo.SaleStartsAt.Format(time.TimeOnly), demo.SaleStartsAt.Sub(m.Clock.Now()).Round(time.Second),
			base, shopper, base, base, admin, shopper)
	}
	fmt.Fprintln(w)
}

// selfCommand is the command that ran this program, as the banner's
// suggestions give it: go run ./cmd/flashdrop for a binary go run built
// (it lives in a go-build temporary directory, as a test's does), the
// name alone for one found on PATH (flashdrop), else the path as given
// (./flashdrop, /usr/local/bin/flashdrop), quoted for a shell if needed.
func selfCommand(argv0 string) string {
	if argv0 == "" {
		return "flashdrop"
	}
	parts := strings.FieldsFunc(argv0, func(r rune) bool { return r == '/' || r == '\\' })
	for _, dir := range parts[:max(len(parts)-1, 0)] {
		if strings.HasPrefix(dir, "go-build") {
			return "go run ./cmd/flashdrop"
		}
	}
	if strings.Trim(argv0, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./+:@%,=") == "" {
		return argv0
	}
	return "'" + strings.ReplaceAll(argv0, "'", `'\''`) + "'"
}

// storeOptions are the Redis store's options from the flags.
func (c ServeConfig) storeOptions() redisstore.Options {
	return redisstore.Options{WaitReplicas: c.RedisWaitReplicas, OneRegistrationHash: c.OneRegistrationHash,
		ReservationHashes: c.ReservationHashes}
}
