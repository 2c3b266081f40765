package api

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"regexp"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/valyala/fasthttp"
	"golang.org/x/image/font/opentype"
	"golang.org/x/sync/singleflight"

	"github.com/flashdrop/flashdrop/engine"
)

// Config configures a Server. Zero values mean the defaults; the services
// Drops, Shoppers, Reservations and Admission, and Auth, are required.
type Config struct {
	// The services the handlers call (services.go); WithEngine fills them
	// from an engine and its admission.
	Drops        DropService
	Shoppers     ShopperService
	Reservations ReservationService
	Admission    Admission
	// Webhooks, if set, enables the webhook admin routes.
	Webhooks WebhookService
	// Events, if set, enables the admin event stream (GET
	// /v1/admin/events) on this log.
	Events engine.EventLog
	// Keys, if set, enables API keys with scopes and their admin routes;
	// without it only the admin token is an admin credential.
	Keys KeyService
	// Series and Draws, if set, enable the series routes and the draw
	// record (week_services.go).
	Series SeriesService
	Draws  DrawService
	// Metrics, if set, are the node's instruments, shared with the parts
	// that run beside the server; default: a fresh set.
	Metrics *Metrics

	Auth AuthConfig
	// ReadyChecks are the named checks /readyz runs in order, whether the
	// backing services answer (none: always ready); GET
	// /readyz?exclude=<name> skips one (the convention of Kubernetes' API
	// server), so a balancer can keep a node that sells without NATS (its
	// events wait in the outbox).
	ReadyChecks []ReadyCheck
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	Limits Limits
	// LiveInterval is the least time between two live events (default 500ms).
	LiveInterval time.Duration
	// LiveMaxDuration ends a live stream, which the browser then reopens,
	// so no connection is held forever (default 5m).
	LiveMaxDuration time.Duration
	// LiveHeartbeat is the longest a live stream stays silent: a comment
	// line is sent after that long without an event (default 15s). Writes
	// are how a closed or stalled client is noticed, so it also bounds how
	// long such a client keeps its stream slot.
	LiveHeartbeat time.Duration
	// AdminIdempotency, if set, makes every admin POST honour an
	// Idempotency-Key.
	AdminIdempotency IdempotencyStore
	// Shares, if set, enables the share cards and the referral counts
	// (share.go).
	Shares ShareService
	// PublicURL is where shoppers reach this service, for the absolute
	// links of share cards and calendar entries (default: the request's
	// host).
	PublicURL string
	// CardFont, if set, draws the characters of share cards that the Go
	// fonts compiled in lack (CJK, Armenian, …); see ParseCardFont.
	// Without it, or where it lacks them too, a card shows "A limited
	// drop" for such a product and leaves out such a drop name.
	CardFont *opentype.Font
	// CORSOrigins are the storefront origins allowed to call the shopper
	// API from a browser (cors.go); "*" allows any. None: no CORS.
	CORSOrigins []string
	// SignInURL, if set, is the shop's sign-in page as a URL template
	// (CheckSignInURL): the drop page links a visitor who is not signed in
	// to it, with {url} replaced by the page's own address, query-escaped.
	// None: the page tells her to come back through the shop's link.
	SignInURL string
}

// WithEngine returns c with the services of eng and adm, and webhooks if
// hooks is not nil.
func (c Config) WithEngine(eng *engine.Engine, adm *engine.Admission, hooks *engine.Webhooks) Config {
	c.Drops, c.Shoppers, c.Reservations, c.Admission, c.Shares = eng, adm, eng, adm, eng
	c.Series, c.Draws = eng, eng
	if hooks != nil {
		c.Webhooks = hooks
	}
	return c
}

// Defaults of Limits, which serve's flags show too.
const (
	DefaultMaxBodyBytes   = 4096
	DefaultMaxHeaderBytes = 8192
	DefaultMaxInFlight    = 8192
	DefaultReadTimeout    = 10 * time.Second
	DefaultWriteTimeout   = 10 * time.Second
	DefaultIdleTimeout    = 60 * time.Second
	// A person presses Buy a few times a second at most.
	DefaultUserRate  = 5.0
	DefaultUserBurst = 10
	DefaultIPBurst   = 20
)

