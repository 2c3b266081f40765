package main

import (
	"strings"
	"testing"
)

// TestCoreBudget checks the core's CPU budget on made-up rounds: serve's
// and Redis's CPU summed where they share a core, serve's alone where
// Redis has the generator's core, each column the median of three rounds
// that differ (so the first round, or the median of the rounds' ratios,
// would read otherwise), the prediction as the /healthz runs' median over
// the runs', and each target's bound from its own /healthz runs.
func TestCoreBudget(t *testing.T) {
	type run struct{ serve, redis, rps float64 }
	rounds := func(hz, day [3]run) []dayRound {
		out := make([]dayRound, 3)
		for i := range out {
			out[i] = dayRound{
				hz:  wrkResult{ServeCPUus: hz[i].serve, RedisCPUus: hz[i].redis, RPS: hz[i].rps},
				day: wrkResult{ServeCPUus: day[i].serve, RedisCPUus: day[i].redis, RPS: day[i].rps},
			}
		}
		return out
	}
	// Medians, shared core: /healthz 6.5 (6.0 serve alone), a press 8.0
	// (7.9), a registration 40.0 (30.0), a win 60.0 (40.0).
	day := rounds([3]run{{6.4, 0.1, 150e3}, {6.0, 0.5, 160e3}, {7.0, 0.0, 140e3}},
		[3]run{{9.9, 0.1, 100e3}, {7.9, 0.1, 125e3}, {7.6, 0.0, 130e3}})
	reg := rounds([3]run{{5.8, 0.2, 160e3}, {6.5, 0.0, 150e3}, {6.0, 0.5, 155e3}},
		[3]run{{25.0, 8.0, 30e3}, {30.0, 10.0, 25e3}, {33.0, 12.0, 22e3}})
	wins := rounds([3]run{{6.0, 0.0, 165e3}, {6.5, 0.5, 155e3}, {6.5, 0.0, 150e3}},
		[3]run{{45.0, 25.0, 14e3}, {40.0, 20.0, 16e3}, {35.0, 15.0, 20e3}})
	for _, c := range []struct {
		name      string
		pinned    bool
		redisCore string
		value     float64
		want      []string
		not       []string
	}{
		{"shared", true, redisWithServe, 60, []string{
			"serve's CPU and redis-server's, which share core 1",
			"release-day 8.0 µs against 6.5 for /healthz: predicts 0.81, measured 0.82; its target (0.8x) allows 8.1 µs per press (the core busy 1.00 of the run)",
			"register 40.0 µs against 6.5 for /healthz: predicts 0.16, measured 0.17; its target (0.6x) allows 10.8 µs per registration",
			"all-wins 60.0 µs against 6.5 for /healthz: predicts 0.11, measured 0.12; its target (0.6x) allows 10.8 µs per win (the core busy 0.98 of the run)",
		}, nil},
		{"redis on the generator's core", true, redisWithGenerator, 40, []string{
			"serve's CPU alone (redis-server is on the generator's core)",
			"release-day 7.9 µs against 6.4 for /healthz: predicts 0.81",
			"register 30.0 µs against 6.0 for /healthz: predicts 0.20, measured 0.17; its target (0.6x) allows 10.0 µs per registration",
			"all-wins 40.0 µs against 6.5 for /healthz: predicts 0.16",
		}, nil},
		{"not pinned", false, redisWithServe, 40, []string{"not pinned"}, []string{"busy"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := &bench{pinned: c.pinned}
			b.c.redisCore = c.redisCore
			b.addCoreBudget(day, wins, reg, 0.82, 0.12, 0.17)
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
			for _, w := range c.not {
				if strings.Contains(r.Detail, w) {
					t.Errorf("detail has %q:\n%s", w, r.Detail)
				}
			}
		})
	}
}
