package api

import (
	"context"

	"github.com/valyala/fasthttp"

	"github.com/flashdrop/flashdrop/engine"
)

// ReservationLister pages through a drop's reservations (the engine's
// ListReservations): the shop's list of who to fulfil and what to
// reconcile, which no stream of events can promise to have kept.
type ReservationLister interface {
	ListReservations(ctx context.Context, drop string, q engine.ReservationQuery) (engine.ReservationPage, error)
}

// adminListReservations answers GET /v1/admin/drops/{drop}/reservations.
// It needs reservations:confirm, the shop backend's scope: the list names
// shoppers, as a reservation read by id does.
func (s *Server) adminListReservations(r *request) error {
	if err := s.requireScope(r, engine.ScopeReservationsConfirm); err != nil {
		return err
	}
	lister, ok := s.res.(ReservationLister)
	if !ok {
		return engine.ErrListUnsupported
	}
	args := r.ctx.QueryArgs()
	q := engine.ReservationQuery{Cursor: string(args.Peek("cursor")), Statuses: engine.ParseStatuses(string(args.Peek("status")))}
	limit, err := queryCount(r, "limit", engine.DefaultReservationPage, engine.MaxReservationPage)
	if err != nil {
		return err
	}
	q.Limit = limit
	ctx, cancel := r.context()
	defer cancel()
	page, err := lister.ListReservations(ctx, r.args[0], q)
	if err != nil {
		return err
	}
	// Shoppers' ids: no cache in between keeps them.
	r.ctx.Response.Header.Set("Cache-Control", "no-store")
	return writeJSON(r.ctx, fasthttp.StatusOK, page)
}
