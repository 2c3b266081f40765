package loadtest

import (
	"bytes"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/valyala/fasthttp"
)

// Endpoints, as reports name them.
const (
	EndpointHealth      = "healthz"
	EndpointCreateDrop  = "create_drop"
	EndpointGetDrop     = "get_drop"
	EndpointStats       = "stats"
	EndpointView        = "view"
	EndpointRegister    = "register"
	EndpointReserve     = "reserve"
	EndpointConfirm     = "confirm"
	EndpointCancel      = "cancel"
	EndpointReservation = "reservation"
	EndpointReplay      = "replay"
)

// Outcomes that are not problem codes.
const (
	OutcomeWon       = "won"
	OutcomeOK        = "ok"
	OutcomeTransport = "transport_error"
	OutcomeTimeout   = "timeout"
)

// Exchange is one HTTP request and its answer, as WithTrace reports it.
// Err is set (and Status 0) when no answer came: a timeout or a broken
// connection, after which the request may or may not have taken effect.
type Exchange struct {
	Phase    Phase
	Endpoint string
	Method   string
	Path     string
	// User is the shopper the request is for ("" for the drop's own
	// calls); Admin says it carried the admin token.
	User  string
	Admin bool
	// Key is the Idempotency-Key ("" for none); Body the request body.
	Key  string
	Body []byte
	// Status, Code (the problem code, or "won"/"ok") and Response are the
	// answer; Replayed its Idempotent-Replayed header.
	Status   int
	Code     string
	Response []byte
	Replayed bool
	Err      error
	// Sent and Done are the generator's clock around the exchange.
	Sent, Done time.Time
}

// answer is one HTTP exchange as the generator saw it. body is a copy:
// nothing of fasthttp's pooled buffers outlives the call.
type answer struct {
	status     int
	code       string // problem code, "won"/"ok" on 2xx, or a transport outcome
	body       []byte
	retryAfter time.Duration
	replayed   bool
	date       time.Time // the Date header: the server's clock, to the second
	err        error
	sent, done time.Time
	// lost counts the attempts of this call, this one included, whose
	// outcome is unknown; lostSent is when the first of them was sent
	// (runner.call sets them).
	lost     int
	lostSent time.Time
}

// unknown says the answer leaves the request's outcome unknown: no answer
// at all, or a 5xx (an overloaded or failing node, a proxy that lost its
// backend: the engine says a 503 to a reserve is an unknown outcome).
func (a answer) unknown() bool { return a.err != nil || a.status >= 500 }

// ok reports a 2xx answer.
func (a answer) ok() bool { return a.err == nil && a.status >= 200 && a.status < 300 }

// retryable says whether an app would send the same request again: the
// server never decided it (transport error, overloaded, rate limited).
func (a answer) retryable() bool {
	return a.err != nil || a.status == 429 || a.status == 503 || a.status == 502 || a.status == 504
}

// failed counts towards the error rate: not an answer the contract allows
// for a well-formed request.
func (a answer) failed() bool {
	return a.err != nil || a.status >= 500 || a.status == 429 || a.code == "internal" || a.code == "invalid" ||
		a.code == "unauthorized" || a.code == "forbidden" || a.status == 0
}

// client sends requests to the targets over keep-alive connections.
type client struct {
	hosts   []*fasthttp.HostClient
	bases   []string // path prefix of each target ("" for most)
	admin   string
	timeout time.Duration
	clock   Clock
}

