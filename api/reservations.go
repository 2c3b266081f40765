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
	switch {
	case err != nil:
		outcome = problemFor(err).Code
	case len(r.ctx.Response.Header.Peek("Idempotent-Replayed")) > 0:
		// A repeat of a win is not a win: counted as won, a rush's
		// retries made the ops page's won count exceed the units sold.
		outcome = "won_replayed"
	}
	s.metrics.countOutcome(outcome)
	return err
}

func (s *Server) reserveInner(r *request) error {
	if err := s.requireShopper(r); err != nil {
		return err
	}
	req := engine.ReserveRequest{User: r.who.user, Quantity: 1}
	if q, wl, ok := decodeReserveFast(r.ctx.PostBody()); ok {
		req.Waitlist = wl
		if q > 0 {
			req.Quantity = q
		}
	} else if err := decodeReserveBody(r, &req); err != nil {
		return err
	}
	if key := r.ctx.Request.Header.Peek("Idempotency-Key"); len(key) > 0 {
		req.IdempotencyKey = string(key)
	}
	// After a sell-out most of the crowd is answered here, from memory:
	// before the request's context and timer, which only the store needs,
	// and before the shopper's rate limit. The limit protects the store
	// and the stock from a fast presser; this answer touches neither,
	// costs no more than the 429 would, and is the truth, so a press it
	// answers is not counted. In a crowd of 20,000 the limiter's lookup is
	// a random read of memory: about a sixth of the handler's time.
	if so, ok := s.adm.(soldOutAnswerer); ok && so.SoldOutFromMemory(r.args[0], req) {
		return engine.ErrSoldOut
	}
	// After the answer from memory, which is the truth whatever the key:
	// an empty key is a client's bug to tell it of, not a keyless press.
	if req.IdempotencyKey == "" && emptyIdempotencyKey(&r.ctx.Request.Header) {
		return engine.ValidateIdempotencyKey("")
	}
	if ok, wait := s.resLimit.allowAt(r.who.user, r.now()); !ok {
		setRetryAfter(r.ctx, wait.Seconds())
		return errRateLimited
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
	return writeReservation(r.ctx, fasthttp.StatusCreated, &res.Reservation)
}

// decodeReserveBody reads a body decodeReserveFast did not take, strictly
// (decode), into req.
func decodeReserveBody(r *request, req *engine.ReserveRequest) error {
	var body reserveRequest
	if err := decode(r, &body, true); err != nil {
		return err
	}
	req.Waitlist = body.Waitlist
	if body.Quantity != nil {
		req.Quantity = *body.Quantity
	}
	return nil
}

// decodeReserveFast reads the reserve bodies clients send (empty, {},
// {"quantity":N}, with or without "waitlist":true|false, in either order)
// without reflection or allocation. q is 0 when no quantity was given.
// Anything else, malformed input included, is not ok: decode then reads
// it and words the error.
func decodeReserveFast(body []byte) (q int64, waitlist bool, ok bool) {
	i := 0
	ws := func() { i = skipSpace(body, i) }
	lit := func(s string) bool {
		if len(body)-i >= len(s) && string(body[i:i+len(s)]) == s {
			i += len(s)
			return true
		}
		return false
	}
	ws()
	if i == len(body) {
		return 0, false, true
	}
	if !lit("{") {
		return 0, false, false
	}
	seenQ, seenW := false, false
	ws()
	if !lit("}") {
		for {
			ws()
			switch {
			case !seenQ && lit(`"quantity"`):
				seenQ = true
				ws()
				if !lit(":") {
					return 0, false, false
				}
				ws()
				start := i
				for i < len(body) && body[i] >= '0' && body[i] <= '9' && i-start < 9 {
					q = q*10 + int64(body[i]-'0')
					i++
				}
				// Leading zeros, signs, fractions, exponents, huge numbers:
				// the general decoder's business.
				if i == start || body[start] == '0' || (i < len(body) && (body[i] >= '0' && body[i] <= '9' || body[i] == '.' || body[i] == 'e' || body[i] == 'E')) {
					return 0, false, false
				}
			case !seenW && lit(`"waitlist"`):
				seenW = true
				ws()
				if !lit(":") {
					return 0, false, false
				}
				ws()
				switch {
				case lit("true"):
					waitlist = true
				case lit("false"):
				default:
					return 0, false, false
				}
			default:
				return 0, false, false
			}
			ws()
			if lit("}") {
				break
			}
			if !lit(",") {
				return 0, false, false
			}
		}
	}
	ws()
	if i != len(body) {
		return 0, false, false
	}
	return q, waitlist, true
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
	return writeReservation(r.ctx, fasthttp.StatusOK, &res)
}

// authenticateSettler lets through a shopper (the engine then checks the
// reservation is hers) or an admin credential holding
// reservations:confirm: the shop backend.
func (s *Server) authenticateSettler(r *request) error {
	if err := s.authenticate(r); err != nil {
		return err
	}
	if r.who.admin && !r.who.has(engine.ScopeReservationsConfirm) {
		return engine.MissingScope(engine.ScopeReservationsConfirm)
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
	return writeReservation(r.ctx, fasthttp.StatusOK, &res)
}