// Limits protect the server. Zero values mean the defaults.
type Limits struct {
	MaxBodyBytes   int           // default DefaultMaxBodyBytes; larger bodies get 413
	MaxHeaderBytes int           // default DefaultMaxHeaderBytes
	ReadTimeout    time.Duration // default DefaultReadTimeout
	WriteTimeout   time.Duration // default DefaultWriteTimeout
	IdleTimeout    time.Duration // default DefaultIdleTimeout
	// MaxInFlight bounds requests handled at once (default
	// DefaultMaxInFlight); past it requests get 503 with Retry-After at once.
	MaxInFlight int
	// UserRate and UserBurst limit each shopper's register and reserve
	// requests, per node (default DefaultUserRate/s, burst
	// DefaultUserBurst; a negative rate disables).
	UserRate  float64
	UserBurst int
	// IPRate and IPBurst limit requests per client IP (default off: many
	// shoppers share a carrier's address).
	IPRate  float64
	IPBurst int
	// MaxStreams bounds the live streams (GET /v1/drops/{drop}/live) open
	// at once on this node (default DefaultMaxStreams); past it a new
	// stream gets 503 unavailable with Retry-After. Streams are not
	// requests in flight: each outlives its handler, for minutes.
	MaxStreams int
	// MaxStreamsPerClient bounds the live streams of one client address
	// (default DefaultMaxStreamsPerClient; negative: no bound). Behind a
	// proxy that hides client addresses every stream has the proxy's
	// address: raise it or turn it off there.
	MaxStreamsPerClient int
	// MaxConns bounds open connections (default fasthttp's own bound,
	// 262144); past it a new connection is answered 503 problem+json and
	// closed.
	MaxConns int
}

// Stream bounds. A live stream costs about 41 KB of memory on the server
// (measured: two goroutines, their stacks, fasthttp's buffers and the
// stream's), one file descriptor, and a wake-up per LiveInterval. At 4096
// streams that is about 170 MB and 8 K goroutines, a modest share of one
// node, and half the default in-flight bound. Filling a node from one
// address takes 64 addresses, while a carrier address that many shoppers
// share still gets 64 streams per node; past that they can poll the
// public view (GET /v1/drops/{drop}), which is cached.
const (
	DefaultMaxStreams          = 4096
	DefaultMaxStreamsPerClient = 64
)

func (l Limits) withDefaults() Limits {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	defDur := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&l.MaxBodyBytes, DefaultMaxBodyBytes)
	def(&l.MaxHeaderBytes, DefaultMaxHeaderBytes)
	def(&l.MaxInFlight, DefaultMaxInFlight)
	defDur(&l.ReadTimeout, DefaultReadTimeout)
	defDur(&l.WriteTimeout, DefaultWriteTimeout)
	defDur(&l.IdleTimeout, DefaultIdleTimeout)
	def(&l.MaxConns, fasthttp.DefaultConcurrency)
	if l.MaxConns > 1<<30 { // fasthttp's bound is twice this, in an int32
		l.MaxConns = 1 << 30
	}
	def(&l.MaxStreams, DefaultMaxStreams)
	if l.MaxStreamsPerClient == 0 {
		l.MaxStreamsPerClient = DefaultMaxStreamsPerClient
	}
	if l.UserRate == 0 {
		l.UserRate = DefaultUserRate
	}
	def(&l.UserBurst, DefaultUserBurst)
	def(&l.IPBurst, DefaultIPBurst)
	return l
}

// Server is flashdrop's HTTP API.
type Server struct {
	cfg        Config
	drops      DropService
	shoppers   ShopperService
	res        ReservationService
	adm        Admission
	hooks      WebhookService
	log        *slog.Logger
	failLog    *failLog // the 5xx error lines, a few a second (faillog.go)
	auth       *authenticator
	regLimit   *limiter
	resLimit   *limiter
	ipLimit    *limiter
	streams    *streamSlots
	metrics    *Metrics
	http       *fasthttp.Server
	web        *web                         // the pages (pages.go)
	cards      *lruCache[[]byte]            // rendered share card images (card.go)
	cardData   *lruCache[cachedCard]        // the cards' data, a moment old at most (share.go)
	drawn      *lruCache[engine.DrawRecord] // drawn records' summaries for the drop pages (pages.go)
	cardFlight singleflight.Group           // one read of a card's data at a time (share.go)
	// readyFlight runs each readiness check once at a time (health.go).
	readyFlight singleflight.Group
	// cardFontWarn warns once that a card could not draw its product.
	cardFontWarn sync.Once

	hot     hotHandlers
	dropIDs internTable

	inflight atomic.Int64
	// adminInflight counts the requests let through past MaxInFlight on
	// an admin credential (adminReserve).
	adminInflight atomic.Int64
	// cors is nil unless Config.CORSOrigins allows some origin.
	cors *corsPolicy
	// opsPageInflight counts the loads of the ops page and its assets let
	// through past MaxInFlight (opsPageReserve).
	opsPageInflight atomic.Int64
	conns           atomic.Int64 // open connections, see connLimitListener
	idPrefix        string
	idSeq           atomic.Uint64
	stopping        chan struct{}
	stopOnce        sync.Once
	// lnMu guards lns, the listeners Serve was given, and the decision
	// to serve against the close of stopping.
	lnMu sync.Mutex
	lns  []net.Listener
}

