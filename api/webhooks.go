package api

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"

	"github.com/valyala/fasthttp"

	"github.com/flashdrop/flashdrop/engine"
)

type createWebhookRequest struct {
	URL   string             `json:"url"`
	Types []engine.EventType `json:"types"`
}

// webhookView is a webhook as the admin API shows it: never its secret,
// except once in the answer to its creation.
type webhookView struct {
	engine.Webhook
	Status      *engine.WebhookStatus `json:"status,omitempty"`
	DeadLetters []string              `json:"dead_letters,omitempty"`
}

func (s *Server) createWebhook(r *request) error {
	if err := s.requireAdmin(r); err != nil {
		return err
	}
	var body createWebhookRequest
	if err := decode(r, &body, false); err != nil {
		return err
	}
	if s.cfg.CheckWebhookURL != nil {
		if err := s.cfg.CheckWebhookURL(body.URL); err != nil {
			return &engine.ValidationError{Field: "url", Reason: err.Error()}
		}
	}
	var idb [8]byte
	var sec [32]byte
	_, _ = rand.Read(idb[:])
	_, _ = rand.Read(sec[:])
	w := engine.Webhook{
		ID: "wh-" + hex.EncodeToString(idb[:]), URL: body.URL, Types: body.Types,
		Secret: "whsec_" + base64.RawURLEncoding.EncodeToString(sec[:]), CreatedAt: s.eng.Now().UTC(),
	}
	if w.Types == nil {
		w.Types = []engine.EventType{}
	}
	ctx, cancel := r.context()
	defer cancel()
	if err := s.cfg.Webhooks.CreateWebhook(ctx, w); err != nil {
		return err
	}
	r.ctx.Response.Header.Set("Location", "/v1/admin/webhooks/"+w.ID)
	return writeJSON(r.ctx, fasthttp.StatusCreated, webhookView{Webhook: w})
}

func (s *Server) listWebhooks(r *request) error {
	if err := s.requireAdmin(r); err != nil {
		return err
	}
	ctx, cancel := r.context()
	defer cancel()
	ws, err := s.cfg.Webhooks.Webhooks(ctx)
	if err != nil {
		return err
	}
	out := make([]webhookView, 0, len(ws))
	for _, w := range ws {
		st, err := s.cfg.Webhooks.WebhookStatus(ctx, w.ID)
		if err != nil {
			return err
		}
		w.Secret = ""
		out = append(out, webhookView{Webhook: w, Status: &st})
	}
	return writeJSON(r.ctx, fasthttp.StatusOK, map[string]any{"webhooks": out})
}

func (s *Server) getWebhook(r *request) error {
	if err := s.requireAdmin(r); err != nil {
		return err
	}
	ctx, cancel := r.context()
	defer cancel()
	w, err := s.cfg.Webhooks.Webhook(ctx, r.args[0])
	if err != nil {
		return err
	}
	st, err := s.cfg.Webhooks.WebhookStatus(ctx, w.ID)
	if err != nil {
		return err
	}
	dead, err := s.cfg.Webhooks.DeadLetters(ctx, w.ID, 100)
	if err != nil {
		return err
	}
	w.Secret = ""
	return writeJSON(r.ctx, fasthttp.StatusOK, webhookView{Webhook: w, Status: &st, DeadLetters: dead})
}

func (s *Server) deleteWebhook(r *request) error {
	if err := s.requireAdmin(r); err != nil {
		return err
	}
	ctx, cancel := r.context()
	defer cancel()
	if err := s.cfg.Webhooks.DeleteWebhook(ctx, r.args[0]); err != nil {
		return err
	}
	r.ctx.SetStatusCode(fasthttp.StatusNoContent)
	return nil
}
