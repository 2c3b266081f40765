package redisstore_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/flashdrop/flashdrop/engine"
	"github.com/flashdrop/flashdrop/engine/redisstore"
	"github.com/flashdrop/flashdrop/engine/redisstore/redistest"
)

// BenchmarkReserveBatch measures reserve decisions per second through the
// batched reserve script for batch sizes 1, 16, 64 and 256 against the same
// redis-server in one run. b.N counts script calls; every decision is a win
// (the stock and the per-user limit never run out), the most expensive
// outcome. Besides decisions/s it reports each size's throughput as a ratio
// to batch size 1 measured in the same run, the number that matters on a
// noisy machine.
func BenchmarkReserveBatch(b *testing.B) {
	rdb := redistest.Shared(b).Client()
	b.Cleanup(func() { rdb.Close() })
	const nUsers = 4096
	// Both registration layouts: a new drop's buckets, and the one hash
	// of a drop made before them (what the buckets cost the hot path).
	for _, layout := range []struct{ name, fixture string }{{"buckets", "redis"}, {"onehash", "redis-onehash"}} {
		b.Run(layout.name, func(b *testing.B) { benchReserveBatch(b, rdb, layout.fixture, nUsers) })
	}
}

func benchReserveBatch(b *testing.B, rdb redis.UniversalClient, fixture string, nUsers int) {
	var baseline float64
	for _, size := range []int{1, 16, 64, 256} {
		b.Run(fmt.Sprint("batch=", size), func(b *testing.B) {
			f := newFixture(fixture, rdb)
			d := benchDrop(b, f, nUsers)
			reqs := make([]engine.ReserveRequest, size)
			next := 0
			evalBefore := evalUsec(b, f)
			b.ResetTimer()
			start := time.Now()
			for i := 0; i < b.N; i++ {
				reserveWins(b, f, d, reqs, &next, nUsers)
			}
			elapsed := time.Since(start)
			b.StopTimer()
			perSec := float64(b.N*size) / elapsed.Seconds()
			b.ReportMetric(perSec, "decisions/s")
			// Time Redis itself spent in the script per decision: the part
			// batching cannot amortise, apart from the client and the network.
			b.ReportMetric((evalUsec(b, f)-evalBefore)/float64(b.N*size), "redis-µs/decision")
			if size == 1 {
				baseline = perSec
			}
			if baseline > 0 {
				b.ReportMetric(perSec/baseline, "x-batch1")
			}
			dropKeys(b, f, d)
		})
	}
}

// reserveWins reserves one unit for each of the next len(reqs) of nUsers
// shoppers in turn (next counts them), as one batch, and fails the
// benchmark unless every decision is a win.
func reserveWins(b *testing.B, f *fixture, drop string, reqs []engine.ReserveRequest, next *int, nUsers int) {
	for j := range reqs {
		reqs[j] = engine.ReserveRequest{User: fmt.Sprint("u-", *next%nUsers), Quantity: 1}
		*next++
	}
	reserveAllWin(b, f, drop, reqs)
}

// reserveAllWin decides reqs as one batch a millisecond after the last,
// and fails the benchmark unless every decision is a win.
func reserveAllWin(b *testing.B, f *fixture, drop string, reqs []engine.ReserveRequest) {
	// A serving node's clock moves between batches: holds of different
	// batches end at different times, as in a sale (with one time for
	// all, every insert into the holds zset compares member strings).
	f.clock.Advance(time.Millisecond)
	res, err := f.eng.ReserveBatch(context.Background(), drop, reqs)
	if err != nil {
		b.Fatal(err)
	}
	for _, r := range res {
		if r.Err != nil {
			b.Fatalf("decision was not a win: %v", r.Err)
		}
	}
}

// evalUsec is the total time Redis has spent running EVALSHA, from INFO.
func evalUsec(b *testing.B, f *fixture) float64 {
	info, err := f.rdb.Info(context.Background(), "commandstats").Result()
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(info, "\n") {
		if rest, ok := strings.CutPrefix(line, "cmdstat_evalsha:"); ok {
			for _, kv := range strings.Split(rest, ",") {
				if v, ok := strings.CutPrefix(kv, "usec="); ok {
					n, _ := strconv.ParseFloat(strings.TrimSpace(v), 64)
					return n
				}
			}
		}
	}
	return 0
}

