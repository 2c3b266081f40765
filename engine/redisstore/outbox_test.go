package redisstore_test

import (
	"errors"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/flashdrop/flashdrop/engine"
	"github.com/flashdrop/flashdrop/engine/redisstore"
)

// TestDecodeEntryFormats: a packed entry (one script call's events) gives
// its events in order, with ids nonce-first.., and the entry's time and
// drop; an old one-event entry gives its one event; broken entries are
// errors, never a panic or a half-decoded event.
func TestDecodeEntryFormats(t *testing.T) {
	packed := map[string]any{
		"v": "2", "id": "abc", "first": "3", "time": "1764756000000", "drop": "d1",
		"ev": strings.Join([]string{
			strings.Join([]string{"won", "reservation", "d1.r1", "user", "ann", "quantity", "2", "expires_at", "1764756600000", "share_code", "d1.s1"}, "\x1f"),
			"sold_out\x1favailable\x1f0\x1fversion\x1f7",
			"opened",
		}, "\x1e"),
	}
	evs, err := redisstore.DecodeEntry(packed)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 3 {
		t.Fatalf("want 3 events, got %d: %+v", len(evs), evs)
	}
	for i, want := range []struct{ id, typ string }{{"abc-3", "won"}, {"abc-4", "sold_out"}, {"abc-5", "opened"}} {
		if evs[i].ID != want.id || string(evs[i].Type) != want.typ || evs[i].Drop != "d1" || evs[i].Time.UnixMilli() != 1764756000000 {
			t.Errorf("event %d: %+v, want id %s type %s", i, evs[i], want.id, want.typ)
		}
	}
	if w := evs[0]; w.Reservation != "d1.r1" || w.User != "ann" || w.Quantity != 2 || w.ShareCode != "d1.s1" || w.ExpiresAt.UnixMilli() != 1764756600000 {
		t.Errorf("won event fields: %+v", w)
	}
	if s := evs[1]; s.Available == nil || *s.Available != 0 || s.Version != 7 {
		t.Errorf("sold_out event fields: %+v", s)
	}

	old := map[string]any{"id": "xyz-1", "type": "won", "time": "1764756000000", "drop": "d1", "reservation": "d1.r9", "user": "bob", "quantity": "1"}
	evs, err = redisstore.DecodeEntry(old)
	if err != nil || len(evs) != 1 || evs[0].ID != "xyz-1" || evs[0].Type != engine.EventWon || evs[0].User != "bob" {
		t.Fatalf("old entry: %+v %v", evs, err)
	}

	for name, bad := range map[string]map[string]any{
		"unknown version": {"v": "4", "id": "a", "first": "1", "time": "1", "drop": "d", "ev": "won"},
		"odd fields":      {"v": "2", "id": "a", "first": "1", "time": "1", "drop": "d", "ev": "won\x1fuser"},
		"no first":        {"v": "2", "id": "a", "time": "1", "drop": "d", "ev": "won"},
		"no events":       {"v": "2", "id": "a", "first": "1", "time": "1", "drop": "d"},
		"no drop":         {"v": "2", "id": "a", "first": "1", "time": "1", "ev": "won"},
		"bad number":      {"v": "2", "id": "a", "first": "1", "time": "1", "drop": "d", "ev": "won\x1fquantity\x1fmany"},
		"old without id":  {"type": "won", "drop": "d"},
		"type only, US":   {"v": "2", "id": "a", "first": "1", "time": "1", "drop": "d", "ev": "won\x1f"},
		"trailing RS":     {"v": "2", "id": "a", "first": "1", "time": "1", "drop": "d", "ev": "won\x1e"},
		"empty event":     {"v": "2", "id": "a", "first": "1", "time": "1", "drop": "d", "ev": "won\x1e\x1eopened"},
		"bad time":        {"v": "2", "id": "a", "first": "1", "time": "soon", "drop": "d", "ev": "won"},
		"old bad number":  {"id": "a-1", "type": "won", "drop": "d", "quantity": "1.5"},
		"compact in v2":   {"v": "2", "id": "a", "first": "1", "time": "1", "drop": "d", "ev": "W\x1fr\x1fu\x1f1\x1f5\x1fs"},
		"compact, 4":      {"v": "3", "id": "a", "first": "1", "time": "1", "drop": "d", "ev": "W\x1fr\x1fu\x1f1\x1f5"},
		"compact, 6":      {"v": "3", "id": "a", "first": "1", "time": "1", "drop": "d", "ev": "W\x1fr\x1fu\x1f1\x1f5\x1fs\x1fx"},
		"compact, empty":  {"v": "3", "id": "a", "first": "1", "time": "1", "drop": "d", "ev": "W\x1f\x1fu\x1f1\x1f5\x1fs"},
		"compact, qty":    {"v": "3", "id": "a", "first": "1", "time": "1", "drop": "d", "ev": "W\x1fr\x1fu\x1fone\x1f5\x1fs"},
		"compact, exp":    {"v": "3", "id": "a", "first": "1", "time": "1", "drop": "d", "ev": "W\x1fr\x1fu\x1f1\x1fsoon\x1fs"},
	} {
		if evs, err := redisstore.DecodeEntry(bad); err == nil {
			t.Errorf("%s: decoded %+v", name, evs)
		}
	}
}

