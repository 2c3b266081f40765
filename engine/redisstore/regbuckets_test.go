package redisstore_test

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/flashdrop/flashdrop/engine"
	"github.com/flashdrop/flashdrop/engine/redisstore"
	"github.com/flashdrop/flashdrop/engine/redisstore/redistest"
)

// bucketUsers are ids of every shape a JWT subject takes: short, long,
// non-ASCII, with separators.
func bucketUsers(n int) []string {
	out := make([]string, 0, n)
	for i := range n {
		switch i % 4 {
		case 0:
			out = append(out, "buyer-"+strconv.Itoa(i))
		case 1:
			out = append(out, fmt.Sprintf("Zoë|%d", i))
		case 2:
			out = append(out, strings.Repeat("x", engine.MaxUserLen-8)+fmt.Sprintf("%08d", i))
		default:
			var b [8]byte
			_, _ = rand.Read(b[:])
			out = append(out, "auth0|"+hex.EncodeToString(b[:]))
		}
	}
	return out
}

// A new drop keeps its registrants in small hashes, each in the bucket
// that keys.go's regBucket computes (the Lua side computes it too: the
// two must agree), counted for the stats and walked whole by Registrants.
func TestRegistrationBuckets(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f *fixture) {
		if f.name == "redis-onehash" {
			return // TestOldDropKeepsOneRegistrationHash
		}
		d := f.newDrop(t, 10, 1)
		users := bucketUsers(240)
		// Half one by one (register.lua), half in one batch
		// (register_batch.lua).
		f.register(t, d.ID, users[:120]...)
		reqs := make([]engine.RegisterRequest, 0, 120)
		for _, u := range users[120:] {
			reqs = append(reqs, engine.RegisterRequest{User: u})
		}
		res, err := f.store.RegisterBatch(ctx(t), d.ID, f.clock.Now(), reqs)
		if err != nil {
			t.Fatal(err)
		}
		for i, r := range res {
			if r.Err != nil || !r.Created {
				t.Fatalf("batch registration %d: %+v", i, r)
			}
		}
		keys := map[string]bool{}
		for _, u := range users {
			k := redisstore.RegKeyForTest(d.ID, u, redisstore.RegBucketsForTest)
			keys[k] = true
			if v, err := f.rdb.HGet(ctx(t), k, u).Result(); err != nil || v == "" {
				t.Fatalf("%q is not in %s, the bucket Go computes: %q %v", u, k, v, err)
			}
		}
		if n := f.rdb.Exists(ctx(t), redisstore.RegKeyForTest(d.ID, "any", 0)).Val(); n != 0 {
			t.Fatalf("a drop with buckets also wrote the one registration hash")
		}
		all, err := redisstore.RegistrantsForTest(ctx(t), f.rdb, d.ID)
		if err != nil || len(all) != len(users) {
			t.Fatalf("%d registrations in the buckets, want %d (%v)", len(all), len(users), err)
		}
		// Redis keeps a hash with a field over 64 bytes
		// (hash-max-listpack-value) as a hashtable: the long ids'
		// buckets are allowed to be one.
		long := map[string]bool{}
		for _, u := range users {
			if len(u) > 64 {
				long[redisstore.RegKeyForTest(d.ID, u, redisstore.RegBucketsForTest)] = true
			}
		}
		listpacks := func(keys map[string]bool) {
			t.Helper()
			if f.name != "redis" {
				return
			}
			for k := range keys {
				if enc := f.rdb.ObjectEncoding(ctx(t), k).Val(); enc != "listpack" && !long[k] {
					t.Fatalf("%s is kept as %q, want listpack", k, enc)
				}
			}
		}
		listpacks(keys)
		if st := f.stats(t, d.ID); st.Registered != int64(len(users)) {
			t.Fatalf("stats count %d registrants, want %d", st.Registered, len(users))
		}
		// A repeat registers nobody twice and counts nobody twice.
		f.register(t, d.ID, users[0], users[200])
		if st := f.stats(t, d.ID); st.Registered != int64(len(users)) {
			t.Fatalf("a repeat registration counted: %d", st.Registered)
		}
		checkRegistrantsWalk(t, f, d.ID, users)

		// The hot path reads the shopper's bucket and writes her sale
		// state (the buyers hash of a new drop, else the same field). It
		// keeps the reservation id without "<drop>.", so a winner's field
		// stays within a listpack's 64 bytes however long the drop id
		// (this test's are over 29 bytes, which would pass it).
		f.clock.Set(t0)
		won, err := f.eng.Reserve(ctx(t), d.ID, engine.ReserveRequest{User: users[0], Quantity: 1})
		if err != nil {
			t.Fatal(err)
		}
		v, err := redisstore.RegFieldForTest(ctx(t), f.rdb, d.ID, users[0])
		if err != nil || !regexp.MustCompile(`^\d+\|1\|[0-9a-f]{20}$`).MatchString(v) || d.ID+"."+v[len(v)-20:] != won.ID {
			t.Fatalf("the winner's field reads %q (%v), want one unit and her reservation %s", v, err, won.ID)
		}
		listpacks(map[string]bool{redisstore.RegKeyForTest(d.ID, users[0], redisstore.RegBucketsForTest): true})
		// Read back whole: her view names the reservation.
		view, err := f.eng.ShopperView(ctx(t), d.ID, users[0])
		if err != nil || view.Reservation == nil || view.Reservation.ID != won.ID {
			t.Fatalf("her view after the win: %+v %v", view, err)
		}
		// The batch's registrants went to the buckets of the hash Go
		// passed (register_batch.lua computes none); the reserve script
		// computes its own and must find them, one of each id shape.
		for _, u := range users[120:124] {
			if _, err := f.eng.Reserve(ctx(t), d.ID, engine.ReserveRequest{User: u, Quantity: 1}); err != nil {
				t.Fatalf("%q, registered in a batch, cannot reserve: %v", u, err)
			}
		}
	})
}