// New builds a Server. It starts nothing: call Serve.
func New(cfg Config) (*Server, error) {
	if cfg.Drops == nil || cfg.Shoppers == nil || cfg.Reservations == nil || cfg.Admission == nil {
		return nil, errors.New("api: Config.Drops, Shoppers, Reservations and Admission are required")
	}
	auth, err := newAuthenticator(cfg.Auth, nil)
	if err != nil {
		return nil, err
	}
	if keys := cfg.Keys; keys != nil {
		auth.keys = func(token string) (engine.APIKey, error) {
			ctx, cancel := context.WithTimeout(context.Background(), reqTimeout)
			defer cancel()
			return keys.Authenticate(ctx, token)
		}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Metrics == nil {
		cfg.Metrics = NewMetrics()
	}
	if cfg.LiveInterval <= 0 {
		cfg.LiveInterval = 500 * time.Millisecond
	}
	if cfg.LiveMaxDuration <= 0 {
		cfg.LiveMaxDuration = 5 * time.Minute
	}
	if cfg.LiveHeartbeat <= 0 {
		cfg.LiveHeartbeat = 15 * time.Second
	}
	cfg.Limits = cfg.Limits.withDefaults()
	pages, err := newWeb()
	if err != nil {
		return nil, err
	}
	cors, err := newCORSPolicy(cfg.CORSOrigins)
	if err != nil {
		return nil, err
	}
	if err := CheckSignInURL(cfg.SignInURL); err != nil {
		return nil, fmt.Errorf("api: Config.SignInURL: %w", err)
	}
	var prefix [6]byte
	_, _ = rand.Read(prefix[:])
	s := &Server{
		cfg: cfg, drops: cfg.Drops, shoppers: cfg.Shoppers, res: cfg.Reservations, adm: cfg.Admission,
		hooks: cfg.Webhooks, log: cfg.Logger, failLog: newFailLog(cfg.Logger), auth: auth, metrics: cfg.Metrics,
		regLimit: newLimiter(cfg.Limits.UserRate, cfg.Limits.UserBurst, nil),
		resLimit: newLimiter(cfg.Limits.UserRate, cfg.Limits.UserBurst, nil),
		ipLimit:  newLimiter(cfg.Limits.IPRate, cfg.Limits.IPBurst, nil),
		streams:  newStreamSlots(cfg.Limits.MaxStreams, cfg.Limits.MaxStreamsPerClient),
		idPrefix: hex.EncodeToString(prefix[:]),
		stopping: make(chan struct{}),
		cors:     cors,
		web:      pages, cards: newLRUCache[[]byte](cardCacheSize),
		cardData: newLRUCache[cachedCard](cardDataSize), drawn: newLRUCache[engine.DrawRecord](drawnCacheSize),
	}
	s.hot = hotHandlers{reserve: s.reserve, register: s.register, healthz: s.healthz}
	// Register, not MustRegister: a Metrics shared by a second server
	// keeps counting the first server's streams rather than panicking.
	_ = s.metrics.registry.Register(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "flashdrop_live_streams", Help: "Live streams open on this node.",
	}, func() float64 { return float64(s.streams.count()) }))
	s.http = &fasthttp.Server{
		Handler:            s.Handler(),
		ErrorHandler:       s.transportError,
		Name:               "flashdrop",
		ReadTimeout:        cfg.Limits.ReadTimeout,
		WriteTimeout:       cfg.Limits.WriteTimeout,
		IdleTimeout:        cfg.Limits.IdleTimeout,
		MaxRequestBodySize: cfg.Limits.MaxBodyBytes,
		ReadBufferSize:     cfg.Limits.MaxHeaderBytes,
		CloseOnShutdown:    true,
		// No route takes multipart bodies: do not parse them for nothing.
		DisablePreParseMultipartForm: true,
		// fasthttp refuses connections past Concurrency with a plain-text
		// 503 of its own; connLimitListener refuses them first, as
		// problem+json, so fasthttp's bound only needs to stay out of reach.
		Concurrency: 2 * cfg.Limits.MaxConns,
		// fasthttp's errors otherwise quote the bytes it could not parse,
		// Authorization headers included, and they reach the log.
		SecureErrorLogMessage: true,
		Logger:                fasthttpLogger{s.log},
	}
	return s, nil
}

