package redisstore_test

import (
	"context"
	"errors"
	"os"
	"sort"
	"testing"

	"github.com/flashdrop/flashdrop/engine"
	"github.com/flashdrop/flashdrop/engine/redisstore"
	"github.com/flashdrop/flashdrop/engine/redisstore/redistest"
)

// abSource is the variant of a built-in script part named by the
// environment variable env (a file), or the built-in part when it is unset.
func abSource(b *testing.B, env, builtin string) string {
	p := os.Getenv(env)
	if p == "" {
		return builtin
	}
	v, err := os.ReadFile(p)
	if err != nil {
		b.Fatal(err)
	}
	return string(v)
}

// abPairs runs b.N pairs of blocks of scripts a and v on f's Redis, A
// then B, then B then A (neither always runs after the other). use puts a
// script in place and returns what puts the built-in one back; a block is
// 50 calls of step, each of perCall units (wins, presses). It reports
// each side's median Redis µs per unit and the median of the pairs' B/A.
func abPairs(b *testing.B, f *fixture, unit, a, v string, use func(src string) (restore func()), step func(), perCall int) {
	const block = 50
	run := func(src string) float64 {
		restore := use(src)
		defer restore()
		before := evalUsec(b, f)
		for range block {
			step()
		}
		return (evalUsec(b, f) - before) / float64(block*perCall)
	}
	run(a) // load both scripts, warm the drop
	run(v)
	var as, bs, ratios []float64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		var x, y float64
		if i%2 == 0 {
			x = run(a)
			y = run(v)
		} else {
			y = run(v)
			x = run(a)
		}
		as, bs, ratios = append(as, x), append(bs, y), append(ratios, y/x)
	}
	b.StopTimer()
	med := func(x []float64) float64 { sort.Float64s(x); return x[len(x)/2] }
	b.ReportMetric(med(as), "A-µs/"+unit)
	b.ReportMetric(med(bs), "B-µs/"+unit)
	b.ReportMetric(med(ratios), "B/A")
}

// BenchmarkReserveScriptAB compares Redis's time per win of the built-in
// reserve script (A) with a variant (B) read from the files named by
// AB_LIB and AB_RESERVE (either may be unset: the built-in part), in
// alternating blocks of 50 calls of 64 wins on one drop, so that the
// machine's noise falls on both alike; `-benchtime 30x` runs 30 pairs.
func BenchmarkReserveScriptAB(b *testing.B) {
	lib, res := redisstore.ReserveScriptSources()
	rdb := redistest.Shared(b).Client()
	b.Cleanup(func() { rdb.Close() })
	const nUsers, size = 4096, 64
	f := newFixture("redis", rdb)
	d := benchDrop(b, f, nUsers)
	reqs := make([]engine.ReserveRequest, size)
	next := 0
	abPairs(b, f, "win", redisstore.WithLibSource(lib, res), redisstore.WithLibSource(abSource(b, "AB_LIB", lib), abSource(b, "AB_RESERVE", res)), redisstore.UseReserveScript,
		func() { reserveWins(b, f, d, reqs, &next, nUsers) }, size)
	dropKeys(b, f, d)
}

// BenchmarkReserveFirstWinsAB is BenchmarkReserveScriptAB with every win
// its shopper's first (BenchmarkReserveFirstWins), as in a sale's rush.
func BenchmarkReserveFirstWinsAB(b *testing.B) {
	lib, res := redisstore.ReserveScriptSources()
	rdb := redistest.Shared(b).Client()
	b.Cleanup(func() { rdb.Close() })
	const size = 64
	f := newFixture("redis", rdb)
	d := benchDrop(b, f, 0)
	// abPairs: two warm-up blocks, then two blocks a pair, 50 calls each.
	fw := newFirstWins(b, f, d, (b.N+1)*2*50*size)
	abPairs(b, f, "win", redisstore.WithLibSource(lib, res), redisstore.WithLibSource(abSource(b, "AB_LIB", lib), abSource(b, "AB_RESERVE", res)), redisstore.UseReserveScript,
		func() { fw.step(size) }, size)
	dropKeys(b, f, d)
}

// BenchmarkSoldOutScriptAB is BenchmarkReserveScriptAB for the sold-out
// script (AB_LIB, AB_SOLDOUT): keyed presses on a sold-out drop, each
// with a new key, as the shopper page sends them after a sell-out, 64 a
// call; it reports Redis µs per press.
func BenchmarkSoldOutScriptAB(b *testing.B) {
	lib, _ := redisstore.ReserveScriptSources()
	so := redisstore.SoldOutScriptSource()
	rdb := redistest.Shared(b).Client()
	b.Cleanup(func() { rdb.Close() })
	const nUsers, size = 4096, 64
	f := newFixture("redis", rdb)
	c := context.Background()
	d := soldOutDrop(b, f, nUsers)
	reqs := make([]engine.ReserveRequest, size)
	next := 0
	step := func() {
		keyedPresses(reqs, &next, nUsers)
		res, ok, err := f.store.AnswerSoldOut(c, d, f.clock.Now(), reqs)
		if err != nil || !ok {
			b.Fatalf("sold-out script: ok %v, %v", ok, err)
		}
		for _, r := range res {
			if !errors.Is(r.Err, engine.ErrSoldOut) {
				b.Fatalf("not sold out: %+v", r)
			}
		}
	}
	abPairs(b, f, "press", redisstore.WithLibSource(lib, so), redisstore.WithLibSource(abSource(b, "AB_LIB", lib), abSource(b, "AB_SOLDOUT", so)),
		redisstore.UseSoldOutScript, step, size)
	dropKeys(b, f, d)
}