// benchDrop creates a drop with room for millions of wins (unless edit
// says otherwise) and registers nUsers shoppers, outside the timed part.
func benchDrop(b *testing.B, f *fixture, nUsers int, edit ...func(*engine.Drop)) string {
	b.Helper()
	c := context.Background()
	d := engine.Drop{
		ID: fmt.Sprintf("bench-%d", time.Now().UnixNano()), Name: "Bench", Stock: engine.MaxStock,
		PerUserLimit: engine.MaxPerUserLimit, RegistrationOpensAt: t0.Add(-2 * time.Hour),
		RegistrationClosesAt: t0.Add(-time.Minute), SaleStartsAt: t0,
	}
	for _, e := range edit {
		e(&d)
	}
	f.clock.Set(t0.Add(-time.Hour))
	if _, err := f.eng.CreateDrop(c, d); err != nil {
		b.Fatal(err)
	}
	var wg sync.WaitGroup
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < nUsers; i += 16 {
				if _, _, err := f.eng.Register(c, d.ID, fmt.Sprint("u-", i), ""); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	f.clock.Set(t0.Add(time.Second))
	return d.ID
}

// dropKeys frees what a benchmark drop took, so sizes do not pay for each
// other's memory.
func dropKeys(b *testing.B, f *fixture, drop string) {
	c := context.Background()
	iter := f.rdb.Scan(c, 0, redisstore.KeysForTest(drop).Prefix+"*", 1000).Iterator()
	var keys []string
	for iter.Next(c) {
		keys = append(keys, iter.Val())
		if len(keys) == 1000 {
			f.rdb.Unlink(c, keys...)
			keys = keys[:0]
		}
	}
	if len(keys) > 0 {
		f.rdb.Unlink(c, keys...)
	}
	f.rdb.SRem(c, "fd:drops", drop)
}

// soldOutDrop is a benchmark drop of one unit for nUsers shoppers, sold
// to u-0.
func soldOutDrop(b *testing.B, f *fixture, nUsers int) string {
	drop := benchDrop(b, f, nUsers, func(d *engine.Drop) { d.Stock, d.PerUserLimit = 1, 1 })
	if res, err := f.eng.ReserveBatch(context.Background(), drop, []engine.ReserveRequest{{User: "u-0", Quantity: 1}}); err != nil || res[0].Err != nil {
		b.Fatalf("sell-out: %+v %v", res, err)
	}
	return drop
}

// keyedPresses fills reqs with presses of the shoppers after u-0 in turn
// (next counts them), each with a new Idempotency-Key: the shopper page's
// crowd after a sell-out.
func keyedPresses(reqs []engine.ReserveRequest, next *int, nUsers int) {
	for j := range reqs {
		reqs[j] = engine.ReserveRequest{User: fmt.Sprint("u-", 1+*next%(nUsers-1)), Quantity: 1, IdempotencyKey: fmt.Sprint("k-", *next)}
		*next++
	}
}

// BenchmarkKeyedPressAfterSellOut compares Redis's time per keyed press
// on a sold-out drop through reserve.lua and through soldout.lua, 64
// presses a call, each with a new key (the shopper page's crowd after a
// sell-out). b.N counts calls.
func BenchmarkKeyedPressAfterSellOut(b *testing.B) {
	rdb := redistest.Shared(b).Client()
	b.Cleanup(func() { rdb.Close() })
	const nUsers, size = 4096, 64
	for _, path := range []string{"reserve.lua", "soldout.lua"} {
		b.Run(path, func(b *testing.B) {
			f := newFixture("redis", rdb)
			c := context.Background()
			drop := soldOutDrop(b, f, nUsers)
			reqs := make([]engine.ReserveRequest, size)
			next := 0
			before := evalUsec(b, f)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				keyedPresses(reqs, &next, nUsers)
				var res []engine.ReserveResult
				var err error
				if path == "soldout.lua" {
					var ok bool
					res, ok, err = f.store.AnswerSoldOut(c, drop, f.clock.Now(), reqs)
					if !ok && err == nil {
						b.Fatal("soldout.lua declined a sold-out drop")
					}
				} else {
					res, err = f.eng.ReserveBatch(c, drop, reqs)
				}
				if err != nil {
					b.Fatal(err)
				}
				if !errors.Is(res[0].Err, engine.ErrSoldOut) {
					b.Fatalf("not sold out: %+v", res[0])
				}
			}
			b.StopTimer()
			b.ReportMetric((evalUsec(b, f)-before)/float64(b.N*size), "redis-µs/press")
			dropKeys(b, f, drop)
		})
	}
}