// Serve answers requests on ln until Shutdown. After Shutdown it closes
// ln and returns nil at once.
func (s *Server) Serve(ln net.Listener) error {
	s.lnMu.Lock()
	select {
	case <-s.stopping:
		s.lnMu.Unlock()
		_ = ln.Close()
		return nil
	default:
	}
	s.lns = append(s.lns, ln)
	s.lnMu.Unlock()
	s.cfg.Metrics.sampleEverySecond(s.stopping)
	return s.http.Serve(&connLimitListener{Listener: ln, s: s})
}

// Shutdown stops accepting connections, ends live streams and lets
// requests in flight finish (their reserve batches included: the admission
// outlives the server and is closed after it). It also ends a Serve that
// is called while it runs. Safe to call more than once.
func (s *Server) Shutdown(ctx context.Context) error {
	// Failures counted and not logged yet are logged once requests are
	// done, not when a timer would have.
	defer s.failLog.flush()
	s.lnMu.Lock()
	s.stopOnce.Do(func() { close(s.stopping) })
	lns := s.lns
	s.lnMu.Unlock()
	err := s.http.ShutdownWithContext(ctx)
	if len(lns) == 0 {
		return err
	}
	// fasthttp closes only the listeners its Serve has registered: a Serve
	// that had not reached that point when Shutdown looked would accept
	// forever. Closing its listener ends it (fasthttp reads a closed
	// listener as a clean end); a listener fasthttp closed already only
	// answers net.ErrClosed, which says nothing.
	for _, ln := range lns {
		_ = ln.Close()
	}
	// Such a Serve may have accepted connections before the close: a
	// second shutdown waits for them as the first would have (after a
	// first one that did its work it returns at once).
	if err2 := s.http.ShutdownWithContext(ctx); err2 != nil && !errors.Is(err2, net.ErrClosed) {
		err = errors.Join(err, err2)
	}
	return err
}

const headerRequestID = "X-Request-Id"

// headerScopes names the scopes of the credential that asked (the admin
// token: every scope), comma-separated, on GET /v1/admin/webhooks.
const headerScopes = "Flashdrop-Scopes"

// request is what a handler knows about its call, copied out of the
// RequestCtx where it must outlive the handler.
type request struct {
	ctx   *fasthttp.RequestCtx
	route string
	args  []string // path parameters
	who   principal
	authd bool
	// argv holds a hot route's path parameter, so args needs no
	// allocation of its own; pooled says the request goes back to
	// requestPool after the handler.
	argv   [1]string
	pooled bool
	// reason is why an error answer was given (its problem's detail),
	// for the request's debug line: a 401 said only status=401.
	reason string
}

type handlerFunc func(r *request) error

// Handler returns the fasthttp handler with every route and safeguard.
func (s *Server) Handler() fasthttp.RequestHandler {
	return s.serve
}

