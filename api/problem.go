package api

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/flashdrop/flashdrop/engine"
	"github.com/flashdrop/flashdrop/internal/jsonw"
)

// Problem is an RFC 9457 problem details body, with flashdrop's
// machine-readable Code and the extension members some codes carry.
type Problem struct {
	Type     string `json:"type"`
	Title    string `json:"title"`
	Status   int    `json:"status"`
	Detail   string `json:"detail,omitempty"`
	Code     string `json:"code"`
	Instance string `json:"instance,omitempty"`
	// WaitlistPosition is set on sold_out when the shopper is on the waitlist.
	WaitlistPosition int64 `json:"waitlist_position,omitempty"`
	// Available is set on sold_out for a request for more units than were
	// left: how many were (a reserve is all or nothing).
	Available int64 `json:"available,omitempty"`
	// Field names the offending input on invalid.
	Field string `json:"field,omitempty"`
	// RequestID repeats the X-Request-Id header, for support tickets.
	RequestID string `json:"request_id,omitempty"`
	// Fields names what differs on drop_exists.
	Fields []string `json:"fields,omitempty"`
	// invalidToken marks a 401 for credentials that were sent and
	// refused: its WWW-Authenticate says error="invalid_token" (RFC
	// 6750), with Detail as the error_description.
	invalidToken bool
}

// problemType is the type URI of a code: a URN, since the problem
// descriptions live in the README rather than on a web host.
func problemType(code string) string { return "urn:flashdrop:problem:" + code }

// errorMap maps one error to its answer.
type errorMap struct {
	err    error
	status int
	code   string
	title  string
}

// errorMapping is the one table from engine outcomes to HTTP.
var errorMapping = []errorMap{
	{engine.ErrInvalid, fasthttp.StatusBadRequest, "invalid", "Invalid request"},
	{engine.ErrNotFound, fasthttp.StatusNotFound, "not_found", "Not found"},
	{engine.ErrDropExists, fasthttp.StatusConflict, "drop_exists", "Drop already exists"},
	{engine.ErrDropDeleted, fasthttp.StatusConflict, "drop_exists", "Drop already exists"},
	{engine.ErrDropInUse, fasthttp.StatusConflict, "drop_in_use", "The drop is in use"},
	{engine.ErrSeriesExists, fasthttp.StatusConflict, "series_exists", "Series already exists"},
	{engine.ErrForbidden, fasthttp.StatusForbidden, "forbidden", "Forbidden"},
	{engine.ErrReplayRunning, fasthttp.StatusConflict, "replay_running", "A replay of this webhook is running"},
	{engine.ErrRotationPending, fasthttp.StatusConflict, "rotation_pending", "The previous secret is still in its grace"},
	{engine.ErrRegistrationNotOpen, fasthttp.StatusConflict, "registration_not_open", "Registration has not opened yet"},
	{engine.ErrRegistrationClosed, fasthttp.StatusConflict, "registration_closed", "Registration is closed"},
	{engine.ErrNotRegistered, fasthttp.StatusForbidden, "not_registered", "Not registered for this drop"},
	{engine.ErrSaleNotOpen, fasthttp.StatusConflict, "sale_not_open", "The sale has not started"},
	{engine.ErrSaleClosed, fasthttp.StatusConflict, "sale_closed", "The sale has ended"},
	{engine.ErrSalePaused, fasthttp.StatusConflict, "sale_paused", "The sale is paused"},
	{engine.ErrSoldOut, fasthttp.StatusConflict, "sold_out", "Sold out"},
	{engine.ErrLimitReached, fasthttp.StatusConflict, "limit_reached", "Per-shopper limit reached"},
	{engine.ErrIdempotencyMismatch, fasthttp.StatusUnprocessableEntity, "idempotency_mismatch", "Idempotency-Key reused with a different request"},
	{engine.ErrExpired, fasthttp.StatusConflict, "expired", "The hold has expired"},
	{engine.ErrCancelled, fasthttp.StatusConflict, "cancelled", "The reservation was cancelled"},
	{engine.ErrConfirmed, fasthttp.StatusConflict, "confirmed", "The reservation is already confirmed"},
	{errNoCredentials, fasthttp.StatusUnauthorized, "unauthorized", "Authentication required"},
	{errBadCredentials, fasthttp.StatusUnauthorized, "unauthorized", "Invalid credentials"},
	{errAdminOnly, fasthttp.StatusForbidden, "forbidden", "Admin token required"},
	{errShopperOnly, fasthttp.StatusForbidden, "forbidden", "Shopper token required"},
	{errOverloaded, fasthttp.StatusServiceUnavailable, "unavailable", "Overloaded, retry shortly"},
	{engine.ErrOverloaded, fasthttp.StatusServiceUnavailable, "unavailable", "Overloaded, retry shortly"},
	{engine.ErrUnavailable, fasthttp.StatusServiceUnavailable, "unavailable", "A backing service is unavailable"},
	{errTooManyConns, fasthttp.StatusServiceUnavailable, "unavailable", "Too many open connections, retry shortly"},
	{errTooManyStreams, fasthttp.StatusServiceUnavailable, "unavailable", "Too many live streams, retry later or poll the drop"},
	{errUnavailable, fasthttp.StatusServiceUnavailable, "unavailable", "A backing service is unavailable"},
	{errRateLimited, fasthttp.StatusTooManyRequests, "rate_limited", "Too many requests"},
	{errTooLarge, fasthttp.StatusRequestEntityTooLarge, "invalid", "Request body too large"},
	{errMethod, fasthttp.StatusMethodNotAllowed, "invalid", "Method not allowed"},
}

