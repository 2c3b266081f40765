package redisstore_test

// Regression tests of the security review (issue 15) on the scripts:
// ways a shopper might get more than her per-user limit, or make an id
// reach keys that are not hers.

import (
	"errors"
	"maps"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flashdrop/flashdrop/engine"
)

// TestSecurityUserIDsAreExactBytes: shopper ids are the shop's account ids,
// compared as exact bytes. Case and Unicode-normalisation variants are
// different accounts (each has her own limit) — they exist only if the shop
// signed a token for each — while the characters that make two ids look
// alike are refused before any write.
func TestSecurityUserIDsAreExactBytes(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f *fixture) {
		d := f.newDrop(t, 20, 1)
		distinct := []string{"alice", "Alice", "ALICE", "Zo\u00eb", "Zoe\u0308", "\uff41lice", "a lice"}
		f.register(t, d.ID, distinct...)
		before := snapshot(t, f, d.ID)
		for _, u := range []string{
			"alice\u200b", "\u200balice", "\u202ealice", "ali\u200dce", "\ufeffalice", "alice\u2028",
			"alice\u2029", "alice ", " alice", "alice\u00a0", "\ue000alice", "alice\ufffd", "alice\u0085",
		} {
			if _, _, err := f.eng.Register(ctx(t), d.ID, u, ""); !errors.Is(err, engine.ErrInvalid) {
				t.Errorf("register %+q: %v, want invalid", u, err)
			}
		}
		if after := snapshot(t, f, d.ID); !maps.Equal(after, before) {
			t.Fatalf("refused ids changed the registrations")
		}
		f.clock.Set(t0)
		for _, u := range distinct {
			if _, err := f.eng.Reserve(ctx(t), d.ID, engine.ReserveRequest{User: u, Quantity: 1}); err != nil {
				t.Fatalf("%+q: %v", u, err)
			}
			// The limit of 1 holds per account, whatever the key.
			_, err := f.eng.Reserve(ctx(t), d.ID, engine.ReserveRequest{User: u, Quantity: 1, IdempotencyKey: "another"})
			if !errors.Is(err, engine.ErrLimitReached) {
				t.Fatalf("%+q second unit: %v", u, err)
			}
		}
		if st := f.stats(t, d.ID); st.Held != int64(len(distinct)) || st.Reservations != int64(len(distinct)) {
			t.Fatalf("stats %+v, want one hold per distinct account", st)
		}
	})
}

// TestSecurityManyKeysOneShopper: fresh idempotency keys for every request,
// several entries of one shopper in each batch and batches in parallel
// never take her past her limit; a limit answer stored under a key stays
// the answer after a cancel frees room, so a retry cannot win then.
func TestSecurityManyKeysOneShopper(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f *fixture) {
		d := f.newDrop(t, 100, 2, func(d *engine.Drop) { d.ConfirmBy = engine.ConfirmByShopper })
		f.register(t, d.ID, "greedy")
		f.clock.Set(t0)
		var wg sync.WaitGroup
		var mu sync.Mutex
		var won []engine.Reservation
		var limitKeys []string
		for g := 0; g < 8; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				batch := make([]engine.ReserveRequest, 4)
				for i := range batch {
					batch[i] = engine.ReserveRequest{User: "greedy", Quantity: 1, IdempotencyKey: "k-" + itoa(g) + "-" + itoa(i)}
				}
				res, err := f.eng.ReserveBatch(ctx(t), d.ID, batch)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				defer mu.Unlock()
				for i, r := range res {
					switch {
					case r.Err == nil:
						won = append(won, r.Reservation)
					case errors.Is(r.Err, engine.ErrLimitReached):
						limitKeys = append(limitKeys, batch[i].IdempotencyKey)
					default:
						t.Errorf("unexpected: %v", r.Err)
					}
				}
			}()
		}
		wg.Wait()
		if len(won) != 2 || len(limitKeys) != 30 {
			t.Fatalf("won %d holds and %d limit answers from 32 requests with a limit of 2", len(won), len(limitKeys))
		}
		if _, err := f.eng.Cancel(ctx(t), won[0].ID, "greedy"); err != nil {
			t.Fatal(err)
		}
		for _, k := range limitKeys[:5] {
			_, err := f.eng.Reserve(ctx(t), d.ID, engine.ReserveRequest{User: "greedy", Quantity: 1, IdempotencyKey: k})
			if !errors.Is(err, engine.ErrLimitReached) {
				t.Fatalf("retry of a limit answer after a cancel: %v", err)
			}
		}
		if st := f.stats(t, d.ID); st.Held != 1 || st.Reservations != 2 {
			t.Fatalf("stats %+v", st)
		}
	})
}