func (s *Server) serve(ctx *fasthttp.RequestCtx) {
	s.setRequestID(ctx)
	r := requestPool.Get().(*request)
	*r = request{ctx: ctx, route: "unmatched"}
	// Latency counts from fasthttp's own reading of the clock when the
	// request had been read, one clock read fewer per request.
	start := r.now()
	// Every request is logged at debug. Answers a handler did not choose
	// (the router's 404 and 405, a panic, an error that was not
	// problem+json) are logged at a level that is on by default, so the
	// request id a client quotes can be found. Overload and rate-limit
	// refusals stay at debug: they come in floods, and logging each would
	// add to the load they shed.
	level, msg := slog.LevelDebug, "request"
	defer func() {
		if p := recover(); p != nil {
			id := string(ctx.Response.Header.Peek(headerRequestID))
			s.log.Error("panic in handler", "request_id", id, "route", r.route, "status", fasthttp.StatusInternalServerError,
				"panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			ctx.Response.Reset()
			ctx.Response.Header.Set(headerRequestID, id)
			writeProblem(ctx, problemFor(errors.New("panic")))
		} else if ensureProblem(ctx) {
			level, msg = slog.LevelWarn, "an error answer was not problem+json; rewritten"
		}
		status := ctx.Response.StatusCode()
		s.metrics.observeRequest(r.route, status, time.Since(start))
		if s.log.Enabled(context.Background(), level) {
			args := []any{"request_id", string(ctx.Response.Header.Peek(headerRequestID)),
				"method", string(ctx.Method()), "route", r.route,
				"path", clip(string(ctx.Path()), 200), "status", status, "took", time.Since(start)}
			if r.reason != "" {
				args = append(args, "reason", clip(r.reason, 200))
			}
			s.log.Log(context.Background(), level, msg, args...)
		}
		// Only the shoppers' hot routes give their request back: their
		// handlers keep nothing of it past their return (a live stream or
		// a page might).
		if r.pooled {
			*r = request{}
			requestPool.Put(r)
		}
	}()
	// A storefront's preflight is answered here, before any limit: it
	// costs less than refusing it would.
	if s.cors != nil && s.cors.apply(ctx) {
		r.route = "preflight"
		return
	}
	if n := s.inflight.Add(1); n <= int64(s.cfg.Limits.MaxInFlight) {
		defer s.inflight.Add(-1)
	} else {
		s.inflight.Add(-1)
		switch {
		case s.adminPastBound(r):
			defer s.adminInflight.Add(-1)
		case s.opsPagePastBound(r):
			defer s.opsPageInflight.Add(-1)
		default:
			setRetryAfter(ctx, 1)
			writeProblem(ctx, problemFor(errOverloaded))
			return
		}
	}
	s.metrics.inflight.Inc()
	defer s.metrics.inflight.Dec()

	h := s.hotRoute(r)
	if h == nil {
		h = s.route(r)
		if h != nil && takesNoBody(string(ctx.Method()), r.route) {
			h = s.withoutBody(h)
		}
	}
	if h == nil {
		level, msg = slog.LevelInfo, "no route" // route wrote the answer (404 or 405)
		return
	}
	if s.cfg.Limits.IPRate > 0 && !s.opsCall(r) {
		if ok, wait := s.ipLimit.allowAt(clientOf(ctx.RemoteIP()), r.now()); !ok {
			setRetryAfter(ctx, wait.Seconds())
			writeProblem(ctx, problemFor(errRateLimited))
			return
		}
	}
	var err error
	if isAdminPOST(string(ctx.Method()), r.route) {
		err = s.adminIdempotent(r, h)
	} else {
		err = h(r)
	}
	if err != nil {
		s.fail(r, err)
	}
}

// requestPool recycles the request of the hot routes (hotRoute).
var requestPool = sync.Pool{New: func() any { return new(request) }}

// fail answers err as a problem; unknown errors are logged with their cause.
func (s *Server) fail(r *request, err error) {
	p := problemFor(err)
	if p.Status == fasthttp.StatusNotFound && p.Detail == "" && strings.HasSuffix(err.Error(), engine.ErrNotFound.Error()) {
		p.Detail = notFoundOnRoute(r.route, r.args)
	}
	r.reason = p.Detail
	if p.Status >= 500 {
		// Overload refusals come in floods and are counted in the metrics;
		// everything else at 5xx is worth an error line, but a store
		// outage (or a bug hit by every request) is a flood too: failLog
		// logs the first of each kind in a second and counts the rest.
		if errors.Is(err, errOverloaded) || errors.Is(err, engine.ErrOverloaded) {
			s.log.Debug("request failed", "request_id", string(r.ctx.Response.Header.Peek(headerRequestID)),
				"route", r.route, "status", p.Status, "err", err.Error())
		} else {
			s.failLog.failed(string(r.ctx.Response.Header.Peek(headerRequestID)), r.route, p.Status, err)
		}
		s.metrics.storeError(err)
		if p.Status == fasthttp.StatusServiceUnavailable {
			setRetryAfter(r.ctx, 1)
			// Any write the store did not answer may have been applied:
			// even a refused connection can follow an attempt Redis
			// received, as the Redis client retries within the call (a
			// commit review), and a win --redis-wait-replicas could not
			// see replicated stands on the primary.
			if !r.ctx.IsGet() && !r.ctx.IsHead() && errors.Is(err, engine.ErrUnavailable) {
				p.Detail = noAnswerDetail
				r.reason = p.Detail
				if r.who.admin {
					// The audit trail has a line for every change made;
					// this one may have been, later: said at once.
					s.log.Warn("admin change may take effect later", "route", r.route, "args", strings.Join(r.args, ","),
						"by", r.who.by(), "request_id", string(r.ctx.Response.Header.Peek(headerRequestID)))
				}
			}
		}
	}
	writeProblem(r.ctx, p)
}

// noAnswerDetail is a write's 503 when the store did not answer it.
const noAnswerDetail = "the store did not answer in time: this change may have been applied, or may be once it answers; read the current state before repeating it (a pause, resume, confirm, cancel, or a request with the same Idempotency-Key, may be repeated safely)"

// setRequestID keeps a caller's X-Request-Id if it is short and plain, and
// otherwise makes one; either way it is the answer's X-Request-Id header,
// which is where everything else reads it (without a copy of its own).
func (s *Server) setRequestID(ctx *fasthttp.RequestCtx) {
	if in := ctx.Request.Header.Peek(headerRequestID); len(in) > 0 && len(in) <= 64 {
		ok := true
		for _, c := range in {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
				ok = false
				break
			}
		}
		if ok {
			ctx.Response.Header.SetBytesV(headerRequestID, in)
			return
		}
	}
	var buf [64]byte
	ctx.Response.Header.SetBytesV(headerRequestID, s.appendRequestID(buf[:0]))
}

