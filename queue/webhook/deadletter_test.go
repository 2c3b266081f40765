package webhook_test

import (
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/flashdrop/flashdrop/engine"
	"github.com/flashdrop/flashdrop/engine/redisstore/redistest"
	"github.com/flashdrop/flashdrop/internal/testkit"
	"github.com/flashdrop/flashdrop/queue"
	"github.com/flashdrop/flashdrop/queue/webhook"
)

// deadLetterEnv is a webhook whose receiver fails (500) while down, and
// the deliverer giving each event two attempts.
type deadLetterEnv struct {
	*whEnv
	rcv  *whReceiver
	down *atomic.Bool
	hook engine.Webhook
	d    *webhook.Deliverer
}

func newDeadLetterEnv(t *testing.T, name string) *deadLetterEnv {
	t.Helper()
	e := newWHEnv(t)
	down := new(atomic.Bool)
	rcv := newWHReceiver(t, func(string, int) whAction {
		if down.Load() {
			return whFail
		}
		return whOK
	})
	w := e.webhook(name, rcv.srv.URL)
	rcv.receive(w)
	d := e.deliverer(webhook.Options{AllowPrivate: true, MaxAttempts: 2})
	return &deadLetterEnv{whEnv: e, rcv: rcv, down: down, hook: w, d: d}
}

// deadLetter publishes events of typ while the receiver is down and waits
// until each is dead-lettered; it returns their ids in stream order.
func (e *deadLetterEnv) deadLetter(drop string, typ engine.EventType, n int) []string {
	e.t.Helper()
	e.down.Store(true)
	ids := make([]string, n)
	for i := range ids {
		ids[i] = e.publish(drop, typ)
	}
	testkit.Eventually(e.t, 15*time.Second, "the events dead-lettered", func() bool {
		dead := e.deadLetters()
		for _, id := range ids {
			if !slices.Contains(dead, id) {
				return false
			}
		}
		return true
	})
	return ids
}

func (e *deadLetterEnv) deadLetters() []string {
	e.t.Helper()
	dead, err := e.store.DeadLetters(e.ctx(), e.hook.ID, 1000)
	if err != nil {
		e.t.Fatal(err)
	}
	return dead
}

// TestTimeReplayClearsTheDeadLettersItDelivers: a receiver fails until its
// events are dead-lettered, then comes back; a replay by time delivers
// them, and with that they are no longer the webhook's dead letters:
// dead_letters_pending counts none, while dead_lettered still counts every
// event ever dead-lettered (as delivered counts every delivery). Before,
// the list and the count stayed as they were after a replay that
// delivered them all (an integration review).
func TestTimeReplayClearsTheDeadLettersItDelivers(t *testing.T) {
	t.Parallel()
	e := newDeadLetterEnv(t, "timereplay")
	since := time.Now().Add(-time.Second)
	dead := e.deadLetter("tuesday", engine.EventWon, 3)
	if st := e.status(e.hook.ID); st.DeadLettered != 3 || st.DeadLettersPending != 3 {
		t.Fatalf("status %+v, want 3 dead-lettered, 3 pending", st)
	}

	// The receiver is back; the first replay call is cut short by its
	// limit: only what it delivered leaves the dead letters.
	e.down.Store(false)
	r, err := e.d.Replay(e.ctx(), e.hook, engine.ReplayRequest{Since: since, Limit: 1})
	if err != nil || r.Delivered != 1 || r.Done || !slices.Equal(r.EventIDs, dead[:1]) {
		t.Fatalf("first call: %+v %v", r, err)
	}
	// As a set: the events were delivered up to 4 at a time, so which of
	// them was dead-lettered first (the list is newest first) is not
	// theirs in the stream (CI saw the two swapped).
	if got, want := e.deadLetters(), []string{dead[1], dead[2]}; !slices.Equal(slices.Sorted(slices.Values(got)), slices.Sorted(slices.Values(want))) {
		t.Fatalf("dead letters after the first call: %v, want %v in any order", got, want)
	}
	r, err = e.d.Replay(e.ctx(), e.hook, engine.ReplayRequest{Cursor: r.Cursor, Limit: 10})
	if err != nil || !r.Done || !slices.Equal(r.EventIDs, dead[1:]) {
		t.Fatalf("second call: %+v %v", r, err)
	}
	if got := e.deadLetters(); len(got) != 0 {
		t.Fatalf("dead letters after the replay: %v, want none", got)
	}
	if st := e.status(e.hook.ID); st.DeadLettered != 3 || st.DeadLettersPending != 0 {
		t.Fatalf("status %+v, want 3 dead-lettered, none pending", st)
	}
	for _, id := range dead {
		if !e.rcv.has(id) {
			t.Errorf("the receiver does not have %s", id)
		}
	}
	e.rcv.checkNoProblems()
}

