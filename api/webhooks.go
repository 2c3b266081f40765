package api

import (
	"github.com/valyala/fasthttp"

	"github.com/flashdrop/flashdrop/engine"
)

type createWebhookRequest struct {
	URL   string             `json:"url"`
	Types []engine.EventType `json:"types"`
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
	w, err := s.hooks.CreateWebhook(ctx, body.URL, body.Types)
	if err != nil {
		return err
	}
	r.ctx.Response.Header.Set("Location", "/v1/admin/webhooks/"+w.ID)
	// The one answer that shows the secret.
	return writeJSON(r.ctx, fasthttp.StatusCreated, engine.WebhookDetail{Webhook: w})
}

func (s *Server) listWebhooks(r *request) error {
	if err := s.requireScope(r, engine.ScopeWebhooksWrite); err != nil {
		return err
	}
	ctx, cancel := r.context()
	defer cancel()
	ws, err := s.hooks.Webhooks(ctx)
	if err != nil {
		return err
	}
	return writeJSON(r.ctx, fasthttp.StatusOK, map[string]any{"webhooks": ws})
}

func (s *Server) getWebhook(r *request) error {
	if err := s.requireScope(r, engine.ScopeWebhooksWrite); err != nil {
		return err
	}
	ctx, cancel := r.context()
	defer cancel()
	w, err := s.hooks.Webhook(ctx, r.args[0])
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
	if err := s.hooks.DeleteWebhook(ctx, r.args[0]); err != nil {
		return err
	}
	r.ctx.SetStatusCode(fasthttp.StatusNoContent)
	return nil
}
