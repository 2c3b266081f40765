package redisstore_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/flashdrop/flashdrop/engine"
	"github.com/flashdrop/flashdrop/engine/redisstore"
)

// newWebhookStore is a store on rdb with one new webhook.
func newWebhookStore(t *testing.T, rdb redis.UniversalClient) (*redisstore.Store, engine.Webhook) {
	t.Helper()
	s := redisstore.New(rdb, redisstore.Options{})
	w := engine.Webhook{ID: uniqueID(t), URL: "https://hooks.example/x", Types: []engine.EventType{}, Secret: "whsec_x",
		CreatedAt: time.Now().UTC()}
	if err := s.CreateWebhook(ctx(t), w); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.DeleteWebhook(ctx(t), w.ID) })
	return s, w
}

// TestDisabledReasonIsReadable: a disabled webhook's reason states the rule
// that disabled it, as the webhook_disabled event does, not a raw epoch.
func TestDisabledReasonIsReadable(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f *fixture) {
		s, w := newWebhookStore(t, f.rdb)
		rule := engine.DisableRule{After: 3, Span: 2 * time.Second}
		at := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
		for i := range 4 {
			disabled, err := s.RecordDelivery(ctx(t), w.ID, engine.Delivery{EventID: "ev-" + itoa(i), At: at.Add(time.Duration(i) * time.Second),
				Status: 500, Err: "500 Internal Server Error"}, rule)
			if err != nil {
				t.Fatal(err)
			}
			if want := i == 2; disabled != want {
				t.Fatalf("attempt %d: disabled %v, want %v", i+1, disabled, want)
			}
		}
		got, err := s.Webhook(ctx(t), w.ID)
		if err != nil {
			t.Fatal(err)
		}
		const want = "3 consecutive failed deliveries over at least 2s"
		if !got.Disabled || got.DisabledReason != want || !got.DisabledAt.Equal(at.Add(2*time.Second)) {
			t.Fatalf("disabled %v at %v, reason %q; want %q", got.Disabled, got.DisabledAt, got.DisabledReason, want)
		}
		if regexp.MustCompile(`\d{10,}`).MatchString(got.DisabledReason) {
			t.Fatalf("reason shows a raw epoch: %q", got.DisabledReason)
		}
	})
}

// TestDeliveryLogNewestFirst: attempts are logged when they end, but the
// log is newest first by the time each started: a slow attempt recorded
// after a quicker one that started later comes after it.
func TestDeliveryLogNewestFirst(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f *fixture) {
		s, w := newWebhookStore(t, f.rdb)
		at := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
		for _, d := range []engine.Delivery{
			{EventID: "a", At: at, Status: 204, Latency: time.Second},
			{EventID: "c", At: at.Add(3 * time.Second), Status: 204, Kind: engine.DeliveryKindReplay},
			{EventID: "test-b", At: at.Add(time.Second), Status: 204, Latency: 4 * time.Second, Kind: engine.DeliveryKindTest},
		} {
			if _, err := s.RecordDelivery(ctx(t), w.ID, d, engine.DisableRule{}); err != nil {
				t.Fatal(err)
			}
		}
		log, err := s.DeliveryLog(ctx(t), w.ID, 0)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, r := range log {
			ids = append(ids, r.EventID)
		}
		if len(ids) != 3 || ids[0] != "c" || ids[1] != "test-b" || ids[2] != "a" {
			t.Fatalf("log %v, want [c test-b a]", ids)
		}
	})
}

