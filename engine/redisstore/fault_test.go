package redisstore_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/flashdrop/flashdrop/engine"
	"github.com/flashdrop/flashdrop/engine/redisstore"
	"github.com/flashdrop/flashdrop/engine/redisstore/redistest"
	"github.com/flashdrop/flashdrop/internal/history"
	"github.com/flashdrop/flashdrop/internal/testkit"
)

// faultsFull says whether the fault runs take their full length
// (FLASHDROP_FAULTS=full, make test-faults) or CI's shortened form.
func faultsFull() bool { return os.Getenv("FLASHDROP_FAULTS") == "full" }

// failoverSale is one rush over many drops spread across a cluster's
// shards, recorded as a history.
type failoverSale struct {
	store   *redisstore.Store
	drops   []engine.Drop
	users   int
	rec     history.Recorder
	clients atomic.Int64

	mu   sync.Mutex
	wins map[string]string // acknowledged reservation id -> drop
}

// TestFaultClusterFailover kills a Redis Cluster master with -9 in the
// middle of a sale on many drops at once (3 masters + 3 replicas, AOF
// always, node timeout 2 s). The store must follow the promotion within a
// few seconds; without WAIT the test measures the acknowledged wins the
// failover took back; with WaitReplicas 1 none may be lost, and every
// drop's history must be linearizable. It reports what WAIT costs in
// reserve throughput, as a ratio measured in the same run.
func TestFaultClusterFailover(t *testing.T) {
	redistest.Require(t)
	c, err := redistest.StartReplicatedCluster(3, 1)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	waitReplicasUp(t, c)

	drops, users := 6, 120
	if faultsFull() {
		drops, users = 12, 400
	}
	t.Run("async replication", func(t *testing.T) {
		lost := failoverRun(t, c, redisstore.Options{}, drops, users)
		t.Logf("acknowledged wins lost to the failover without WAIT: %d", lost)
	})
	t.Run("WaitReplicas 1", func(t *testing.T) {
		if lost := failoverRun(t, c, redisstore.Options{WaitReplicas: 1}, drops, users); lost != 0 {
			t.Fatalf("%d acknowledged wins lost with WaitReplicas 1", lost)
		}
	})
	t.Run("throughput ratio", func(t *testing.T) {
		n := users * drops
		// Alternated, so that warm-up and the machine's other load fall
		// on both sides.
		var plain, waited float64
		for range 2 {
			plain += rushThroughput(t, c, redisstore.Options{}, drops, n/drops) / 2
			waited += rushThroughput(t, c, redisstore.Options{WaitReplicas: 1}, drops, n/drops) / 2
		}
		t.Logf("reserve throughput with WAIT 1 / without: %.2f (%.0f vs %.0f reserves/s, same run)", waited/plain, waited, plain)
	})
}

// waitReplicasUp waits until every master has a replica in sync.
func waitReplicasUp(t *testing.T, c *redistest.Cluster) {
	t.Helper()
	testkit.Eventually(t, 60*time.Second, "every master has a connected replica", func() bool {
		masters := 0
		for _, a := range c.Addrs {
			cl := redis.NewClient(&redis.Options{Addr: a, MaxRetries: -1, DialerRetries: 1})
			info, err := cl.Info(context.Background(), "replication").Result()
			cl.Close()
			if err != nil {
				continue
			}
			if strings.Contains(info, "role:master") {
				if !strings.Contains(info, "connected_slaves:1") || strings.Contains(info, "state=wait_bgsave") {
					return false
				}
				masters++
			}
		}
		return masters == 3
	})
}

func failoverDrops(t *testing.T, st *redisstore.Store, n, users int) []engine.Drop {
	t.Helper()
	var out []engine.Drop
	for i := range n {
		d := engine.Drop{
			ID: fmt.Sprintf("%s-%d", uniqueID(t), i), Name: "Sneaker", Product: "sneaker", Stock: int64(users / 3), PerUserLimit: 1,
			RegistrationOpensAt: t0.Add(-2 * time.Hour), RegistrationClosesAt: t0.Add(-time.Minute),
			SaleStartsAt: t0, HoldSeconds: 3600, Mode: engine.ModeFCFS, ConfirmBy: engine.ConfirmByBackend,
			CreatedAt: t0.Add(-3 * time.Hour), ReminderSeconds: engine.DefaultReminderSeconds,
		}
		if _, err := st.CreateDrop(context.Background(), d); err != nil {
			t.Fatalf("create drop: %v", err)
		}
		out = append(out, d)
	}
	return out
}