// checkRegistrantsWalk walks Registrants in small pages and wants every
// user exactly once.
func checkRegistrantsWalk(t *testing.T, f *fixture, drop string, users []string) {
	t.Helper()
	seen := map[string]int{}
	cursor, pages := "", 0
	for {
		page, next, err := f.store.Registrants(ctx(t), drop, cursor, 16)
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range page {
			seen[u]++
		}
		pages++
		if next == "" {
			break
		}
		if pages > 100000 {
			t.Fatal("the registrant walk does not end")
		}
		cursor = next
	}
	for _, u := range users {
		if seen[u] != 1 {
			t.Fatalf("the walk saw %q %d times", u, seen[u])
		}
	}
	if len(seen) != len(users) {
		t.Fatalf("the walk saw %d registrants, want %d", len(seen), len(users))
	}
}

// A drop made before registration buckets has no 'rb' and one hash; a
// new version of the store keeps using that hash for it, a retried create
// is not a conflict, and the stats, the walk and the hot path read it.
func TestOldDropKeepsOneRegistrationHash(t *testing.T) {
	t.Parallel()
	rdb := redistest.Shared(t).Client()
	t.Cleanup(func() { rdb.Close() })
	old := newFixture("redis-onehash", rdb)
	d := old.newDrop(t, 10, 1)
	users := bucketUsers(60)
	old.register(t, d.ID, users[:30]...)

	f := newFixture("redis", rdb)
	f.clock.Set(old.clock.Now())
	again := d
	if created, err := f.store.CreateDrop(ctx(t), again); err != nil || created {
		t.Fatalf("the retried create of an old drop: created %v, %v", created, err)
	}
	f.register(t, d.ID, users[30:]...)
	one := redisstore.RegKeyForTest(d.ID, "any", 0)
	if n := f.rdb.HLen(ctx(t), one).Val(); n != int64(len(users)) {
		t.Fatalf("the one hash holds %d registrants, want %d", n, len(users))
	}
	if st := f.stats(t, d.ID); st.Registered != int64(len(users)) {
		t.Fatalf("stats count %d registrants, want %d", st.Registered, len(users))
	}
	checkRegistrantsWalk(t, f, d.ID, users)
	f.clock.Set(t0)
	if _, err := f.eng.Reserve(ctx(t), d.ID, engine.ReserveRequest{User: users[5], Quantity: 1}); err != nil {
		t.Fatal(err)
	}
	if v := f.rdb.HGet(ctx(t), one, users[5]).Val(); !strings.Contains(v, "|1|") {
		t.Fatalf("the winner's field in the one hash reads %q", v)
	}
}