// TestDecodeCompactWin: format 3's compact win decodes to exactly the
// event format 2's named fields give, beside the other events of its
// entry, with the same ids.
func TestDecodeCompactWin(t *testing.T) {
	long := strings.Join([]string{"won", "reservation", "d1.r1", "user", "ann", "quantity", "2", "expires_at", "1764756600000", "share_code", "d1.s1"}, "\x1f")
	short := strings.Join([]string{"W", "r1", "ann", "2", "1764756600000", "s1"}, "\x1f")
	entry := func(v, won string) map[string]any {
		return map[string]any{"v": v, "id": "abc", "first": "3", "time": "1764756000000", "drop": "d1",
			"ev": won + "\x1esold_out\x1favailable\x1f0\x1fversion\x1f7\x1e" + won}
	}
	want, err := redisstore.DecodeEntry(entry("2", long))
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"2", "3"} {
		got, err := redisstore.DecodeEntry(entry(v, long))
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("format %s, named fields: %+v %v, want %+v", v, got, err, want)
		}
	}
	got, err := redisstore.DecodeEntry(entry("3", short))
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("compact: %+v %v\nwant %+v", got, err, want)
	}
	if got[2].ID != "abc-5" || got[0].Reservation != "d1.r1" || got[0].ShareCode != "d1.s1" {
		t.Fatalf("compact ids: %+v", got)
	}
}