// failoverRun runs one sale, kills the master of the first drop's shard
// a third of the way through, restarts it when the sale is over (it comes
// back as a replica), checks the history and returns how many acknowledged
// wins were not found after the failover.
func failoverRun(t *testing.T, c *redistest.Cluster, opts redisstore.Options, nDrops, users int) int {
	rdb := redisstore.NewClusterClient(c.Addrs, 0)
	t.Cleanup(func() { rdb.Close() })
	s := &failoverSale{store: redisstore.New(rdb, opts), users: users, wins: map[string]string{}}
	s.drops = failoverDrops(t, s.store, nDrops, users)
	ctx := context.Background()
	shards := map[string]bool{}
	for _, d := range s.drops {
		m, err := redistest.MasterOf(ctx, c.Addrs[0], redisstore.KeysForTest(d.ID).Prefix)
		if err != nil {
			t.Fatal(err)
		}
		shards[m] = true
	}
	t.Logf("%d drops on %d shards", len(s.drops), len(shards))
	s.registerAll(t)

	victim, err := redistest.MasterOf(ctx, c.Addrs[0], redisstore.KeysForTest(s.drops[0].ID).Prefix)
	if err != nil {
		t.Fatal(err)
	}
	var killedAt time.Time
	var kill sync.Once
	var done atomic.Int64
	total := int64(len(s.drops) * users)
	var promotedAt time.Time
	promoted := make(chan struct{})
	onAnswer := func() {
		if done.Add(1) == total/3 {
			kill.Do(func() {
				killedAt = time.Now()
				if err := c.Kill(victim); err != nil {
					t.Error(err)
				}
				go func() {
					defer close(promoted)
					promotedAt = waitPromotion(c, victim, redisstore.KeysForTest(s.drops[0].ID).Prefix)
					// The dead master comes back, as a replica of the
					// promoted one: until then its shard has no replica,
					// and with WaitReplicas 1 no win there can be
					// confirmed (answered 503, by design).
					if err := c.Restart(victim); err != nil {
						t.Error(err)
					}
				}()
			})
		}
	}
	firstWinAfter := s.rush(t, onAnswer)
	<-promoted
	if killedAt.IsZero() || promotedAt.IsZero() {
		t.Fatalf("the master was not killed (%v) or no replica was promoted (%v)", killedAt, promotedAt)
	}
	follow := firstWinAfter[s.drops[0].ID].Sub(promotedAt)
	t.Logf("killed %s; replica promoted %.1fs after the kill; the store's first answer on that shard came %.1fs after the promotion",
		victim, promotedAt.Sub(killedAt).Seconds(), follow.Seconds())
	if follow > 5*time.Second {
		t.Errorf("the store followed the failover %v after the promotion, want within 5s", follow)
	}
	lost := s.readBack(t)
	waitReplicasUp(t, c)

	drops := map[string]history.Drop{}
	for _, d := range s.drops {
		drops[d.ID] = history.Drop{Stock: d.Stock, PerUserLimit: d.PerUserLimit}
	}
	results, err := history.Check(drops, s.rec.Ops(), history.Options{Timeout: time.Minute, VisualizeDir: t.TempDir()})
	for _, r := range results {
		t.Logf("history of %s: %d operations (%d unanswered): %v in %v", r.Drop, r.Ops, r.Pending, r.Verdict, r.Took.Round(time.Millisecond))
	}
	if err != nil {
		if opts.WaitReplicas > 0 {
			t.Error(err)
		} else {
			// Expected without WAIT: a vanished win is exactly a
			// non-linearizable history, and so is a win whose answer never
			// came (not counted as lost) that the failover took back after
			// the sell-out it caused was answered, its units then won again.
			t.Logf("as expected without WAIT (%d acknowledged wins lost), the failover breaks the history: %v", lost, err)
		}
	}
	return lost
}

// waitPromotion polls the survivors until one of them names another master
// for key's slot, and returns when.
func waitPromotion(c *redistest.Cluster, dead, key string) time.Time {
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		for _, a := range c.Addrs {
			if a == dead {
				continue
			}
			ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
			m, err := redistest.MasterOf(ctx, a, key)
			cancel()
			if err == nil && m != "" && m != dead {
				return time.Now()
			}
		}
		time.Sleep(50 * time.Millisecond) // polling another process's state; no event to wait on
	}
	return time.Time{}
}

