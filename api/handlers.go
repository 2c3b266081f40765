package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/flashdrop/flashdrop/engine"
)

// reqTimeout bounds the store calls of one ordinary request.
const reqTimeout = 5 * time.Second

func (r *request) context() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), reqTimeout)
}

// authenticate checks the Authorization header once per request.
func (s *Server) authenticate(r *request) error {
	if r.authd {
		return nil
	}
	who, err := s.auth.authenticate(r.ctx.Request.Header.Peek(fasthttp.HeaderAuthorization))
	if err != nil {
		return err
	}
	r.who, r.authd = who, true
	return nil
}

func (s *Server) requireAdmin(r *request) error {
	if err := s.authenticate(r); err != nil {
		return err
	}
	if !r.who.admin {
		return errAdminOnly
	}
	return nil
}

func (s *Server) requireShopper(r *request) error {
	if err := s.authenticate(r); err != nil {
		return err
	}
	if r.who.admin {
		return errShopperOnly
	}
	return nil
}

// actor is the engine's name for the caller: the shopper id, or "" for admin.
func (r *request) actor() string {
	if r.who.admin {
		return ""
	}
	return r.who.user
}

// decode reads a JSON body strictly: unknown fields and trailing data are
// errors, and an empty body decodes to the zero value when allowEmpty.
func decode(r *request, v any, allowEmpty bool) error {
	body := r.ctx.PostBody()
	if len(bytes.TrimSpace(body)) == 0 {
		if allowEmpty {
			return nil
		}
		return &engine.ValidationError{Field: "body", Reason: "a JSON object is required"}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return &engine.ValidationError{Field: "body", Reason: jsonReason(err)}
	}
	if _, err := dec.Token(); err != io.EOF {
		return &engine.ValidationError{Field: "body", Reason: "unexpected data after the JSON object"}
	}
	return nil
}

// jsonReason turns a decoding error into a short message for the client.
func jsonReason(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Sprintf("malformed JSON at byte %d", syn.Offset)
	case errors.As(err, &typ):
		if typ.Field != "" {
			return fmt.Sprintf("field %s must be a %s", typ.Field, typ.Type)
		}
		return "must be a JSON object"
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "truncated JSON"
	}
	msg := err.Error()
	if len(msg) > 160 {
		msg = msg[:160]
	}
	return msg
}

func writeJSON(ctx *fasthttp.RequestCtx, status int, v any) error {
	body, err := json.Marshal(v)
	if err != nil {
		return err
	}
	body = append(body, '\n') // a terminal shows curl's output on its own line
	ctx.Response.Header.SetContentType("application/json")
	ctx.SetStatusCode(status)
	ctx.SetBody(body)
	return nil
}

var okBody = []byte(`{"status":"ok"}`)

// healthz is liveness, and the trivial endpoint benchmarks use as the
// machine's HTTP ceiling: it must stay this cheap.
func (s *Server) healthz(r *request) error {
	r.ctx.Response.Header.SetContentType("application/json")
	r.ctx.SetBody(okBody)
	return nil
}

func (s *Server) readyz(r *request) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := s.cfg.Ready(ctx); err != nil {
		p := problemFor(errUnavailable)
		p.Detail = err.Error()
		setRetryAfter(r.ctx, 1)
		writeProblem(r.ctx, p)
		return nil
	}
	return writeJSON(r.ctx, fasthttp.StatusOK, map[string]string{"status": "ready"})
}

func (s *Server) metricsPage(r *request) error {
	s.metrics.handler(r.ctx)
	return nil
}

// --- admin ---

