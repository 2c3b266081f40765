package redisstore_test

import (
	"os"
	"sort"
	"testing"

	"github.com/flashdrop/flashdrop/engine"
	"github.com/flashdrop/flashdrop/engine/redisstore"
	"github.com/flashdrop/flashdrop/engine/redisstore/redistest"
)

// BenchmarkReserveScriptAB compares Redis's time per win of the built-in
// reserve script (A) with a variant (B) read from the files named by
// AB_LIB and AB_RESERVE (either may be unset: the built-in part), in
// alternating blocks on one drop, so that the machine's noise falls on
// both alike; `-benchtime 30x` runs 30 pairs. It reports each variant's median µs per win and B/A.
func BenchmarkReserveScriptAB(b *testing.B) {
	lib, res := redisstore.ReserveScriptSources()
	libB, resB := lib, res
	if p := os.Getenv("AB_LIB"); p != "" {
		v, err := os.ReadFile(p)
		if err != nil {
			b.Fatal(err)
		}
		libB = string(v)
	}
	if p := os.Getenv("AB_RESERVE"); p != "" {
		v, err := os.ReadFile(p)
		if err != nil {
			b.Fatal(err)
		}
		resB = string(v)
	}
	rdb := redistest.Shared(b).Client()
	b.Cleanup(func() { rdb.Close() })
	const nUsers, size, block = 4096, 64, 50
	f := newFixture("redis", rdb)
	d := benchDrop(b, f, nUsers)
	reqs := make([]engine.ReserveRequest, size)
	next := 0
	run := func(src string) float64 {
		restore := redisstore.UseReserveScript(src)
		defer restore()
		before := evalUsec(b, f)
		for i := 0; i < block; i++ {
			reserveWins(b, f, d, reqs, &next, nUsers)
		}
		return (evalUsec(b, f) - before) / float64(block*size)
	}
	run(lib + res) // load both, warm the drop
	run(libB + resB)
	var as, bs, ratios []float64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		// A then B, then B then A: neither always runs after the other.
		var a, v float64
		if i%2 == 0 {
			a = run(lib + res)
			v = run(libB + resB)
		} else {
			v = run(libB + resB)
			a = run(lib + res)
		}
		as, bs, ratios = append(as, a), append(bs, v), append(ratios, v/a)
	}
	b.StopTimer()
	med := func(x []float64) float64 { sort.Float64s(x); return x[len(x)/2] }
	b.ReportMetric(med(as), "A-µs/win")
	b.ReportMetric(med(bs), "B-µs/win")
	b.ReportMetric(med(ratios), "B/A")
	dropKeys(b, f, d)
}
