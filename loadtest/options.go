package loadtest

import (
	"errors"
	"fmt"
	"io"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fasthttp"
)

// Arrival is how the rush's shoppers arrive.
type Arrival string

// Arrival models.
const (
	// ArrivalBurst: every buyer presses Buy at T0 (a closed model: each
	// connection sends the next request when the last one is answered).
	ArrivalBurst Arrival = "burst"
	// ArrivalRate: buyers arrive at a constant rate (an open model; latency
	// is measured from the intended arrival, corrected for coordinated
	// omission).
	ArrivalRate Arrival = "rate"
	// ArrivalRamp: the arrival rate moves linearly from Rate to RampTo
	// over Duration.
	ArrivalRamp Arrival = "ramp"
)

// UserToken is a shopper and a token the deployment accepts for her, for
// deployments whose JWT secret ops may not hold.
type UserToken struct {
	User  string
	Token string
}

// Thresholds make a run fail (exit code 1) when crossed. Zero values are
// off.
type Thresholds struct {
	// MaxP99 is the highest acceptable p99 of the rush's reserve requests.
	MaxP99 time.Duration `json:"max_p99,omitempty"`
	// MinRPS is the lowest acceptable rush throughput (requests/s).
	MinRPS float64 `json:"min_rps,omitempty"`
	// MaxErrorRate is the highest acceptable fraction of rush requests
	// that failed (transport errors, 5xx, 429, unexpected answers); it is
	// checked when positive or when MaxErrorRateSet (so that 0 can mean
	// "no error at all").
	MaxErrorRate    float64 `json:"max_error_rate,omitempty"`
	MaxErrorRateSet bool    `json:"-"`
}

// Options describe a rehearsal. The zero value of each field means its
// default; Run checks them all before it sends a request.
type Options struct {
	// Targets are the base URLs of the serve nodes; requests spread over
	// them (each connection sticks to one node).
	Targets []string
	// AdminToken is the shop backend's bearer token (creating the drop,
	// stats, confirming after "payment", reading reservations).
	AdminToken string
	// JWTSecret pre-signs shopper tokens (HS256, sub and exp), with
	// optional JWTIssuer and JWTAudience claims. Or give Tokens.
	JWTSecret   []byte
	JWTIssuer   string
	JWTAudience string
	// Tokens are ready-made shopper tokens; Users then defaults to their
	// number and may not exceed it.
	Tokens []UserToken

	// Users is the number of shoppers (default 1000).
	Users int
	// Stock, PerUserLimit, HoldSeconds and Mode configure a created drop
	// (defaults: Users/10, 1, 5, "fcfs"); with DropID they are read from
	// the existing drop instead.
	Stock        int64
	PerUserLimit int64
	HoldSeconds  int64
	Mode         string
	// DropID rehearses against an existing drop instead of creating one.
	DropID string
	// KeepDrop keeps the drop a run created after a valid, complete run.
	// By default it is deleted once audited: every run makes a rehearsal
	// with thousands of shoppers, and kept they pile up in the target's
	// Redis and on its ops page, while the report holds what was measured.
	// A drop the run did not create (DropID), or a run that was stopped
	// or invalid, is always kept, for a look.
	KeepDrop bool
	// Lead is how long after creation a created drop's sale starts
	// (default: 3 s plus 1 s per 1000 shoppers, time enough to register).
	Lead time.Duration
	// UserPrefix starts every shopper id (default "load-"); shard runs
	// against one drop must share it.
	UserPrefix string

	// Arrival, Rate, RampTo and Duration shape the rush (default burst).
	Arrival  Arrival
	Rate     float64
	RampTo   float64
	Duration time.Duration
	// Connections is the number of concurrent connections (default 64).
	Connections int
	// Presses is how many times each buyer presses Buy (default 1); each
	// press is retried like an app does, with the same Idempotency-Key,
	// after a transport error, 429 or 503.
	Presses int

	// ConfirmRatio and CancelRatio of the rush's winners confirm and
	// cancel; the rest let their hold expire. Defaults 0.5 and 0.2.
	ConfirmRatio float64
	CancelRatio  float64
	// WaitlistRatio of the buyers ask to join the waitlist when sold out
	// (default 0.3). UnregisteredRatio of the shoppers never register and
	// must be refused (default 0.05). KeyedRatio of the presses carry an
	// Idempotency-Key, as a careful app sends (default 1).
	WaitlistRatio     float64
	UnregisteredRatio float64
	KeyedRatio        float64
	// ratiosSet marks ratios given explicitly as zero.
	ratiosSet map[string]bool

	// NATSURL enables the event audit (I4) over JetStream.
	NATSURL string

	// Shard and Shards split the shoppers over several generators
	// ("--shard i/n"): this run takes shoppers whose index is Shard
	// modulo Shards. Shards 0 means 1.
	Shard, Shards int
	// Seed makes the shoppers' roles and order reproducible (default:
	// random, and reported, so a run can be repeated).
	Seed int64

	Thresholds Thresholds
	// MaxGeneratorCPU is the share of the machine's cores the generator
	// process may use before the run is reported invalid (default 0.9;
	// negative: not judged, e.g. when the server runs in the same
	// process). MaxPacerLag is how late the rate pacer may fall behind its
	// schedule at p99 (default 10 ms).
	MaxGeneratorCPU float64
	MaxPacerLag     time.Duration

	// RequestTimeout bounds each request (default 10 s). SettleTimeout
	// bounds the wait for holds to expire and the waitlist to refill
	// (default hold + 15 s). EventsWait bounds the wait for the events of
	// every win (default 15 s).
	RequestTimeout time.Duration
	SettleTimeout  time.Duration
	EventsWait     time.Duration
	// ReplaySample is how many keyed wins the audit replays (I5,
	// default 20).
	ReplaySample int

	// Progress receives progress bars (nil: none).
	Progress io.Writer
	// Log receives one line per phase (nil: none).
	Log io.Writer

	// Set with With… options, for tests and embedding.
	clock    Clock
	cpu      func() time.Duration
	machine  func() (busy, total time.Duration, ok bool)
	onPhase  func(Phase)
	trace    func(Exchange)
	dial     fasthttp.DialFunc
	cores    int
	embedded bool
}