// bareProblems[i] is the problem of errorMapping[i]'s sentinel itself.
var bareProblems = func() []Problem {
	out := make([]Problem, len(errorMapping))
	for i, m := range errorMapping {
		out[i] = Problem{Type: problemType(m.code), Title: m.title, Status: m.status, Code: m.code,
			invalidToken: m.err == errBadCredentials}
	}
	return out
}()

// bareSoldOut is bareProblems' entry for engine.ErrSoldOut.
var bareSoldOut = bareProblems[slices.IndexFunc(errorMapping, func(m errorMap) bool { return m.err == engine.ErrSoldOut })]

// Transport-level outcomes that are not engine errors.
var (
	errAdminOnly      = errors.New("api: admin token required")
	errShopperOnly    = errors.New("api: shopper token required")
	errOverloaded     = errors.New("api: overloaded")
	errTooManyConns   = errors.New("api: too many open connections")
	errTooManyStreams = errors.New("api: too many live streams")
	errUnavailable    = errors.New("api: backing service unavailable")
	errRateLimited    = errors.New("api: rate limited")
	errTooLarge       = errors.New("api: request body too large")
	errMethod         = errors.New("api: method not allowed")
)

// problemFor maps err to a problem. Unknown errors become 500 internal with
// no detail: the cause goes to the log only, never to the client.
func problemFor(err error) Problem {
	// The bare sentinels (a sold_out from the sold-out flag, a rate
	// limit) carry nothing more: their problems are made once, so the
	// answers that come in floods cost no allocation. The flood after a
	// sell-out is answered first, before a walk of the table (an
	// interface compare per entry, twice per request: 7 % of the time of
	// BenchmarkSoldOutHandlerCrowd).
	if err == engine.ErrSoldOut {
		return bareSoldOut
	}
	for i := range errorMapping {
		if err == errorMapping[i].err {
			return bareProblems[i]
		}
	}
	for _, m := range errorMapping {
		if errors.Is(err, m.err) {
			p := Problem{Type: problemType(m.code), Title: m.title, Status: m.status, Code: m.code}
			var so *engine.SoldOutError
			if errors.As(err, &so) {
				p.WaitlistPosition = so.WaitlistPosition
				if so.Available > 0 {
					p.Available = so.Available
					p.Detail = fmt.Sprintf("only %d left: a reserve is all or nothing, so ask for %d or fewer", so.Available, so.Available)
				}
			}
			var we *engine.WindowError
			if errors.As(err, &we) {
				p.Detail = we.What + " " + we.At.UTC().Format(time.RFC3339)
			}
			var de *engine.DetailError
			if errors.As(err, &de) {
				p.Detail = de.Detail
			}
			var conflict *engine.DropConflictError
			if errors.As(err, &conflict) {
				p.Fields = conflict.Fields
				p.Detail = "a drop with this id exists with a different " + strings.Join(conflict.Fields, ", ")
			}
			if m.err == engine.ErrNotFound && p.Detail == "" {
				p.Detail = notFoundDetail(err)
			}
			if errors.Is(err, engine.ErrInProgress) {
				p.Detail = "a request with this Idempotency-Key is in progress; retry shortly for its answer"
			}
			if m.err == errBadCredentials {
				// Gated on the entry: no walk of the chain for the other
				// problems of this path (a waitlisted sold_out among them).
				p.invalidToken = true
				var ae *authError
				if errors.As(err, &ae) {
					p.Detail = ae.detail
				}
			}
			var se *engine.ScopeError
			if errors.As(err, &se) {
				p.Title = "Missing scope"
				p.Detail = "this credential lacks the scope " + se.Wanted()
			}
			var ve *engine.ValidationError
			if errors.As(err, &ve) {
				p.Field = httpField(ve.Field)
				p.Detail = p.Field + " " + ve.Reason
			}
			return p
		}
	}
	return Problem{Type: problemType("internal"), Title: "Internal error", Status: fasthttp.StatusInternalServerError,
		Code: "internal", Detail: "The error was logged; quote the request id when reporting it."}
}

