package main

import (
	"strings"
	"testing"
)

// TestCoreBudget checks the core's CPU budget on made-up rounds: serve's
// and Redis's CPU summed where they share a core, serve's alone where
// Redis has the generator's core, the prediction as the /healthz run's
// CPU over the run's, and the bounds the targets put on a request.
func TestCoreBudget(t *testing.T) {
	hz := wrkResult{RPS: 160_000, ServeCPUus: 6, RedisCPUus: 0.25}
	round := func(serve, redis, rps float64) []dayRound {
		return []dayRound{{day: wrkResult{RPS: rps, ServeCPUus: serve, RedisCPUus: redis}, hz: hz}}
	}
	day := round(7.5, 0, 128_000)
	reg := round(28, 8, 27_000)
	wins := round(32, 18, 20_000)
	for _, c := range []struct {
		name      string
		pinned    bool
		redisCore string
		value     float64
		want      []string
	}{
		{"shared", true, redisWithServe, 50, []string{
			"serve's CPU and redis-server's, which share core 1",
			"release-day 7.5 µs against 6.2 for /healthz: predicts 0.83, measured 0.80 (the core busy 0.96 of the run)",
			"register 36.0 µs against 6.2 for /healthz: predicts 0.17, measured 0.17 (the core busy 0.97 of the run)",
			"all-wins 50.0 µs against 6.2 for /healthz: predicts 0.12, measured 0.12 (the core busy 1.00 of the run)",
			"0.6x allows 10.4 µs per win or registration on the core, 0.8x 7.8 µs per press",
		}},
		{"redis on the generator's core", true, redisWithGenerator, 32, []string{
			"serve's CPU alone (redis-server is on the generator's core)",
			"all-wins 32.0 µs against 6.0 for /healthz: predicts 0.19",
			"0.6x allows 10.0 µs",
		}},
		{"not pinned", false, redisWithServe, 32, []string{"not pinned"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := &bench{pinned: c.pinned}
			b.c.redisCore = c.redisCore
			b.addCoreBudget(day, wins, reg, 0.80, 0.12, 0.17)
			if len(b.results) != 1 {
				t.Fatalf("%d results, want 1", len(b.results))
			}
			r := b.results[0]
			if r.Name != "core CPU per win" || r.Value != c.value || r.Unit != "µs" || r.Met != nil {
				t.Errorf("result %q = %v %s (met %v), want core CPU per win = %v µs, reported", r.Name, r.Value, r.Unit, r.Met, c.value)
			}
			for _, w := range c.want {
				if !strings.Contains(r.Detail, w) {
					t.Errorf("detail lacks %q:\n%s", w, r.Detail)
				}
			}
		})
	}
}
