package loadtest

import (
	"runtime"
	"testing"
	"time"
)

// TestRecordersAreBoundedByCores: a thousand connections share a few
// recorders (each holds histograms of about 100 KB and a timeline), so a
// 10-s burst of 10-ms ticks on 1,000 connections takes megabytes. One
// recorder per worker, each tick's outcomes in a map, took 863 MiB here.
func TestRecordersAreBoundedByCores(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	m := &metrics{tick: minTick}
	for w := range 1000 {
		r := m.rec(w)
		for i := range 1000 {
			d := t0.Add(time.Duration(i)*minTick + time.Millisecond)
			r.record(PhaseRush, "reserve", answer{code: "sold_out", status: 409, sent: d, done: d}, time.Time{}, t0)
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	if n, most := len(m.recs), 4*runtime.GOMAXPROCS(0); n > most {
		t.Fatalf("%d recorders for 1000 workers, want at most %d", n, most)
	}
	grew := float64(after.HeapAlloc) - float64(before.HeapAlloc)
	t.Logf("1000 workers, 1000 ticks each: %.1f MiB", grew/(1<<20))
	if grew > 100<<20 {
		t.Fatalf("1000 workers' metrics took %.0f MiB", grew/(1<<20))
	}
	tot := m.total()
	if got := tot.timeline[500]; got == nil || got.requests != 1000 || len(got.outcomes) != 1 || got.outcomes[0].n != 1000 {
		t.Fatalf("tick 500 after the merge: %+v", got)
	}
	runtime.KeepAlive(m)
}
