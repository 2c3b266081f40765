package api_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/flashdrop/flashdrop/api"
	"github.com/flashdrop/flashdrop/engine"
	"github.com/flashdrop/flashdrop/engine/redisstore"
	"github.com/flashdrop/flashdrop/engine/redisstore/redistest"
)

// BenchmarkStack is SPEC §8's throughput target, measured in one run on
// one machine: reserve requests through the whole stack (HTTP, JWT, rate
// limiter, coalescing, the Redis script, the outbox) against the same
// server's /healthz, the machine's HTTP ceiling, at the same concurrency,
// over real loopback TCP. Every reserve is a win (the costliest outcome).
// It reports requests/s, p99 latency, and reserve's throughput as a
// fraction of healthz's (target ≥ 0.6).
func BenchmarkStack(b *testing.B) {
	const users, concurrency = 4096, 64
	rdb := redistest.Shared(b).Client()
	b.Cleanup(func() { rdb.Close() })
	clock := engine.NewManualClock(time.Now())
	store := redisstore.New(rdb, redisstore.Options{})
	eng := engine.New(store, engine.Options{Clock: clock})
	adm := engine.NewAdmission(eng, engine.AdmissionOptions{})
	b.Cleanup(func() { _ = adm.Close() })
	srv, err := api.New(api.Config{
		Auth:   api.AuthConfig{JWTSecret: []byte(secret), AdminToken: admin},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Limits: api.Limits{UserRate: -1, MaxInFlight: 1 << 16},
	}.WithEngine(eng, adm, nil))
	if err != nil {
		b.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})

	drop := fmt.Sprintf("bench-stack-%d", time.Now().UnixNano())
	now := clock.Now()
	if _, err := eng.CreateDrop(context.Background(), engine.Drop{ID: drop, Name: "Bench", Stock: engine.MaxStock,
		PerUserLimit: engine.MaxPerUserLimit, RegistrationOpensAt: now.Add(-time.Hour),
		RegistrationClosesAt: now.Add(time.Hour), SaleStartsAt: now.Add(time.Hour)}); err != nil {
		b.Fatal(err)
	}
	tokens := make([]string, users)
	for i := range tokens {
		u := fmt.Sprint("bench-", i)
		if _, _, err := eng.Register(context.Background(), drop, u, ""); err != nil {
			b.Fatal(err)
		}
		if tokens[i], err = api.MintShopperToken([]byte(secret), u, 24*time.Hour, time.Now(), "", ""); err != nil {
			b.Fatal(err)
		}
	}
	clock.Set(now.Add(time.Hour + time.Second)) // the sale is open

	client := &fasthttp.HostClient{Addr: ln.Addr().String(), MaxConns: concurrency}
	var healthzRate float64
	run := func(b *testing.B, name string, do func(i int, req *fasthttp.Request) int) {
		b.Run(name, func(b *testing.B) {
			var next atomic.Int64
			lat := make([][]time.Duration, concurrency)
			var wg sync.WaitGroup
			var failed atomic.Int64
			b.ResetTimer()
			start := time.Now()
			for w := 0; w < concurrency; w++ {
				wg.Add(1)
				go func(w int) {
					defer wg.Done()
					req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
					defer fasthttp.ReleaseRequest(req)
					defer fasthttp.ReleaseResponse(resp)
					for {
						i := int(next.Add(1)) - 1
						if i >= b.N {
							return
						}
						req.Reset()
						want := do(i, req)
						t := time.Now()
						if err := client.Do(req, resp); err != nil || resp.StatusCode() != want {
							failed.Add(1)
						}
						lat[w] = append(lat[w], time.Since(t))
					}
				}(w)
			}
			wg.Wait()
			elapsed := time.Since(start)
			b.StopTimer()
			if n := failed.Load(); n > 0 {
				b.Fatalf("%d of %d requests failed", n, b.N)
			}
			var all []time.Duration
			for _, l := range lat {
				all = append(all, l...)
			}
			sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
			rate := float64(b.N) / elapsed.Seconds()
			b.ReportMetric(rate, "req/s")
			b.ReportMetric(float64(all[len(all)*99/100].Microseconds())/1000, "p99-ms")
			if name == "healthz" {
				healthzRate = rate
			} else if healthzRate > 0 {
				b.ReportMetric(rate/healthzRate, "x-healthz")
			}
		})
	}
	run(b, "healthz", func(_ int, req *fasthttp.Request) int {
		req.SetRequestURI("http://bench/healthz")
		return 200
	})
	run(b, "reserve", func(i int, req *fasthttp.Request) int {
		req.SetRequestURI("http://bench/v1/drops/" + drop + "/reservations")
		req.Header.SetMethod("POST")
		req.Header.Set("Authorization", "Bearer "+tokens[i%users])
		req.SetBodyString(`{"quantity":1}`)
		return 201
	})
}