// 16,384 buckets keep a million registrants listpack-encoded: the
// fullest bucket stays under Redis's hash-max-listpack-entries (128) for
// the bench's ids and for random ones.
func TestRegistrationBucketsSpreadAMillion(t *testing.T) {
	t.Parallel()
	for _, shape := range []struct {
		name string
		id   func(i int) string
	}{
		{"bench", func(i int) string { return "buyer-" + strconv.Itoa(i) }},
		{"uuid", func(i int) string {
			var b [16]byte
			_, _ = rand.Read(b[:])
			return hex.EncodeToString(b[:])
		}},
	} {
		counts := make([]int, redisstore.RegBucketsForTest)
		for i := range 1_040_000 {
			counts[redisstore.RegBucketForTest(shape.id(i), redisstore.RegBucketsForTest)]++
		}
		most := 0
		for _, c := range counts {
			most = max(most, c)
		}
		if most >= 128 {
			t.Errorf("%s ids: the fullest bucket holds %d of a million, at or past 128", shape.name, most)
		}
		t.Logf("%s ids: fullest bucket %d (mean %d)", shape.name, most, 1_040_000/redisstore.RegBucketsForTest)
	}
}

// A repeat of one registration call answers from its record: the compact
// record ("2|<now>|+,<at>,…") and the older one an earlier version wrote
// ("<code>,<at>,<created>;…") alike.
func TestRegisterBatchRecord(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f *fixture) {
		d := f.newDrop(t, 10, 1)
		f.register(t, d.ID, "early")
		early, err := redisstore.RegFieldForTest(ctx(t), f.rdb, d.ID, "early")
		if err != nil {
			t.Fatal(err)
		}
		now := f.clock.Now().Add(time.Second).UnixMilli()
		first, err := redisstore.RegisterBatchCallForTest(ctx(t), f.rdb, d.ID, now, "call1", "new1", "early", "new2", "new1")
		if err != nil {
			t.Fatal(err)
		}
		want := fmt.Sprint([]any{
			[]any{int64(0), now, int64(1)}, []any{int64(0), mustInt(t, early), int64(0)},
			[]any{int64(0), now, int64(1)}, []any{int64(0), now, int64(0)}})
		if fmt.Sprint(first) != want {
			t.Fatalf("first run: %v, want %v", first, want)
		}
		rec := f.rdb.Get(ctx(t), redisstore.CallKeyForTest(d.ID, "call1")).Val()
		if want := "2|" + strconv.FormatInt(now, 10) + "|+," + early + ",+,"; !strings.HasPrefix(rec+",", want) {
			t.Fatalf("record %q, want %q…", rec, want)
		}
		// A repeat of the call a minute later still answers the first
		// run's times and "created", and registers nobody twice.
		again, err := redisstore.RegisterBatchCallForTest(ctx(t), f.rdb, d.ID, now+60_000, "call1", "new1", "early", "new2", "new1")
		if err != nil || fmt.Sprint(again) != want {
			t.Fatalf("repeat: %v %v, want %v", again, err, want)
		}
		if st := f.stats(t, d.ID); st.Registered != 3 {
			t.Fatalf("%d registered, want 3", st.Registered)
		}
		// The older record's form.
		if err := f.rdb.Set(ctx(t), redisstore.CallKeyForTest(d.ID, "call0"), "0,123,1;15,,0;0,456,0", time.Minute).Err(); err != nil {
			t.Fatal(err)
		}
		old, err := redisstore.RegisterBatchCallForTest(ctx(t), f.rdb, d.ID, now, "call0", "x", "y", "z")
		if wantOld := fmt.Sprint([]any{[]any{int64(0), int64(123), int64(1)}, []any{int64(15)}, []any{int64(0), int64(456), int64(0)}}); err != nil || fmt.Sprint(old) != wantOld {
			t.Fatalf("an older record answers %v %v, want %v", old, err, wantOld)
		}
	})
}