// notFoundKinds are the things the engine and store name in a not-found
// error (`engine: not found: drop "x"`), with the words a client reads.
var notFoundKinds = map[string]string{
	"drop": "drop", "reservation": "reservation", "webhook": "webhook", "series": "series", "key": "API key",
}

// notFoundDetail words a wrapped engine.ErrNotFound that names what is
// missing as `no drop "x"`; "" for anything else (a bare ErrNotFound, a
// share code), which fail may still word from the route.
func notFoundDetail(err error) string {
	const prefix = "engine: not found: "
	msg := err.Error()
	i := strings.LastIndex(msg, prefix)
	if i < 0 {
		return ""
	}
	kind, id, ok := strings.Cut(msg[i+len(prefix):], " ")
	words, known := notFoundKinds[kind]
	if !ok || !known || len(id) < 2 || id[0] != '"' || id[len(id)-1] != '"' || strings.Contains(id[1:len(id)-1], `"`) {
		return ""
	}
	return "no " + words + " " + id
}

// notFoundOnRoute words a 404 whose error says nothing of what is missing
// (it ends in engine.ErrNotFound's own text) from the thing the route
// names: the store's scripts answer "not found" without saying what (a
// register's drop, a confirm's reservation). Error path only.
func notFoundOnRoute(route string, args []string) string {
	if len(args) == 0 {
		return ""
	}
	var words string
	switch {
	case strings.HasPrefix(route, "/v1/admin/drops/{drop}"), strings.HasPrefix(route, "/v1/drops/{drop}"):
		words = "drop"
	case strings.HasPrefix(route, "/v1/reservations/{id}"):
		words = "reservation"
	case strings.HasPrefix(route, "/v1/admin/webhooks/{id}"):
		words = "webhook"
	case strings.HasPrefix(route, "/v1/admin/keys/{id}"):
		words = "API key"
	case strings.HasPrefix(route, "/v1/admin/series/{series}"), strings.HasPrefix(route, "/v1/series/{series}"):
		words = "series"
	default:
		return ""
	}
	return "no " + words + " " + strconv.Quote(clip(args[0], 64))
}

// httpField is the name a client knows an engine's field by: the engine
// names the idempotency key as it names a body's fields, but over HTTP
// it is the Idempotency-Key header, and a "field":"idempotency_key"
// pointed at no key of any body.
func httpField(field string) string {
	if field == "idempotency_key" {
		return "Idempotency-Key"
	}
	return field
}

