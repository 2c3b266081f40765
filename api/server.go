package api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"runtime/debug"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"

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
	// Metrics, if set, are the node's instruments, shared with the parts
	// that run beside the server; default: a fresh set.
	Metrics *Metrics

	Auth AuthConfig
	// Ready reports whether the backing services answer; /readyz calls it.
	Ready func(context.Context) error
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	Limits Limits
	// LiveInterval is the least time between two live events (default 500ms).
	LiveInterval time.Duration
	// LiveMaxDuration ends a live stream, which the browser then reopens,
	// so no connection is held forever (default 5m).
	LiveMaxDuration time.Duration
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
}

// WithEngine returns c with the services of eng and adm, and webhooks if
// hooks is not nil.
func (c Config) WithEngine(eng *engine.Engine, adm *engine.Admission, hooks *engine.Webhooks) Config {
	c.Drops, c.Shoppers, c.Reservations, c.Admission, c.Shares = eng, eng, eng, adm, eng
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
}

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
	if l.UserRate == 0 {
		l.UserRate = DefaultUserRate
	}
	def(&l.UserBurst, DefaultUserBurst)
	def(&l.IPBurst, DefaultIPBurst)
	return l
}

// Server is flashdrop's HTTP API.
type Server struct {
	cfg      Config
	drops    DropService
	shoppers ShopperService
	res      ReservationService
	adm      Admission
	hooks    WebhookService
	log      *slog.Logger
	auth     *authenticator
	regLimit *limiter
	resLimit *limiter
	ipLimit  *limiter
	metrics  *Metrics
	http     *fasthttp.Server
	web      *web       // the pages (pages.go)
	cards    *cardCache // rendered share card images (card.go)

	inflight atomic.Int64
	idPrefix string
	idSeq    atomic.Uint64
	stopping chan struct{}
	stopOnce sync.Once
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
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Ready == nil {
		cfg.Ready = func(context.Context) error { return nil }
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
	cfg.Limits = cfg.Limits.withDefaults()
	pages, err := newWeb()
	if err != nil {
		return nil, err
	}
	var prefix [6]byte
	_, _ = rand.Read(prefix[:])
	s := &Server{
		cfg: cfg, drops: cfg.Drops, shoppers: cfg.Shoppers, res: cfg.Reservations, adm: cfg.Admission,
		hooks: cfg.Webhooks, log: cfg.Logger, auth: auth, metrics: cfg.Metrics,
		regLimit: newLimiter(cfg.Limits.UserRate, cfg.Limits.UserBurst, nil),
		resLimit: newLimiter(cfg.Limits.UserRate, cfg.Limits.UserBurst, nil),
		ipLimit:  newLimiter(cfg.Limits.IPRate, cfg.Limits.IPBurst, nil),
		idPrefix: hex.EncodeToString(prefix[:]),
		stopping: make(chan struct{}),
		web:      pages, cards: newCardCache(cardCacheSize),
	}
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
		Logger:             fasthttpLogger{s.log},
	}
	return s, nil
}

// Serve answers requests on ln until Shutdown.
func (s *Server) Serve(ln net.Listener) error { return s.http.Serve(ln) }

// Shutdown stops accepting connections, ends live streams and lets
// requests in flight finish (their reserve batches included: the admission
// outlives the server and is closed after it). Safe to call more than once.
func (s *Server) Shutdown(ctx context.Context) error {
	s.stopOnce.Do(func() { close(s.stopping) })
	return s.http.ShutdownWithContext(ctx)
}

const headerRequestID = "X-Request-Id"

// request is what a handler knows about its call, copied out of the
// RequestCtx where it must outlive the handler.
type request struct {
	ctx   *fasthttp.RequestCtx
	route string
	args  []string // path parameters
	who   principal
	authd bool
}

type handlerFunc func(r *request) error

// Handler returns the fasthttp handler with every route and safeguard.
func (s *Server) Handler() fasthttp.RequestHandler {
	return s.serve
}

