package redisstore_test

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/flashdrop/flashdrop/engine"
	"github.com/flashdrop/flashdrop/engine/redisstore"
)

// snapshot captures every key of a drop byte for byte: DUMP on Redis, and
// a typed read where the server's DUMP covers only strings (miniredis).
func snapshot(t *testing.T, f *fixture, drop string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, k := range scanKeys(t, f.rdb, redisstore.KeysForTest(drop).Prefix+"*") {
		v, err := f.rdb.Dump(ctx(t), k).Result()
		if err != nil && strings.Contains(err.Error(), "WRONGTYPE") {
			v, err = typedRead(t, f.rdb, k)
		}
		if err != nil {
			t.Fatalf("snapshot %s: %v", k, err)
		}
		out[k] = v
	}
	return out
}

func typedRead(t *testing.T, rdb redis.UniversalClient, k string) (string, error) {
	c := ctx(t)
	typ, err := rdb.Type(c, k).Result()
	if err != nil {
		return "", err
	}
	var v any
	switch typ {
	case "hash":
		v, err = rdb.HGetAll(c, k).Result()
	case "zset":
		v, err = rdb.ZRangeWithScores(c, k, 0, -1).Result()
	case "stream":
		v, err = rdb.XRange(c, k, "-", "+").Result()
	case "set":
		v, err = rdb.SMembers(c, k).Result()
	default:
		return "", fmt.Errorf("unexpected type %s", typ)
	}
	return fmt.Sprintf("%s %v", typ, v), err
}

