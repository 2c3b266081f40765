package api

import (
	"bytes"
	"errors"

	"github.com/valyala/fasthttp"

	"github.com/flashdrop/flashdrop/engine"
)

// takesNoBody says whether the route, called with method, reads no
// request body: the acts on one resource that the path names in full.
// A body sent to one was ignored, so {"order_ref":"SO-1234"} to confirm
// answered 200 with the order ref gone, and garbage to cancel cancelled:
// the client learnt nothing of its mistake. Strict like every other body
// (decode), these accept none, or an empty object, and refuse the rest.
func takesNoBody(method, route string) bool {
	switch method {
	case fasthttp.MethodPost:
		switch route {
		case "/v1/admin/drops/{drop}/pause", "/v1/admin/drops/{drop}/resume",
			"/v1/admin/webhooks/{id}/test", "/v1/admin/webhooks/{id}/enable",
			"/v1/reservations/{id}/confirm", "/v1/reservations/{id}/cancel":
			return true
		}
	case fasthttp.MethodDelete:
		switch route {
		case "/v1/admin/keys/{id}", "/v1/admin/webhooks/{id}", "/v1/admin/series/{series}", "/v1/admin/drops/{drop}":
			return true
		}
	}
	return false
}

// withoutBody runs h once the request's body is found empty: none, or
// {} (whitespace allowed). The credential is checked first, as on the
// routes that read a body, so a stranger learns nothing from a 400; the
// handler's own check then finds it checked already (authenticate).
func (s *Server) withoutBody(h handlerFunc) handlerFunc {
	return func(r *request) error {
		if err := s.authenticate(r); err != nil {
			return err
		}
		if err := noBody(r.ctx.PostBody()); err != nil {
			return err
		}
		return h(r)
	}
}

// noBody accepts an empty body or an empty JSON object; anything else is
// an *engine.ValidationError naming the first key sent (or "body"), and
// saying the route takes none.
func noBody(body []byte) error {
	if b := bytes.TrimSpace(body); len(b) == 0 || string(b) == "{}" {
		return nil
	}
	err := decodeBody(body, &struct{}{}, true)
	var ve *engine.ValidationError
	if errors.As(err, &ve) {
		return &engine.ValidationError{Field: ve.Field, Reason: ve.Reason + "; this route takes no body (send none, or {})"}
	}
	return err
}