// TestWebhookStatusKeepsTheLatestAttempt: attempts are timed at their
// start and recorded as they end, so a slow attempt can be recorded after
// a later one; the status's last attempt and last success never move back.
func TestWebhookStatusKeepsTheLatestAttempt(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f *fixture) {
		s, w := newWebhookStore(t, f.rdb)
		at := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
		for _, d := range []engine.Delivery{
			{EventID: "b", At: at.Add(2 * time.Second), Status: 204},
			{EventID: "c", At: at.Add(3 * time.Second), Status: 500, Err: "500 Internal Server Error"},
			{EventID: "a", At: at, Status: 204, Latency: 5 * time.Second}, // started first, ended last
		} {
			if _, err := s.RecordDelivery(ctx(t), w.ID, d, engine.DisableRule{}); err != nil {
				t.Fatal(err)
			}
		}
		st, err := s.WebhookStatus(ctx(t), w.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !st.LastAttemptAt.Equal(at.Add(3*time.Second)) || st.LastStatus != 500 || !st.LastSuccessAt.Equal(at.Add(2*time.Second)) || st.Delivered != 2 || st.Failed != 1 {
			t.Fatalf("status %+v: want the last attempt at +3s (500) and the last success at +2s", st)
		}
	})
}

// TestSlowSuccessDoesNotEndALaterStreak: a success that started before a
// streak of failures but was recorded after them does not reset the
// streak, and a failure that started before the last success is not in
// it: the disabling rule is judged by when the attempts started.
func TestSlowSuccessDoesNotEndALaterStreak(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f *fixture) {
		s, w := newWebhookStore(t, f.rdb)
		rule := engine.DisableRule{After: 3, Span: 2 * time.Second}
		at := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
		fail := func(id string, d time.Duration) engine.Delivery {
			return engine.Delivery{EventID: id, At: at.Add(d), Status: 500, Err: "500 Internal Server Error"}
		}
		steps := []struct {
			d    engine.Delivery
			off  bool // the webhook is disabled by this attempt
			runs int64
		}{
			{fail("f1", time.Second), false, 1},
			{fail("f2", 2*time.Second), false, 2},
			{engine.Delivery{EventID: "slow", At: at, Status: 204, Latency: 5 * time.Second}, false, 2},
			{fail("f3", 3*time.Second), true, 3},
		}
		for i, st := range steps {
			off, err := s.RecordDelivery(ctx(t), w.ID, st.d, rule)
			if err != nil {
				t.Fatal(err)
			}
			status, err := s.WebhookStatus(ctx(t), w.ID)
			if err != nil {
				t.Fatal(err)
			}
			if off != st.off || status.ConsecutiveFailures != st.runs {
				t.Fatalf("step %d (%s): disabled %v, streak %d; want %v, %d", i+1, st.d.EventID, off, status.ConsecutiveFailures, st.off, st.runs)
			}
		}
		if st, _ := s.WebhookStatus(ctx(t), w.ID); !st.FailingSince.Equal(at.Add(time.Second)) {
			t.Fatalf("failing since %v, want the streak's first failure at +1s", st.FailingSince)
		}
		// Enabled again, a success: then a failure that started before it
		// and is recorded after it is not a new streak.
		s2, w2 := newWebhookStore(t, f.rdb)
		if _, err := s2.RecordDelivery(ctx(t), w2.ID, engine.Delivery{EventID: "ok", At: at.Add(2 * time.Second), Status: 204}, rule); err != nil {
			t.Fatal(err)
		}
		if _, err := s2.RecordDelivery(ctx(t), w2.ID, fail("old", time.Second), rule); err != nil {
			t.Fatal(err)
		}
		if st, _ := s2.WebhookStatus(ctx(t), w2.ID); st.ConsecutiveFailures != 0 || st.Failed != 1 {
			t.Fatalf("a failure older than the last success: streak %d, failed %d; want 0, 1", st.ConsecutiveFailures, st.Failed)
		}
	})
}