// Option sets what has no flag: clocks, hooks, dialers.
type Option func(*Options)

// WithClock makes the run read and sleep on c.
func WithClock(c Clock) Option { return func(o *Options) { o.clock = c } }

// WithCPUMeter replaces the generator's CPU time reading (for tests).
func WithCPUMeter(f func() time.Duration) Option { return func(o *Options) { o.cpu = f } }

// WithMachineMeter replaces the reading of the machine's CPU time, busy
// and in all (for tests; on Linux it is /proc/stat's).
func WithMachineMeter(f func() (busy, total time.Duration, ok bool)) Option {
	return func(o *Options) { o.machine = f }
}

// WithPhaseHook calls f as each phase starts, before its first request.
func WithPhaseHook(f func(Phase)) Option { return func(o *Options) { o.onPhase = f } }

// WithTrace calls f with every HTTP exchange of the run, resends
// included, from the generator's goroutines (f must be safe for concurrent
// use): what a history check needs of each request.
func WithTrace(f func(Exchange)) Option { return func(o *Options) { o.trace = f } }

// WithDialer dials the targets with d (for in-memory listeners in tests).
func WithDialer(d fasthttp.DialFunc) Option { return func(o *Options) { o.dial = d } }

// WithCores sets the core count the CPU check divides by (default
// GOMAXPROCS).
func WithCores(n int) Option { return func(o *Options) { o.cores = n } }

// WithSharedProcess says the server runs in the generator's process (the
// embedded demo): its CPU is not the generator's, so it is not judged.
func WithSharedProcess() Option { return func(o *Options) { o.embedded = true } }

// SetRatio sets a ratio by its flag name ("confirm-ratio", …) and records
// that it was given, so that an explicit 0 is not replaced by the default.
func (o *Options) SetRatio(name string, v float64) error {
	p := o.ratio(name)
	if p == nil {
		return fmt.Errorf("unknown ratio %q", name)
	}
	*p = v
	if o.ratiosSet == nil {
		o.ratiosSet = map[string]bool{}
	}
	o.ratiosSet[name] = true
	return nil
}

