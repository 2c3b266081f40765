package redisstore_test

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/flashdrop/flashdrop/engine"
	"github.com/flashdrop/flashdrop/engine/redisstore"
)

// scanKeys lists the keys matching pattern, on every master of a cluster.
func scanKeys(t *testing.T, rdb redis.UniversalClient, pattern string) []string {
	t.Helper()
	var mu sync.Mutex
	var out []string
	scan := func(ctx context.Context, c *redis.Client) error {
		iter := c.Scan(ctx, 0, pattern, 1000).Iterator()
		for iter.Next(ctx) {
			mu.Lock()
			out = append(out, iter.Val())
			mu.Unlock()
		}
		return iter.Err()
	}
	var err error
	switch c := rdb.(type) {
	case *redis.ClusterClient:
		err = c.ForEachMaster(ctx(t), scan)
	case *redis.Client:
		err = scan(ctx(t), c)
	default:
		t.Fatalf("scanKeys: unsupported client %T", rdb)
	}
	if err != nil {
		t.Fatalf("scan %s: %v", pattern, err)
	}
	sort.Strings(out)
	return out
}

// stored reads every reservation of a drop straight from Redis, in
// either layout (a hash each, or the packed hash).
func stored(t *testing.T, f *fixture, drop string) map[string]engine.Reservation {
	t.Helper()
	out := map[string]engine.Reservation{}
	prefix := redisstore.ReservationKeyForTest(drop, "")
	var ids []string
	for _, key := range scanKeys(t, f.rdb, redisstore.KeysForTest(drop).Reservations) {
		ids = append(ids, strings.TrimPrefix(key, prefix))
	}
	own, err := f.rdb.HKeys(ctx(t), redisstore.KeysForTest(drop).PackedReservations).Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(own) > 0 && len(ids) > 0 {
		t.Errorf("drop %s has reservations in both layouts: %d packed, %d hashes", drop, len(own), len(ids))
	}
	for _, o := range own {
		ids = append(ids, drop+"."+o)
	}
	for _, id := range ids {
		r, err := f.store.Reservation(ctx(t), id)
		if err != nil {
			t.Fatalf("read %s: %v", id, err)
		}
		out[id] = r
	}
	return out
}

// answers is what a run's callers were told, for checking against state.
type answers struct {
	mu         sync.Mutex
	won        []engine.ReserveResult     // every successful reserve answer
	byKey      map[string]map[string]bool // user+key -> reservation ids won under it
	fresh      map[string]int             // user+key -> non-replayed wins
	confirmed  map[string]bool            // reservation ids confirmed by an answer
	registered map[string]bool            // users registered in the window
}

func newAnswers() *answers {
	return &answers{byKey: map[string]map[string]bool{}, fresh: map[string]int{},
		confirmed: map[string]bool{}, registered: map[string]bool{}}
}

