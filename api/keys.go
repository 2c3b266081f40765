package api

import (
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/flashdrop/flashdrop/engine"
)

type createKeyRequest struct {
	Name   string   `json:"name"`
	Scopes []string `json:"scopes"`
}

type rotateKeyRequest struct {
	// GraceSeconds is how long the old secret stays valid (default
	// engine.DefaultKeyGrace; -1: not at all).
	GraceSeconds *int64 `json:"grace_seconds"`
}

func (s *Server) createKey(r *request) error {
	if err := s.requireScope(r, engine.ScopeKeysWrite); err != nil {
		return err
	}
	var body createKeyRequest
	if err := decode(r, &body, false); err != nil {
		return err
	}
	ctx, cancel := r.context()
	defer cancel()
	k, err := s.cfg.Keys.CreateKey(ctx, body.Name, body.Scopes, r.who.grants())
	if err != nil {
		return err
	}
	s.audit(r, "API key created", "key", k.ID, "name", k.Name, "scopes", strings.Join(k.Scopes, ","))
	r.ctx.Response.Header.Set("Location", "/v1/admin/keys/"+k.ID)
	r.ctx.Response.Header.Set("Cache-Control", "no-store") // the one answer with the secret
	return writeJSON(r.ctx, fasthttp.StatusCreated, k)
}

func (s *Server) listKeys(r *request) error {
	if err := s.requireScope(r, engine.ScopeKeysWrite); err != nil {
		return err
	}
	ctx, cancel := r.context()
	defer cancel()
	ks, err := s.cfg.Keys.Keys(ctx)
	if err != nil {
		return err
	}
	return writeJSON(r.ctx, fasthttp.StatusOK, map[string]any{"keys": ks})
}

func (s *Server) rotateKey(r *request) error {
	if err := s.requireScope(r, engine.ScopeKeysWrite); err != nil {
		return err
	}
	grace, err := rotationGrace(r)
	if err != nil {
		return err
	}
	ctx, cancel := r.context()
	defer cancel()
	k, err := s.cfg.Keys.RotateKey(ctx, r.args[0], grace, r.who.grants())
	if err != nil {
		return err
	}
	s.audit(r, "API key rotated", "key", k.ID)
	r.ctx.Response.Header.Set("Cache-Control", "no-store")
	return writeJSON(r.ctx, fasthttp.StatusOK, k)
}

// rotationGrace reads a rotation's body (of a key or a webhook: {} or
// {"grace_seconds": N}) as the engine takes its grace: absent is 0 (the
// default grace), -1 and 0 are none (-1), else that many seconds.
func rotationGrace(r *request) (time.Duration, error) {
	var body rotateKeyRequest
	if err := decode(r, &body, true); err != nil {
		return 0, err
	}
	if body.GraceSeconds == nil {
		return 0, nil
	}
	switch g := *body.GraceSeconds; {
	case g == -1, g == 0: // zero seconds of grace is none, not the default
		return -1, nil
	case g < 0 || g > int64(engine.MaxKeyGrace/time.Second):
		return 0, &engine.ValidationError{Field: "grace_seconds", Reason: "must be -1 (no grace) or 0 to 604800"}
	default:
		return time.Duration(g) * time.Second, nil
	}
}

func (s *Server) revokeKey(r *request) error {
	if err := s.requireScope(r, engine.ScopeKeysWrite); err != nil {
		return err
	}
	ctx, cancel := r.context()
	defer cancel()
	if err := s.cfg.Keys.RevokeKey(ctx, r.args[0], r.who.grants()); err != nil {
		return err
	}
	s.audit(r, "API key revoked", "key", r.args[0])
	r.ctx.SetStatusCode(fasthttp.StatusNoContent)
	return nil
}
