package api

import (
	"strings"

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
	seg := strings.Split(strings.Trim(path, "/"), "/")
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
			return pick("/v1/admin/drops/{drop}", seg[3:4], alt{"GET", s.adminGetDrop})
		case n == 5 && seg[4] == "stats":
			return pick("/v1/admin/drops/{drop}/stats", seg[3:4], alt{"GET", s.adminStats})
		case n == 5 && seg[4] == "pause":
			return pick("/v1/admin/drops/{drop}/pause", seg[3:4], alt{"POST", s.adminPause})
		case n == 5 && seg[4] == "resume":
			return pick("/v1/admin/drops/{drop}/resume", seg[3:4], alt{"POST", s.adminResume})
		case n == 5 && seg[4] == "referrals" && s.cfg.Shares != nil:
			return pick("/v1/admin/drops/{drop}/referrals", seg[3:4], alt{"GET", s.adminReferrals})
		}
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