func (s *Server) serve(ctx *fasthttp.RequestCtx) {
	start := time.Now()
	id := s.requestID(ctx)
	ctx.Response.Header.Set(headerRequestID, id)
	r := &request{ctx: ctx, route: "unmatched"}
	defer func() {
		if p := recover(); p != nil {
			s.log.Error("panic in handler", "request_id", id, "route", r.route, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			ctx.Response.Reset()
			ctx.Response.Header.Set(headerRequestID, id)
			writeProblem(ctx, problemFor(errors.New("panic")))
		}
		status := ctx.Response.StatusCode()
		s.metrics.observeRequest(r.route, status, time.Since(start))
		if s.log.Enabled(context.Background(), slog.LevelDebug) {
			s.log.Debug("request", "request_id", id, "method", string(ctx.Method()), "route", r.route,
				"status", status, "took", time.Since(start))
		}
	}()
	if n := s.inflight.Add(1); n > int64(s.cfg.Limits.MaxInFlight) {
		s.inflight.Add(-1)
		setRetryAfter(ctx, 1)
		writeProblem(ctx, problemFor(errOverloaded))
		return
	}
	s.metrics.inflight.Inc()
	defer func() { s.inflight.Add(-1); s.metrics.inflight.Dec() }()

	h := s.route(r)
	if h == nil {
		return // route wrote the answer (404 or 405)
	}
	if s.cfg.Limits.IPRate > 0 {
		if ok, wait := s.ipLimit.allow(ctx.RemoteIP().String()); !ok {
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

// fail answers err as a problem; unknown errors are logged with their cause.
func (s *Server) fail(r *request, err error) {
	p := problemFor(err)
	if p.Status >= 500 {
		s.log.Error("request failed", "request_id", string(r.ctx.Response.Header.Peek(headerRequestID)),
			"route", r.route, "status", p.Status, "err", err.Error())
		s.metrics.storeError(err)
		if p.Status == fasthttp.StatusServiceUnavailable {
			setRetryAfter(r.ctx, 1)
		}
	}
	writeProblem(r.ctx, p)
}

// requestID keeps a caller's X-Request-Id if it is short and plain, and
// otherwise makes one: a per-process random prefix and a counter, which is
// unique and costs no syscall per request.
func (s *Server) requestID(ctx *fasthttp.RequestCtx) string {
	if in := ctx.Request.Header.Peek(headerRequestID); len(in) > 0 && len(in) <= 64 {
		ok := true
		for _, c := range in {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
				ok = false
				break
			}
		}
		if ok {
			return string(in)
		}
	}
	return s.idPrefix + "-" + strconv.FormatUint(s.idSeq.Add(1), 36)
}

// transportError answers requests fasthttp could not even parse: too
// large, malformed, or too slow; always as problem+json.
func (s *Server) transportError(ctx *fasthttp.RequestCtx, err error) {
	var p Problem
	switch {
	case errors.Is(err, fasthttp.ErrBodyTooLarge):
		p = problemFor(errTooLarge)
		p.Detail = fmt.Sprintf("request bodies are limited to %d bytes", s.cfg.Limits.MaxBodyBytes)
	case isTimeout(err):
		p = Problem{Type: problemType("invalid"), Title: "Request timeout", Status: fasthttp.StatusRequestTimeout, Code: "invalid"}
	default:
		var small *fasthttp.ErrSmallBuffer
		if errors.As(err, &small) {
			p = Problem{Type: problemType("invalid"), Title: "Request headers too large",
				Status: fasthttp.StatusRequestHeaderFieldsTooLarge, Code: "invalid"}
		} else {
			p = Problem{Type: problemType("invalid"), Title: "Malformed request", Status: fasthttp.StatusBadRequest, Code: "invalid"}
		}
	}
	writeProblem(ctx, p)
}

func isTimeout(err error) bool {
	var ne interface{ Timeout() bool }
	return errors.As(err, &ne) && ne.Timeout()
}

// fasthttpLogger sends fasthttp's own messages to slog.
type fasthttpLogger struct{ log *slog.Logger }

func (l fasthttpLogger) Printf(format string, args ...any) {
	l.log.Warn(fmt.Sprintf(format, args...), "component", "fasthttp")
}