// TestReserveWritesOneOutboxEntryPerCall: a batch of wins leaves one
// packed outbox entry holding every event of the call, in order, and the
// reservation ids and share codes are 80-bit random values, all distinct
// (no id of the batch follows from another).
func TestReserveWritesOneOutboxEntryPerCall(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f *fixture) {
		d := f.newDrop(t, 40, 1)
		const n = 48
		var reqs []engine.ReserveRequest
		for i := 0; i < n; i++ {
			user := "u" + string(rune('a'+i%26)) + string(rune('a'+i/26))
			f.register(t, d.ID, user)
			reqs = append(reqs, engine.ReserveRequest{User: user, Quantity: 1, Waitlist: true})
		}
		f.clock.Set(t0.Add(time.Second))
		before, err := f.rdb.XLen(ctx(t), redisstore.OutboxKey(d.ID)).Result()
		if err != nil {
			t.Fatal(err)
		}
		evBefore := len(f.events(t, d.ID))
		res, err := f.eng.ReserveBatch(ctx(t), d.ID, reqs)
		if err != nil {
			t.Fatal(err)
		}
		after, _ := f.rdb.XLen(ctx(t), redisstore.OutboxKey(d.ID)).Result()
		if after != before+1 {
			t.Fatalf("the batch added %d outbox entries, want 1", after-before)
		}
		evs := f.events(t, d.ID)[evBefore:] // the registrations' events come first
		// 40 wins, then sold_out after the 40th, then 8 waitlisted.
		if len(evs) != 49 {
			t.Fatalf("want 49 events from the batch, got %d", len(evs))
		}
		hexID := regexp.MustCompile(`^` + regexp.QuoteMeta(d.ID) + `\.[0-9a-f]{20}$`)
		seen := map[string]bool{}
		wins := 0
		for i, r := range res {
			if i < 40 {
				if r.Err != nil {
					t.Fatalf("request %d: %v", i, r.Err)
				}
				e := evs[i]
				if e.Type != engine.EventWon || e.Reservation != r.Reservation.ID || e.ShareCode != r.Reservation.ShareCode || e.User != reqs[i].User ||
					e.Quantity != r.Reservation.Quantity || !e.ExpiresAt.Equal(r.Reservation.ExpiresAt) {
					t.Errorf("event %d %+v does not announce win %+v", i, e, r.Reservation)
				}
				for _, id := range []string{r.Reservation.ID, r.Reservation.ShareCode} {
					if !hexID.MatchString(id) || seen[id[len(d.ID)+1:]] {
						t.Errorf("id %q: not 20 fresh hex digits", id)
					}
					seen[id[len(d.ID)+1:]] = true
				}
				got, err := f.store.ReservationByShareCode(ctx(t), r.Reservation.ShareCode)
				if err != nil || got.ID != r.Reservation.ID {
					t.Errorf("share code %s finds %+v, %v", r.Reservation.ShareCode, got, err)
				}
				// The compact answer of a fresh win says what Redis holds.
				stored, err := f.store.Reservation(ctx(t), r.Reservation.ID)
				if err != nil || stored != r.Reservation {
					t.Errorf("answered %+v, stored %+v (%v)", r.Reservation, stored, err)
				}
				wins++
			} else if r.Err == nil {
				t.Errorf("request %d won past the stock", i)
			}
		}
		if evs[40].Type != engine.EventSoldOut || evs[41].Type != engine.EventWaitlisted {
			t.Errorf("after the wins: %s, %s", evs[40].Type, evs[41].Type)
		}
		ids := map[string]bool{}
		for _, e := range evs {
			if ids[e.ID] {
				t.Errorf("event id %s twice", e.ID)
			}
			ids[e.ID] = true
		}

		// An expiry sweep is one call too: 40 expired holds and 8
		// promotions from the waitlist, one entry.
		f.clock.Set(t0.Add(time.Hour))
		evBefore = len(f.events(t, d.ID))
		before, _ = f.rdb.XLen(ctx(t), redisstore.OutboxKey(d.ID)).Result()
		if n, err := f.eng.ExpireDrop(ctx(t), d.ID); err != nil || n != 40 {
			t.Fatalf("expire: %d %v", n, err)
		}
		after, _ = f.rdb.XLen(ctx(t), redisstore.OutboxKey(d.ID)).Result()
		swept := f.events(t, d.ID)[evBefore:]
		if after != before+1 || countEvents(swept, engine.EventExpired) != 40 || countEvents(swept, engine.EventWon) != 8 {
			t.Errorf("the sweep added %d entries holding %d expired and %d won events, want 1, 40, 8",
				after-before, countEvents(swept, engine.EventExpired), countEvents(swept, engine.EventWon))
		}
		for _, e := range swept {
			if ids[e.ID] {
				t.Errorf("event id %s twice", e.ID)
			}
			ids[e.ID] = true
		}
	})
}