func (s *failoverSale) registerAll(t *testing.T) {
	t.Helper()
	now := t0.Add(-time.Hour)
	for _, d := range s.drops {
		for u := range s.users {
			user := fmt.Sprintf("u%d", u)
			call := time.Now()
			_, _, err := s.store.Register(context.Background(), d.ID, user, "", now)
			if err != nil {
				t.Fatalf("register: %v", err)
			}
			s.rec.Add(history.Op{Drop: d.ID, Client: u, In: history.Input{Kind: history.Register, User: user},
				Out: history.Output{Code: "ok"}, Call: call, Return: time.Now()})
		}
	}
}

// rush presses Buy once for every shopper of every drop, retrying with
// the same key until an answer (for at most a minute), like an app. It
// returns, per drop, when the first press answered after the kill was.
func (s *failoverSale) rush(t *testing.T, onAnswer func()) map[string]time.Time {
	type job struct {
		drop engine.Drop
		user int
	}
	jobs := make(chan job)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failing = map[string]bool{}
	recovered := map[string]time.Time{}
	now := t0.Add(time.Minute)
	for w := 0; w < 32; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				user := fmt.Sprintf("u%d", j.user)
				key := "k-" + user
				client := int(s.clients.Add(1))
				deadline := time.Now().Add(time.Minute)
				for {
					call := time.Now()
					ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
					res, err := s.store.ReserveBatch(ctx, j.drop.ID, now, []engine.ReserveRequest{{User: user, Quantity: 1, IdempotencyKey: key}})
					cancel()
					op := history.Op{Drop: j.drop.ID, Client: client, Call: call, Return: time.Now(),
						In: history.Input{Kind: history.Reserve, User: user, Key: key, Quantity: 1}}
					if err == nil {
						// The store reached the drop's master, even if WAIT
						// then could not confirm the answer: it followed.
						mu.Lock()
						if failing[j.drop.ID] && recovered[j.drop.ID].IsZero() {
							recovered[j.drop.ID] = time.Now()
						}
						mu.Unlock()
						if errors.Is(res[0].Err, engine.ErrUnavailable) {
							err = res[0].Err
						}
					}
					if err != nil {
						op.Out, op.Return = history.Output{Unknown: true}, time.Time{}
						s.rec.Add(op)
						mu.Lock()
						if recovered[j.drop.ID].IsZero() {
							failing[j.drop.ID] = true
						}
						mu.Unlock()
						if time.Now().After(deadline) {
							t.Errorf("%s on %s: no answer within a minute: %v", user, j.drop.ID, err)
							break
						}
						time.Sleep(100 * time.Millisecond) // an app's retry backoff
						continue
					}
					op.Out = outputOf(res[0])
					s.rec.Add(op)
					mu.Lock()
					if op.Out.Code == "won" {
						s.wins[res[0].Reservation.ID] = j.drop.ID
					}
					mu.Unlock()
					break
				}
				onAnswer()
			}
		}()
	}
	// Interleave the drops, so every shard sells at once.
	for u := range s.users {
		for _, d := range s.drops {
			jobs <- job{drop: d, user: u}
		}
	}
	close(jobs)
	wg.Wait()
	return recovered
}

func outputOf(r engine.ReserveResult) history.Output {
	var so *engine.SoldOutError
	switch {
	case r.Err == nil:
		return history.Output{Code: "won", ID: r.Reservation.ID}
	case errors.As(r.Err, &so):
		return history.Output{Code: "sold_out", Position: so.WaitlistPosition}
	case errors.Is(r.Err, engine.ErrSoldOut):
		return history.Output{Code: "sold_out"}
	case errors.Is(r.Err, engine.ErrLimitReached):
		return history.Output{Code: "limit_reached"}
	case errors.Is(r.Err, engine.ErrNotRegistered):
		return history.Output{Code: "not_registered"}
	case errors.Is(r.Err, engine.ErrIdempotencyMismatch):
		return history.Output{Code: "idempotency_mismatch"}
	}
	return history.Output{Code: r.Err.Error()}
}

// readBack reads every acknowledged win by id after the failover, records
// the reads in the history and returns how many were gone.
func (s *failoverSale) readBack(t *testing.T) int {
	t.Helper()
	lost := 0
	s.mu.Lock()
	wins := make(map[string]string, len(s.wins))
	for id, d := range s.wins {
		wins[id] = d
	}
	s.mu.Unlock()
	for id, drop := range wins {
		var r engine.Reservation
		var err error
		call := time.Now()
		for range 50 {
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			r, err = s.store.Reservation(ctx, id)
			cancel()
			if err == nil || errors.Is(err, engine.ErrNotFound) {
				break
			}
			time.Sleep(100 * time.Millisecond) // the cluster settling after the restart
		}
		op := history.Op{Drop: drop, Client: 0, Call: call, Return: time.Now(), In: history.Input{Kind: history.Read, ID: id}}
		switch {
		case errors.Is(err, engine.ErrNotFound):
			lost++
			op.Out = history.Output{Code: "not_found"}
		case err != nil:
			t.Fatalf("read %s: %v", id, err)
		default:
			op.Out = history.Output{Code: "ok", Status: string(r.Status)}
		}
		s.rec.Add(op)
	}
	return lost
}