func mustInt(t *testing.T, s string) int64 {
	t.Helper()
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// A drop made before packed reservations ('rl' and 'sb' unset) keeps a
// hash per reservation, and its shoppers' sale state in their
// registration fields, under a new store: its wins, reads, share codes,
// confirms, cancels with promotion and expiry all go to the hashes, and a
// drop the new store makes keeps its reservations packed in one hash,
// none in their own keys, and the sale state in its buyers hash.
func TestOldDropKeepsReservationHashes(t *testing.T) {
	t.Parallel()
	rdb := redistest.Shared(t).Client()
	t.Cleanup(func() { rdb.Close() })
	old := newFixture("redis-onehash", rdb)
	f := newFixture("redis", rdb)
	for _, tc := range []struct {
		name   string
		made   *fixture
		packed bool
	}{{"old drop", old, false}, {"new drop", f, true}} {
		d := tc.made.newDrop(t, 2, 1)
		f.clock.Set(tc.made.clock.Now())
		f.register(t, d.ID, "a", "b", "c")
		f.clock.Set(t0)
		res, err := f.eng.ReserveBatch(ctx(t), d.ID, []engine.ReserveRequest{{User: "a", Quantity: 1}, {User: "b", Quantity: 1},
			{User: "c", Quantity: 1, Waitlist: true}})
		if err != nil || res[0].Err != nil || res[1].Err != nil || !errors.Is(res[2].Err, engine.ErrSoldOut) {
			t.Fatalf("%s: the sale: %+v %v", tc.name, res, err)
		}
		a, b := res[0].Reservation, res[1].Reservation
		// The two holds' deadlines: one member for the call in a new
		// drop's index, one per hold in an old one's.
		hold := []string{a.ID, b.ID}
		if tc.packed {
			hold = []string{"*" + strings.TrimPrefix(a.ID, d.ID+".") + "," + strings.TrimPrefix(b.ID, d.ID+".")}
		}
		idx := f.rdb.ZRange(ctx(t), redisstore.KeysForTest(d.ID).Holds, 0, -1).Val()
		slices.Sort(idx)
		slices.Sort(hold)
		if !slices.Equal(idx, hold) {
			t.Fatalf("%s: hold index %q, want %q", tc.name, idx, hold)
		}
		if got, err := f.eng.Reservation(ctx(t), a.ID, "a"); err != nil || got != a {
			t.Fatalf("%s: read back %+v %v, want %+v", tc.name, got, err, a)
		}
		if got, err := f.store.ReservationByShareCode(ctx(t), a.ShareCode); err != nil || got.ID != a.ID {
			t.Fatalf("%s: by share code %+v %v", tc.name, got, err)
		}
		if _, err := f.eng.Confirm(ctx(t), a.ID, ""); err != nil {
			t.Fatalf("%s: confirm: %v", tc.name, err)
		}
		if _, err := f.eng.Cancel(ctx(t), b.ID, "b"); err != nil {
			t.Fatalf("%s: cancel: %v", tc.name, err)
		}
		v, err := f.eng.ShopperView(ctx(t), d.ID, "c")
		if err != nil || v.Reservation == nil || v.Reservation.Status != engine.StatusHeld || !v.Reservation.FromWaitlist {
			t.Fatalf("%s: the waiter's promotion: %+v %v", tc.name, v, err)
		}
		f.clock.Set(v.Reservation.ExpiresAt)
		if n, _, err := f.store.ExpireDue(ctx(t), d.ID, f.clock.Now(), 10); err != nil || n != 1 {
			t.Fatalf("%s: expiry: %d %v", tc.name, n, err)
		}
		keys := redisstore.KeysForTest(d.ID)
		hashes := scanKeys(t, f.rdb, keys.Reservations)
		packed := f.rdb.HLen(ctx(t), keys.PackedReservations).Val()
		if tc.packed && (len(hashes) != 0 || packed != 3) || !tc.packed && (len(hashes) != 3 || packed != 0) {
			t.Fatalf("%s: %d reservation hashes and %d packed, want packed=%v", tc.name, len(hashes), packed, tc.packed)
		}
		// The three shoppers' sale state: in the buyers hash for a new
		// drop (their registration fields say only when they registered),
		// in their registration fields for an old one.
		buyers := f.rdb.HLen(ctx(t), keys.Buyers).Val()
		regs, err := redisstore.RegistrationsOnlyForTest(ctx(t), f.rdb, d.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range []string{"a", "b", "c"} {
			if plain := !strings.Contains(regs[u], "|"); plain != tc.packed {
				t.Fatalf("%s: %s's registration field reads %q", tc.name, u, regs[u])
			}
		}
		if tc.packed && buyers != 3 || !tc.packed && buyers != 0 {
			t.Fatalf("%s: %d shoppers in the buyers hash, want packed=%v", tc.name, buyers, tc.packed)
		}
		// The sale's wins: compact in a format 3 outbox entry for a new
		// drop, named fields in format 2 for an old one, which relays
		// from before compact wins decode.
		entries, err := f.rdb.XRange(ctx(t), redisstore.OutboxKey(d.ID), "-", "+").Result()
		if err != nil {
			t.Fatal(err)
		}
		formats, compact := map[any]int{}, 0
		for _, e := range entries {
			if v, ok := e.Values["v"]; ok {
				formats[v]++
				if ev, _ := e.Values["ev"].(string); strings.HasPrefix(ev, "W\x1f") {
					compact++
				}
			}
		}
		if tc.packed && (formats["3"] == 0 || formats["2"] != 0 || compact == 0) || !tc.packed && (formats["2"] == 0 || formats["3"] != 0) {
			t.Fatalf("%s: packed outbox entries by format %v (%d open with a compact win), want packed=%v", tc.name, formats, compact, tc.packed)
		}
		checkInvariants(t, f, d, nil)
	}
}

// TestHoldIndexPerCall: a new drop indexes a call's holds as one member
// per deadline (at most 512 ids each); expiry takes a due member whole,
// releases the ids still held and skips those confirmed or cancelled
// since, and stops before a member that would take it past its limit,
// unless that member comes first.
func TestHoldIndexPerCall(t *testing.T) {
	t.Parallel()
	rdb := redistest.Shared(t).Client()
	t.Cleanup(func() { rdb.Close() })
	f := newFixture("redis", rdb)
	d := f.newDrop(t, 1000, 1)
	users := make([]string, 710)
	for i := range users {
		users[i] = fmt.Sprint("h", i)
	}
	f.register(t, d.ID, users...)
	holds := redisstore.KeysForTest(d.ID).Holds
	reserve := func(us []string) []engine.ReserveResult {
		t.Helper()
		reqs := make([]engine.ReserveRequest, len(us))
		for i, u := range us {
			reqs[i] = engine.ReserveRequest{User: u, Quantity: 1}
		}
		f.clock.Advance(time.Millisecond)
		res, err := f.eng.ReserveBatch(ctx(t), d.ID, reqs)
		if err != nil {
			t.Fatal(err)
		}
		for i, r := range res {
			if r.Err != nil {
				t.Fatalf("request %d: %v", i, r.Err)
			}
		}
		return res
	}
	f.clock.Set(t0)
	a := reserve(users[:40])
	b := reserve(users[40:70])
	if n := f.rdb.ZCard(ctx(t), holds).Val(); n != 2 {
		t.Fatalf("two calls left %d members in the hold index, want 2", n)
	}
	c := reserve(users[70:])
	if n := f.rdb.ZCard(ctx(t), holds).Val(); n != 4 {
		t.Fatalf("a call of 640 holds added %d members, want 2 (512 ids at most each)", n-2)
	}
	if _, err := f.eng.Confirm(ctx(t), a[0].Reservation.ID, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := f.eng.Cancel(ctx(t), b[0].Reservation.ID, b[0].Reservation.User); err != nil {
		t.Fatal(err)
	}
	checkInvariants(t, f, d, nil)
	f.clock.Set(c[0].Reservation.ExpiresAt)
	// a's member (40 ids) comes first and is taken whole; b's 30 would
	// take the call past 50.
	var got []int
	for i := range 5 {
		limit := 50
		if i >= 2 {
			limit = 10 // a member larger than the limit, first: taken whole
		}
		n, _, err := f.store.ExpireDue(ctx(t), d.ID, f.clock.Now(), limit)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, n)
	}
	// c's two members share a deadline; either may come first.
	if !slices.Equal(got, []int{39, 29, 512, 128, 0}) && !slices.Equal(got, []int{39, 29, 128, 512, 0}) {
		t.Fatalf("expiry calls expired %v, want 39, 29, then 512 and 128 in either order, 0", got)
	}
	if n := f.rdb.ZCard(ctx(t), holds).Val(); n != 0 {
		t.Fatalf("%d members left in the hold index", n)
	}
	if st := f.stats(t, d.ID); st.Held != 0 || st.Confirmed != 1 {
		t.Fatalf("stats after expiry: %+v", st)
	}
	checkInvariants(t, f, d, nil)
}