// TestSecurityIDsCannotPickKeys: user ids with hash-tag braces and colons
// stay hash fields and stream values, never parts of key names, so they
// cannot move a script to another slot or key (on the cluster backend a
// stray slot would fail with CROSSSLOT); reservation ids that name another
// hash tag are refused before Redis.
func TestSecurityIDsCannotPickKeys(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f *fixture) {
		victim := f.newDrop(t, 5, 1)
		d := f.newDrop(t, 1, 1, func(d *engine.Drop) { d.ConfirmBy = engine.ConfirmByShopper })
		evil := []string{"{" + victim.ID + "}", "}{", "{", "a:b:c", "{x}:r:y", "fd:{" + victim.ID + "}:n"}
		f.register(t, d.ID, evil...)
		victimBefore := snapshot(t, f, victim.ID)
		f.clock.Set(t0)
		var winner engine.Reservation
		for i, u := range evil {
			r, err := f.eng.Reserve(ctx(t), d.ID, engine.ReserveRequest{User: u, Quantity: 1, Waitlist: true, IdempotencyKey: "k"})
			var so *engine.SoldOutError
			switch {
			case i == 0 && err == nil:
				winner = r
			case i > 0 && errors.As(err, &so) && so.WaitlistPosition == int64(i):
			default:
				t.Fatalf("%q: %+v %v", u, r, err)
			}
			if v, err := f.eng.ShopperView(ctx(t), d.ID, u); err != nil || !v.Registered {
				t.Fatalf("view of %q: %+v %v", u, v, err)
			}
		}
		// The cancel promotes the next brace-named shopper from the waitlist.
		if _, err := f.eng.Cancel(ctx(t), winner.ID, evil[0]); err != nil {
			t.Fatal(err)
		}
		if v, _ := f.eng.ShopperView(ctx(t), d.ID, evil[1]); v.Reservation == nil || v.Reservation.Status != engine.StatusHeld {
			t.Fatalf("promotion of %q: %+v", evil[1], v)
		}
		// No key anywhere carries a user id; the user named after the
		// other drop's key left that drop byte-identical.
		for _, k := range scanKeys(t, f.rdb, "*") {
			for _, u := range []string{evil[1], evil[3], evil[4]} {
				if strings.Contains(k, u) {
					t.Errorf("key %q carries the user id %q", k, u)
				}
			}
		}
		after := snapshot(t, f, victim.ID)
		for k, v := range victimBefore {
			if after[k] != v {
				t.Errorf("the other drop's key %s changed", k)
			}
		}
		if len(after) != len(victimBefore) {
			t.Fatalf("the other drop's keys: %d -> %d", len(victimBefore), len(after))
		}
		for _, id := range []string{
			"{" + victim.ID + "}." + strings.TrimPrefix(winner.ID, d.ID+"."),
			victim.ID + ":r:x.y", d.ID + ".{x}", d.ID + ".a:b", d.ID + "}.x", "." + d.ID,
		} {
			if _, err := f.eng.Reservation(ctx(t), id, ""); !errors.Is(err, engine.ErrNotFound) && !errors.Is(err, engine.ErrInvalid) {
				t.Errorf("reservation %q: %v, want not found or invalid", id, err)
			}
			if _, err := f.eng.Cancel(ctx(t), id, evil[1]); !errors.Is(err, engine.ErrNotFound) && !errors.Is(err, engine.ErrInvalid) {
				t.Errorf("cancel %q: %v, want not found or invalid", id, err)
			}
		}
	})
}

// TestConcurrentRotationsKeepTheGrace: rotations of one key at once, each
// with a grace, cannot both pass the check that an earlier grace is over
// (it is made in the same script as the rotation), so the secret the first
// one rotated out keeps working for the grace it was promised.
func TestConcurrentRotationsKeepTheGrace(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f *fixture) {
		keys := engine.NewKeys(f.store, f.clock)
		all := []string{"keys:write", "drops:read"}
		k, err := keys.CreateKey(ctx(t), "rotated at once", []string{"drops:read"}, all)
		if err != nil {
			t.Fatal(err)
		}
		const n = 8
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[i] = keys.RotateKey(ctx(t), k.ID, time.Minute, all)
			}()
		}
		wg.Wait()
		ok := 0
		for _, err := range errs {
			switch {
			case err == nil:
				ok++
			case !errors.Is(err, engine.ErrRotationPending):
				t.Fatalf("rotation: %v", err)
			}
		}
		if ok != 1 {
			t.Fatalf("%d of %d rotations with a grace passed at once, want 1", ok, n)
		}
		// The original secret is the one in its grace, on a node that
		// has never seen the key.
		if _, err := engine.NewKeys(f.store, f.clock).Authenticate(ctx(t), k.Secret); err != nil {
			t.Fatalf("the secret rotated out stopped working during its grace: %v", err)
		}
		// No grace: every old secret ends, and none is reported.
		nk, err := keys.RotateKey(ctx(t), k.ID, -1, all)
		if err != nil || !nk.PreviousValidUntil.IsZero() {
			t.Fatalf("rotation with no grace: %+v %v", nk.APIKey, err)
		}
		if _, err := engine.NewKeys(f.store, f.clock).Authenticate(ctx(t), k.Secret); !errors.Is(err, engine.ErrBadKey) {
			t.Fatalf("an old secret after a rotation with no grace: %v", err)
		}
	})
}