// requestID is setRequestID's choice as a string.
func (s *Server) requestID(ctx *fasthttp.RequestCtx) string {
	s.setRequestID(ctx)
	return string(ctx.Response.Header.Peek(headerRequestID))
}

// newRequestID is a per-process random prefix and a counter, which is
// unique and costs no syscall per request.
func (s *Server) newRequestID() string {
	var buf [64]byte
	return string(s.appendRequestID(buf[:0]))
}

func (s *Server) appendRequestID(b []byte) []byte {
	b = append(b, s.idPrefix...)
	b = append(b, '-')
	return strconv.AppendUint(b, s.idSeq.Add(1), 36)
}

// transportError answers requests fasthttp refused before any handler ran
// (fasthttp's ErrorHandler): too large, malformed, or too slow. Like every
// other error answer it is problem+json with a request id, and it is
// logged with that id.
func (s *Server) transportError(ctx *fasthttp.RequestCtx, err error) {
	var p Problem
	id := ""
	var small *fasthttp.ErrSmallBuffer
	switch {
	case errors.Is(err, fasthttp.ErrBodyTooLarge):
		p = problemFor(errTooLarge)
		p.Detail = fmt.Sprintf("request bodies are limited to %d bytes", s.cfg.Limits.MaxBodyBytes)
		// Only here were the headers read whole, so only here can the
		// caller's own X-Request-Id be trusted to be what they sent.
		id = s.requestID(ctx)
	case isTimeout(err):
		p = Problem{Type: problemType("invalid"), Title: "Request timeout", Status: fasthttp.StatusRequestTimeout, Code: "invalid"}
	case errors.As(err, &small):
		p = Problem{Type: problemType("invalid"), Title: "Request headers too large",
			Status: fasthttp.StatusRequestHeaderFieldsTooLarge, Code: "invalid",
			Detail: fmt.Sprintf("request headers are limited to %d bytes", s.cfg.Limits.MaxHeaderBytes)}
	default:
		p = Problem{Type: problemType("invalid"), Title: "Malformed request", Status: fasthttp.StatusBadRequest, Code: "invalid"}
	}
	if id == "" {
		id = s.newRequestID()
	}
	ctx.Response.Header.Set(headerRequestID, id)
	writeProblem(ctx, p)
	s.metrics.observeRequest("transport", p.Status, 0)
	s.log.Info("request refused by the transport", "request_id", id, "status", p.Status, "reason", p.Title,
		"err", clip(redactQuoted(err.Error()), 300))
}

