package api

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/flashdrop/flashdrop/engine"
)

type createWebhookRequest struct {
	URL   string             `json:"url"`
	Types []engine.EventType `json:"types"`
	// Rehearsals: rehearsal drops' events too (engine.Webhook).
	Rehearsals bool `json:"rehearsals"`
}

func (s *Server) createWebhook(r *request) error {
	if err := s.requireScope(r, engine.ScopeWebhooksWrite); err != nil {
		return err
	}
	var body createWebhookRequest
	if err := decode(r, &body, false); err != nil {
		return err
	}
	ctx, cancel := r.context()
	defer cancel()
	w, err := s.hooks.CreateWebhook(ctx, r.webhookCaller(), body.URL, uniqueTypes(body.Types), body.Rehearsals)
	if err != nil {
		return err
	}
	s.audit(r, "webhook created", "webhook", w.ID, "rehearsals", w.Rehearsals)
	r.ctx.Response.Header.Set("Location", "/v1/admin/webhooks/"+w.ID)
	// The one answer that shows the secret: no cache keeps it, and an
	// Idempotency-Key's copy is sealed (adminIdempotent).
	r.ctx.Response.Header.Set("Cache-Control", "no-store")
	return writeJSON(r.ctx, fasthttp.StatusCreated, engine.WebhookDetail{Webhook: w})
}