const problemContentType = "application/problem+json"

// writeProblem sends p as application/problem+json. The body is appended
// field by field into the response's pooled buffer (appendProblem), in
// the order and escaping encoding/json would give it: an answer sent in
// floods (sold_out, rate_limited) allocates nothing.
func writeProblem(ctx *fasthttp.RequestCtx, p Problem) {
	ctx.Response.Header.SetContentType(problemContentType)
	ctx.SetStatusCode(p.Status)
	if p.Status == fasthttp.StatusUnauthorized {
		ctx.Response.Header.Set("WWW-Authenticate", wwwAuthenticate(&p))
	}
	ctx.Response.ResetBody()
	buf := bodyBufPool.Get().(*[]byte)
	b := appendProblem((*buf)[:0], &p, ctx.Response.Header.Peek(headerRequestID))
	b = append(b, '\n') // a terminal shows curl's output on its own line
	ctx.Response.AppendBody(b)
	*buf = b
	bodyBufPool.Put(buf)
}

// wwwAuthenticate is a 401's challenge: the realm, and for a credential
// that was sent and refused error="invalid_token" and the reason (RFC
// 6750 §3; a request without credentials gets no error code). The reason
// is an authError's fixed detail; a quote or backslash, which the
// header's quoted string may not hold, would become an apostrophe.
func wwwAuthenticate(p *Problem) string {
	const realm = `Bearer realm="flashdrop"`
	if !p.invalidToken {
		return realm
	}
	v := realm + `, error="invalid_token"`
	if p.Detail != "" {
		v += `, error_description="` + strings.NewReplacer(`"`, "'", `\`, "'").Replace(p.Detail) + `"`
	}
	return v
}

// bodyBufPool holds buffers in which the answers sent in floods
// (problems, reservations) are built before fasthttp copies them.
var bodyBufPool = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// appendProblem appends p as JSON, as json.Marshal(p) writes it;
// requestID stands in for an empty p.RequestID.
func appendProblem(b []byte, p *Problem, requestID []byte) []byte {
	b = append(b, `{"type":`...)
	b = jsonw.AppendString(b, p.Type)
	b = append(b, `,"title":`...)
	b = jsonw.AppendString(b, p.Title)
	b = append(b, `,"status":`...)
	b = strconv.AppendInt(b, int64(p.Status), 10)
	if p.Detail != "" {
		b = append(b, `,"detail":`...)
		b = jsonw.AppendString(b, p.Detail)
	}
	b = append(b, `,"code":`...)
	b = jsonw.AppendString(b, p.Code)
	if p.Instance != "" {
		b = append(b, `,"instance":`...)
		b = jsonw.AppendString(b, p.Instance)
	}
	if p.WaitlistPosition != 0 {
		b = append(b, `,"waitlist_position":`...)
		b = strconv.AppendInt(b, p.WaitlistPosition, 10)
	}
	if p.Available != 0 {
		b = append(b, `,"available":`...)
		b = strconv.AppendInt(b, p.Available, 10)
	}
	if p.Field != "" {
		b = append(b, `,"field":`...)
		b = jsonw.AppendString(b, p.Field)
	}
	if p.RequestID != "" {
		b = append(b, `,"request_id":`...)
		b = jsonw.AppendString(b, p.RequestID)
	} else if len(requestID) > 0 {
		b = append(b, `,"request_id":`...)
		b = jsonw.AppendString(b, requestID)
	}
	if len(p.Fields) > 0 {
		b = append(b, `,"fields":[`...)
		for i, f := range p.Fields {
			if i > 0 {
				b = append(b, ',')
			}
			b = jsonw.AppendString(b, f)
		}
		b = append(b, ']')
	}
	return append(b, '}')
}

// setRetryAfter sets Retry-After in whole seconds, at least 1.
func setRetryAfter(ctx *fasthttp.RequestCtx, secs float64) {
	n := int(secs + 0.999)
	if n < 1 {
		n = 1
	}
	ctx.Response.Header.Set("Retry-After", strconv.Itoa(n))
}