// rushThroughput measures reserves per second of one rush without faults.
func rushThroughput(t *testing.T, c *redistest.Cluster, opts redisstore.Options, nDrops, users int) float64 {
	rdb := redisstore.NewClusterClient(c.Addrs, 0)
	defer rdb.Close()
	s := &failoverSale{store: redisstore.New(rdb, opts), users: users, wins: map[string]string{}}
	s.drops = failoverDrops(t, s.store, nDrops, users)
	s.registerAll(t)
	start := time.Now()
	s.rush(t, func() {})
	return float64(nDrops*users) / time.Since(start).Seconds()
}

// TestWaitReplicasUnconfirmedSellOut: a sell-out whose call WAIT could not
// confirm on a replica is not reported to the node (ReserveResult's
// SoldOutVersion): a failover could take it back. A replicated answer
// (here without WAIT) reports it.
func TestWaitReplicasUnconfirmedSellOut(t *testing.T) {
	rdb := redistest.Shared(t).Client()
	t.Cleanup(func() { rdb.Close() })
	plain := redisstore.New(rdb, redisstore.Options{})
	waited := redisstore.New(rdb, redisstore.Options{WaitReplicas: 1, WaitTimeout: 50 * time.Millisecond})
	d := failoverDrops(t, plain, 1, 3)[0] // one unit
	for _, u := range []string{"ann", "bob", "cat"} {
		if _, _, err := plain.Register(context.Background(), d.ID, u, "", t0.Add(-time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	// Ann's win is answered unavailable; Bob's sold_out, in the same call,
	// stands, but must not carry the news either.
	res, err := waited.ReserveBatch(context.Background(), d.ID, t0.Add(time.Minute),
		[]engine.ReserveRequest{{User: "ann", Quantity: 1}, {User: "bob", Quantity: 1}})
	if err != nil {
		t.Fatal(err)
	}
	if !errors.Is(res[0].Err, engine.ErrUnavailable) || !errors.Is(res[1].Err, engine.ErrSoldOut) ||
		res[0].SoldOutVersion != 0 || res[1].SoldOutVersion != 0 {
		t.Fatalf("an unreplicated sell-out: %+v", res)
	}
	res, err = plain.ReserveBatch(context.Background(), d.ID, t0.Add(time.Minute), []engine.ReserveRequest{{User: "cat", Quantity: 1}})
	if err != nil || !errors.Is(res[0].Err, engine.ErrSoldOut) || res[0].SoldOutVersion == 0 {
		t.Fatalf("the drop is sold out, and a call that needs no replica says so: %+v %v", res, err)
	}
}

// TestWaitReplicasUnconfirmedWin: with WaitReplicas 1 on a Redis that has
// no replica, WAIT cannot confirm the win, so it is answered unavailable
// (retry with the key) instead of won; the win itself stands, and the
// shopper's retry with her key gets it once replication is not required.
func TestWaitReplicasUnconfirmedWin(t *testing.T) {
	rdb := redistest.Shared(t).Client()
	t.Cleanup(func() { rdb.Close() })
	plain := redisstore.New(rdb, redisstore.Options{})
	waited := redisstore.New(rdb, redisstore.Options{WaitReplicas: 1, WaitTimeout: 50 * time.Millisecond})
	d := failoverDrops(t, plain, 1, 3)[0]
	if _, _, err := plain.Register(context.Background(), d.ID, "ann", "", t0.Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	req := []engine.ReserveRequest{{User: "ann", Quantity: 1, IdempotencyKey: "k1"}}
	res, err := waited.ReserveBatch(context.Background(), d.ID, t0.Add(time.Minute), req)
	if err != nil {
		t.Fatal(err)
	}
	if !errors.Is(res[0].Err, engine.ErrUnavailable) {
		t.Fatalf("an unreplicated win must be answered unavailable, got %+v", res[0])
	}
	res, err = plain.ReserveBatch(context.Background(), d.ID, t0.Add(time.Minute), req)
	if err != nil || res[0].Err != nil || !res[0].Replayed || res[0].Reservation.ID == "" {
		t.Fatalf("the retry with the key must replay the win: %+v, %v", res, err)
	}
}
