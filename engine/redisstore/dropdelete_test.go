package redisstore_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/flashdrop/flashdrop/engine"
)

// TestDeleteDrop: a drop nobody took part in is deleted with every key of
// it but its tombstone, which keeps its id from being made again; a drop
// a shopper registered for is refused, saying so, and stays whole; a
// missing drop is not found. On every backend (a draw drop, with its
// secrets' hash, included).
func TestDeleteDrop(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f *fixture) {
		for _, mode := range []engine.Mode{engine.ModeFCFS, engine.ModeDraw} {
			d := f.newDrop(t, 5, 1, func(d *engine.Drop) { d.Mode = mode; d.RegistrationOpensAt = t0.Add(-30 * time.Minute) })
			if err := f.eng.DeleteDrop(ctx(t), d.ID); err != nil {
				t.Fatalf("%s: %v", mode, err)
			}
			if _, err := f.eng.Drop(ctx(t), d.ID); !errors.Is(err, engine.ErrNotFound) {
				t.Fatalf("%s: read after the delete: %v", mode, err)
			}
			// A script call's record (a retry's answer) goes by itself
			// within 30 s; nothing else may stay.
			var left []string
			for _, k := range scanKeys(t, f.rdb, "fd:{"+d.ID+"}:*") {
				if strings.Contains(k, ":call:") {
					if ttl, err := f.rdb.PTTL(ctx(t), k).Result(); err != nil || ttl <= 0 {
						t.Fatalf("%s: %s stays (%v, %v)", mode, k, ttl, err)
					}
					continue
				}
				left = append(left, k)
			}
			if len(left) != 1 || !strings.HasSuffix(left[0], ":deleted") {
				t.Fatalf("%s: keys left after the delete: %v", mode, left)
			}
			ids, err := f.store.DropIDs(ctx(t))
			if err != nil {
				t.Fatal(err)
			}
			for _, id := range ids {
				if id == d.ID {
					t.Fatalf("%s: the deleted drop is still in the index", mode)
				}
			}
			if _, err := f.eng.CreateDrop(ctx(t), d); !errors.Is(err, engine.ErrDropDeleted) {
				t.Fatalf("%s: made again at once: %v", mode, err)
			}
			// The refused create put the id in the index (before its
			// script) and left it there: a list skips an id without a drop.
			if ds, err := f.store.Drops(ctx(t)); err != nil {
				t.Fatal(err)
			} else {
				for _, x := range ds {
					if x.ID == d.ID {
						t.Fatalf("%s: a refused create is listed", mode)
					}
				}
			}
			if _, err := f.eng.Drop(ctx(t), d.ID); !errors.Is(err, engine.ErrNotFound) {
				t.Fatalf("%s: read after a refused create: %v", mode, err)
			}
			// A delete repeated within the tombstone's minute (the first
			// one's last step may have failed) answers as done.
			if err := f.eng.DeleteDrop(ctx(t), d.ID); err != nil {
				t.Fatalf("%s: a repeated delete: %v", mode, err)
			}
			if ids, _ := f.store.DropIDs(ctx(t)); containsID(ids, d.ID) {
				t.Fatalf("%s: a repeated delete left the id in the index", mode)
			}
		}

		used := f.newDrop(t, 5, 1)
		f.register(t, used.ID, "alice")
		err := f.eng.DeleteDrop(ctx(t), used.ID)
		var de *engine.DetailError
		if !errors.Is(err, engine.ErrDropInUse) || !errors.As(err, &de) || !strings.Contains(de.Detail, "1 shopper registered") {
			t.Fatalf("a drop alice registered for: %v", err)
		}
		if v, err := f.eng.ShopperView(ctx(t), used.ID, "alice"); err != nil || !v.Registered {
			t.Fatalf("after the refused delete: %+v %v", v, err)
		}
		if err := f.eng.DeleteDrop(ctx(t), "no-such-"+used.ID); !errors.Is(err, engine.ErrNotFound) {
			t.Fatalf("a missing drop: %v", err)
		}
	})
}

