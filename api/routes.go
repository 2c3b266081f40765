package api

import (
	"bytes"
	"strings"
	"sync"

	"github.com/valyala/fasthttp"

	"github.com/flashdrop/flashdrop/engine"
)

// route matches the request to a handler and records the route template
// (for metrics) and path parameters on r. It answers 404 and 405 itself and
// then returns nil.
func (s *Server) route(r *request) handlerFunc {
	ctx := r.ctx
	// string() copies: nothing of the RequestCtx outlives the handler.
	path := string(ctx.Path())
	method := string(ctx.Method())
	if method == fasthttp.MethodHead {
		method = fasthttp.MethodGet
	}
	// A path is matched as written: "/s/{code}/" or "/v1/drops/x/" is no
	// documented route, so it is the 404 below, not the route without
	// its slash (the fuzzer found /s/0/ answered like /s/0).
	seg := strings.Split(strings.TrimPrefix(path, "/"), "/")
	if len(path) > 1 && strings.HasSuffix(path, "/") {
		seg = nil
	}
	type alt struct {
		method string
		h      handlerFunc
	}
	pick := func(route string, args []string, alts ...alt) handlerFunc {
		r.route, r.args = route, args
		allow := make([]string, 0, len(alts))
		for _, a := range alts {
			if a.method == method {
				return a.h
			}
			allow = append(allow, a.method)
		}
		ctx.Response.Header.Set("Allow", strings.Join(allow, ", "))
		p := problemFor(errMethod)
		p.Detail = "allowed: " + strings.Join(allow, ", ")
		writeProblem(ctx, p)
		return nil
	}
	n := len(seg)
	switch {
	case n == 1 && seg[0] == "healthz":
		return pick("/healthz", nil, alt{"GET", s.healthz})
	case n == 1 && seg[0] == "readyz":
		return pick("/readyz", nil, alt{"GET", s.readyz})
	case n == 1 && seg[0] == "metrics":
		return pick("/metrics", nil, alt{"GET", s.metricsPage})
	case n == 1 && seg[0] == "openapi.json":
		return pick("/openapi.json", nil, alt{"GET", s.openAPI})
	case n == 1 && seg[0] == "asyncapi.json":
		return pick("/asyncapi.json", nil, alt{"GET", s.asyncAPI})
	case n >= 3 && seg[0] == "v1" && seg[1] == "admin" && seg[2] == "drops":
		switch {
		case n == 3:
			return pick("/v1/admin/drops", nil, alt{"GET", s.adminListDrops}, alt{"POST", s.adminCreateDrop})
		case n == 4:
			return pick("/v1/admin/drops/{drop}", seg[3:4], alt{"GET", s.adminGetDrop}, alt{"DELETE", s.adminDeleteDrop})
		case n == 5 && seg[4] == "stats":
			return pick("/v1/admin/drops/{drop}/stats", seg[3:4], alt{"GET", s.adminStats})
		case n == 5 && seg[4] == "reservations":
			return pick("/v1/admin/drops/{drop}/reservations", seg[3:4], alt{"GET", s.adminListReservations})
		case n == 5 && seg[4] == "pause":
			return pick("/v1/admin/drops/{drop}/pause", seg[3:4], alt{"POST", s.adminPause})
		case n == 5 && seg[4] == "resume":
			return pick("/v1/admin/drops/{drop}/resume", seg[3:4], alt{"POST", s.adminResume})
		case n == 5 && seg[4] == "referrals" && s.cfg.Shares != nil:
			return pick("/v1/admin/drops/{drop}/referrals", seg[3:4], alt{"GET", s.adminReferrals})
		}
	case n == 3 && seg[0] == "v1" && seg[1] == "admin" && seg[2] == "outcomes":
		return pick("/v1/admin/outcomes", nil, alt{"GET", s.adminOutcomes})
	case n == 3 && seg[0] == "v1" && seg[1] == "admin" && seg[2] == "events" && s.cfg.Events != nil:
		return pick("/v1/admin/events", nil, alt{"GET", s.adminEvents})
	case n >= 3 && seg[0] == "v1" && seg[1] == "admin" && seg[2] == "keys" && s.cfg.Keys != nil:
		switch {
		case n == 3:
			return pick("/v1/admin/keys", nil, alt{"GET", s.listKeys}, alt{"POST", s.createKey})
		case n == 4:
			return pick("/v1/admin/keys/{id}", seg[3:4], alt{"DELETE", s.revokeKey})
		case n == 5 && seg[4] == "rotate":
			return pick("/v1/admin/keys/{id}/rotate", seg[3:4], alt{"POST", s.rotateKey})
		}
	case n >= 3 && seg[0] == "v1" && seg[1] == "admin" && seg[2] == "webhooks" && s.hooks != nil:
		switch n {
		case 3:
			return pick("/v1/admin/webhooks", nil, alt{"GET", s.listWebhooks}, alt{"POST", s.createWebhook})
		case 4:
			return pick("/v1/admin/webhooks/{id}", seg[3:4], alt{"GET", s.getWebhook}, alt{"DELETE", s.deleteWebhook})
		case 5:
			switch seg[4] {
			case "test":
				return pick("/v1/admin/webhooks/{id}/test", seg[3:4], alt{"POST", s.testWebhook})
			case "replay":
				return pick("/v1/admin/webhooks/{id}/replay", seg[3:4], alt{"POST", s.replayWebhook})
			case "deliveries":
				return pick("/v1/admin/webhooks/{id}/deliveries", seg[3:4], alt{"GET", s.webhookDeliveries})
			case "enable":
				return pick("/v1/admin/webhooks/{id}/enable", seg[3:4], alt{"POST", s.enableWebhook})
			case "rotate":
				return pick("/v1/admin/webhooks/{id}/rotate", seg[3:4], alt{"POST", s.rotateWebhookSecret})
			case "end-grace":
				return pick("/v1/admin/webhooks/{id}/end-grace", seg[3:4], alt{"POST", s.endWebhookGrace})
			}
		case 6:
			if seg[4] == "dead-letters" && seg[5] == "dismiss" {
				return pick("/v1/admin/webhooks/{id}/dead-letters/dismiss", seg[3:4], alt{"POST", s.dismissDeadLetters})
			}
		}
	case n == 3 && seg[0] == "v1" && seg[1] == "admin" && seg[2] == "series" && s.cfg.Series != nil:
		return pick("/v1/admin/series", nil, alt{"GET", s.adminListSeries}, alt{"POST", s.adminCreateSeries})
	case n == 4 && seg[0] == "v1" && seg[1] == "admin" && seg[2] == "series" && s.cfg.Series != nil:
		return pick("/v1/admin/series/{series}", seg[3:4], alt{"GET", s.adminGetSeries}, alt{"DELETE", s.adminDeleteSeries})
	case n == 3 && seg[0] == "v1" && seg[1] == "series" && s.cfg.Series != nil:
		return pick("/v1/series/{series}", seg[2:3], alt{"GET", s.publicSeries})
	case n >= 3 && seg[0] == "v1" && seg[1] == "drops":
		switch {
		case n == 3:
			return pick("/v1/drops/{drop}", seg[2:3], alt{"GET", s.publicDrop})
		case n == 4 && seg[3] == "registrations":
			return pick("/v1/drops/{drop}/registrations", seg[2:3], alt{"POST", s.register})
		case n == 4 && seg[3] == "reservations":
			return pick("/v1/drops/{drop}/reservations", seg[2:3], alt{"POST", s.reserve})
		case n == 4 && seg[3] == "live":
			return pick("/v1/drops/{drop}/live", seg[2:3], alt{"GET", s.live})
		case n == 4 && seg[3] == "draw" && s.cfg.Draws != nil:
			return pick("/v1/drops/{drop}/draw", seg[2:3], alt{"GET", s.drawRecord})
		}
	case n >= 3 && seg[0] == "v1" && seg[1] == "reservations":
		switch {
		case n == 3:
			return pick("/v1/reservations/{id}", seg[2:3], alt{"GET", s.getReservation})
		case n == 4 && seg[3] == "confirm":
			return pick("/v1/reservations/{id}/confirm", seg[2:3], alt{"POST", s.confirm})
		case n == 4 && seg[3] == "cancel":
			return pick("/v1/reservations/{id}/cancel", seg[2:3], alt{"POST", s.cancel})
		}
	default:
		// The pages and share cards (pages.go).
		if route, args, h, ok := s.webRoute(seg); ok {
			return pick(route, args, alt{"GET", h})
		}
	}
	p := problemFor(engine.ErrNotFound)
	p.Detail = "no route for " + method + " " + path
	if len(p.Detail) > 200 {
		p.Detail = p.Detail[:200]
	}
	writeProblem(ctx, p)
	return nil
}