// TestDeadLettersLeaveWhenDelivered: a webhook's dead letters are the
// events dead-lettered and not delivered since. Each is kept once, with
// its type, stream sequence, time and last answer; one kept before those
// were (its id alone in the list) still reads, as its id. A delivery of
// one (a replay, or an ordinary delivery) takes it off, as a test or a
// refused replay does not; dead_letters_pending counts what is left while
// dead_lettered keeps counting every one ever. Deleting the webhook
// deletes them all.
func TestDeadLettersLeaveWhenDelivered(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f *fixture) {
		s, w := newWebhookStore(t, f.rdb)
		at := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
		record := func(d engine.Delivery) {
			t.Helper()
			if _, err := s.RecordDelivery(ctx(t), w.ID, d, engine.DisableRule{After: 1000}); err != nil {
				t.Fatal(err)
			}
		}
		record(engine.Delivery{EventID: "ev-1", At: at, Status: 500, Err: "HTTP 500", Dead: true, Sequence: 10, Type: engine.EventWon})
		// Kept before entries were: the id alone.
		if err := f.rdb.LPush(ctx(t), "fd:wh:{"+w.ID+"}:dead", "ev-old").Err(); err != nil {
			t.Fatal(err)
		}
		record(engine.Delivery{EventID: "ev-2", At: at.Add(time.Second), Err: "timed out after 5s", Dead: true, Sequence: 11, Type: engine.EventRegistered})
		// Dead-lettered again: kept once, as the newest.
		record(engine.Delivery{EventID: "ev-1", At: at.Add(2 * time.Second), Status: 503, Err: "HTTP 503", Dead: true, Sequence: 10, Type: engine.EventWon})

		entries, err := s.DeadLetterEntries(ctx(t), w.ID, 100)
		if err != nil {
			t.Fatal(err)
		}
		want := []engine.DeadLetter{
			{EventID: "ev-1", Type: engine.EventWon, Sequence: 10, DeadLetteredAt: at.Add(2 * time.Second), LastStatus: 503, LastError: "HTTP 503"},
			{EventID: "ev-2", Type: engine.EventRegistered, Sequence: 11, DeadLetteredAt: at.Add(time.Second), LastError: "timed out after 5s"},
			{EventID: "ev-old"},
		}
		if len(entries) != len(want) {
			t.Fatalf("entries %+v, want %+v", entries, want)
		}
		for i := range want {
			if entries[i] != want[i] {
				t.Errorf("entry %d: %+v, want %+v", i, entries[i], want[i])
			}
		}
		check := func(what string, ids []string, dead, pending int64) {
			t.Helper()
			got, err := s.DeadLetters(ctx(t), w.ID, 100)
			if err != nil {
				t.Fatal(err)
			}
			st, err := s.WebhookStatus(ctx(t), w.ID)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, ids) || st.DeadLettered != dead || st.DeadLettersPending != pending {
				t.Fatalf("%s: dead letters %v, dead_lettered %d, pending %d; want %v, %d, %d", what, got, st.DeadLettered, st.DeadLettersPending, ids, dead, pending)
			}
		}
		check("recorded", []string{"ev-1", "ev-2", "ev-old"}, 3, 3)

		record(engine.Delivery{EventID: "ev-2", At: at.Add(3 * time.Second), Status: 500, Err: "HTTP 500", Kind: engine.DeliveryKindReplay, Sequence: 11})
		record(engine.Delivery{EventID: "ev-2", At: at.Add(3 * time.Second), Status: 204, Kind: engine.DeliveryKindTest})
		check("a refused replay and a test", []string{"ev-1", "ev-2", "ev-old"}, 3, 3)
		record(engine.Delivery{EventID: "ev-old", At: at.Add(4 * time.Second), Status: 204, Kind: engine.DeliveryKindReplay})
		check("the old one replayed", []string{"ev-1", "ev-2"}, 3, 2)
		record(engine.Delivery{EventID: "ev-1", At: at.Add(5 * time.Second), Status: 200, Sequence: 10})
		check("ev-1 delivered", []string{"ev-2"}, 3, 1)
		record(engine.Delivery{EventID: "ev-2", At: at.Add(6 * time.Second), Status: 204, Kind: engine.DeliveryKindReplay, Sequence: 11})
		check("ev-2 replayed", nil, 3, 0)
		if n, _ := f.rdb.HLen(ctx(t), "fd:wh:{"+w.ID+"}:deadinfo").Result(); n != 0 {
			t.Fatalf("%d entries left", n)
		}

		record(engine.Delivery{EventID: "ev-3", At: at.Add(7 * time.Second), Status: 500, Dead: true, Sequence: 12})
		if err := s.DeleteWebhook(ctx(t), w.ID); err != nil {
			t.Fatal(err)
		}
		if n, _ := f.rdb.Exists(ctx(t), "fd:wh:{"+w.ID+"}:deadinfo", "fd:wh:{"+w.ID+"}:dead").Result(); n != 0 {
			t.Fatalf("%d dead-letter keys left after the deletion", n)
		}
	})
}