// TestReplayOfDeadLettersResendsExactlyThem: a receiver fails until three
// events are dead-lettered, then comes back. A replay with dead_letters
// resends exactly those, read from the stream by their sequences, in
// stream order, and none of the events delivered before or after; the
// dead letters empty. A call while the receiver still fails stops at the
// first with the error, and a limit stops with the cursor of the next,
// both as a replay by time does. Two dead letters it cannot resend are
// reported, not failed on: one whose event the stream no longer holds,
// and one kept before sequences were (its id alone); they stay.
func TestReplayOfDeadLettersResendsExactlyThem(t *testing.T) {
	t.Parallel()
	e := newDeadLetterEnv(t, "deadreplay")
	before := e.publish("tuesday", engine.EventRegistered)
	testkit.Eventually(t, 10*time.Second, "the first event delivered", func() bool { return e.rcv.has(before) })
	dead := e.deadLetter("tuesday", engine.EventWon, 2)
	dead = append(dead, e.deadLetter("wednesday", engine.EventRegistered, 1)...)
	e.down.Store(false)
	after := e.publish("tuesday", engine.EventConfirmed)
	testkit.Eventually(t, 10*time.Second, "the event after delivered", func() bool { return e.rcv.has(after) })
	replay := func(req engine.ReplayRequest) engine.ReplayResult {
		t.Helper()
		req.DeadLetters = true
		res, err := e.d.Replay(e.ctx(), e.hook, req)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}

	// Still refused: the call stops at the first, which stays dead.
	e.down.Store(true)
	r := replay(engine.ReplayRequest{Limit: 10})
	if r.Done || r.Delivered != 0 || !strings.Contains(r.Error, dead[0]) || r.Cursor == 0 {
		t.Fatalf("the refused call: %+v, want stopped at %s with a cursor", r, dead[0])
	}
	if got := e.deadLetters(); len(got) != 3 {
		t.Fatalf("dead letters after a refused replay: %v, want all 3", got)
	}
	e.down.Store(false)

	// A limit of one: the first, and the cursor of the second.
	r = replay(engine.ReplayRequest{Limit: 1})
	if r.Done || !slices.Equal(r.EventIDs, dead[:1]) || r.Cursor == 0 || r.Error != "" {
		t.Fatalf("the call limited to 1: %+v, want %s", r, dead[0])
	}
	r = replay(engine.ReplayRequest{Cursor: r.Cursor, Limit: 10})
	if !r.Done || r.Delivered != 2 || !slices.Equal(r.EventIDs, dead[1:]) || r.Cursor != 0 || len(r.Missing) != 0 {
		t.Fatalf("the call from the cursor: %+v, want %v, done", r, dead[1:])
	}
	if got := e.deadLetters(); len(got) != 0 {
		t.Fatalf("dead letters after the replay: %v, want none", got)
	}
	if st := e.status(e.hook.ID); st.DeadLettersPending != 0 || st.DeadLettered != 3 {
		t.Fatalf("status %+v, want 3 dead-lettered, none pending", st)
	}
	attempts := e.rcv.attempted()
	if attempts[before] != 1 || attempts[after] != 1 {
		t.Errorf("the events delivered before and after were sent %d and %d times, want once each", attempts[before], attempts[after])
	}
	for _, id := range dead {
		if !e.rcv.has(id) {
			t.Errorf("the receiver does not have %s", id)
		}
	}
	if r := replay(engine.ReplayRequest{Limit: 10}); !r.Done || r.Delivered != 0 {
		t.Fatalf("a replay with no dead letters: %+v, want done with none", r)
	}

	// An event the stream no longer holds, and a dead letter kept before
	// sequences were: reported, kept; the others are resent.
	gone := e.deadLetter("thursday", engine.EventWon, 2)
	entries, err := e.store.DeadLetterEntries(e.ctx(), e.hook.ID, 10)
	if err != nil {
		t.Fatal(err)
	}
	var goneSeq uint64
	for _, d := range entries {
		if d.EventID == gone[0] {
			goneSeq = d.Sequence
		}
	}
	st, err := e.js.Stream(e.ctx(), queue.StreamName)
	if err != nil {
		t.Fatal(err)
	}
	if goneSeq == 0 {
		t.Fatalf("no sequence kept for %s: %+v", gone[0], entries)
	}
	if err := st.DeleteMsg(e.ctx(), goneSeq); err != nil {
		t.Fatal(err)
	}
	rdb := redistest.Shared(t).Client()
	defer rdb.Close()
	if err := rdb.LPush(e.ctx(), "fd:wh:{"+e.hook.ID+"}:dead", "ev-kept-before").Err(); err != nil {
		t.Fatal(err)
	}
	e.down.Store(false)
	r = replay(engine.ReplayRequest{Limit: 10})
	if !r.Done || !slices.Equal(r.EventIDs, gone[1:]) || len(r.Missing) != 2 {
		t.Fatalf("the replay with two missing: %+v, want %s sent and 2 missing", r, gone[1])
	}
	for _, m := range r.Missing {
		if !(m.EventID == gone[0] && m.Sequence == goneSeq && strings.Contains(m.Reason, "no longer holds")) &&
			!(m.EventID == "ev-kept-before" && m.Sequence == 0 && strings.Contains(m.Reason, "by since")) {
			t.Errorf("missing %+v", m)
		}
	}
	if got := e.deadLetters(); !slices.Equal(got, []string{"ev-kept-before", gone[0]}) {
		t.Fatalf("dead letters left: %v, want the two missing", got)
	}
	e.rcv.checkNoProblems()
}

