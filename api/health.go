package api

import (
	"context"
	"time"

	"github.com/valyala/fasthttp"
)

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