// TestWebhookDetailShowsDeadLetterEntries: one webhook as ops see it lists
// its dead letters as ids (dead_letters, as before) and, in the same
// order, with their type, stream sequence, time and last answer
// (dead_letter_entries); one kept before those were shows its id alone.
// Before, the ids alone told an integrator nothing to act on (an
// integration review).
func TestWebhookDetailShowsDeadLetterEntries(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f *fixture) {
		s, w := newWebhookStore(t, f.rdb)
		at := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
		if err := f.rdb.LPush(ctx(t), "fd:wh:{"+w.ID+"}:dead", "ev-old").Err(); err != nil {
			t.Fatal(err)
		}
		if _, err := s.RecordDelivery(ctx(t), w.ID, engine.Delivery{EventID: "ev-1", At: at, Status: 502, Err: "HTTP 502 Bad Gateway", Dead: true,
			Sequence: 42, Type: engine.EventWon}, engine.DisableRule{}); err != nil {
			t.Fatal(err)
		}
		d, err := engine.NewWebhooks(s, nil, nil).Webhook(ctx(t), engine.WebhookCaller{}, w.ID)
		if err != nil {
			t.Fatal(err)
		}
		got, err := json.Marshal(struct {
			Dead    []string            `json:"dead_letters"`
			Entries []engine.DeadLetter `json:"dead_letter_entries"`
			Pending int64               `json:"dead_letters_pending"`
		}{d.DeadLetters, d.DeadLetterEntries, d.Status.DeadLettersPending})
		if err != nil {
			t.Fatal(err)
		}
		const want = `{"dead_letters":["ev-1","ev-old"],"dead_letter_entries":[` +
			`{"event_id":"ev-1","type":"won","sequence":42,"dead_lettered_at":"2026-11-24T10:00:00Z","last_status":502,"last_error":"HTTP 502 Bad Gateway"},` +
			`{"event_id":"ev-old"}],"dead_letters_pending":2}`
		if string(got) != want {
			t.Fatalf("the webhook's dead letters:\n%s\nwant\n%s", got, want)
		}
	})
}

