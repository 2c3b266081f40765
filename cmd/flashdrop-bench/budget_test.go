package main

import (
	"image/png"
	"math"
	"os"
	"path/filepath"
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
			if c.name == "shared" {
				// The bars: /healthz's median run of all nine, then each
				// measure's median round split into serve's and Redis's
				// parts, with what the target allows.
				want := []budgetBar{
					{label: "/healthz (all runs)", serve: 6.5, redis: 0.0}, // the register runs' second, 6.5 + 0.0
					{label: "a press", serve: 7.9, redis: 0.1, allows: 6.5 / 0.8, target: 0.8},
					{label: "a registration", serve: 30.0, redis: 10.0, allows: 6.5 / 0.6, target: 0.6},
					{label: "a win", serve: 40.0, redis: 20.0, allows: 6.5 / 0.6, target: 0.6},
				}
				if len(b.budget) != len(want) {
					t.Fatalf("budget bars %+v, want %+v", b.budget, want)
				}
				for i, w := range want {
					g := b.budget[i]
					if g.label != w.label || !near(g.serve, w.serve) || !near(g.redis, w.redis) || !near(g.allows, w.allows) || g.target != w.target {
						t.Errorf("bar %d = %+v, want %+v", i, g, w)
					}
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

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

// TestBudgetChart draws the chart from bars and reads the PNG back.
func TestBudgetChart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "budget.png")
	bars := []budgetBar{{label: "/healthz", serve: 5.8, redis: 0.1}, {label: "a win", serve: 33.6, redis: 16.7, allows: 9.6, target: 0.6}}
	if err := writeBudgetChart(path, bars); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("not a PNG: %v", err)
	}
	if r := img.Bounds(); r.Dx() < 500 || r.Dy() < 300 {
		t.Errorf("chart is %v, too small to read", r)
	}
	if err := writeBudgetChart(filepath.Join(t.TempDir(), "none.png"), nil); err == nil {
		t.Error("no bars drew a chart")
	}
}
