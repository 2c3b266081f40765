package webhook_test

import (
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flashdrop/flashdrop/engine"
	"github.com/flashdrop/flashdrop/internal/testkit"
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
	if got := e.deadLetters(); !slices.Equal(got, []string{dead[2], dead[1]}) {
		t.Fatalf("dead letters after the first call: %v, want %v", got, []string{dead[2], dead[1]})
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