// TestDismissDeadLetters: dismissing takes the named dead letters off the
// list and their entries in one step, whatever the list's order, and says
// which it took: an id that is not a dead letter (never was, or dismissed
// already) is not, so a repeat takes none. One named with its sequence
// goes only while its entry has it, so one dead-lettered anew since it
// was looked at stays. dead_letters_pending drops; dead_lettered, every
// dead letter ever, does not. A dismissed event dead-lettered again is a
// dead letter again, and an unknown webhook is ErrNotFound. Before, a
// dead letter whose event the stream no longer held stayed pending
// forever.
func TestDismissDeadLetters(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f *fixture) {
		s, w := newWebhookStore(t, f.rdb)
		at := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
		record := func(id string, seq uint64) {
			t.Helper()
			if _, err := s.RecordDelivery(ctx(t), w.ID, engine.Delivery{EventID: id, At: at, Status: 500, Err: "HTTP 500", Dead: true,
				Sequence: seq, Type: engine.EventWon}, engine.DisableRule{After: 1000}); err != nil {
				t.Fatal(err)
			}
		}
		record("ev-1", 10)
		record("ev-2", 11)
		if err := f.rdb.LPush(ctx(t), "fd:wh:{"+w.ID+"}:dead", "ev-old").Err(); err != nil {
			t.Fatal(err)
		}
		record("ev-3", 12)
		dismiss := func(dls ...engine.DeadLetter) []string {
			t.Helper()
			got, err := s.DismissDeadLetters(ctx(t), w.ID, dls)
			if err != nil {
				t.Fatal(err)
			}
			return got
		}
		check := func(what string, ids []string, dead, pending int64) {
			t.Helper()
			got, err := s.DeadLetters(ctx(t), w.ID, 100)
			if err != nil {
				t.Fatal(err)
			}
			st, err := s.WebhookStatus(ctx(t), w.ID)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, ids) || st.DeadLettered != dead || st.DeadLettersPending != pending {
				t.Fatalf("%s: dead letters %v, dead_lettered %d, pending %d; want %v, %d, %d", what, got, st.DeadLettered, st.DeadLettersPending, ids, dead, pending)
			}
			n, _ := f.rdb.HLen(ctx(t), "fd:wh:{"+w.ID+"}:deadinfo").Result()
			entries := int64(len(ids))
			if slices.Contains(ids, "ev-old") {
				entries--
			}
			if n != entries {
				t.Fatalf("%s: %d entries kept, want %d", what, n, entries)
			}
		}
		check("recorded", []string{"ev-3", "ev-old", "ev-2", "ev-1"}, 3, 4)

		got := dismiss(engine.DeadLetter{EventID: "ev-2"}, engine.DeadLetter{EventID: "ev-never"}, engine.DeadLetter{EventID: "ev-old"},
			engine.DeadLetter{EventID: "ev-2"})
		if !slices.Equal(got, []string{"ev-2", "ev-old"}) {
			t.Fatalf("dismissed %v, want ev-2 and ev-old", got)
		}
		check("two dismissed", []string{"ev-3", "ev-1"}, 3, 2)
		if got := dismiss(engine.DeadLetter{EventID: "ev-2"}, engine.DeadLetter{EventID: "ev-old"}); len(got) != 0 {
			t.Fatalf("dismissed again: %v, want none", got)
		}
		check("dismissed again", []string{"ev-3", "ev-1"}, 3, 2)

		// By sequence: only while the entry has it.
		if got := dismiss(engine.DeadLetter{EventID: "ev-1", Sequence: 99}); len(got) != 0 {
			t.Fatalf("ev-1 dismissed with another sequence: %v", got)
		}
		check("another sequence", []string{"ev-3", "ev-1"}, 3, 2)
		if got := dismiss(engine.DeadLetter{EventID: "ev-1", Sequence: 10}); !slices.Equal(got, []string{"ev-1"}) {
			t.Fatalf("ev-1 with its sequence: dismissed %v", got)
		}
		check("ev-1 dismissed", []string{"ev-3"}, 3, 1)

		// Dead-lettered again: a dead letter again, with its entry.
		record("ev-2", 11)
		check("ev-2 dead-lettered again", []string{"ev-2", "ev-3"}, 4, 2)
		if got := dismiss(engine.DeadLetter{EventID: "ev-3"}, engine.DeadLetter{EventID: "ev-2"}); !slices.Equal(got, []string{"ev-3", "ev-2"}) {
			t.Fatalf("dismissed %v, want ev-3 and ev-2", got)
		}
		check("all dismissed", nil, 4, 0)

		if _, err := s.DismissDeadLetters(ctx(t), "wh-nobody-"+w.ID, []engine.DeadLetter{{EventID: "ev-1"}}); !errors.Is(err, engine.ErrNotFound) {
			t.Fatalf("an unknown webhook: %v, want ErrNotFound", err)
		}
	})
}

