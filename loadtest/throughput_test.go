package loadtest

import (
	"bytes"
	"math"
	"testing"
	"time"
)

// steadyRush is the report of a burst whose n answers come evenly over d
// after T0, one in four won and the rest sold_out, counted by the
// recorder the rush uses and turned into the report's timelines as
// runner.report does.
func steadyRush(n int, d time.Duration, shard int) *Report {
	t0 := time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)
	rec := newRecorder(timelineTick(Options{Arrival: ArrivalBurst}))
	var last time.Duration
	for i := range n {
		at := time.Duration((float64(i) + 0.5) * float64(d) / float64(n))
		code := "sold_out"
		if i%4 == 0 {
			code = OutcomeWon
		}
		rec.record(PhaseRush, EndpointReserve, answer{status: 201, code: code, sent: t0.Add(at - time.Millisecond), done: t0.Add(at)}, time.Time{}, t0)
		last = at
	}
	rep := &Report{Schema: SchemaVersion, Complete: true, Drop: Drop{ID: "d"}, Records: &Records{},
		Run: RunInfo{Shard: shard, Shards: 2}, Rush: RushReport{DrainS: round3(last.Seconds())}}
	rep.Timeline, rep.Throughput = timelines(rec, last)
	return rep
}

// checkRates checks that every plotted point of the throughput chart's
// lines is within 10 % of the true rate at its time (want gives it for
// all answers; won is a quarter of them, sold_out the rest), and that the
// steps end where the rush did. minPoints is the shape expected: a report
// with only its per-second timeline has no finer one.
func checkRates(t *testing.T, rep *Report, end float64, want func(x float64) float64, minPoints int) {
	t.Helper()
	width, lines := rateLines(rep.throughput())
	if len(lines) != 3 || lines[0].name != "all requests" || lines[1].name != "reserve:sold_out" || lines[2].name != "reserve:won" {
		t.Fatalf("want lines for all requests, sold_out and won, got %+v", lines)
	}
	share := map[string]float64{"all requests": 1, "reserve:sold_out": 0.75, "reserve:won": 0.25}
	for _, l := range lines {
		if len(l.points) < minPoints || len(l.points) > maxBuckets {
			t.Errorf("%s: %d points in %s buckets, want %d to %d", l.name, len(l.points), width, minPoints, maxBuckets)
		}
		for _, p := range l.points {
			// A bucket straddling a change of rate holds a mix of both.
			lo, hi := want(p.x), want(p.x+p.seconds-1e-9)
			lo, hi = share[l.name]*min(lo, hi), share[l.name]*max(lo, hi)
			if p.y < 0.9*lo || p.y > 1.1*hi {
				t.Errorf("%s at %.3f s (%s buckets): %.0f/s plotted, want %.0f/s within 10%%", l.name, p.x, width, p.y, lo)
			}
		}
		last := l.points[len(l.points)-1]
		if got := last.x + last.seconds; math.Abs(got-end) > 0.002 {
			t.Errorf("%s: the steps end at %.4f s, the rush at %.4f s", l.name, got, end)
		}
	}
}

// TestThroughputChartPlotsTheTrueRate: the HTML report's throughput chart
// plots answers per second, whatever the rush's length: a 0.1 s rush of
// 800 answers is 8,000/s, not one second's count of 800; a steady 1.425 s
// rush at 10.5k/s stays flat to its end instead of sloping down to 4.3k
// because its last second held 0.425 s. So does the chart of the same
// reports read back from JSON, of reports from before the buckets (per-
// second timeline only), and of the two merged as shards.
func TestThroughputChartPlotsTheTrueRate(t *testing.T) {
	short := func() *Report { return steadyRush(800, 100*time.Millisecond, 0) }
	long := func() *Report { return steadyRush(14963, 1425*time.Millisecond, 1) }
	flat := func(r float64) func(float64) float64 { return func(float64) float64 { return r } }
	for _, tc := range []struct {
		name string
		rep  *Report
		end  float64
		want func(float64) float64
	}{
		{"0.1 s rush of 800", short(), 0.1, flat(8000)},
		{"1.425 s rush at 10.5k/s", long(), 1.425, flat(10500)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checkRates(t, tc.rep, tc.end, tc.want, 10)
			if s := tc.rep.Timeline[len(tc.rep.Timeline)-1]; math.Abs(float64(s.Second)+s.Seconds-tc.end) > 0.001 {
				t.Errorf("the timeline's last second %d covers %.4f s, want the rush's end %.3f", s.Second, s.Seconds, tc.end)
			}
			var js bytes.Buffer
			if err := tc.rep.WriteJSON(&js); err != nil {
				t.Fatal(err)
			}
			back, err := ReadJSON(&js)
			if err != nil {
				t.Fatal(err)
			}
			t.Run("read back", func(t *testing.T) { checkRates(t, back, tc.end, tc.want, 10) })
			old := *back
			old.Throughput = Throughput{}
			old.Timeline = append([]TimelineSecond(nil), back.Timeline...)
			for i := range old.Timeline {
				old.Timeline[i].Seconds = 0
			}
			t.Run("timeline only", func(t *testing.T) { checkRates(t, &old, tc.end, tc.want, 1) })
		})
	}
	t.Run("merged", func(t *testing.T) {
		merged, err := Merge(Thresholds{}, short(), long())
		if err != nil {
			t.Fatal(err)
		}
		checkRates(t, merged, 1.425, func(x float64) float64 {
			if x < 0.1 {
				return 18500
			}
			return 10500
		}, 10)
	})
}

// TestBucketWidth: the width follows the rush's length, at most
// maxBuckets buckets, never under 10 ms, and is a multiple of every
// source's width so merged shards count again exactly.
func TestBucketWidth(t *testing.T) {
	for _, tc := range []struct {
		span time.Duration
		srcs []time.Duration
		want time.Duration
	}{
		{0, nil, 10 * time.Millisecond},
		{100 * time.Millisecond, nil, 10 * time.Millisecond},
		{1425 * time.Millisecond, nil, 20 * time.Millisecond},
		{10 * time.Second, nil, 100 * time.Millisecond},
		{time.Minute, nil, time.Second},
		{time.Hour, nil, 50 * time.Second},
		{1425 * time.Millisecond, []time.Duration{50 * time.Millisecond, 20 * time.Millisecond}, 100 * time.Millisecond},
		{100 * time.Millisecond, []time.Duration{time.Second}, time.Second},
	} {
		if got := bucketWidth(tc.span, tc.srcs...); got != tc.want {
			t.Errorf("bucketWidth(%s, %v) = %s, want %s", tc.span, tc.srcs, got, tc.want)
		}
	}
}