// TestBadInputLeavesStateUntouched sends every operation bad input, through
// the engine and straight to the store's scripts, and checks that each
// answers with a clear error and that the drop's keys are byte-identical.
func TestBadInputLeavesStateUntouched(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f *fixture) {
		d := f.newDrop(t, 2, 1)
		f.register(t, d.ID, "alice", "bob", "carol")
		f.clock.Set(t0)
		held, err := f.eng.Reserve(ctx(t), d.ID, engine.ReserveRequest{User: "alice", Quantity: 1, IdempotencyKey: "a1"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.eng.Reserve(ctx(t), d.ID, engine.ReserveRequest{User: "bob", Quantity: 1}); err != nil {
			t.Fatal(err)
		}
		if _, err := f.eng.Reserve(ctx(t), d.ID, engine.ReserveRequest{User: "carol", Quantity: 1, Waitlist: true}); !errors.Is(err, engine.ErrSoldOut) {
			t.Fatal(err)
		}
		c := ctx(t)
		long := strings.Repeat("x", 300)
		reserve := func(r engine.ReserveRequest) error { _, err := f.eng.Reserve(c, d.ID, r); return err }
		storeReserve := func(r engine.ReserveRequest) error {
			_, err := f.store.ReserveBatch(c, d.ID, f.clock.Now(), []engine.ReserveRequest{r})
			return err
		}
		// A batch registration of two new shoppers inside the window,
		// the first with her right bucket hash (a script that checked
		// late would have written her), the second with one a caller
		// with a bug could send.
		regHash := func(h string) func() error {
			return func() error {
				return redisstore.RegisterBatchHashForTest(c, f.rdb, d.ID, d.RegistrationOpensAt.Add(time.Second).UnixMilli(), h)
			}
		}
		cases := []struct {
			name string
			call func() error
			want error // nil: any error will do (a store-level rejection)
		}{
			{"create invalid over existing", func() error {
				bad := d
				bad.Stock = 0
				_, err := f.eng.CreateDrop(c, bad)
				return err
			}, engine.ErrInvalid},
			{"create duplicate with another config", func() error {
				other := d
				other.Stock++
				_, err := f.eng.CreateDrop(c, other)
				return err
			}, engine.ErrDropExists},
			{"register empty user", func() error { _, _, err := f.eng.Register(c, d.ID, "", ""); return err }, engine.ErrInvalid},
			{"register control chars", func() error { _, _, err := f.eng.Register(c, d.ID, "a\x00b", ""); return err }, engine.ErrInvalid},
			{"register bad ref", func() error { _, _, err := f.eng.Register(c, d.ID, "dave", "no spaces"); return err }, engine.ErrInvalid},
			{"register after close", func() error { _, _, err := f.eng.Register(c, d.ID, "dave", ""); return err }, engine.ErrRegistrationClosed},
			{"reserve quantity 0", func() error { return reserve(engine.ReserveRequest{User: "alice", Quantity: 0}) }, engine.ErrInvalid},
			{"reserve quantity -1", func() error { return reserve(engine.ReserveRequest{User: "alice", Quantity: -1}) }, engine.ErrInvalid},
			{"reserve quantity huge", func() error { return reserve(engine.ReserveRequest{User: "alice", Quantity: 1 << 40}) }, engine.ErrInvalid},
			{"reserve bad key", func() error { return reserve(engine.ReserveRequest{User: "alice", Quantity: 1, IdempotencyKey: "a b"}) }, engine.ErrInvalid},
			{"reserve long key", func() error { return reserve(engine.ReserveRequest{User: "alice", Quantity: 1, IdempotencyKey: long}) }, engine.ErrInvalid},
			{"reserve long user", func() error { return reserve(engine.ReserveRequest{User: long, Quantity: 1}) }, engine.ErrInvalid},
			{"reserve outsider", func() error { return reserve(engine.ReserveRequest{User: "mallory", Quantity: 1}) }, engine.ErrNotRegistered},
			{"reserve key mismatch", func() error {
				return reserve(engine.ReserveRequest{User: "alice", Quantity: 1, Waitlist: true, IdempotencyKey: "a1"})
			}, engine.ErrIdempotencyMismatch},
			{"confirm malformed id", func() error { _, err := f.eng.Confirm(c, "no-dot", "alice"); return err }, engine.ErrNotFound},
			{"confirm unknown id", func() error { _, err := f.eng.Confirm(c, d.ID+".nope", "alice"); return err }, engine.ErrNotFound},
			{"confirm stranger", func() error { _, err := f.eng.Confirm(c, held.ID, "bob"); return err }, engine.ErrForbidden},
			{"cancel stranger", func() error { _, err := f.eng.Cancel(c, held.ID, "bob"); return err }, engine.ErrForbidden},
			{"cancel bad actor", func() error { _, err := f.eng.Cancel(c, held.ID, "\n"); return err }, engine.ErrInvalid},
			{"pause unknown drop", func() error { _, err := f.eng.Pause(c, d.ID+"-nope"); return err }, engine.ErrNotFound},
			// Straight to the scripts, past the engine's validation.
			{"script: quantity 0", func() error { return storeReserve(engine.ReserveRequest{User: "alice", Quantity: 0}) }, nil},
			{"script: quantity 1001", func() error { return storeReserve(engine.ReserveRequest{User: "alice", Quantity: 1001}) }, nil},
			{"script: empty user", func() error { return storeReserve(engine.ReserveRequest{User: "", Quantity: 1}) }, nil},
			{"script: expire limit 0", func() error { _, _, err := f.store.ExpireDue(c, d.ID, f.clock.Now(), 0); return err }, nil},
			{"script: register empty user", func() error {
				_, _, err := f.store.Register(c, d.ID, "", "", d.RegistrationOpensAt.Add(time.Second))
				return err
			}, nil},
			{"script: register bucket hash negative", regHash("-1"), nil},
			{"script: register bucket hash past the prime", regHash("2147483647"), nil},
			{"script: register bucket hash fraction", regHash("1.5"), nil},
			{"script: register bucket hash not a number", regHash("bucket"), nil},
			{"script: register bucket hash empty", regHash(""), nil},
			{"script: register bucket hash with spaces", regHash(" 7 "), nil},
			{"script: register bucket hash in hex", regHash("0x10"), nil},
			{"store: create invalid", func() error {
				bad := d
				bad.ID, bad.Stock = d.ID+"-x", -1
				_, err := f.store.CreateDrop(c, bad)
				return err
			}, engine.ErrInvalid},
		}
		before := snapshot(t, f, d.ID)
		for _, tc := range cases {
			err := tc.call()
			switch {
			case err == nil:
				t.Errorf("%s: no error", tc.name)
			case tc.want != nil && !errors.Is(err, tc.want):
				t.Errorf("%s: got %v, want %v", tc.name, err, tc.want)
			case err.Error() == "":
				t.Errorf("%s: empty error message", tc.name)
			}
			if after := snapshot(t, f, d.ID); !reflect.DeepEqual(before, after) {
				t.Errorf("%s: changed the drop's keys", tc.name)
				for k := range after {
					if before[k] != after[k] {
						t.Logf("  changed: %s", k)
					}
				}
				before = after
			}
		}
		// The index is shared by parallel tests: look only for our junk id.
		if in, _ := f.rdb.SIsMember(c, "fd:drops", d.ID+"-x").Result(); in {
			t.Errorf("an invalid drop reached the drop index")
		}
	})
}