// TestReplayThatSucceedsEndsTheFailureStreak: after a receiver's outage,
// a replay it takes shows in the status and ends the failure streak,
// where the webhook read "failing since" with its old 401 until the next
// live event; a test it takes shows in the status but ends no streak (a
// receiver may take tests and refuse every event); the counts stay the
// ordinary deliveries'. One it refuses changes neither.
func TestReplayThatSucceedsEndsTheFailureStreak(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f *fixture) {
		for _, kind := range []string{engine.DeliveryKindReplay, engine.DeliveryKindTest} {
			s, w := newWebhookStore(t, f.rdb)
			at := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
			record := func(d engine.Delivery) {
				t.Helper()
				if _, err := s.RecordDelivery(ctx(t), w.ID, d, engine.DisableRule{}); err != nil {
					t.Fatal(err)
				}
			}
			for i := range 3 {
				record(engine.Delivery{EventID: "ev-" + itoa(i), At: at.Add(time.Duration(i) * time.Second), Status: 401, Err: "HTTP 401"})
			}
			record(engine.Delivery{EventID: "ev-0", At: at.Add(4 * time.Second), Status: 500, Err: "HTTP 500", Kind: kind})
			st, err := s.WebhookStatus(ctx(t), w.ID)
			if err != nil {
				t.Fatal(err)
			}
			if st.ConsecutiveFailures != 3 || st.LastStatus != 401 || !st.FailingSince.Equal(at) {
				t.Fatalf("%s refused: status %+v, want the streak of 3 from the live deliveries and their 401", kind, st)
			}
			record(engine.Delivery{EventID: "ev-0", At: at.Add(5 * time.Second), Status: 204, Kind: kind})
			if st, err = s.WebhookStatus(ctx(t), w.ID); err != nil {
				t.Fatal(err)
			}
			// A test taken is not a real event taken: the streak stays.
			streak, since := int64(0), time.Time{}
			if kind == engine.DeliveryKindTest {
				streak, since = 3, at
			}
			if st.ConsecutiveFailures != streak || !st.FailingSince.Equal(since) || st.LastStatus != 204 || st.LastError != "" ||
				!st.LastSuccessAt.Equal(at.Add(5*time.Second)) || !st.LastAttemptAt.Equal(at.Add(5*time.Second)) ||
				st.Delivered != 0 || st.Failed != 3 {
				t.Fatalf("%s taken: status %+v, want a streak of %d, the 204 as last attempt and success, counts unchanged", kind, st, streak)
			}
		}
	})
}

// testKeyID is an API key id no other test uses.
func testKeyID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return "key-" + hex.EncodeToString(b[:])
}