// createDropRequest is the body of POST /v1/admin/drops.
type createDropRequest struct {
	ID                   string           `json:"id"`
	Name                 string           `json:"name"`
	Product              string           `json:"product"`
	Stock                int64            `json:"stock"`
	PerUserLimit         int64            `json:"per_user_limit"`
	RegistrationOpensAt  time.Time        `json:"registration_opens_at"`
	RegistrationClosesAt time.Time        `json:"registration_closes_at"`
	SaleStartsAt         time.Time        `json:"sale_starts_at"`
	SaleEndsAt           time.Time        `json:"sale_ends_at"`
	HoldSeconds          int64            `json:"hold_seconds"`
	Mode                 engine.Mode      `json:"mode"`
	ConfirmBy            engine.ConfirmBy `json:"confirm_by"`
	CheckoutURL          string           `json:"checkout_url"`
	ReminderSeconds      int64            `json:"reminder_seconds"`
	DrawQuantity         int64            `json:"draw_quantity"`
}

// adminDrop is a drop with its current state, as the admin API shows it.
type adminDrop struct {
	engine.Drop
	State engine.State `json:"state"`
}

func (s *Server) adminView(ctx context.Context, d engine.Drop) (adminDrop, error) {
	st, err := s.eng.Stats(ctx, d.ID)
	if err != nil {
		return adminDrop{}, err
	}
	return adminDrop{Drop: d, State: d.State(s.eng.Now(), st.Available)}, nil
}

func (s *Server) adminCreateDrop(r *request) error {
	if err := s.requireAdmin(r); err != nil {
		return err
	}
	var body createDropRequest
	if err := decode(r, &body, false); err != nil {
		return err
	}
	ctx, cancel := r.context()
	defer cancel()
	// Safe to retry: the same body again answers 200 with the drop as
	// stored; another body under the same id is a 409 naming the fields.
	d, created, err := s.eng.CreateDropOnce(ctx, engine.Drop{
		ID: body.ID, Name: body.Name, Product: body.Product, Stock: body.Stock, PerUserLimit: body.PerUserLimit,
		RegistrationOpensAt: body.RegistrationOpensAt, RegistrationClosesAt: body.RegistrationClosesAt,
		SaleStartsAt: body.SaleStartsAt, SaleEndsAt: body.SaleEndsAt, HoldSeconds: body.HoldSeconds, Mode: body.Mode,
		ConfirmBy: body.ConfirmBy, CheckoutURL: body.CheckoutURL,
		ReminderSeconds: body.ReminderSeconds, DrawQuantity: body.DrawQuantity,
	})
	if err != nil {
		return err
	}
	r.ctx.Response.Header.Set("Location", "/v1/admin/drops/"+d.ID)
	if !created {
		v, err := s.adminView(ctx, d)
		if err != nil {
			return err
		}
		return writeJSON(r.ctx, fasthttp.StatusOK, v)
	}
	s.cache.invalidate(d.ID)
	return writeJSON(r.ctx, fasthttp.StatusCreated, adminDrop{Drop: d, State: d.State(s.eng.Now(), d.Stock)})
}

func (s *Server) adminListDrops(r *request) error {
	if err := s.requireAdmin(r); err != nil {
		return err
	}
	ctx, cancel := r.context()
	defer cancel()
	ds, err := s.eng.Drops(ctx)
	if err != nil {
		return err
	}
	out := make([]adminDrop, 0, len(ds))
	for _, d := range ds {
		v, err := s.adminView(ctx, d)
		if err != nil {
			return err
		}
		out = append(out, v)
	}
	return writeJSON(r.ctx, fasthttp.StatusOK, map[string]any{"drops": out})
}

func (s *Server) adminGetDrop(r *request) error {
	if err := s.requireAdmin(r); err != nil {
		return err
	}
	ctx, cancel := r.context()
	defer cancel()
	d, err := s.eng.Drop(ctx, r.args[0])
	if err != nil {
		return err
	}
	v, err := s.adminView(ctx, d)
	if err != nil {
		return err
	}
	return writeJSON(r.ctx, fasthttp.StatusOK, v)
}

func (s *Server) adminStats(r *request) error {
	if err := s.requireAdmin(r); err != nil {
		return err
	}
	ctx, cancel := r.context()
	defer cancel()
	st, err := s.eng.Stats(ctx, r.args[0])
	if err != nil {
		return err
	}
	return writeJSON(r.ctx, fasthttp.StatusOK, st)
}

