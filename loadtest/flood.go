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
	// CPUSeconds is the generator process's own CPU time (user + system)
	// over the flood: the cost per request that decides how much of a
	// shared machine the generator leaves to the server.
	CPUSeconds float64 `json:"cpu_seconds"`
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
	cpu0 := processCPU()
	start := time.Now()
	deadline := start.Add(d)
	var wg sync.WaitGroup
	for w := 1; w <= conns; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			rec := m.rec(w)
			// The deadline is checked against the answer's own done time:
			// a clock read per request less (time.Now is a fifth of the
			// generator's user time on a VM's kvm-clock).
			for now := start; ctx.Err() == nil && now.Before(deadline); {
				a := c.do(w, "GET", path, "", nil, "")
				rec.record(PhaseRush, "flood", a, time.Time{}, start)
				now = a.done
			}
		}(w)
	}
	wg.Wait()
	secs := time.Since(start).Seconds()
	cpu := (processCPU() - cpu0).Seconds()
	tot := m.total()
	h := newHist()
	for _, x := range tot.latency {
		h.Merge(x)
	}
	return FloodResult{Requests: h.TotalCount(), Errors: tot.errors[PhaseRush], Seconds: secs,
		RPS: float64(h.TotalCount()) / secs, Latency: summarize(h), CPUSeconds: cpu}, ctx.Err()
}
