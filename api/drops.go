package api

import (
	"context"
	"errors"
	"time"

	"github.com/valyala/fasthttp"
	"golang.org/x/sync/errgroup"

	"github.com/flashdrop/flashdrop/engine"
)

// Drops: the shop backend's and ops' routes under /v1/admin/drops, and the
// public view of one drop.

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
	Rehearsal            bool             `json:"rehearsal"`
}

// adminDrop is a drop with its current state, as the admin API shows it.
type adminDrop struct {
	engine.Drop
	State engine.State `json:"state"`
}

func (s *Server) adminView(ctx context.Context, d engine.Drop) (adminDrop, error) {
	st, err := s.drops.Stats(ctx, d.ID)
	if err != nil {
		return adminDrop{}, err
	}
	return adminDrop{Drop: d, State: d.State(s.drops.Now(), st.Available)}, nil
}

func (s *Server) adminCreateDrop(r *request) error {
	if err := s.requireScope(r, engine.ScopeDropsWrite); err != nil {
		return err
	}
	var body createDropRequest
	given, err := decodeGiven(r, &body)
	if err != nil {
		return err
	}
	if err := body.givenZero(given); err != nil {
		return err
	}
	if err := checkDisplayNames(body.Name, body.Product); err != nil {
		return err
	}
	ctx, cancel := r.context()
	defer cancel()
	// Safe to retry: the same body again answers 200 with the drop as
	// stored; another body under the same id is a 409 naming the fields.
	d, created, err := s.drops.CreateDropOnce(ctx, engine.Drop{
		ID: body.ID, Name: body.Name, Product: body.Product, Stock: body.Stock, PerUserLimit: body.PerUserLimit,
		RegistrationOpensAt: body.RegistrationOpensAt, RegistrationClosesAt: body.RegistrationClosesAt,
		SaleStartsAt: body.SaleStartsAt, SaleEndsAt: body.SaleEndsAt, HoldSeconds: body.HoldSeconds, Mode: body.Mode,
		ConfirmBy: body.ConfirmBy, CheckoutURL: body.CheckoutURL,
		ReminderSeconds: body.ReminderSeconds, DrawQuantity: body.DrawQuantity, Rehearsal: body.Rehearsal,
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
	s.adm.Invalidate(d.ID)
	s.audit(r, "drop created", "drop", d.ID, "stock", d.Stock, "sale_starts_at", d.SaleStartsAt, "rehearsal", d.Rehearsal)
	return writeJSON(r.ctx, fasthttp.StatusCreated, adminDrop{Drop: d, State: d.State(s.drops.Now(), d.Stock)})
}

func (s *Server) adminListDrops(r *request) error {
	if err := s.requireScope(r, engine.ScopeDropsRead); err != nil {
		return err
	}
	ctx, cancel := r.context()
	defer cancel()
	ds, err := s.drops.Drops(ctx)
	if err != nil {
		return err
	}
	out, err := s.listDrops(ctx, r, ds)
	if err != nil {
		return err
	}
	return writeJSON(r.ctx, fasthttp.StatusOK, map[string]any{"drops": out})
}

// listedDrop is a drop of the admin list, with its figures. The list
// reads them anyway, for each drop's state, and the ops page polls it
// every second: it then asked each drop's stats again, 2N+1 script calls
// a second for each open page, during the rush too.
type listedDrop struct {
	adminDrop
	// Stats are the drop's figures; nil when not read (a sale over for
	// longer than listStatsAfterEnd: its figures no longer move, and the
	// list would read every drop ever made, every second) or when the
	// read failed (StatsError).
	Stats *engine.Stats `json:"stats,omitempty"`
	// StatsError is the problem code of a failed read: one drop's shard
	// failing over no longer fails the list of every drop.
	StatsError string `json:"stats_error,omitempty"`
}

const (
	// listStatsAfterEnd is how long after its sale's end a drop's figures
	// are still read with the list: holds settle until their deadline.
	listStatsAfterEnd = time.Hour
	// listStatsReads bounds the list's concurrent stats reads.
	listStatsReads = 8
)

// listDrops reads the figures of ds, concurrently, and their states. Only
// if every read failed is the list an error (Redis is down); a read that
// failed otherwise is logged and counted as a store error, as a failed
// request would be, so ops see a failing shard on the error rate too.
func (s *Server) listDrops(ctx context.Context, r *request, ds []engine.Drop) ([]listedDrop, error) {
	now := s.drops.Now()
	out := make([]listedDrop, len(ds))
	errs := make([]error, len(ds))
	var g errgroup.Group
	g.SetLimit(listStatsReads)
	for i, d := range ds {
		out[i].Drop = d
		if d.SaleEnded(now.Add(-listStatsAfterEnd)) {
			out[i].State = engine.StateSaleClosed
			continue
		}
		g.Go(func() error {
			st, err := s.drops.Stats(ctx, d.ID)
			if err != nil {
				errs[i] = err
				return nil
			}
			out[i].Stats = &st
			return nil
		})
	}
	_ = g.Wait()
	read, failed := 0, 0
	var first error
	kept := out[:0]
	for i, v := range out {
		switch err := errs[i]; {
		case errors.Is(err, engine.ErrNotFound):
			continue // gone since the list was read
		case err != nil:
			failed++
			if first == nil {
				first = err
			}
			v.StatsError = problemFor(err).Code
			// Unread, the figures cannot tell a sold-out sale from an
			// open one: the state is the drop's times' alone.
			v.State = v.Drop.State(now, v.Drop.Stock)
		case v.Stats != nil:
			read++
			v.State = v.Drop.State(now, v.Stats.Available)
		}
		kept = append(kept, v)
	}
	if failed > 0 && read == 0 {
		return nil, first
	}
	for i, err := range errs {
		if err != nil && !errors.Is(err, engine.ErrNotFound) {
			s.log.Warn("a drop's stats could not be read for the admin list", "request_id", string(r.ctx.Response.Header.Peek(headerRequestID)),
				"drop", ds[i].ID, "err", err.Error())
			s.metrics.storeError(err)
		}
	}
	return kept, nil
}

func (s *Server) adminGetDrop(r *request) error {
	if err := s.requireScope(r, engine.ScopeDropsRead); err != nil {
		return err
	}
	ctx, cancel := r.context()
	defer cancel()
	d, err := s.drops.Drop(ctx, r.args[0])
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
	if err := s.requireScope(r, engine.ScopeDropsRead); err != nil {
		return err
	}
	ctx, cancel := r.context()
	defer cancel()
	st, err := s.drops.Stats(ctx, r.args[0])
	if err != nil {
		return err
	}
	return writeJSON(r.ctx, fasthttp.StatusOK, st)
}

func (s *Server) adminPause(r *request) error  { return s.setPaused(r, true) }
func (s *Server) adminResume(r *request) error { return s.setPaused(r, false) }

func (s *Server) setPaused(r *request, paused bool) error {
	if err := s.requireScope(r, engine.ScopeOps); err != nil {
		return err
	}
	ctx, cancel := r.context()
	defer cancel()
	var d engine.Drop
	var err error
	if paused {
		d, err = s.drops.Pause(ctx, r.args[0])
	} else {
		d, err = s.drops.Resume(ctx, r.args[0])
	}
	if err != nil {
		return err
	}
	s.adm.Invalidate(d.ID)
	if paused {
		s.audit(r, "drop paused", "drop", d.ID)
	} else {
		s.audit(r, "drop resumed", "drop", d.ID)
	}
	v, err := s.adminView(ctx, d)
	if err != nil {
		return err
	}
	return writeJSON(r.ctx, fasthttp.StatusOK, v)
}

// publicView is GET /v1/drops/{drop}: what anyone may see, plus `me` for a
// shopper. Counters come from the admission's cached view and may lag by
// its ViewTTL.
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
	// Rehearsal says the drop rehearses release day: a shop's own front
	// end can say so as the drop page does.
	Rehearsal bool `json:"rehearsal,omitempty"`
}

func (s *Server) publicViewOf(d engine.Drop, st engine.Stats) publicView {
	return publicView{
		ID: d.ID, Name: d.Name, Product: d.Product, State: d.State(s.drops.Now(), st.Available), Mode: d.Mode,
		Paused: d.Paused, RegistrationOpensAt: d.RegistrationOpensAt, RegistrationClosesAt: d.RegistrationClosesAt,
		SaleStartsAt: d.SaleStartsAt, SaleEndsAt: d.SaleEndsAt, Stock: d.Stock, Available: st.Available,
		PerUserLimit: d.PerUserLimit, HoldSeconds: d.HoldSeconds, ConfirmBy: d.ConfirmBy, CheckoutURL: d.CheckoutURL,
		Series: d.Series, SeedHash: d.SeedHash, Rehearsal: d.Rehearsal,
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
	d, st, err := s.adm.View(ctx, r.args[0])
	if err != nil {
		return err
	}
	v := s.publicViewOf(d, st)
	if withMe && !r.who.admin {
		me, err := s.shoppers.ShopperView(ctx, d.ID, r.who.user)
		if err != nil {
			return err
		}
		v.Me = &me
	}
	return writeJSON(r.ctx, fasthttp.StatusOK, v)
}
