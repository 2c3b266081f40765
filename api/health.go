package api

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/flashdrop/flashdrop/engine"
)

var okBody = []byte(`{"status":"ok"}`)

// healthz is liveness, and the trivial endpoint benchmarks use as the
// machine's HTTP ceiling: it must stay this cheap.
func (s *Server) healthz(r *request) error {
	r.ctx.Response.Header.SetContentType("application/json")
	r.ctx.SetBody(okBody)
	return nil
}

// ReadyCheck is one named part of readiness.
type ReadyCheck struct {
	Name  string
	Check func(context.Context) error
}

// readyz runs the readiness checks, each but those named by exclude
// (repeatable): 200 when all pass, else 503 naming the first that failed.
func (s *Server) readyz(r *request) error {
	var skip []string
	for _, v := range r.ctx.QueryArgs().PeekMulti("exclude") {
		name := string(v)
		if !slices.ContainsFunc(s.cfg.ReadyChecks, func(c ReadyCheck) bool { return c.Name == name }) {
			names := make([]string, len(s.cfg.ReadyChecks))
			for i, c := range s.cfg.ReadyChecks {
				names[i] = c.Name
			}
			return &engine.ValidationError{Field: "exclude", Reason: "must name a check: " + strings.Join(names, ", ")}
		}
		skip = append(skip, name)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	for _, c := range s.cfg.ReadyChecks {
		if slices.Contains(skip, c.Name) {
			continue
		}
		if err := c.Check(ctx); err != nil {
			p := problemFor(errUnavailable)
			p.Detail = err.Error()
			setRetryAfter(r.ctx, 1)
			writeProblem(r.ctx, p)
			return nil
		}
	}
	return writeJSON(r.ctx, fasthttp.StatusOK, map[string]string{"status": "ready"})
}

func (s *Server) metricsPage(r *request) error {
	s.metrics.handler(r.ctx)
	return nil
}
