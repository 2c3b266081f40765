package api

import (
	"context"
	"fmt"
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
	ctx, cancel := context.WithTimeout(context.Background(), readyTimeout)
	defer cancel()
	// Every check starts at once, each within the same bound: one after
	// another, a slow first check left the next the rest of the time and
	// got the blame for the whole.
	waits := make([]func(context.Context) error, 0, len(s.cfg.ReadyChecks))
	for _, c := range s.cfg.ReadyChecks {
		if !slices.Contains(skip, c.Name) {
			waits = append(waits, s.startCheck(c))
		}
	}
	for _, wait := range waits {
		if err := wait(ctx); err != nil {
			p := problemFor(errUnavailable)
			p.Detail = err.Error()
			setRetryAfter(r.ctx, 1)
			writeProblem(r.ctx, p)
			return nil
		}
	}
	return writeJSON(r.ctx, fasthttp.StatusOK, map[string]string{"status": "ready"})
}

// readyTimeout bounds one /readyz answer: a backend that does not answer
// within it is not ready.
const readyTimeout = 2 * time.Second

// startCheck starts c, one at a time per check however many /readyz
// requests ask (a balancer's, every second, while a backend hangs), and
// returns the wait for its answer, which gives up when its ctx ends, even
// if c itself does not: a Redis client waits its own read timeout (5 s)
// whatever the context says, and a hung Redis kept /readyz green for
// those 5 s.
func (s *Server) startCheck(c ReadyCheck) func(context.Context) error {
	ch := s.readyFlight.DoChan(c.Name, func() (v any, err error) {
		// A check that panics must not take the process with it (the
		// flight runs on a goroutine of its own, out of the request's
		// recovery): its panic is carried back and raised again on the
		// request's goroutine, which answers 500 and logs it.
		defer func() {
			if p := recover(); p != nil {
				v = checkPanic{p}
			}
		}()
		cctx, cancel := context.WithTimeout(context.Background(), readyTimeout)
		defer cancel()
		return nil, c.Check(cctx)
	})
	return func(ctx context.Context) error {
		select {
		case res := <-ch:
			if p, ok := res.Val.(checkPanic); ok {
				panic(p.v)
			}
			return res.Err
		case <-ctx.Done():
			return fmt.Errorf("%s: no answer within %v", c.Name, readyTimeout)
		}
	}
}

// checkPanic carries a readiness check's panic out of its flight.
type checkPanic struct{ v any }

func (s *Server) metricsPage(r *request) error {
	s.metrics.handler(r.ctx)
	return nil
}