// TestWebhookCreatorBoundsAKey: a webhook records who created it (the
// key's id, or "admin" for the admin token), and a key without
// webhooks:all acts only on its own: another's webhook, on every call,
// is ErrNotFound worded as for an id that does not exist, and the list
// leaves it out. The admin token and a webhooks:all key act on all. A
// webhook from before creators were kept reads as the admin's. (Before
// this, any webhooks:write key deleted, rotated and read every webhook.)
func TestWebhookCreatorBoundsAKey(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f *fixture) {
		svc := engine.NewWebhooks(f.store, f.clock, nil)
		a := engine.WebhookCaller{Key: testKeyID()}
		b := engine.WebhookCaller{Key: testKeyID()}
		all := engine.WebhookCaller{Key: testKeyID(), All: true}
		adm := engine.WebhookCaller{}
		create := func(c engine.WebhookCaller) engine.Webhook {
			w, err := svc.CreateWebhook(ctx(t), c, "https://hooks.example/"+uniqueID(t), nil, false)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = f.store.DeleteWebhook(context.Background(), w.ID) })
			return w
		}
		wa, wadm := create(a), create(adm)
		// A webhook from before creators were kept: no "by" field.
		legacy := create(adm)
		if err := f.rdb.HDel(ctx(t), "fd:wh:{"+legacy.ID+"}:cfg", "by").Err(); err != nil {
			t.Fatal(err)
		}
		for w, want := range map[string]string{wa.ID: a.Key, wadm.ID: "admin", legacy.ID: "admin"} {
			got, err := f.store.Webhook(ctx(t), w)
			if err != nil || got.CreatedBy != want {
				t.Errorf("webhook %s: created_by %q (%v), want %q", w, got.CreatedBy, err, want)
			}
		}
		if wa.CreatedBy != a.Key || wadm.CreatedBy != "admin" {
			t.Errorf("the creation's answer: created_by %q and %q", wa.CreatedBy, wadm.CreatedBy)
		}

		mine := map[string]bool{wa.ID: true, wadm.ID: true, legacy.ID: true}
		listed := func(c engine.WebhookCaller) []string {
			ws, err := svc.Webhooks(ctx(t), c)
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, w := range ws {
				if mine[w.ID] {
					ids = append(ids, w.ID)
				}
				if w.Secret != "" {
					t.Errorf("the list shows %s's secret", w.ID)
				}
			}
			slices.Sort(ids)
			return ids
		}
		every := []string{wa.ID, wadm.ID, legacy.ID}
		slices.Sort(every)
		for name, c := range map[string]struct {
			caller engine.WebhookCaller
			want   []string
		}{"a": {a, []string{wa.ID}}, "b": {b, nil}, "admin": {adm, every}, "webhooks:all": {all, every}} {
			if got := listed(c.caller); !slices.Equal(got, c.want) {
				t.Errorf("%s lists %v, want %v", name, got, c.want)
			}
		}

		// Every call of b on another's webhook: not found, as for no webhook.
		calls := map[string]func(c engine.WebhookCaller, id string) error{
			"get":        func(c engine.WebhookCaller, id string) error { _, err := svc.Webhook(ctx(t), c, id); return err },
			"deliveries": func(c engine.WebhookCaller, id string) error { _, err := svc.Deliveries(ctx(t), c, id); return err },
			"test":       func(c engine.WebhookCaller, id string) error { _, err := svc.TestWebhook(ctx(t), c, id); return err },
			"replay": func(c engine.WebhookCaller, id string) error {
				_, err := svc.ReplayWebhook(ctx(t), c, id, engine.ReplayRequest{DeadLetters: true})
				return err
			},
			"dismiss": func(c engine.WebhookCaller, id string) error {
				_, err := svc.DismissDeadLetters(ctx(t), c, id, engine.DismissRequest{EventIDs: []string{"ev-1"}})
				return err
			},
			"enable": func(c engine.WebhookCaller, id string) error { _, err := svc.EnableWebhook(ctx(t), c, id); return err },
			"rotate": func(c engine.WebhookCaller, id string) error {
				_, err := svc.RotateWebhookSecret(ctx(t), c, id, -1)
				return err
			},
			"end-grace": func(c engine.WebhookCaller, id string) error {
				_, err := svc.EndWebhookGrace(ctx(t), c, id)
				return err
			},
			"delete": func(c engine.WebhookCaller, id string) error { return svc.DeleteWebhook(ctx(t), c, id) },
		}
		nobody := "wh-nobody-" + uniqueID(t)
		for name, call := range calls {
			for _, id := range []string{wa.ID, wadm.ID, legacy.ID} {
				for who, c := range map[string]engine.WebhookCaller{"b": b, "a": a} {
					if c == a && id == wa.ID {
						continue
					}
					err := call(c, id)
					absent := call(c, nobody)
					if !errors.Is(err, engine.ErrNotFound) || err.Error() != strings.ReplaceAll(absent.Error(), nobody, id) {
						t.Errorf("%s by %s on %s: %v, want it worded as for no webhook (%v)", name, who, id, err, absent)
					}
				}
			}
		}
		// Nothing changed: the secrets are the first ones, all still there.
		for _, w := range []engine.Webhook{wa, wadm} {
			got, err := f.store.Webhook(ctx(t), w.ID)
			if err != nil || got.Secret != w.Secret {
				t.Fatalf("%s after the refused calls: %v, secret kept %v", w.ID, err, got.Secret == w.Secret)
			}
		}

		// Its creator and a webhooks:all key act on it (no sender here:
		// a test and a replay get as far as the delivery).
		for _, c := range []engine.WebhookCaller{a, all, adm} {
			for name, call := range calls {
				if name == "delete" {
					continue
				}
				if err := call(c, wa.ID); err != nil && !errors.Is(err, engine.ErrNoDelivery) {
					t.Errorf("%s by %+v on a's webhook: %v", name, c, err)
				}
			}
		}
		if err := svc.DeleteWebhook(ctx(t), all, wadm.ID); err != nil {
			t.Errorf("webhooks:all deletes the admin's webhook: %v", err)
		}
		if err := svc.DeleteWebhook(ctx(t), a, wa.ID); err != nil {
			t.Errorf("a deletes its own webhook: %v", err)
		}
	})
}