func newClient(o Options) (*client, error) {
	c := &client{admin: o.AdminToken, timeout: o.RequestTimeout, clock: o.clock}
	// Each connection sticks to one target; a target gets its share.
	for i, t := range o.Targets {
		u, err := url.Parse(t)
		if err != nil {
			return nil, err
		}
		conns := o.Connections / len(o.Targets)
		if i < o.Connections%len(o.Targets) {
			conns++
		}
		// The connections of its share, + the coordinator's own calls;
		// with several targets, room for every connection: resends fail
		// over from a target that stopped answering (runner.call), and
		// must not wait for a free connection here.
		maxConns := max(conns, 1) + 4
		if len(o.Targets) > 1 {
			maxConns = max(o.Connections, 1) + 4
		}
		host := u.Host
		if u.Port() == "" {
			if u.Scheme == "https" {
				host += ":443"
			} else {
				host += ":80"
			}
		}
		dial := o.dial
		if dial == nil {
			// A plain dialer: fasthttp's default one caches DNS answers in a
			// process-wide goroutine that never ends.
			d := &net.Dialer{Timeout: o.RequestTimeout, KeepAlive: 30 * time.Second}
			dial = func(addr string) (net.Conn, error) { return d.Dial("tcp", addr) }
		}
		c.hosts = append(c.hosts, &fasthttp.HostClient{
			Addr:                          host,
			IsTLS:                         u.Scheme == "https",
			Name:                          "flashdrop-load",
			MaxConns:                      maxConns,
			MaxConnWaitTimeout:            o.RequestTimeout,
			ReadTimeout:                   o.RequestTimeout,
			WriteTimeout:                  o.RequestTimeout,
			MaxIdleConnDuration:           time.Minute,
			Dial:                          dial,
			NoDefaultUserAgentHeader:      true,
			DisableHeaderNamesNormalizing: true,
			DisablePathNormalizing:        true,
		})
		c.bases = append(c.bases, strings.TrimSuffix(u.Path, "/"))
	}
	return c, nil
}

func (c *client) close() {
	for _, h := range c.hosts {
		h.CloseIdleConnections()
	}
}

// do sends one request to target t (modulo the number of targets).
// token "" sends no Authorization; key "" sends no Idempotency-Key.
func (c *client) do(t int, method, path, token string, body []byte, key string) answer {
	return c.send(t, method, path, token, body, key, false)
}

// doDated is do that also reads the Date header (the server's clock): a
// parse the hot path does without.
func (c *client) doDated(t int, method, path, token string, body []byte, key string) answer {
	return c.send(t, method, path, token, body, key, true)
}

func (c *client) send(t int, method, path, token string, body []byte, key string, dated bool) answer {
	h := c.hosts[t%len(c.hosts)]
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.Header.SetMethod(method)
	if base := c.bases[t%len(c.bases)]; base != "" {
		req.SetRequestURI(base + path)
	} else {
		req.SetRequestURI(path) // no concatenation (an allocation) on the hot path
	}
	req.Header.SetHost(h.Addr)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	if body != nil {
		req.Header.SetContentType("application/json")
		req.SetBody(body)
	}
	a := answer{sent: c.clock.Now()}
	err := h.DoTimeout(req, resp, c.timeout)
	a.done = c.clock.Now()
	if err != nil {
		a.err = shortTransportError(err)
		a.code = OutcomeTransport
		if errors.Is(err, fasthttp.ErrTimeout) || errors.Is(err, fasthttp.ErrDialTimeout) {
			a.code = OutcomeTimeout
		}
		return a
	}
	a.status = resp.StatusCode()
	if b := resp.Body(); len(b) > 0 {
		a.body = append([]byte(nil), b...)
	}
	if ra := resp.Header.Peek("Retry-After"); len(ra) > 0 {
		if n, err := strconv.Atoi(string(ra)); err == nil && n >= 0 {
			a.retryAfter = time.Duration(n) * time.Second
		}
	}
	a.replayed = string(resp.Header.Peek("Idempotent-Replayed")) == "true"
	if d := resp.Header.Peek("Date"); dated && len(d) > 0 {
		a.date, _ = http.ParseTime(string(d))
	}
	switch {
	case a.status >= 200 && a.status < 300:
		a.code = OutcomeOK
	default:
		var p struct {
			Code string `json:"code"`
		}
		if json.Unmarshal(a.body, &p) == nil && p.Code != "" {
			a.code = p.Code
		} else {
			a.code = "http_" + strconv.Itoa(a.status)
		}
	}
	return a
}

// maxErrorBytes bounds what an error quotes of a peer's answer.
const maxErrorBytes = 120

// shortError is a transport error said in a line a person reads; Unwrap
// keeps the original for errors.Is.
type shortError struct {
	msg string
	err error
	// notHTTP: the peer answered, but not in HTTP; quote is the start of
	// what fasthttp said of it.
	notHTTP bool
	quote   string
}

