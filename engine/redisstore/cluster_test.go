package redisstore_test

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/flashdrop/flashdrop/engine"
	"github.com/flashdrop/flashdrop/engine/redisstore"
	"github.com/flashdrop/flashdrop/engine/redisstore/redistest"
)

// TestClusterDropsOnDifferentShards sells several drops at once on a
// 3-master cluster, checks that their keys landed on different masters,
// and that each sold correctly (no CROSSSLOT or MOVED error reaches anyone).
func TestClusterDropsOnDifferentShards(t *testing.T) {
	t.Parallel()
	cl := redistest.SharedCluster(t).Client()
	t.Cleanup(func() { cl.Close() })
	f := newFixture("cluster", cl)

	// Create drops until every master holds at least two: random ids
	// could otherwise all land on one shard and test nothing.
	perMaster := map[string]int{}
	var drops []engine.Drop
	for i := 0; i < 100 && (len(perMaster) < 3 || minCount(perMaster) < 2); i++ {
		d := f.newDrop(t, 20, 2)
		node, err := cl.MasterForKey(ctx(t), redisstore.KeysForTest(d.ID).Holds)
		if err != nil {
			t.Fatal(err)
		}
		if perMaster[node.Options().Addr] >= 2 {
			continue // enough on this shard
		}
		perMaster[node.Options().Addr]++
		f.register(t, d.ID, users("u", 30)...)
		drops = append(drops, d)
	}
	if len(perMaster) < 3 {
		t.Fatalf("drops landed on %d masters, want 3: %v", len(perMaster), perMaster)
	}
	f.clock.Set(t0)
	var wg sync.WaitGroup
	results := make([]*answers, len(drops))
	for i, d := range drops {
		results[i] = newAnswers()
		for _, u := range users("u", 30) {
			results[i].registered[u] = true
		}
		for w := 0; w < 4; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var reqs []engine.ReserveRequest
				for j := 0; j < 30; j++ {
					reqs = append(reqs, engine.ReserveRequest{User: fmt.Sprint("u-", (j*7+w)%30), Quantity: 1, Waitlist: true})
				}
				res, err := f.eng.ReserveBatch(ctx(t), d.ID, reqs)
				if err != nil {
					t.Errorf("drop %s: %v", d.ID, err)
					return
				}
				for j, r := range res {
					results[i].reserve(reqs[j], r)
					if r.Err == nil && j%3 == 0 {
						if _, err := f.eng.Cancel(ctx(t), r.Reservation.ID, r.Reservation.User); err != nil {
							t.Errorf("cancel: %v", err)
						}
					} else if r.Err != nil && !errors.Is(r.Err, engine.ErrSoldOut) && !errors.Is(r.Err, engine.ErrLimitReached) {
						t.Errorf("reserve: %v", r.Err)
					}
				}
			}()
		}
	}
	wg.Wait()
	all, err := f.eng.Drops(ctx(t))
	if err != nil {
		t.Fatalf("listing drops across slots: %v", err)
	}
	for i, d := range drops {
		if !containsDrop(all, d.ID) {
			t.Errorf("drop %s missing from the list", d.ID)
		}
		checkInvariants(t, f, d, results[i])
		if st := f.stats(t, d.ID); st.Available != 0 || st.Held != 20 {
			t.Errorf("drop %s did not sell out through cancels: %+v", d.ID, st)
		}
	}
}

func minCount(m map[string]int) int {
	least := -1
	for _, n := range m {
		if least < 0 || n < least {
			least = n
		}
	}
	return least
}