// hotRoute matches, without allocating, the routes that carry release
// day: a shopper's reserve and register (and /healthz, the baseline they
// are measured against). Everything else, and anything unusual about
// these (another method, a trailing slash), goes to route. The request of
// a hot route is recycled after its handler (serve).
func (s *Server) hotRoute(r *request) handlerFunc {
	ctx := r.ctx
	path := ctx.Path()
	if !ctx.IsPost() {
		if ctx.IsGet() && string(path) == "/healthz" {
			r.route, r.pooled = "/healthz", true
			return s.hot.healthz
		}
		return nil
	}
	rest, ok := bytes.CutPrefix(path, []byte("/v1/drops/"))
	if !ok {
		return nil
	}
	slash := bytes.IndexByte(rest, '/')
	if slash <= 0 {
		return nil
	}
	var h handlerFunc
	switch string(rest[slash+1:]) {
	case "reservations":
		r.route, h = "/v1/drops/{drop}/reservations", s.hot.reserve
	case "registrations":
		r.route, h = "/v1/drops/{drop}/registrations", s.hot.register
	default:
		return nil
	}
	r.argv[0] = s.dropIDs.intern(rest[:slash])
	r.args, r.pooled = r.argv[:], true
	return h
}

// hotHandlers are the hot routes' handlers, bound once: a method value
// made per request would be an allocation per request.
type hotHandlers struct {
	reserve, register, healthz handlerFunc
}

// internTable keeps the strings of the drop ids seen in URLs, so the hot
// routes name a known drop without copying its id out of the request.
// It is bounded: ids come from URLs, and past the bound a new id is just
// copied.
type internTable struct {
	mu sync.RWMutex
	m  map[string]string
}

const maxInterned = 4096

func (t *internTable) intern(b []byte) string {
	t.mu.RLock()
	v, ok := t.m[string(b)] // a lookup by string(b) does not copy b
	t.mu.RUnlock()
	if ok {
		return v
	}
	v = string(b)
	t.mu.Lock()
	if t.m == nil {
		t.m = map[string]string{}
	}
	if len(t.m) < maxInterned {
		t.m[v] = v
	}
	t.mu.Unlock()
	return v
}