// TestDismissTheMissingDeadLetters: dead letters whose events the stream
// no longer holds (purged by subject, below its first sequence, and one
// deleted after a held one) can never be delivered; a replay lists them
// in missing, and MissingDeadLetters names exactly those, with the same
// reason. Dismissing the missing takes them off the list and
// dead_letters_pending, leaves the one still held and the one kept
// without a sequence (its event may be stored: a replay by since sends
// it), and keeps dead_lettered; a repeat dismisses none. The one kept
// without a sequence is dismissed by its id. Before, they stayed pending
// forever.
func TestDismissTheMissingDeadLetters(t *testing.T) {
	t.Parallel()
	e := newDeadLetterEnv(t, "dismiss")
	purged := e.deadLetter("tuesday", engine.EventWon, 2)
	held := e.deadLetter("wednesday", engine.EventWon, 1)
	deleted := e.deadLetter("thursday", engine.EventWon, 1)
	st, err := e.js.Stream(e.ctx(), queue.StreamName)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Purge(e.ctx(), jetstream.WithPurgeSubject("flashdrop.tuesday.>")); err != nil {
		t.Fatal(err)
	}
	entries, err := e.store.DeadLetterEntries(e.ctx(), e.hook.ID, 10)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range entries {
		if d.EventID == deleted[0] {
			if err := st.DeleteMsg(e.ctx(), d.Sequence); err != nil {
				t.Fatal(err)
			}
		}
	}
	rdb := redistest.Shared(t).Client()
	defer rdb.Close()
	if err := rdb.LPush(e.ctx(), "fd:wh:{"+e.hook.ID+"}:dead", "ev-kept-before").Err(); err != nil {
		t.Fatal(err)
	}
	gone := append(slices.Clone(purged), deleted...)
	slices.Sort(gone)

	// What a replay reports missing, with a sequence, is what
	// MissingDeadLetters names, for the same reason.
	e.down.Store(true)
	r, err := e.d.Replay(e.ctx(), e.hook, engine.ReplayRequest{DeadLetters: true, Limit: 10})
	if err != nil || r.Delivered != 0 || !strings.Contains(r.Error, held[0]) {
		t.Fatalf("the replay: %+v %v, want stopped at %s", r, err, held[0])
	}
	missing, err := e.d.MissingDeadLetters(e.ctx(), e.hook)
	if err != nil {
		t.Fatal(err)
	}
	var named []string
	for _, m := range missing {
		if m.Sequence == 0 || !strings.Contains(m.Reason, "no longer holds") {
			t.Errorf("missing %+v, want its sequence and that the stream no longer holds it", m)
		}
		named = append(named, m.EventID)
	}
	if slices.Sort(named); !slices.Equal(named, gone) {
		t.Fatalf("MissingDeadLetters named %v, want %v", named, gone)
	}
	e.down.Store(false)

	hooks := engine.NewWebhooks(e.store, nil, nil)
	hooks.SetSender(e.d)
	res, err := hooks.DismissDeadLetters(e.ctx(), engine.WebhookCaller{}, e.hook.ID, engine.DismissRequest{Missing: true})
	if err != nil {
		t.Fatal(err)
	}
	got := slices.Sorted(slices.Values(res.EventIDs))
	if res.Dismissed != 3 || !slices.Equal(got, gone) || len(res.NotFound) != 0 {
		t.Fatalf("dismissed the missing: %+v, want %v", res, gone)
	}
	if got, want := slices.Sorted(slices.Values(e.deadLetters())), slices.Sorted(slices.Values([]string{"ev-kept-before", held[0]})); !slices.Equal(got, want) {
		t.Fatalf("dead letters left: %v, want %v", got, want)
	}
	if st := e.status(e.hook.ID); st.DeadLettered != 4 || st.DeadLettersPending != 2 {
		t.Fatalf("status %+v, want 4 dead-lettered, 2 pending", st)
	}
	if res, err := hooks.DismissDeadLetters(e.ctx(), engine.WebhookCaller{}, e.hook.ID, engine.DismissRequest{Missing: true}); err != nil || res.Dismissed != 0 {
		t.Fatalf("dismissed the missing again: %+v %v, want none", res, err)
	}

	// By id: the one kept without a sequence; one already dismissed is
	// not found.
	res, err = hooks.DismissDeadLetters(e.ctx(), engine.WebhookCaller{}, e.hook.ID, engine.DismissRequest{EventIDs: []string{"ev-kept-before", purged[0]}})
	if err != nil || res.Dismissed != 1 || !slices.Equal(res.EventIDs, []string{"ev-kept-before"}) || !slices.Equal(res.NotFound, purged[:1]) {
		t.Fatalf("dismissed by id: %+v %v", res, err)
	}

	// The one still held is delivered by a replay, as ever.
	r, err = e.d.Replay(e.ctx(), e.hook, engine.ReplayRequest{DeadLetters: true, Limit: 10})
	if err != nil || !r.Done || !slices.Equal(r.EventIDs, held) || len(r.Missing) != 0 {
		t.Fatalf("the replay after the dismissals: %+v %v, want %v and none missing", r, err, held)
	}
	if st := e.status(e.hook.ID); st.DeadLettered != 4 || st.DeadLettersPending != 0 {
		t.Fatalf("status %+v, want 4 dead-lettered, none pending", st)
	}
	e.rcv.checkNoProblems()
}