func (e *shortError) Error() string { return e.msg }
func (e *shortError) Unwrap() error { return e.err }

// shortTransportError says an answer that was not HTTP as such, with the
// first bytes of what fasthttp quoted of it, and cuts any other long
// error short: a --target that was a NATS port printed a 1.5-KB error
// holding the peer's whole INFO line.
func shortTransportError(err error) error {
	msg := err.Error()
	var ne net.Error
	if rest, ok := strings.CutPrefix(msg, "error when reading response headers: "); ok && !errors.As(err, &ne) {
		q := clip(rest, maxErrorBytes)
		return &shortError{msg: "the target did not answer HTTP: " + q, err: err, notHTTP: true, quote: q}
	}
	if len(msg) > 2*maxErrorBytes {
		return &shortError{msg: clip(msg, 2*maxErrorBytes), err: err}
	}
	return err
}

// clip is s cut to at most n bytes on a rune boundary, on one line, with
// "…" where it was cut.
func clip(s string, n int) string {
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		s = s[:i] + "…"
	}
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// --- lenient wire forms: unknown fields are ignored, missing ones zero ---

// Drop is what the rehearsal needs of a drop's configuration.
type Drop struct {
	ID                   string    `json:"id"`
	Name                 string    `json:"name,omitempty"`
	Stock                int64     `json:"stock"`
	PerUserLimit         int64     `json:"per_user_limit"`
	HoldSeconds          int64     `json:"hold_seconds"`
	Mode                 string    `json:"mode"`
	ConfirmBy            string    `json:"confirm_by,omitempty"`
	RegistrationOpensAt  time.Time `json:"registration_opens_at"`
	RegistrationClosesAt time.Time `json:"registration_closes_at"`
	SaleStartsAt         time.Time `json:"sale_starts_at"`
	SaleEndsAt           time.Time `json:"sale_ends_at,omitzero"`
	CreatedAt            time.Time `json:"created_at,omitzero"`
	// Rehearsal is the server's word that shoppers are not shown the drop
	// (a server from before rehearsal drops says nothing).
	Rehearsal bool `json:"rehearsal,omitempty"`
}

// confirmer is who confirms a hold: the shop backend (admin token), unless
// the drop lets shoppers confirm their own. A missing field is the default,
// "backend".
func (d Drop) shopperConfirms() bool { return d.ConfirmBy == "shopper" }

// Reservation is a reservation as the API shows it.
type Reservation struct {
	ID           string    `json:"id"`
	User         string    `json:"user"`
	Quantity     int64     `json:"quantity"`
	Status       string    `json:"status"`
	WonAt        time.Time `json:"won_at,omitzero"`
	ExpiresAt    time.Time `json:"expires_at,omitzero"`
	UpdatedAt    time.Time `json:"updated_at,omitzero"`
	FromWaitlist bool      `json:"from_waitlist,omitempty"`
}

// Stats are a drop's counters. Owed (units owed to the waitlist while a
// drop is paused) is counted apart from Available where a server reports
// it; other unknown fields are ignored.
type Stats struct {
	Stock        int64  `json:"stock"`
	Available    int64  `json:"available"`
	Held         int64  `json:"held"`
	Confirmed    int64  `json:"confirmed"`
	Released     int64  `json:"released"`
	Owed         *int64 `json:"owed,omitempty"`
	Registered   int64  `json:"registered"`
	Waitlisted   int64  `json:"waitlisted"`
	Reservations int64  `json:"reservations"`
}

type publicView struct {
	State string `json:"state"`
	Me    *struct {
		Registered       bool         `json:"registered"`
		Reservation      *Reservation `json:"reservation"`
		WaitlistPosition *int64       `json:"waitlist_position"`
	} `json:"me"`
	ConfirmBy string `json:"confirm_by"`
}

type reservationBody struct {
	Reservation Reservation `json:"reservation"`
}

type problemBody struct {
	Code             string `json:"code"`
	Detail           string `json:"detail"`
	WaitlistPosition int64  `json:"waitlist_position"`
}

func decodeLenient(b []byte, v any) error {
	return json.NewDecoder(bytes.NewReader(b)).Decode(v)
}
