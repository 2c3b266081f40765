package redisstore_test

import (
	"context"
	"errors"
	"fmt"
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

// abPairs runs b.N pairs of blocks, A then B, then B then A (neither
// always runs after the other), each block returning its Redis µs per
// unit, and reports each side's median and the median of the pairs' B/A.
func abPairs(b *testing.B, unit string, runA, runB func() float64) {
	runA() // load both scripts, warm the drop
	runB()
	var as, bs, ratios []float64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		var a, v float64
		if i%2 == 0 {
			a = runA()
			v = runB()
		} else {
			v = runB()
			a = runA()
		}
		as, bs, ratios = append(as, a), append(bs, v), append(ratios, v/a)
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
	a, v := lib+res, abSource(b, "AB_LIB", lib)+abSource(b, "AB_RESERVE", res)
	rdb := redistest.Shared(b).Client()
	b.Cleanup(func() { rdb.Close() })
	const nUsers, size, block = 4096, 64, 50
	f := newFixture("redis", rdb)
	d := benchDrop(b, f, nUsers)
	reqs := make([]engine.ReserveRequest, size)
	next := 0
	run := func(src string) func() float64 {
		return func() float64 {
			restore := redisstore.UseReserveScript(src)
			defer restore()
			before := evalUsec(b, f)
			for i := 0; i < block; i++ {
				reserveWins(b, f, d, reqs, &next, nUsers)
			}
			return (evalUsec(b, f) - before) / float64(block*size)
		}
	}
	abPairs(b, "win", run(a), run(v))
	dropKeys(b, f, d)
}

// BenchmarkSoldOutScriptAB is BenchmarkReserveScriptAB for the sold-out
// script (AB_LIB, AB_SOLDOUT): keyed presses on a sold-out drop, each
// with a new key, as the shopper page sends them after a sell-out, 64 a
// call; it reports Redis µs per press.
func BenchmarkSoldOutScriptAB(b *testing.B) {
	lib, _ := redisstore.ReserveScriptSources()
	so := redisstore.SoldOutScriptSource()
	a, v := lib+so, abSource(b, "AB_LIB", lib)+abSource(b, "AB_SOLDOUT", so)
	rdb := redistest.Shared(b).Client()
	b.Cleanup(func() { rdb.Close() })
	const nUsers, size, block = 4096, 64, 50
	f := newFixture("redis", rdb)
	c := context.Background()
	d := benchDrop(b, f, nUsers, func(d *engine.Drop) { d.Stock, d.PerUserLimit = 1, 1 })
	if res, err := f.eng.ReserveBatch(c, d, []engine.ReserveRequest{{User: "u-0", Quantity: 1}}); err != nil || res[0].Err != nil {
		b.Fatalf("sell-out: %+v %v", res, err)
	}
	reqs := make([]engine.ReserveRequest, size)
	next := 0
	run := func(src string) func() float64 {
		return func() float64 {
			restore := redisstore.UseSoldOutScript(src)
			defer restore()
			before := evalUsec(b, f)
			for i := 0; i < block; i++ {
				for j := range reqs {
					reqs[j] = engine.ReserveRequest{User: fmt.Sprint("u-", 1+next%(nUsers-1)), Quantity: 1, IdempotencyKey: fmt.Sprint("k-", next)}
					next++
				}
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
			return (evalUsec(b, f) - before) / float64(block*size)
		}
	}
	abPairs(b, "press", run(a), run(v))
	dropKeys(b, f, d)
}
