package api

import (
	"context"
	"sync"
	"testing"
	"time"
)

// TestSharedRequestContexts: requests within one contextShare get the
// same context, each with at least reqTimeout to run and none cancelled
// early; the next interval gets a new one.
func TestSharedRequestContexts(t *testing.T) {
	var s sharedContexts
	t0 := time.Now()
	a := s.get(t0)
	b := s.get(t0.Add(contextShare - time.Nanosecond))
	if a != b {
		t.Fatal("two requests in one interval got different contexts")
	}
	c := s.get(t0.Add(contextShare))
	if c == a {
		t.Fatal("a request after the interval got the old context")
	}
	for i, x := range []struct {
		ctx   context.Context
		start time.Time
	}{{a, t0}, {b, t0.Add(contextShare - time.Nanosecond)}, {c, t0.Add(contextShare)}} {
		d, ok := x.ctx.Deadline()
		if !ok || d.Before(x.start.Add(reqTimeout)) || d.After(x.start.Add(reqTimeout+contextShare)) {
			t.Fatalf("request %d started at +%v: deadline %v (ok %v), want within [+%v, +%v]", i,
				x.start.Sub(t0), d.Sub(t0), ok, reqTimeout, reqTimeout+contextShare)
		}
		if x.ctx.Err() != nil {
			t.Fatalf("request %d: context ended early: %v", i, x.ctx.Err())
		}
	}
	// A request's cancel leaves the shared context alive for the others.
	r := &request{}
	ctx, cancel := r.context()
	cancel()
	if ctx.Err() != nil {
		t.Fatal("a request's cancel ended the shared context")
	}
}

// TestSharedRequestContextsConcurrent runs gets from many goroutines (the
// race detector checks the sharing); each gets a context good for
// reqTimeout from its own start.
func TestSharedRequestContextsConcurrent(t *testing.T) {
	var s sharedContexts
	var wg sync.WaitGroup
	errs := make(chan string, 64)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 2000; i++ {
				start := time.Now()
				ctx := s.get(start)
				if d, ok := ctx.Deadline(); !ok || d.Before(start.Add(reqTimeout)) || ctx.Err() != nil {
					errs <- "short or ended context"
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Fatal(e)
	}
}

// BenchmarkRequestContext compares a request's context and cancel, shared,
// with one built per request.
func BenchmarkRequestContext(b *testing.B) {
	b.Run("shared", func(b *testing.B) {
		r := &request{}
		for i := 0; i < b.N; i++ {
			ctx, cancel := r.context()
			_ = ctx
			cancel()
		}
	})
	b.Run("own", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			ctx, cancel := context.WithTimeout(context.Background(), reqTimeout)
			_ = ctx
			cancel()
		}
	})
}