// BenchmarkRegisterBatch measures Redis's time per new registrant through
// the batched registration script, 32 shoppers a call (about what serve's
// coalescing gathers under the bench's rush), each new, for a drop with
// registration buckets and for one with the older single hash. b.N counts
// script calls.
func BenchmarkRegisterBatch(b *testing.B) {
	rdb := redistest.Shared(b).Client()
	b.Cleanup(func() { rdb.Close() })
	for _, layout := range []struct{ name, fixture string }{{"buckets", "redis"}, {"onehash", "redis-onehash"}} {
		b.Run(layout.name, func(b *testing.B) {
			f := newFixture(layout.fixture, rdb)
			d := benchDrop(b, f, 0)
			f.clock.Set(t0.Add(-time.Hour))
			const size = 32
			reqs := make([]engine.RegisterRequest, size)
			next := 0
			c := context.Background()
			before := evalUsec(b, f)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				for j := range reqs {
					reqs[j] = engine.RegisterRequest{User: fmt.Sprint("buyer-", next)}
					next++
				}
				res, err := f.store.RegisterBatch(c, d, f.clock.Now(), reqs)
				if err != nil {
					b.Fatal(err)
				}
				if res[0].Err != nil || !res[0].Created {
					b.Fatalf("not a new registration: %+v", res[0])
				}
			}
			b.StopTimer()
			b.ReportMetric((evalUsec(b, f)-before)/float64(b.N*size), "redis-µs/registration")
			dropKeys(b, f, d)
		})
	}
}

// BenchmarkReserveFirstWins measures Redis's time per win when every win
// is its shopper's first, as in a sale's rush (each registered shopper
// wins once): the script reads each shopper's registration bucket, where
// BenchmarkReserveBatch's shoppers, who won before, are found in the
// buyers hash. 64 presses a call, each by a shopper not seen before;
// b.N counts calls.
func BenchmarkReserveFirstWins(b *testing.B) {
	rdb := redistest.Shared(b).Client()
	b.Cleanup(func() { rdb.Close() })
	f := newFixture("redis", rdb)
	d := benchDrop(b, f, 0)
	const size = 64
	fw := newFirstWins(b, f, d, b.N*size)
	before := evalUsec(b, f)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		fw.step(size)
	}
	b.StopTimer()
	b.ReportMetric((evalUsec(b, f)-before)/float64(b.N*size), "redis-µs/win")
	dropKeys(b, f, d)
}

// firstWins hands out wins to shoppers registered for a drop, each once.
type firstWins struct {
	b    *testing.B
	f    *fixture
	drop string
	reqs []engine.ReserveRequest
	next int
	n    int
}

// firstWinsRegistered is the fewest shoppers newFirstWins registers: 16
// a registration bucket, so that what a win's bucket read costs does not
// depend on -benchtime (a million registrants fill each with about 61).
const firstWinsRegistered = 16 * 16384

// newFirstWins registers max(n, firstWinsRegistered) shoppers
// "first-<i>" for drop (in batches, as serve does) and sets the clock to
// the sale.
func newFirstWins(b *testing.B, f *fixture, drop string, n int) *firstWins {
	n = max(n, firstWinsRegistered)
	c := context.Background()
	f.clock.Set(t0.Add(-time.Hour))
	reqs := make([]engine.RegisterRequest, 0, 256)
	for from := 0; from < n; from += 256 {
		reqs = reqs[:0]
		for i := from; i < min(from+256, n); i++ {
			reqs = append(reqs, engine.RegisterRequest{User: fmt.Sprint("first-", i)})
		}
		if _, err := f.store.RegisterBatch(c, drop, f.clock.Now(), reqs); err != nil {
			b.Fatal(err)
		}
	}
	f.clock.Set(t0.Add(time.Second))
	return &firstWins{b: b, f: f, drop: drop, n: n}
}

// step makes one call of size presses by shoppers who have not pressed,
// and fails the benchmark unless each wins.
func (w *firstWins) step(size int) {
	if w.next+size > w.n {
		w.b.Fatalf("%d shoppers registered, %d needed", w.n, w.next+size)
	}
	w.reqs = w.reqs[:0]
	for range size {
		w.reqs = append(w.reqs, engine.ReserveRequest{User: fmt.Sprint("first-", w.next), Quantity: 1})
		w.next++
	}
	reserveAllWin(w.b, w.f, w.drop, w.reqs)
}
