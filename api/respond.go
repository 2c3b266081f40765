package api

import (
	"context"
	"encoding/json"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/flashdrop/flashdrop/engine"
)

// reqTimeout bounds the store calls of one ordinary request.
const reqTimeout = 5 * time.Second

// now is the request's arrival time: fasthttp reads the clock for every
// request before the handler runs, so the hot routes' token and rate-limit
// checks use that reading instead of a clock read each (about 0.1 µs
// apiece under load on the bench machine). A context built without
// fasthttp's serve loop has no time; it reads the clock.
func (r *request) now() time.Time {
	if t := r.ctx.Time(); !t.IsZero() {
		return t
	}
	return time.Now()
}

// context is the context of the request's store calls: at least
// reqTimeout from now. Its cancel function does nothing; the context ends
// at its deadline.
func (r *request) context() (context.Context, context.CancelFunc) {
	return requestContexts.get(time.Now()), noCancel
}

// contextShare is how long requests share one context.
const contextShare = 10 * time.Millisecond

// requestContexts hands out the requests' contexts. A context of its own
// per request (context.WithTimeout: a context, a timer and its heap entry,
// and the timer's removal at cancel) cost 1.3-1.7 µs of serve's CPU per
// reserve in the bench's profiles, about a tenth of a sold-out press. The
// requests that start within one contextShare share a context whose
// deadline is reqTimeout after that interval ends, so each still gets at
// least reqTimeout and at most contextShare more. Nothing needs a
// request's context cancelled before its deadline: a handler's cancel only
// released the timer, and whatever a store call derives from the context
// it cancels itself.
var requestContexts sharedContexts

var noCancel context.CancelFunc = func() {}

type sharedContexts struct {
	cur atomic.Pointer[sharedContext]
}

type sharedContext struct {
	ctx context.Context
	// until is when requests stop taking this context.
	until time.Time
	// cancel is kept, never called: the context's own timer ends it.
	cancel context.CancelFunc
}

func (s *sharedContexts) get(now time.Time) context.Context {
	if c := s.cur.Load(); c != nil && now.Before(c.until) {
		return c.ctx
	}
	// Two requests may both get here; each builds one, one is stored, and
	// both contexts are good for their requests.
	until := now.Add(contextShare)
	ctx, cancel := context.WithDeadline(context.Background(), until.Add(reqTimeout))
	s.cur.Store(&sharedContext{ctx: ctx, until: until, cancel: cancel})
	return ctx
}

// authenticate checks the Authorization header once per request.
func (s *Server) authenticate(r *request) error {
	if r.authd {
		return nil
	}
	who, err := s.auth.authenticateAt(r.ctx.Request.Header.Peek(fasthttp.HeaderAuthorization), r.now())
	if err != nil {
		return err
	}
	r.who, r.authd = who, true
	return nil
}

func (s *Server) requireAdmin(r *request) error {
	if err := s.authenticate(r); err != nil {
		return err
	}
	if !r.who.admin {
		return errAdminOnly
	}
	return nil
}

// requireScope lets through an admin credential holding scope: the
// configured admin token (every scope) or an API key granted it or the
// scope that includes it (engine.Holds). A shopper gets errAdminOnly; a
// key without the scope a ScopeError naming it, and the wider scope that
// would do too.
func (s *Server) requireScope(r *request, scope string) error {
	if err := s.requireAdmin(r); err != nil {
		return err
	}
	if !r.who.has(scope) {
		return engine.MissingScope(scope)
	}
	return nil
}

func (s *Server) requireShopper(r *request) error {
	if err := s.authenticate(r); err != nil {
		return err
	}
	if r.who.admin {
		return errShopperOnly
	}
	return nil
}

// audit logs an admin change at info, with who made it (the admin token
// or the API key's id, never a secret) and the request id, so that "who
// paused the sale, and when" has an answer in the node's log.
func (s *Server) audit(r *request, what string, args ...any) {
	s.log.Info(what, append(args, "by", r.who.by(), "request_id", string(r.ctx.Response.Header.Peek(headerRequestID)))...)
}

// by names the caller in the audit trail: an API key's id, or the admin
// token.
func (p principal) by() string {
	if p.key != "" {
		return p.key
	}
	return "admin token"
}

// actor is the engine's name for the caller: the shopper id, or "" for admin.
func (r *request) actor() string {
	if r.who.admin {
		return ""
	}
	return r.who.user
}

func writeJSON(ctx *fasthttp.RequestCtx, status int, v any) error {
	body, err := json.Marshal(v)
	if err != nil {
		return err
	}
	body = append(body, '\n') // a terminal shows curl's output on its own line
	setJSONBody(ctx, status, body)
	return nil
}

// setJSONBody answers status with body, a JSON document and its newline,
// however it was written (writeJSON, or by hand on the hot paths).
func setJSONBody(ctx *fasthttp.RequestCtx, status int, body []byte) {
	ctx.Response.Header.SetContentType("application/json")
	ctx.SetStatusCode(status)
	ctx.SetBody(body)
}
