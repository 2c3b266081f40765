package api

import (
	"github.com/valyala/fasthttp"
)

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
	reg, created, err := s.adm.Register(ctx, r.args[0], r.who.user, body.Ref)
	if err != nil {
		return err
	}
	status := fasthttp.StatusOK
	if created {
		status = fasthttp.StatusCreated
	}
	return writeJSON(r.ctx, status, reg)
}