func (a *answers) reserve(req engine.ReserveRequest, res engine.ReserveResult) {
	if res.Err != nil {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.won = append(a.won, res)
	if req.IdempotencyKey != "" {
		k := req.User + "\x00" + req.IdempotencyKey
		if a.byKey[k] == nil {
			a.byKey[k] = map[string]bool{}
		}
		a.byKey[k][res.Reservation.ID] = true
		if !res.Replayed {
			a.fresh[k]++
		}
	}
}

// checkInvariants checks SPEC §3 I1–I7 for one drop from Redis state, the
// outbox and the answers callers received.
func checkInvariants(t *testing.T, f *fixture, d engine.Drop, ans *answers) {
	t.Helper()
	c := ctx(t)
	st := f.stats(t, d.ID)
	res := stored(t, f, d.ID)
	keys := redisstore.KeysForTest(d.ID)

	var held, confirmed, released int64
	perUser := map[string]int64{}
	heldIDs := map[string]bool{}
	for id, r := range res {
		switch r.Status {
		case engine.StatusHeld:
			held += r.Quantity
			perUser[r.User] += r.Quantity
			heldIDs[id] = true
		case engine.StatusConfirmed:
			confirmed += r.Quantity
			perUser[r.User] += r.Quantity
		case engine.StatusCancelled, engine.StatusExpired:
			released += r.Quantity
		default:
			t.Errorf("reservation %s has status %q", id, r.Status)
		}
		if r.Status == engine.StatusExpired && r.UpdatedAt.Before(r.ExpiresAt) {
			t.Errorf("I7: %s expired at %v, before its deadline %v", id, r.UpdatedAt, r.ExpiresAt)
		}
		// I3: only shoppers registered in the window hold units.
		reg := regState(t, f, keys, r.User)
		if !reg.ok || reg.at < d.RegistrationOpensAt.UnixMilli() || reg.at >= d.RegistrationClosesAt.UnixMilli() {
			t.Errorf("I3: %s belongs to %q, registered at %d (registered: %v)", id, r.User, reg.at, reg.ok)
		}
		if ans != nil && len(ans.registered) > 0 && !ans.registered[r.User] {
			t.Errorf("I3: %q was never registered by the test but holds %s", r.User, id)
		}
	}
	// I1 and I6, from the counters and from the reservations themselves.
	if st.Held+st.Confirmed > st.Stock || st.Available < 0 {
		t.Errorf("I1: oversold: %+v", st)
	}
	if st.Available+st.Owed+st.Held+st.Confirmed != st.Stock || st.Owed < 0 {
		t.Errorf("I6: available+owed+held+confirmed != stock: %+v", st)
	}
	if held != st.Held || confirmed != st.Confirmed || released != st.Released || int64(len(res)) != st.Reservations {
		t.Errorf("counters disagree with reservations: held %d confirmed %d released %d n %d; stats %+v",
			held, confirmed, released, len(res), st)
	}
	// The expiry index lists every held reservation once, at its
	// deadline. A member per hold (an older drop's) names a held one; a
	// member per call ("*" and own ids, lib.lua) may also name holds
	// settled since, which expiry drops with the member.
	idx, err := f.rdb.ZRangeWithScores(c, keys.Holds, 0, -1).Result()
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]int{}
	for _, z := range idx {
		m := z.Member.(string)
		ids := []string{m}
		if owns, ok := strings.CutPrefix(m, "*"); ok {
			ids = nil
			for _, own := range strings.Split(owns, ",") {
				ids = append(ids, d.ID+"."+own)
			}
		} else if !heldIDs[m] {
			t.Errorf("hold index lists %s, which is not held", m)
		}
		for _, id := range ids {
			listed[id]++
			if r, ok := res[id]; !ok {
				t.Errorf("hold index lists %s, which does not exist", id)
			} else if r.Status == engine.StatusHeld && int64(z.Score) != r.ExpiresAt.UnixMilli() {
				t.Errorf("hold index has %s at %d, its deadline is %d", id, int64(z.Score), r.ExpiresAt.UnixMilli())
			}
		}
	}
	for id := range heldIDs {
		if listed[id] != 1 {
			t.Errorf("hold %s is listed %d times in the hold index, want once", id, listed[id])
		}
	}
	// I2: per-user limit, and the per-user counter agrees; each shopper's
	// latest-reservation pointer names one of theirs. (Not necessarily the
	// greatest WonAt: calls with out-of-order clocks, as on many nodes, and
	// several wins in one millisecond make that order meaningless.)
	regs, err := redisstore.RegistrantsForTest(c, f.rdb, d.ID)
	if err != nil {
		t.Fatal(err)
	}
	hasAny := map[string]string{}
	for id, r := range res {
		hasAny[r.User] = id
	}
	for u, n := range perUser {
		if n > d.PerUserLimit {
			t.Errorf("I2: %q has %d units, limit %d", u, n, d.PerUserLimit)
		}
	}
	for u, v := range regs {
		st := parseReg(d.ID, v)
		if st.units != perUser[u] {
			t.Errorf("reg[%q] = %q counts %d units, reservations say %d", u, v, st.units, perUser[u])
		}
		if st.latest != "" && res[st.latest].User != u {
			t.Errorf("reg[%q] = %q names a reservation that is not theirs", u, v)
		}
		if st.latest == "" && hasAny[u] != "" {
			t.Errorf("reg[%q] = %q, but they have reservation %s", u, v, hasAny[u])
		}
	}
	// I4: each reservation has exactly one won event, and each final state
	// exactly one event of its own; every won answer exists durably.
	evs := f.events(t, d.ID)
	seen := map[string]bool{}
	perRes := map[string]map[engine.EventType]int{}
	for _, e := range evs {
		if seen[e.ID] {
			t.Errorf("event id %s used twice", e.ID)
		}
		seen[e.ID] = true
		if e.Reservation != "" {
			if perRes[e.Reservation] == nil {
				perRes[e.Reservation] = map[engine.EventType]int{}
			}
			perRes[e.Reservation][e.Type]++
		}
	}
	for id, r := range res {
		want := map[engine.EventType]int{engine.EventWon: 1}
		if r.Status != engine.StatusHeld {
			want[engine.EventType(r.Status)] = 1
		}
		if fmt.Sprint(perRes[id]) != fmt.Sprint(want) {
			t.Errorf("I4: %s (%s) has events %v, want %v", id, r.Status, perRes[id], want)
		}
	}
	if len(perRes) != len(res) {
		t.Errorf("I4: events name %d reservations, %d exist", len(perRes), len(res))
	}
	if ans == nil {
		return
	}
	for _, w := range ans.won {
		r, ok := res[w.Reservation.ID]
		if !ok {
			t.Errorf("I4: acknowledged win %s is not in Redis", w.Reservation.ID)
			continue
		}
		if r.User != w.Reservation.User || r.Quantity != w.Reservation.Quantity || !r.ExpiresAt.Equal(w.Reservation.ExpiresAt) {
			t.Errorf("win answered %+v, stored %+v", w.Reservation, r)
		}
	}
	// I5: one key, one effect.
	for k, ids := range ans.byKey {
		if len(ids) > 1 || ans.fresh[k] > 1 {
			t.Errorf("I5: key %q won %d reservations (%d fresh)", k, len(ids), ans.fresh[k])
		}
	}
	// I7: a confirmed unit never returns.
	for id := range ans.confirmed {
		if res[id].Status != engine.StatusConfirmed {
			t.Errorf("I7: %s was confirmed, now %s", id, res[id].Status)
		}
	}
}

// regInfo is one shopper's field of the reg hash, decoded.
type regInfo struct {
	ok     bool
	at     int64
	units  int64
	latest string
}

func parseReg(drop, v string) regInfo {
	parts := strings.SplitN(v, "|", 3)
	at, err := strconv.ParseInt(parts[0], 10, 64)
	info := regInfo{ok: err == nil, at: at}
	if len(parts) == 3 {
		info.units, _ = strconv.ParseInt(parts[1], 10, 64)
		info.latest = parts[2]
		// A bucketed drop keeps the id without "<drop>." (lib.lua).
		if info.latest != "" && !strings.Contains(info.latest, ".") {
			info.latest = drop + "." + info.latest
		}
	}
	return info
}

func regState(t *testing.T, f *fixture, keys redisstore.TestKeys, user string) regInfo {
	t.Helper()
	v, err := redisstore.RegFieldForTest(ctx(t), f.rdb, keys.Drop, user)
	if err != nil {
		return regInfo{}
	}
	return parseReg(keys.Drop, v)
}