func (s *Server) adminPause(r *request) error  { return s.setPaused(r, true) }
func (s *Server) adminResume(r *request) error { return s.setPaused(r, false) }

func (s *Server) setPaused(r *request, paused bool) error {
	if err := s.requireAdmin(r); err != nil {
		return err
	}
	ctx, cancel := r.context()
	defer cancel()
	var d engine.Drop
	var err error
	if paused {
		d, err = s.eng.Pause(ctx, r.args[0])
	} else {
		d, err = s.eng.Resume(ctx, r.args[0])
	}
	if err != nil {
		return err
	}
	s.cache.invalidate(d.ID)
	v, err := s.adminView(ctx, d)
	if err != nil {
		return err
	}
	return writeJSON(r.ctx, fasthttp.StatusOK, v)
}

// --- shoppers ---

// publicView is GET /v1/drops/{drop}: what anyone may see, plus `me` for a
// shopper. Counters come from the cache and may lag by PublicTTL.
type publicView struct {
	ID                   string       `json:"id"`
	Name                 string       `json:"name"`
	Product              string       `json:"product"`
	State                engine.State `json:"state"`
	Mode                 engine.Mode  `json:"mode"`
	Paused               bool         `json:"paused"`
	RegistrationOpensAt  time.Time    `json:"registration_opens_at"`
	RegistrationClosesAt time.Time    `json:"registration_closes_at"`
	SaleStartsAt         time.Time    `json:"sale_starts_at"`
	SaleEndsAt           time.Time    `json:"sale_ends_at,omitzero"`
	Stock                int64        `json:"stock"`
	Available            int64        `json:"available"`
	PerUserLimit         int64        `json:"per_user_limit"`
	HoldSeconds          int64        `json:"hold_seconds"`
	// ConfirmBy tells the shopper page whether the winner confirms here
	// or pays at CheckoutURL (a template with {reservation}).
	ConfirmBy   engine.ConfirmBy    `json:"confirm_by"`
	CheckoutURL string              `json:"checkout_url,omitempty"`
	Me          *engine.ShopperView `json:"me,omitempty"`
	// Series links a series drop to its series; SeedHash is a draw's
	// commitment (its record: GET /v1/drops/{drop}/draw).
	Series   string `json:"series,omitempty"`
	SeedHash string `json:"seed_hash,omitempty"`
}

func (s *Server) publicViewOf(d engine.Drop, st engine.Stats) publicView {
	return publicView{
		ID: d.ID, Name: d.Name, Product: d.Product, State: d.State(s.eng.Now(), st.Available), Mode: d.Mode,
		Paused: d.Paused, RegistrationOpensAt: d.RegistrationOpensAt, RegistrationClosesAt: d.RegistrationClosesAt,
		SaleStartsAt: d.SaleStartsAt, SaleEndsAt: d.SaleEndsAt, Stock: d.Stock, Available: st.Available,
		PerUserLimit: d.PerUserLimit, HoldSeconds: d.HoldSeconds, ConfirmBy: d.ConfirmBy, CheckoutURL: d.CheckoutURL,
		Series: d.Series, SeedHash: d.SeedHash,
	}
}

func (s *Server) publicDrop(r *request) error {
	// The token is optional here, but a token that is sent must be good:
	// silently ignoring a bad one would hide the shopper's own state.
	withMe := len(r.ctx.Request.Header.Peek(fasthttp.HeaderAuthorization)) > 0
	if withMe {
		if err := s.authenticate(r); err != nil {
			return err
		}
	}
	ctx, cancel := r.context()
	defer cancel()
	d, st, err := s.cache.get(ctx, r.args[0])
	if err != nil {
		return err
	}
	v := s.publicViewOf(d, st)
	if withMe && !r.who.admin {
		me, err := s.eng.ShopperView(ctx, d.ID, r.who.user)
		if err != nil {
			return err
		}
		v.Me = &me
	}
	return writeJSON(r.ctx, fasthttp.StatusOK, v)
}

type registerRequest struct {
	Ref string `json:"ref"`
}