// TestRegisterBatchWritesOneOutboxEntry: a registration batch leaves one
// packed entry for its registered events, numbered in request order from
// 1 under the call's nonce, plus one entry per referral (each has its own
// nonce); a shopper twice in the batch is registered and announced once.
func TestRegisterBatchWritesOneOutboxEntry(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f *fixture) {
		src := f.newDrop(t, 5, 1)
		code := f.win(t, src, "referrer", time.Second).ShareCode
		d := f.newDrop(t, 5, 1, func(d *engine.Drop) {
			d.RegistrationOpensAt, d.RegistrationClosesAt = t0.Add(time.Hour), t0.Add(2*time.Hour)
			d.SaleStartsAt = t0.Add(3 * time.Hour)
		})
		f.clock.Set(d.RegistrationOpensAt.Add(time.Minute))
		before, err := f.rdb.XLen(ctx(t), redisstore.OutboxKey(d.ID)).Result()
		if err != nil {
			t.Fatal(err)
		}
		reqs := []engine.RegisterRequest{{User: "r1"}, {User: "r2", Ref: code}, {User: "r1"}, {User: "r3"}, {User: "r4", Ref: code}}
		res, err := f.store.RegisterBatch(ctx(t), d.ID, f.clock.Now(), reqs)
		if err != nil {
			t.Fatal(err)
		}
		for i, want := range []bool{true, true, false, true, true} {
			if res[i].Err != nil || res[i].Created != want || !res[i].Registration.RegisteredAt.Equal(f.clock.Now()) {
				t.Errorf("request %d (%s): %+v, want created=%v", i, reqs[i].User, res[i], want)
			}
		}
		after, _ := f.rdb.XLen(ctx(t), redisstore.OutboxKey(d.ID)).Result()
		if after != before+3 {
			t.Errorf("the batch added %d outbox entries, want 3 (one packed, two referrals)", after-before)
		}
		evs := f.events(t, d.ID)
		var users []string
		nonce := ""
		for _, e := range evs {
			if e.Type != engine.EventRegistered {
				continue
			}
			users = append(users, e.User)
			cut := strings.LastIndex(e.ID, "-")
			base, n, ok := e.ID[:max(cut, 0)], e.ID[cut+1:], cut > 0
			if !ok || n != strconv.Itoa(len(users)) || (nonce != "" && base != nonce) {
				t.Errorf("registered event %d has id %s", len(users), e.ID)
			}
			nonce = base
		}
		if strings.Join(users, ",") != "r1,r2,r3,r4" {
			t.Errorf("registered events for %v, want r1,r2,r3,r4 in order", users)
		}
		if n := countEvents(evs, engine.EventReferral); n != 2 {
			t.Errorf("referral events: %d, want 2", n)
		}
		if st := f.stats(t, d.ID); st.Registered != 4 || st.Referrals != 2 {
			t.Errorf("stats: %+v", st)
		}
	})
}

// BenchmarkDecodeEntry decodes a packed entry of 19 won events, what one
// reserve call of the bench's all-wins run leaves for the relay: named
// fields (format 2) and compact wins (format 3).
func BenchmarkDecodeEntry(b *testing.B) {
	for _, format := range []string{"2", "3"} {
		b.Run("format="+format, func(b *testing.B) {
			evs := make([]string, 19)
			for i := range evs {
				own, share, user := "0123456789abcdef"+strconv.Itoa(1000+i), "fedcba9876543210"+strconv.Itoa(1000+i), "buyer-"+strconv.Itoa(i)
				evs[i] = strings.Join([]string{"won", "reservation", "d1." + own, "user", user,
					"quantity", "1", "expires_at", "1764756600000", "share_code", "d1." + share}, "\x1f")
				if format == "3" {
					evs[i] = strings.Join([]string{"W", own, user, "1", "1764756600000", share}, "\x1f")
				}
			}
			entry := map[string]any{"v": format, "id": "0123456789abcdef0123", "first": "1", "time": "1764756000000", "drop": "d1",
				"ev": strings.Join(evs, "\x1e")}
			b.ReportAllocs()
			for b.Loop() {
				if out, err := redisstore.DecodeEntry(entry); err != nil || len(out) != 19 {
					b.Fatal(len(out), err)
				}
			}
		})
	}
}