// ensureProblem rewrites an error answer that is not problem+json (from a
// library such as the metrics handler, or a handler that forgot) into
// one, keeping its status and headers, so that no 4xx or 5xx leaves
// without a code and a request id. It reports whether it had to. HTML
// error pages are left alone: the pages (/s/{code}, /d/{drop}) answer a
// person, deliberately in HTML, and carry the X-Request-Id header too.
func ensureProblem(ctx *fasthttp.RequestCtx) bool {
	status := ctx.Response.StatusCode()
	ct := string(ctx.Response.Header.ContentType())
	if status < 400 || ct == problemContentType || strings.HasPrefix(ct, "text/html") {
		return false
	}
	code := "invalid"
	switch {
	case status == fasthttp.StatusUnauthorized:
		code = "unauthorized"
	case status == fasthttp.StatusForbidden:
		code = "forbidden"
	case status == fasthttp.StatusNotFound:
		code = "not_found"
	case status == fasthttp.StatusTooManyRequests:
		code = "rate_limited"
	case status == fasthttp.StatusServiceUnavailable:
		code = "unavailable"
	case status >= 500:
		code = "internal"
	}
	writeProblem(ctx, Problem{Type: problemType(code), Title: fasthttp.StatusMessage(status), Status: status, Code: code})
	return true
}

// clip cuts s to at most n bytes, for client input that reaches the log.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// connLimitListener bounds the connections open at once at
// Limits.MaxConns. Past it, a new connection gets a 503 problem+json with a
// request id and is closed, as fasthttp would do with a plain-text answer
// of its own if its bound were reached first.
// The count is the server's, over all the listeners it serves.
type connLimitListener struct {
	net.Listener
	s *Server
}

func (l *connLimitListener) Accept() (net.Conn, error) {
	var backoff time.Duration
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			// Out of file descriptors (or a connection aborted before it
			// was taken) is a passing state, but fasthttp's accept loop
			// would stop serving for good: wait, as net/http does, and
			// accept again; connections in flight end and free descriptors.
			if !isTemporaryAcceptErr(err) {
				return nil, err
			}
			if backoff == 0 {
				backoff = 5 * time.Millisecond
			} else if backoff *= 2; backoff > time.Second {
				backoff = time.Second
			}
			l.s.log.Warn("accept failed; retrying", "err", err.Error(), "in", backoff)
			select {
			case <-time.After(backoff):
			case <-l.s.stopping:
				return nil, err
			}
			continue
		}
		backoff = 0
		if l.s.conns.Add(1) <= int64(l.s.cfg.Limits.MaxConns) {
			return &serverConn{Conn: c, open: &l.s.conns}, nil
		}
		l.s.conns.Add(-1)
		l.s.refuseConn(c)
	}
}

// isTemporaryAcceptErr reports an accept error that passes: too many open
// files (per process or system-wide), or a connection reset before it was
// accepted.
func isTemporaryAcceptErr(err error) bool {
	return errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) ||
		errors.Is(err, syscall.ECONNABORTED) || errors.Is(err, syscall.ENOBUFS) || errors.Is(err, syscall.ENOMEM)
}

// serverConn is an accepted connection. It gives its slot back when
// closed, once, and can put each write under a deadline of its own: a
// live stream's response lasts minutes, so fasthttp's deadline for the
// whole response cannot tell a stalled client from a busy stream.
type serverConn struct {
	net.Conn
	open   *atomic.Int64
	closed atomic.Bool
	// writeTimeout, when positive, is the time each Write may take
	// (nanoseconds); 0 leaves the deadlines to fasthttp.
	writeTimeout atomic.Int64
}

func (c *serverConn) Write(p []byte) (int, error) {
	if d := c.writeTimeout.Load(); d > 0 {
		if err := c.Conn.SetWriteDeadline(time.Now().Add(time.Duration(d))); err != nil {
			return 0, err
		}
	}
	return c.Conn.Write(p)
}

func (c *serverConn) Close() error {
	if c.closed.CompareAndSwap(false, true) {
		c.open.Add(-1)
	}
	return c.Conn.Close()
}