func (s *Server) register(r *request) error {
	if err := s.requireShopper(r); err != nil {
		return err
	}
	if ok, wait := s.regLimit.allow(r.who.user); !ok {
		setRetryAfter(r.ctx, wait.Seconds())
		return errRateLimited
	}
	var body registerRequest
	if err := decode(r, &body, true); err != nil {
		return err
	}
	ctx, cancel := r.context()
	defer cancel()
	reg, created, err := s.eng.Register(ctx, r.args[0], r.who.user, body.Ref)
	if err != nil {
		return s.withWindow(ctx, r.args[0], err)
	}
	status := fasthttp.StatusOK
	if created {
		status = fasthttp.StatusCreated
	}
	return writeJSON(r.ctx, status, reg)
}

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
	drop := r.args[0]
	if err := engine.ValidateDropID(drop); err != nil {
		return engine.ErrNotFound
	}
	// After a sell-out every node knows it: the crowd is answered from
	// memory. Not requests whose answer depends on stored state: a replay
	// of an Idempotency-Key must get its first answer (I5), and joining the
	// waitlist needs the store.
	if s.cfg.SoldOut != nil && req.IdempotencyKey == "" && !req.Waitlist && s.cfg.SoldOut.SoldOut(drop) {
		s.metrics.soldOutMemory.Inc()
		return engine.ErrSoldOut
	}
	// A lane per drop exists only for drops that exist.
	ctx, cancel := r.context()
	_, _, err := s.cache.get(ctx, drop)
	cancel()
	if err != nil {
		return err
	}
	res, err := s.batch.reserve(drop, req)
	if err != nil {
		return err
	}
	if res.Err != nil {
		wctx, wcancel := r.context()
		defer wcancel()
		return s.withWindow(wctx, drop, res.Err)
	}
	if res.Replayed {
		r.ctx.Response.Header.Set("Idempotent-Replayed", "true")
	}
	r.ctx.Response.Header.Set("Location", "/v1/reservations/"+res.Reservation.ID)
	return writeJSON(r.ctx, fasthttp.StatusCreated, reservationBody{res.Reservation})
}

func (s *Server) getReservation(r *request) error {
	if err := s.authenticate(r); err != nil {
		return err
	}
	ctx, cancel := r.context()
	defer cancel()
	res, err := s.eng.Reservation(ctx, r.args[0], r.actor())
	if err != nil {
		return err
	}
	return writeJSON(r.ctx, fasthttp.StatusOK, reservationBody{res})
}

func (s *Server) confirm(r *request) error { return s.settle(r, s.eng.Confirm) }
func (s *Server) cancel(r *request) error  { return s.settle(r, s.eng.Cancel) }

func (s *Server) settle(r *request, op func(context.Context, string, string) (engine.Reservation, error)) error {
	if err := s.authenticate(r); err != nil {
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

// windowError is a time-window outcome with the time the shopper needs:
// "opens at" is what a countdown shows, so the problem says it.
type windowError struct {
	err    error
	detail string
}

func (e *windowError) Error() string { return e.err.Error() }
func (e *windowError) Unwrap() error { return e.err }

// withWindow adds the relevant time to a window outcome, from the cache.
func (s *Server) withWindow(ctx context.Context, drop string, err error) error {
	var what string
	var at time.Time
	d, _, cerr := s.cache.get(ctx, drop)
	if cerr != nil {
		return err
	}
	switch {
	case errors.Is(err, engine.ErrSaleNotOpen):
		what, at = "the sale starts at ", d.SaleStartsAt
	case errors.Is(err, engine.ErrRegistrationNotOpen):
		what, at = "registration opens at ", d.RegistrationOpensAt
	case errors.Is(err, engine.ErrRegistrationClosed):
		what, at = "registration closed at ", d.RegistrationClosesAt
	case errors.Is(err, engine.ErrSaleClosed):
		what, at = "the sale ended at ", d.SaleEndsAt
	default:
		return err
	}
	return &windowError{err: err, detail: what + at.UTC().Format(time.RFC3339)}
}
