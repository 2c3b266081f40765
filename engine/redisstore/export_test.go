package redisstore

import (
	"context"
	"fmt"
	"strconv"

	"github.com/redis/go-redis/v9"
)

// Test-only views of the key layout, so the external tests can look at
// Redis state directly without building keys inline.

// TestKeys names one drop's keys for tests.
type TestKeys struct {
	Holds, Waitlist, WaitlistQty, Counters string
	// Reservations matches every reservation hash of a drop made before
	// packed reservations (for SCAN); PackedReservations is the hash of a
	// drop made since.
	Reservations, PackedReservations string
	// Buyers is the shoppers' sale state of a drop made with 'sb'.
	Buyers string
	// All is every fixed key of the drop.
	All []string
	// Prefix starts every key of the drop, dynamic ones included.
	Prefix string
	// Drop is the drop's id.
	Drop string
}

func KeysForTest(drop string) TestKeys {
	k := keysFor(drop)
	return TestKeys{
		Holds: k.holds, Waitlist: k.wl, WaitlistQty: k.wlq, Counters: k.counters,
		Reservations: k.reservationKey("*"), PackedReservations: k.res, Buyers: k.buyers, All: k.all(), Prefix: k.prefix, Drop: drop,
	}
}

// ReservationKeyForTest is the hash key of one reservation.
func ReservationKeyForTest(drop, id string) string { return keysFor(drop).reservationKey(id) }

// RegistrantsForTest reads a drop's registrations, user ->
// "registered_at[|units|latest reservation]", from whichever layout the
// drop has (one hash, or its registration buckets), each overridden by
// the shopper's sale state in the buyers hash when she has one there (a
// drop made with 'sb'). A buyer who is not a registrant is an error.
func RegistrantsForTest(c context.Context, rdb redis.UniversalClient, drop string) (map[string]string, error) {
	out, err := registrationsForTest(c, rdb, drop)
	if err != nil {
		return nil, err
	}
	buyers, err := rdb.HGetAll(c, keysFor(drop).buyers).Result()
	if err != nil {
		return nil, err
	}
	for u, v := range buyers {
		if _, ok := out[u]; !ok {
			return nil, fmt.Errorf("buyer %q of drop %s is not a registrant", u, drop)
		}
		out[u] = v
	}
	return out, nil
}

// RegistrationsOnlyForTest reads a drop's registration fields alone,
// without the buyers hash's sale state.
func RegistrationsOnlyForTest(c context.Context, rdb redis.UniversalClient, drop string) (map[string]string, error) {
	return registrationsForTest(c, rdb, drop)
}

func registrationsForTest(c context.Context, rdb redis.UniversalClient, drop string) (map[string]string, error) {
	k := keysFor(drop)
	rb, err := dropRegBuckets(c, rdb, drop)
	if err != nil || rb == 0 {
		if err != nil {
			return nil, err
		}
		return rdb.HGetAll(c, k.reg).Result()
	}
	p := rdb.Pipeline()
	cmds := make([]*redis.MapStringStringCmd, rb)
	for b := range rb {
		cmds[b] = p.HGetAll(c, k.regBucketKey(b))
	}
	if _, err := p.Exec(c); err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, cmd := range cmds {
		for u, v := range cmd.Val() {
			out[u] = v
		}
	}
	return out, nil
}

// RegFieldForTest reads one shopper's state: her sale state in the
// buyers hash if she has one there, else her registration field.
func RegFieldForTest(c context.Context, rdb redis.UniversalClient, drop, user string) (string, error) {
	v, err := rdb.HGet(c, keysFor(drop).buyers, user).Result()
	if err != redis.Nil {
		return v, err
	}
	rb, err := dropRegBuckets(c, rdb, drop)
	if err != nil {
		return "", err
	}
	return rdb.HGet(c, keysFor(drop).regKey(user, rb), user).Result()
}

// RegKeyForTest is the hash that holds user's registration in a drop
// with rb registration buckets (0: one hash), and RegBucketsForTest what
// a new drop gets.
func RegKeyForTest(drop, user string, rb int) string { return keysFor(drop).regKey(user, rb) }

const RegBucketsForTest = regBuckets

// RegBucketForTest is regBucket, for the test that holds it to lib.lua's.
func RegBucketForTest(user string, rb int) int { return regBucket(user, rb) }

func dropRegBuckets(c context.Context, rdb redis.UniversalClient, drop string) (int, error) {
	v, err := rdb.HGet(c, keysFor(drop).drop, "rb").Result()
	if err == redis.Nil {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(v)
}

// RegisterBatchCallForTest runs register_batch.lua as call (its nonce),
// for the tests of what a repeat of one call answers.
func RegisterBatchCallForTest(c context.Context, rdb redis.UniversalClient, drop string, nowMS int64, call string, users ...string) ([]any, error) {
	k := keysFor(drop)
	args := []any{k.prefix, drop, nowMS, call, len(users)}
	for _, u := range users {
		args = append(args, u, "", "", regHash(u))
	}
	return registerBatchScript.Run(c, rdb, []string{k.drop, k.counters, k.reg, k.refs, k.outbox, k.callKey(call)}, args...).Slice()
}

// RegisterBatchHashForTest runs the batched registration script for two
// new shoppers, the first with her right bucket hash, the second with
// hash, as a caller with a bug could send it.
func RegisterBatchHashForTest(c context.Context, rdb redis.UniversalClient, drop string, nowMS int64, hash string) error {
	k := keysFor(drop)
	call := nonce()
	return registerBatchScript.Run(c, rdb, []string{k.drop, k.counters, k.reg, k.refs, k.outbox, k.callKey(call)},
		k.prefix, drop, nowMS, call, 2, "dave", "", "", regHash("dave"), "erin", "", "", hash).Err()
}

// CallKeyForTest is where call's answer is recorded.
func CallKeyForTest(drop, call string) string { return keysFor(drop).callKey(call) }
