package api

import (
	"context"

	"github.com/valyala/fasthttp"

	"github.com/flashdrop/flashdrop/engine"
)

type reserveRequest struct {
	Quantity *int64 `json:"quantity"`
	Waitlist bool   `json:"waitlist"`
}

type reservationBody struct {
	Reservation engine.Reservation `json:"reservation"`
}

func (s *Server) reserve(r *request) error {
	err := s.reserveInner(r)
	outcome := "won"
	if err != nil {
		outcome = problemFor(err).Code
	}
	s.metrics.outcomes.WithLabelValues(outcome).Inc()
	return err
}

func (s *Server) reserveInner(r *request) error {
	if err := s.requireShopper(r); err != nil {
		return err
	}
	if ok, wait := s.resLimit.allow(r.who.user); !ok {
		setRetryAfter(r.ctx, wait.Seconds())
		return errRateLimited
	}
	var body reserveRequest
	if err := decode(r, &body, true); err != nil {
		return err
	}
	req := engine.ReserveRequest{User: r.who.user, Quantity: 1, Waitlist: body.Waitlist,
		IdempotencyKey: string(r.ctx.Request.Header.Peek("Idempotency-Key"))}
	if body.Quantity != nil {
		req.Quantity = *body.Quantity
	}
	ctx, cancel := r.context()
	defer cancel()
	res, err := s.adm.Reserve(ctx, r.args[0], req)
	if err != nil {
		return err
	}
	if res.Err != nil {
		return res.Err
	}
	if res.Replayed {
		r.ctx.Response.Header.Set("Idempotent-Replayed", "true")
	}
	r.ctx.Response.Header.Set("Location", "/v1/reservations/"+res.Reservation.ID)
	return writeJSON(r.ctx, fasthttp.StatusCreated, reservationBody{res.Reservation})
}

func (s *Server) getReservation(r *request) error {
	if err := s.authenticateSettler(r); err != nil {
		return err
	}
	ctx, cancel := r.context()
	defer cancel()
	res, err := s.res.Reservation(ctx, r.args[0], r.actor())
	if err != nil {
		return err
	}
	return writeJSON(r.ctx, fasthttp.StatusOK, reservationBody{res})
}

// authenticateSettler lets through a shopper (the engine then checks the
// reservation is hers) or an admin credential holding
// reservations:confirm: the shop backend.
func (s *Server) authenticateSettler(r *request) error {
	if err := s.authenticate(r); err != nil {
		return err
	}
	if r.who.admin && !r.who.has(engine.ScopeReservationsConfirm) {
		return &engine.ScopeError{Scope: engine.ScopeReservationsConfirm}
	}
	return nil
}

func (s *Server) confirm(r *request) error { return s.settle(r, s.res.Confirm) }
func (s *Server) cancel(r *request) error  { return s.settle(r, s.res.Cancel) }

func (s *Server) settle(r *request, op func(context.Context, string, string) (engine.Reservation, error)) error {
	if err := s.authenticateSettler(r); err != nil {
		return err
	}
	ctx, cancel := r.context()
	defer cancel()
	res, err := op(ctx, r.args[0], r.actor())
	if err != nil {
		return err
	}
	return writeJSON(r.ctx, fasthttp.StatusOK, reservationBody{res})
}
