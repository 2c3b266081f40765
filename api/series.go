package api

import (
	"errors"
	"github.com/valyala/fasthttp"

	"github.com/flashdrop/flashdrop/engine"
)

// createSeriesRequest is the body of POST /v1/admin/series.
type createSeriesRequest struct {
	ID                              string           `json:"id"`
	Name                            string           `json:"name"`
	Product                         string           `json:"product"`
	Stock                           int64            `json:"stock"`
	PerUserLimit                    int64            `json:"per_user_limit"`
	HoldSeconds                     int64            `json:"hold_seconds"`
	Mode                            engine.Mode      `json:"mode"`
	DrawQuantity                    int64            `json:"draw_quantity"`
	ConfirmBy                       engine.ConfirmBy `json:"confirm_by"`
	CheckoutURL                     string           `json:"checkout_url"`
	Weekday                         int              `json:"weekday"`
	SaleTime                        string           `json:"sale_time"`
	TimeZone                        string           `json:"time_zone"`
	RegistrationOpensBeforeSeconds  int64            `json:"registration_opens_before_seconds"`
	RegistrationClosesBeforeSeconds int64            `json:"registration_closes_before_seconds"`
	SaleSeconds                     int64            `json:"sale_seconds"`
	ReminderSeconds                 int64            `json:"reminder_seconds"`
}

// seriesView is a series with its next drop, as the admin API shows it.
type seriesView struct {
	engine.Series
	NextDrop engine.NextDrop `json:"next_drop"`
}

// publicSeriesView is GET /v1/series/{series}: what a share card or a
// shop page needs to link to "register for the next drop".
type publicSeriesView struct {
	ID       string          `json:"id"`
	Name     string          `json:"name"`
	Product  string          `json:"product"`
	Mode     engine.Mode     `json:"mode"`
	NextDrop engine.NextDrop `json:"next_drop"`
}

func (s *Server) adminCreateSeries(r *request) error {
	if err := s.requireScope(r, engine.ScopeDropsWrite); err != nil {
		return err
	}
	var b createSeriesRequest
	given, err := decodeGiven(r, &b)
	if err != nil {
		return err
	}
	if err := b.givenZero(given); err != nil {
		return err
	}
	if err := checkDisplayNames(b.Name, b.Product); err != nil {
		return err
	}
	ctx, cancel := r.context()
	defer cancel()
	// Safe to retry, like a drop: the same body answers 200 with the
	// stored series, another body under the same id 409.
	sr, created, err := s.cfg.Series.CreateSeries(ctx, engine.Series{
		ID: b.ID, Name: b.Name, Product: b.Product, Stock: b.Stock, PerUserLimit: b.PerUserLimit,
		HoldSeconds: b.HoldSeconds, Mode: b.Mode, DrawQuantity: b.DrawQuantity, ConfirmBy: b.ConfirmBy,
		CheckoutURL: b.CheckoutURL, Weekday: b.Weekday, SaleTime: b.SaleTime, TimeZone: b.TimeZone,
		RegistrationOpensBeforeSeconds:  b.RegistrationOpensBeforeSeconds,
		RegistrationClosesBeforeSeconds: b.RegistrationClosesBeforeSeconds,
		SaleSeconds:                     b.SaleSeconds, ReminderSeconds: b.ReminderSeconds,
	})
	if err != nil {
		return err
	}
	_, next, err := s.cfg.Series.NextSeriesDrop(ctx, sr.ID)
	if err != nil {
		return err
	}
	r.ctx.Response.Header.Set("Location", "/v1/admin/series/"+sr.ID)
	status := fasthttp.StatusOK
	if created {
		status = fasthttp.StatusCreated
		s.audit(r, "series created", "series", sr.ID)
	}
	return writeJSON(r.ctx, status, seriesView{Series: sr, NextDrop: next})
}

func (s *Server) adminListSeries(r *request) error {
	if err := s.requireScope(r, engine.ScopeDropsRead); err != nil {
		return err
	}
	ctx, cancel := r.context()
	defer cancel()
	list, err := s.cfg.Series.SeriesList(ctx)
	if err != nil {
		return err
	}
	out := make([]seriesView, 0, len(list))
	for _, sr := range list {
		_, next, err := s.cfg.Series.NextSeriesDrop(ctx, sr.ID)
		if errors.Is(err, engine.ErrNotFound) {
			continue // deleted since the list was read: not listed
		}
		if err != nil {
			return err
		}
		out = append(out, seriesView{Series: sr, NextDrop: next})
	}
	return writeJSON(r.ctx, fasthttp.StatusOK, map[string]any{"series": out})
}

func (s *Server) adminGetSeries(r *request) error {
	if err := s.requireScope(r, engine.ScopeDropsRead); err != nil {
		return err
	}
	ctx, cancel := r.context()
	defer cancel()
	sr, next, err := s.cfg.Series.NextSeriesDrop(ctx, r.args[0])
	if err != nil {
		return err
	}
	return writeJSON(r.ctx, fasthttp.StatusOK, seriesView{Series: sr, NextDrop: next})
}

func (s *Server) adminDeleteSeries(r *request) error {
	if err := s.requireScope(r, engine.ScopeDropsWrite); err != nil {
		return err
	}
	ctx, cancel := r.context()
	defer cancel()
	if err := s.cfg.Series.DeleteSeries(ctx, r.args[0]); err != nil {
		return err
	}
	s.audit(r, "series deleted", "series", r.args[0])
	r.ctx.SetStatusCode(fasthttp.StatusNoContent)
	return nil
}

func (s *Server) publicSeries(r *request) error {
	ctx, cancel := r.context()
	defer cancel()
	sr, next, err := s.cfg.Series.NextSeriesDrop(ctx, r.args[0])
	if err != nil {
		return err
	}
	next.Differs = nil // the shop's to know, not the public's
	return writeJSON(r.ctx, fasthttp.StatusOK, publicSeriesView{ID: sr.ID, Name: sr.Name, Product: sr.Product,
		Mode: sr.Mode, NextDrop: next})
}