func containsID(ids []string, id string) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}

// drainOutbox reads and acknowledges every entry of drop's outbox, as the
// relay does once it published them.
func drainOutbox(t *testing.T, f *fixture, drop string) {
	t.Helper()
	for {
		es, err := f.store.ReadOutbox(ctx(t), drop, "test", 1000, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(es) == 0 {
			return
		}
		refs := make([]string, len(es))
		for i, e := range es {
			refs[i] = e.Ref
		}
		if err := f.store.AckOutbox(ctx(t), drop, refs...); err != nil {
			t.Fatal(err)
		}
	}
}

// TestDeleteRehearsal: a rehearsal (flashdrop load's drop) is deleted
// whoever took part in it, with every key of it, its registration buckets
// included, once its events are published: one per load run would
// otherwise stay in Redis and on the ops page for good. A real drop with
// the same participants is still refused.
func TestDeleteRehearsal(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f *fixture) {
		for _, rehearsal := range []bool{true, false} {
			d := f.newDrop(t, 2, 1, func(d *engine.Drop) { d.Rehearsal = rehearsal })
			f.register(t, d.ID, "alice", "bob", "carol")
			f.clock.Set(t0)
			for _, u := range []string{"alice", "bob"} {
				if _, err := f.eng.Reserve(ctx(t), d.ID, engine.ReserveRequest{User: u, Quantity: 1}); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := f.eng.Reserve(ctx(t), d.ID, engine.ReserveRequest{User: "carol", Quantity: 1, Waitlist: true}); !errors.Is(err, engine.ErrSoldOut) {
				t.Fatal(err)
			}
			err := f.eng.DeleteDrop(ctx(t), d.ID)
			var de *engine.DetailError
			// A drop of the layout before packed reservations keeps one
			// hash per reservation, which the delete does not walk: such a
			// rehearsal is refused as a real drop is.
			legacy := f.rdb.HGet(ctx(t), "fd:{"+d.ID+"}:drop", "rl").Val() != "1"
			if !rehearsal || legacy {
				if !errors.Is(err, engine.ErrDropInUse) || !errors.As(err, &de) || !strings.Contains(de.Detail, "3 shoppers registered") {
					t.Fatalf("a real drop with shoppers: %v", err)
				}
				continue
			}
			if !errors.Is(err, engine.ErrDropInUse) || !errors.As(err, &de) || !strings.Contains(de.Detail, "not yet published") {
				t.Fatalf("a rehearsal with events waiting: %v", err)
			}
			drainOutbox(t, f, d.ID)
			if err := f.eng.DeleteDrop(ctx(t), d.ID); err != nil {
				t.Fatalf("a rehearsal, its events published: %v", err)
			}
			var left []string
			for _, k := range scanKeys(t, f.rdb, "fd:{"+d.ID+"}:*") {
				if strings.Contains(k, ":call:") || strings.Contains(k, ":idem:") {
					if ttl, err := f.rdb.PTTL(ctx(t), k).Result(); err != nil || ttl <= 0 {
						t.Fatalf("%s stays (%v, %v)", k, ttl, err)
					}
					continue
				}
				left = append(left, k)
			}
			if len(left) != 1 || !strings.HasSuffix(left[0], ":deleted") {
				t.Fatalf("keys left after deleting a rehearsal: %v", left)
			}
			if ids, _ := f.store.DropIDs(ctx(t)); containsID(ids, d.ID) {
				t.Fatal("the deleted rehearsal is still in the index")
			}
			if _, err := f.eng.ShopperView(ctx(t), d.ID, "alice"); !errors.Is(err, engine.ErrNotFound) {
				t.Fatalf("a shopper's view of the deleted rehearsal: %v", err)
			}
		}
	})
}