// FuzzDecodeEntry: the packed decoder, which walks the entry without
// splitting it, agrees with a reference that splits it into fields and
// decodes each event from a map (the form it had before): the same events,
// or an error from both. Neither may panic.
func FuzzDecodeEntry(f *testing.F) {
	f.Add("won\x1freservation\x1fd1.r1\x1fuser\x1fann\x1fquantity\x1f2\x1e sold_out\x1favailable\x1f0", "3", "1764756000000")
	f.Add("won\x1f", "1", "1")
	f.Add("won\x1e", "1", "")
	f.Add("drawn\x1fregistrants\x1f0\x1fwinners\x1f3\x1fseconds_after_start\x1f1.5\x1fid\x1fx\x1fdrop\x1fy", "9", "5")
	f.Add("\x1e\x1e", "1", "1")
	f.Add("W\x1fr1\x1fann\x1f2\x1f1764756600000\x1fs1\x1eopened", "3", "1764756000000")
	f.Add("W\x1fr1\x1fann\x1f2\x1f1764756600000", "1", "1")
	// A name twice: the last value counts, an empty one and a bad one too.
	f.Add("sold_out\x1fquantity\x1fx\x1fquantity\x1f1", "1", "1")
	f.Add("won\x1fseconds_after_start\x1f0\x1fseconds_after_start\x1f", "1", "0")
	f.Fuzz(func(t *testing.T, packed, first, when string) {
		for _, v := range []string{"2", "3"} {
			entry := map[string]any{"v": v, "id": "n", "first": first, "time": when, "drop": "d", "ev": packed}
			fuzzDecodeEntryAgainstReference(t, entry)
		}
	})
}

// fuzzDecodeEntryAgainstReference fails t unless DecodeEntry and
// referenceDecodePacked agree on entry.
func fuzzDecodeEntryAgainstReference(t *testing.T, entry map[string]any) {
	got, err := redisstore.DecodeEntry(entry)
	want, werr := referenceDecodePacked(entry)
	if (err == nil) != (werr == nil) {
		t.Fatalf("error %v, reference error %v", err, werr)
	}
	if err != nil {
		return
	}
	if len(got) != len(want) {
		t.Fatalf("%d events, reference %d", len(got), len(want))
	}
	for i := range got {
		if !reflect.DeepEqual(got[i], want[i]) {
			t.Fatalf("event %d: %+v, reference %+v", i, got[i], want[i])
		}
	}
}

// referenceDecodePacked is the packed decoder as it was: split on the
// separators, one map per event, DecodeEvent; a compact win (format 3)
// first rewritten as the named fields it stands for.
func referenceDecodePacked(v map[string]any) ([]engine.Event, error) {
	str := func(f string) string { s, _ := v[f].(string); return s }
	first, err := strconv.ParseInt(str("first"), 10, 64)
	if err != nil || first < 1 || str("id") == "" || str("ev") == "" {
		return nil, errors.New("no id, first or events")
	}
	var out []engine.Event
	for i, p := range strings.Split(str("ev"), "\x1e") {
		fs := strings.Split(p, "\x1f")
		if fs[0] == "W" && str("v") == "3" {
			// Format 3's compact win, as the named fields it stands for.
			if len(fs) != 6 || slices.Contains(fs, "") {
				return nil, errors.New("compact win without its 5 fields")
			}
			d := str("drop") + "."
			fs = []string{"won", "reservation", d + fs[1], "user", fs[2], "quantity", fs[3], "expires_at", fs[4], "share_code", d + fs[5]}
		}
		if len(fs)%2 != 1 {
			return nil, errors.New("odd field list")
		}
		m := map[string]any{}
		for j := 1; j < len(fs); j += 2 {
			m[fs[j]] = fs[j+1]
		}
		m["id"] = str("id") + "-" + strconv.FormatInt(first+int64(i), 10)
		m["type"], m["time"], m["drop"] = fs[0], str("time"), str("drop")
		ev, err := redisstore.DecodeEvent(m)
		if err != nil {
			return nil, err
		}
		out = append(out, ev)
	}
	return out, nil
}