func (o *Options) ratio(name string) *float64 {
	switch name {
	case "confirm-ratio":
		return &o.ConfirmRatio
	case "cancel-ratio":
		return &o.CancelRatio
	case "waitlist-ratio":
		return &o.WaitlistRatio
	case "unregistered-ratio":
		return &o.UnregisteredRatio
	case "keyed-ratio":
		return &o.KeyedRatio
	}
	return nil
}

// InvalidError is a setup problem found before any request: a bad option.
type InvalidError struct{ Reason string }

func (e *InvalidError) Error() string { return e.Reason }

func invalidf(format string, args ...any) error {
	return &InvalidError{Reason: fmt.Sprintf(format, args...)}
}

var idPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// withDefaults fills in defaults and checks every option. It sends nothing.
func (o Options) withDefaults() (Options, error) {
	if len(o.Targets) == 0 {
		return o, invalidf("no target: give --target URL (or --embedded)")
	}
	for i, t := range o.Targets {
		t = strings.TrimRight(strings.TrimSpace(t), "/")
		u, err := url.Parse(t)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") {
			return o, invalidf("--target %q: want a base URL such as http://127.0.0.1:8080", RedactURL(o.Targets[i]))
		}
		o.Targets[i] = t
	}
	if o.AdminToken == "" {
		return o, invalidf("--admin-token is required (stats, confirmations and the audit need it)")
	}
	if len(o.Tokens) == 0 && len(o.JWTSecret) == 0 {
		return o, invalidf("shopper tokens: give --jwt-secret or --tokens-file")
	}
	if len(o.Tokens) > 0 && len(o.JWTSecret) > 0 {
		return o, invalidf("give --jwt-secret or --tokens-file, not both")
	}
	if len(o.JWTSecret) > 0 && len(o.JWTSecret) < 32 {
		return o, invalidf("--jwt-secret must be at least 32 bytes, as serve requires")
	}
	if o.Users == 0 {
		o.Users = 1000
		if len(o.Tokens) > 0 {
			o.Users = len(o.Tokens)
		}
	}
	if o.Users < 1 || o.Users > 10_000_000 {
		return o, invalidf("--users must be between 1 and 10000000, got %d", o.Users)
	}
	if len(o.Tokens) > 0 && o.Users > len(o.Tokens) {
		return o, invalidf("--users %d but the tokens file has %d shoppers", o.Users, len(o.Tokens))
	}
	if o.DropID != "" && !idPattern.MatchString(o.DropID) {
		return o, invalidf("--drop %q: 1 to 64 of A-Z a-z 0-9 _ -", o.DropID)
	}
	if o.DropID == "" {
		if o.Stock == 0 {
			o.Stock = max(int64(o.Users/10), 1)
		}
		if o.PerUserLimit == 0 {
			o.PerUserLimit = 1
		}
		if o.HoldSeconds == 0 {
			o.HoldSeconds = 5
		}
		if o.Mode == "" {
			o.Mode = "fcfs"
		}
		if o.Stock < 1 || o.Stock > 1_000_000_000 {
			return o, invalidf("--stock must be between 1 and 1000000000, got %d", o.Stock)
		}
		if o.PerUserLimit < 1 || o.PerUserLimit > o.Stock {
			return o, invalidf("--per-user-limit must be between 1 and --stock, got %d", o.PerUserLimit)
		}
		if o.HoldSeconds < 1 || o.HoldSeconds > 7*24*3600 {
			return o, invalidf("--hold must be between 1s and 168h")
		}
		if o.Mode != "fcfs" && o.Mode != "draw" {
			return o, invalidf("--mode must be fcfs or draw, got %q", o.Mode)
		}
		if o.Shards > 1 {
			return o, invalidf("--shard needs --drop: every generator must rehearse the same existing drop")
		}
	} else if o.Stock != 0 || o.PerUserLimit != 0 || o.HoldSeconds != 0 || o.Mode != "" {
		return o, invalidf("--stock, --per-user-limit, --hold and --mode configure a new drop; with --drop they come from the existing drop")
	}
	if o.Lead == 0 {
		o.Lead = 3*time.Second + time.Duration(o.Users)*time.Millisecond
	}
	if o.Lead < 0 {
		return o, invalidf("--lead must be positive")
	}
	if o.UserPrefix == "" {
		o.UserPrefix = "load-"
	}
	if !idPattern.MatchString(o.UserPrefix + "0") {
		return o, invalidf("--user-prefix %q: A-Z a-z 0-9 _ - only", o.UserPrefix)
	}
	switch o.Arrival {
	case "":
		o.Arrival = ArrivalBurst
	case ArrivalBurst:
	case ArrivalRate, ArrivalRamp:
		if o.Rate <= 0 {
			return o, invalidf("--arrival %s needs --rate > 0", o.Arrival)
		}
		if o.Arrival == ArrivalRamp && o.RampTo <= 0 {
			return o, invalidf("--arrival ramp needs --ramp-to > 0")
		}
		if o.Duration <= 0 {
			return o, invalidf("--arrival %s needs --duration > 0", o.Arrival)
		}
	default:
		return o, invalidf("--arrival must be burst, rate or ramp, got %q", o.Arrival)
	}
	if o.Arrival == ArrivalBurst && (o.Rate != 0 || o.RampTo != 0) {
		return o, invalidf("--rate and --ramp-to need --arrival rate or ramp")
	}
	if o.Connections == 0 {
		o.Connections = 64
	}
	if o.Connections < 1 || o.Connections > 10000 {
		return o, invalidf("--connections must be between 1 and 10000, got %d", o.Connections)
	}
	if o.Presses == 0 {
		o.Presses = 1
	}
	if o.Presses < 1 || o.Presses > 100 {
		return o, invalidf("--presses must be between 1 and 100, got %d", o.Presses)
	}
	defaults := map[string]float64{"confirm-ratio": 0.5, "cancel-ratio": 0.2, "waitlist-ratio": 0.3,
		"unregistered-ratio": 0.05, "keyed-ratio": 1}
	for name, def := range defaults {
		p := o.ratio(name)
		if *p == 0 && !o.ratiosSet[name] {
			*p = def
		}
		if *p < 0 || *p > 1 {
			return o, invalidf("--%s must be between 0 and 1, got %s", name, strconv.FormatFloat(*p, 'f', -1, 64))
		}
	}
	if o.ConfirmRatio+o.CancelRatio > 1+1e-9 {
		return o, invalidf("--confirm-ratio + --cancel-ratio must not exceed 1 (the rest expire)")
	}
	if o.Shards == 0 {
		o.Shards = 1
	}
	if o.Shards < 1 || o.Shard < 0 || o.Shard >= o.Shards {
		return o, invalidf("--shard %d/%d: want i/n with 0 <= i < n", o.Shard, o.Shards)
	}
	if o.Thresholds.MaxP99 < 0 || o.Thresholds.MinRPS < 0 || o.Thresholds.MaxErrorRate < 0 || o.Thresholds.MaxErrorRate > 1 {
		return o, invalidf("thresholds must be positive (and --max-error-rate at most 1)")
	}
	if o.MaxGeneratorCPU == 0 {
		o.MaxGeneratorCPU = 0.9
	}
	if o.MaxPacerLag == 0 {
		o.MaxPacerLag = 10 * time.Millisecond
	}
	if o.RequestTimeout == 0 {
		o.RequestTimeout = 10 * time.Second
	}
	if o.EventsWait == 0 {
		o.EventsWait = 15 * time.Second
	}
	if o.ReplaySample == 0 {
		o.ReplaySample = 20
	}
	if o.RequestTimeout < 0 || o.SettleTimeout < 0 || o.EventsWait < 0 || o.ReplaySample < 0 {
		return o, invalidf("timeouts and --replay-sample must not be negative")
	}
	if o.NATSURL != "" {
		u, err := url.Parse(o.NATSURL)
		if err != nil || u.Host == "" {
			return o, invalidf("--nats-url %q: want nats://host:port", RedactNATS(o.NATSURL))
		}
	}
	if o.clock == nil {
		o.clock = systemClock{}
	}
	return o, nil
}

// errInterrupted marks a run stopped by its context (Ctrl-C).
var errInterrupted = errors.New("interrupted")