// uniqueTypes is types with each type once, in the order first given: a
// repeated type filters nothing more, and the webhook shows what it gets.
func uniqueTypes(types []engine.EventType) []engine.EventType {
	out := make([]engine.EventType, 0, len(types))
	for _, t := range types {
		if !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return out
}

// webhookCaller is the caller as the webhook service knows it: the admin
// token, or the API key with whether it holds webhooks:all (else it acts
// only on the webhooks it created, and another's is not found).
func (r *request) webhookCaller() engine.WebhookCaller {
	return engine.WebhookCallerFor(r.who.key, r.who.grants())
}

func (s *Server) listWebhooks(r *request) error {
	if err := s.requireScope(r, engine.ScopeWebhooksRead); err != nil {
		return err
	}
	ctx, cancel := r.context()
	defer cancel()
	ws, err := s.hooks.Webhooks(ctx, r.webhookCaller())
	if err != nil {
		return err
	}
	// The caller's scopes, so a page offers only what the credential may
	// do: the ops page shows a webhooks:read key the states without the
	// Enable and Replay buttons it would be refused.
	r.ctx.Response.Header.Set(headerScopes, strings.Join(r.who.grants(), ","))
	return writeJSON(r.ctx, fasthttp.StatusOK, map[string]any{"webhooks": ws})
}

func (s *Server) getWebhook(r *request) error {
	if err := s.requireScope(r, engine.ScopeWebhooksRead); err != nil {
		return err
	}
	ctx, cancel := r.context()
	defer cancel()
	w, err := s.hooks.Webhook(ctx, r.webhookCaller(), r.args[0])
	if err != nil {
		return err
	}
	return writeJSON(r.ctx, fasthttp.StatusOK, w)
}

func (s *Server) deleteWebhook(r *request) error {
	if err := s.requireScope(r, engine.ScopeWebhooksWrite); err != nil {
		return err
	}
	ctx, cancel := r.context()
	defer cancel()
	if err := s.hooks.DeleteWebhook(ctx, r.webhookCaller(), r.args[0]); err != nil {
		return err
	}
	s.audit(r, "webhook deleted", "webhook", r.args[0])
	r.ctx.SetStatusCode(fasthttp.StatusNoContent)
	return nil
}

func (s *Server) testWebhook(r *request) error {
	if err := s.requireScope(r, engine.ScopeWebhooksWrite); err != nil {
		return err
	}
	// The delivery has its own timeout (5 s by default); leave it room.
	ctx, cancel := context.WithTimeout(context.Background(), 2*reqTimeout)
	defer cancel()
	res, err := s.hooks.TestWebhook(ctx, r.webhookCaller(), r.args[0])
	if err != nil {
		return err
	}
	return writeJSON(r.ctx, fasthttp.StatusOK, res)
}

// replayRequest is the replay body. Cursor and Limit are pointers: the
// engine reads 0 as "not given", and the body must tell them apart.
type replayRequest struct {
	Since  *time.Time         `json:"since"`
	Cursor *uint64            `json:"cursor"`
	Types  []engine.EventType `json:"types"`
	Drop   string             `json:"drop"`
	Limit  *int               `json:"limit"`
	// DeadLetters resends the webhook's dead letters (not with since).
	DeadLetters bool `json:"dead_letters"`
}

func (s *Server) replayWebhook(r *request) error {
	if err := s.requireScope(r, engine.ScopeWebhooksWrite); err != nil {
		return err
	}
	var body replayRequest
	if err := decode(r, &body, false); err != nil {
		return err
	}
	req, err := body.engineRequest()
	if err != nil {
		return err
	}
	// A replay call stops by itself within its budget (8 s by default),
	// inside the write timeout; this only bounds a stuck one.
	ctx, cancel := context.WithTimeout(context.Background(), 3*reqTimeout)
	defer cancel()
	res, err := s.hooks.ReplayWebhook(ctx, r.webhookCaller(), r.args[0], req)
	if err != nil {
		return err
	}
	return writeJSON(r.ctx, fasthttp.StatusOK, res)
}

// engineRequest checks what only the body shows (which members were
// given) and leaves the rest to the engine. since and cursor are two ways
// to say where to start, so giving both is refused rather than one of them
// silently ignored; a cursor is a stream position from an earlier answer,
// at least 1 (an answer with nothing to go on from has none). A limit of
// 0, like none, is the default (api/spec/openapi.json).
func (b replayRequest) engineRequest() (engine.ReplayRequest, error) {
	req := engine.ReplayRequest{Types: b.Types, Drop: b.Drop, DeadLetters: b.DeadLetters}
	switch {
	case b.Since != nil && b.Cursor != nil:
		return req, &engine.ValidationError{Field: "cursor",
			Reason: "and since are exclusive: give since to start a replay, or the cursor of an earlier answer to go on"}
	case b.Cursor != nil && *b.Cursor == 0:
		return req, &engine.ValidationError{Field: "cursor", Reason: "must be at least 1 (the cursor of an earlier answer)"}
	case b.Cursor != nil:
		req.Cursor = *b.Cursor
	case b.Since != nil:
		req.Since = *b.Since
	}
	if b.Limit != nil {
		if l := *b.Limit; l < 0 || l > engine.MaxReplayEvents {
			return req, &engine.ValidationError{Field: "limit",
				Reason: fmt.Sprintf("must be 1 to %d, or 0 (like none) for the default, %d", engine.MaxReplayEvents, engine.DefaultReplayEvents)}
		}
		req.Limit = *b.Limit
	}
	return req, nil
}

// dismissRequest is the dismissal body: event_ids, or missing: true.
type dismissRequest struct {
	EventIDs []string `json:"event_ids"`
	Missing  bool     `json:"missing"`
}

// auditedIDs is how many dismissed ids the audit line names; the rest it
// counts, so that a dismissal of a thousand stays one readable line.
const auditedIDs = 20

// dismissDeadLetters answers POST /v1/admin/webhooks/{id}/dead-letters/dismiss:
// the named dead letters (or those the stream no longer holds) leave the
// webhook's dead letters without being delivered.
func (s *Server) dismissDeadLetters(r *request) error {
	if err := s.requireScope(r, engine.ScopeWebhooksWrite); err != nil {
		return err
	}
	var body dismissRequest
	if err := decode(r, &body, false); err != nil {
		return err
	}
	// Reading the stream for missing takes a request a dead letter (at
	// most 1,000), and a dismissal by id one script: room beyond the
	// usual deadline for a stream far away.
	ctx, cancel := context.WithTimeout(context.Background(), 2*reqTimeout)
	defer cancel()
	res, err := s.hooks.DismissDeadLetters(ctx, r.webhookCaller(), r.args[0], engine.DismissRequest{EventIDs: body.EventIDs, Missing: body.Missing})
	if err != nil {
		return err
	}
	named := res.EventIDs
	if len(named) > auditedIDs {
		named = named[:auditedIDs]
	}
	s.audit(r, "webhook dead letters dismissed", "webhook", r.args[0], "missing", body.Missing, "dismissed", res.Dismissed,
		"event_ids", strings.Join(named, ","), "event_ids_not_named", res.Dismissed-len(named))
	return writeJSON(r.ctx, fasthttp.StatusOK, res)
}

func (s *Server) webhookDeliveries(r *request) error {
	if err := s.requireScope(r, engine.ScopeWebhooksRead); err != nil {
		return err
	}
	ctx, cancel := r.context()
	defer cancel()
	log, err := s.hooks.Deliveries(ctx, r.webhookCaller(), r.args[0])
	if err != nil {
		return err
	}
	return writeJSON(r.ctx, fasthttp.StatusOK, map[string]any{"deliveries": log})
}

// rotateWebhookSecret gives a webhook a new signing secret, shown this
// once; the old one keeps signing beside it for grace_seconds (default
// 24 h, -1 none: a leaked secret).
func (s *Server) rotateWebhookSecret(r *request) error {
	if err := s.requireScope(r, engine.ScopeWebhooksWrite); err != nil {
		return err
	}
	grace, err := rotationGrace(r)
	if err != nil {
		return err
	}
	ctx, cancel := r.context()
	defer cancel()
	w, err := s.hooks.RotateWebhookSecret(ctx, r.webhookCaller(), r.args[0], grace)
	if err != nil {
		return err
	}
	if w.PreviousUntil.IsZero() {
		// No grace: the old secret ended now (a zero time read as a date
		// in the audit trail).
		s.audit(r, "webhook secret rotated", "webhook", w.ID, "previous_secret", "ended")
	} else {
		s.audit(r, "webhook secret rotated", "webhook", w.ID, "previous_secret_until", w.PreviousUntil)
	}
	// The one answer with the new secret: no cache keeps it, and an
	// Idempotency-Key's copy is sealed (adminIdempotent).
	r.ctx.Response.Header.Set("Cache-Control", "no-store")
	return writeJSON(r.ctx, fasthttp.StatusOK, w)
}

// endWebhookGrace answers POST /v1/admin/webhooks/{id}/end-grace: the
// previous secret stops signing now (200, the webhook).
func (s *Server) endWebhookGrace(r *request) error {
	if err := s.requireScope(r, engine.ScopeWebhooksWrite); err != nil {
		return err
	}
	ctx, cancel := r.context()
	defer cancel()
	w, err := s.hooks.EndWebhookGrace(ctx, r.webhookCaller(), r.args[0])
	if err != nil {
		return err
	}
	s.audit(r, "webhook previous secret ended", "webhook", w.ID)
	return writeJSON(r.ctx, fasthttp.StatusOK, w)
}

func (s *Server) enableWebhook(r *request) error {
	if err := s.requireScope(r, engine.ScopeWebhooksWrite); err != nil {
		return err
	}
	ctx, cancel := r.context()
	defer cancel()
	w, err := s.hooks.EnableWebhook(ctx, r.webhookCaller(), r.args[0])
	if err != nil {
		return err
	}
	s.audit(r, "webhook enabled", "webhook", w.ID)
	return writeJSON(r.ctx, fasthttp.StatusOK, w)
}
