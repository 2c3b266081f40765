package redisstore_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/flashdrop/flashdrop/engine"
	"github.com/flashdrop/flashdrop/engine/redisstore"
	"github.com/flashdrop/flashdrop/engine/redisstore/redistest"
)

// BenchmarkDraw measures a whole draw against one redis-server: from
// registration close (reading the registrants, freezing and sealing the
// list) to the drawn event (the ranked order applied in steps of 500:
// holds, waitlist, one outbox event per registrant). The case is
// 1M registrants for 10k units; 100k registrants for 1k units in the same
// run is the baseline, and x-100k is the cost per registrant relative to
// it (1.00 means the draw scales linearly). Registrants are written
// straight into the drop's registration hash, outside the timing.
func BenchmarkDraw(b *testing.B) {
	rdb := redistest.Shared(b).Client()
	b.Cleanup(func() { rdb.Close() })
	var basePer float64
	for _, c := range []struct{ n, stock int }{{100_000, 1_000}, {1_000_000, 10_000}} {
		b.Run(fmt.Sprintf("registrants=%d/units=%d", c.n, c.stock), func(b *testing.B) {
			f := newFixture("redis", rdb)
			var total time.Duration
			var mem int64
			var evalTime float64
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				d := benchDraw(b, f, c.n, c.stock)
				before, evalBefore := usedMemory(b, f), evalUsec(b, f)
				f.clock.Set(d.RegistrationClosesAt)
				b.StartTimer()
				start := time.Now()
				if _, err := f.eng.RunDraw(context.Background(), d.ID, engine.DrawOptions{Owner: "bench"}); err != nil {
					b.Fatal(err)
				}
				f.clock.Set(d.SaleStartsAt)
				st, err := f.eng.RunDraw(context.Background(), d.ID, engine.DrawOptions{Owner: "bench"})
				if err != nil || st.Phase != engine.DrawDrawn || st.Winners != int64(c.stock) {
					b.Fatalf("draw: %+v %v", st, err)
				}
				total += time.Since(start)
				b.StopTimer()
				mem += usedMemory(b, f) - before
				evalTime += evalUsec(b, f) - evalBefore
				dropKeys(b, f, d.ID)
				b.StartTimer()
			}
			per := total.Seconds() / float64(b.N)
			b.ReportMetric(per, "s/draw")
			b.ReportMetric(per/float64(c.n)*1e6, "µs/registrant")
			b.ReportMetric(float64(mem)/float64(b.N)/float64(c.n), "redis-bytes/registrant")
			// Time Redis spent in scripts: the rest is the node reading
			// and ranking the registrants, and round trips.
			b.ReportMetric(evalTime/float64(b.N)/float64(c.n), "redis-µs/registrant")
			if c.n == 100_000 { // the baseline; its last run is the one reported
				basePer = per / float64(c.n)
			}
			b.ReportMetric(per/float64(c.n)/basePer, "x-100k")
		})
	}
}

// benchDraw creates a draw drop and writes n registrants into its
// registration hash, in pipelined batches.
func benchDraw(b *testing.B, f *fixture, n, stock int) engine.Drop {
	b.Helper()
	c := context.Background()
	f.clock.Set(t0.Add(-time.Hour))
	d, err := f.eng.CreateDrop(c, engine.Drop{
		ID: fmt.Sprintf("bench-draw-%d", time.Now().UnixNano()), Name: "Bench", Stock: int64(stock), Mode: engine.ModeDraw,
		RegistrationOpensAt: t0.Add(-2 * time.Hour), RegistrationClosesAt: t0.Add(-time.Minute), SaleStartsAt: t0,
		SaleEndsAt: t0.Add(time.Hour),
	})
	if err != nil {
		b.Fatal(err)
	}
	at := strconv.FormatInt(t0.Add(-90*time.Minute).UnixMilli(), 10)
	p := f.rdb.Pipeline()
	for i := 0; i < n; i += 5000 {
		// One HSET per registration bucket, as register_batch.lua writes.
		byKey := map[string][]any{}
		for j := i; j < min(i+5000, n); j++ {
			u := "shopper-" + strconv.Itoa(j)
			k := redisstore.RegKeyForTest(d.ID, u, redisstore.RegBucketsForTest)
			byKey[k] = append(byKey[k], u, at)
		}
		for k, args := range byKey {
			p.HSet(c, k, args...)
		}
		if _, err := p.Exec(c); err != nil {
			b.Fatal(err)
		}
	}
	// The count the register scripts keep, for the stats.
	if err := f.rdb.HIncrBy(c, redisstore.KeysForTest(d.ID).Counters, "regs", int64(n)).Err(); err != nil {
		b.Fatal(err)
	}
	return d
}

// usedMemory is Redis's used_memory, from INFO.
func usedMemory(b *testing.B, f *fixture) int64 {
	info, err := f.rdb.Info(context.Background(), "memory").Result()
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(line, "used_memory:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			return n
		}
	}
	return 0
}
