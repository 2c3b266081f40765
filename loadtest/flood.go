package loadtest

import (
	"context"
	"sync"
	"time"
)

// FloodResult is what Flood measured.
type FloodResult struct {
	Requests int64   `json:"requests"`
	Errors   int64   `json:"errors"`
	Seconds  float64 `json:"seconds"`
	RPS      float64 `json:"rps"`
	Latency  Latency `json:"latency"`
}

// Flood sends GET path to target over conns keep-alive connections for d,
// each connection sending its next request when the last is answered,
// through the same client and recorder as the rush. It is the generator's
// own ceiling: `make bench` compares it with wrk on the same endpoint.
func Flood(ctx context.Context, target, path string, conns int, d time.Duration) (FloodResult, error) {
	o, err := Options{Targets: []string{target}, AdminToken: "-", JWTSecret: make([]byte, 32), Connections: conns}.withDefaults()
	if err != nil {
		return FloodResult{}, err
	}
	c, err := newClient(o)
	if err != nil {
		return FloodResult{}, err
	}
	defer c.close()
	var m metrics
	start := time.Now()
	deadline := start.Add(d)
	var wg sync.WaitGroup
	for w := 1; w <= conns; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			rec := m.rec(w)
			for ctx.Err() == nil && time.Now().Before(deadline) {
				rec.record(PhaseRush, "flood", c.do(w, "GET", path, "", nil, ""), time.Time{}, start)
			}
		}(w)
	}
	wg.Wait()
	secs := time.Since(start).Seconds()
	tot := m.total()
	h := newHist()
	for _, x := range tot.latency {
		h.Merge(x)
	}
	return FloodResult{Requests: h.TotalCount(), Errors: tot.errors[PhaseRush], Seconds: secs,
		RPS: float64(h.TotalCount()) / secs, Latency: summarize(h)}, ctx.Err()
}
