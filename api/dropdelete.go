package api

import (
	"context"

	"github.com/valyala/fasthttp"

	"github.com/flashdrop/flashdrop/engine"
)

// DropDeleter deletes a drop nobody has taken part in (the engine's
// DeleteDrop).
type DropDeleter interface {
	DeleteDrop(ctx context.Context, id string) error
}

// adminDeleteDrop answers DELETE /v1/admin/drops/{drop}: 204, or 409
// drop_in_use saying what uses it. A drop made with a mistake is deleted
// and made again; one shoppers took part in is paused, never deleted.
func (s *Server) adminDeleteDrop(r *request) error {
	if err := s.requireScope(r, engine.ScopeDropsWrite); err != nil {
		return err
	}
	del, ok := s.drops.(DropDeleter)
	if !ok {
		return errMethod
	}
	ctx, cancel := r.context()
	defer cancel()
	if err := del.DeleteDrop(ctx, r.args[0]); err != nil {
		return err
	}
	s.adm.Invalidate(r.args[0])
	s.audit(r, "drop deleted", "drop", r.args[0])
	r.ctx.SetStatusCode(fasthttp.StatusNoContent)
	return nil
}