// refuseConn answers a connection over the bound without reading from it.
// The write runs on its own goroutine, under a deadline, so a client that
// does not read cannot stall the accept loop.
func (s *Server) refuseConn(c net.Conn) {
	id := s.newRequestID()
	p := problemFor(errTooManyConns)
	p.RequestID = id
	body, _ := json.Marshal(p)
	resp := fmt.Sprintf("HTTP/1.1 %d %s\r\nServer: flashdrop\r\nContent-Type: %s\r\n%s: %s\r\nRetry-After: 1\r\n"+
		"Connection: close\r\nContent-Length: %d\r\n\r\n%s\n",
		p.Status, fasthttp.StatusMessage(p.Status), problemContentType, headerRequestID, id, len(body)+1, body)
	s.metrics.observeRequest("connection", p.Status, 0)
	// At debug only, as other overload refusals: they come in floods.
	s.log.Debug("connection refused", "request_id", id, "status", p.Status, "open", s.cfg.Limits.MaxConns)
	go func() {
		_ = c.SetWriteDeadline(time.Now().Add(time.Second))
		_, _ = io.WriteString(c, resp)
		_ = c.Close()
	}()
}

func isTimeout(err error) bool {
	var ne interface{ Timeout() bool }
	return errors.As(err, &ne) && ne.Timeout()
}

// fasthttpLogger sends fasthttp's own messages to slog.
type fasthttpLogger struct{ log *slog.Logger }

func (l fasthttpLogger) Printf(format string, args ...any) {
	l.log.Warn(redactQuoted(fmt.Sprintf(format, args...)), "component", "fasthttp")
}

// quoted matches a Go-quoted string (%q), escapes included.
var quoted = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)

// redactQuoted blanks the quoted parts of a fasthttp error. Even with
// SecureErrorLogMessage, fasthttp quotes the request line or the header
// line it could not parse (with %q, always), and either can carry a token:
// an Authorization header, a token in a query string.
func redactQuoted(msg string) string {
	return quoted.ReplaceAllString(msg, `"…"`)
}

// adminReserve is how many requests an admin credential may have in
// flight past MaxInFlight. The bound sheds a rush, and a bot wave is
// exactly when ops must still pause the sale and read its figures: the
// kill switch, the admin reads and /metrics were refused with the
// shoppers' presses. The reserve is small and separate, so it cannot
// feed the rush.
const adminReserve = 64

// adminPastBound says whether r, arriving past MaxInFlight, may take a
// slot of the admin reserve: an admin route or /metrics with the admin
// token or a known admin key (authenticator.knownAdmin: no store read, so
// a stranger's made-up key is turned away at once and holds no slot). The
// caller gives the slot back when r ends.
func (s *Server) adminPastBound(r *request) bool {
	return s.opsCall(r) && takeSlot(&s.adminInflight, adminReserve)
}

// takeSlot takes one of a reserve's max slots, counted by n, if one is
// free.
func takeSlot(n *atomic.Int64, max int64) bool {
	if n.Add(1) > max {
		n.Add(-1)
		return false
	}
	return true
}

// opsCall says whether r is an admin route or /metrics with the admin
// token or a known admin key: the per-IP limit is for shoppers, and the
// ops page polls from one address. Anything else, a made-up key
// included, stays under the limit.
func (s *Server) opsCall(r *request) bool {
	if !isOpsPath(r.ctx.Path()) {
		return false
	}
	h := r.ctx.Request.Header.Peek(fasthttp.HeaderAuthorization)
	return len(h) > 0 && s.auth.knownAdmin(h, r.now())
}

// opsPageReserve is how many loads of the ops page and its assets may be
// in flight past MaxInFlight. They carry no token (the page asks for it),
// so the admin reserve cannot know them; but an operator who opens the
// page during the bot wave, to pause it, was turned away with the crowd.
// They are answered from memory, and the reserve is their own: a stranger
// loading them takes no slot from the admin API.
const opsPageReserve = 8

// opsPagePastBound says whether r, arriving past MaxInFlight, is a load of
// the ops page or one of its assets that may take a slot of their reserve.
// The caller gives the slot back when r ends.
func (s *Server) opsPagePastBound(r *request) bool {
	m := r.ctx.Method()
	if string(m) != fasthttp.MethodGet && string(m) != fasthttp.MethodHead {
		return false
	}
	switch string(r.ctx.Path()) {
	case "/ops", "/assets/ops.js", "/assets/style.css", "/assets/icon.svg":
	default:
		return false
	}
	return takeSlot(&s.opsPageInflight, opsPageReserve)
}

func isOpsPath(path []byte) bool {
	return bytes.HasPrefix(path, []byte("/v1/admin/")) || string(path) == "/metrics"
}
