package webhook_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/flashdrop/flashdrop/engine"
	"github.com/flashdrop/flashdrop/internal/testkit"
	"github.com/flashdrop/flashdrop/queue"
	"github.com/flashdrop/flashdrop/queue/webhook"
)

// TestWebhookRehearsals: a rehearsal drop's events (flagged in their
// data and header, as the relay publishes them) reach only a webhook that
// asked for rehearsals; a webhook made without is passed them over, as
// settled, with no attempt in its status, and a replay to it leaves them
// out too. Ordinary events reach both, in between and after.
func TestWebhookRehearsals(t *testing.T) {
	t.Parallel()
	e := newWHEnv(t)
	plain, opted := newWHReceiver(t, nil), newWHReceiver(t, nil)
	wPlain := e.webhook("plain", plain.srv.URL)
	wOpted := e.webhookWith("opted", opted.srv.URL, true)
	plain.receive(wPlain)
	opted.receive(wOpted)
	since := time.Now().Add(-time.Second)
	d := e.deliverer(webhook.Options{AllowPrivate: true})

	type pub struct {
		id        string
		rehearsal bool
	}
	var pubs []pub
	for i, typ := range []engine.EventType{engine.EventRegistered, engine.EventWon, engine.EventRegistered,
		engine.EventWon, engine.EventSoldOut, engine.EventWon} {
		reh := i%2 == 1 // interleaved: rehearsal, ordinary, rehearsal…
		drop := "tuesday"
		if reh {
			drop = "load-rehearsal"
		}
		pubs = append(pubs, pub{e.publishEvent(drop, typ, 0, reh), reh})
	}
	// The opted-in webhook gets every event; the plain one the last,
	// ordinary one, published after all the rehearsal ones.
	testkit.Eventually(t, 10*time.Second, "every event at the opted-in webhook, the last at the plain one", func() bool {
		for _, p := range pubs {
			if !opted.has(p.id) {
				return false
			}
		}
		return plain.has(pubs[4].id)
	})
	// Every message the plain webhook's consumer was offered is settled:
	// the rehearsal ones were passed over, not waiting to be posted.
	testkit.Eventually(t, 10*time.Second, "the plain webhook's consumer settled", func() bool {
		c, err := e.js.Consumer(e.ctx(), queue.StreamName, webhook.ConsumerPrefix+wPlain.ID)
		if err != nil {
			return false
		}
		info, err := c.Info(e.ctx())
		return err == nil && info.NumAckPending == 0 && info.NumPending == 0 && info.AckFloor.Stream >= info.Delivered.Stream
	})
	for _, p := range pubs {
		if got := plain.has(p.id); got == p.rehearsal {
			t.Errorf("event %s (rehearsal %v) reached the plain webhook: %v", p.id, p.rehearsal, got)
		}
	}
	// A delivery is recorded in the status after its ack: a settled
	// consumer can be ahead of the last records (seen under load as
	// Delivered:1 and 2). Wait for the three, then judge the whole.
	var st engine.WebhookStatus
	testkit.Eventually(t, 10*time.Second, "the plain webhook's three deliveries recorded", func() bool {
		st = e.status(wPlain.ID)
		return st.Delivered >= 3
	})
	if st.Delivered != 3 || st.Failed != 0 {
		t.Errorf("plain webhook's status %+v, want 3 delivered, no failure", st)
	}
	plain.checkNoProblems() // each delivery checked against asyncapi.json
	opted.checkNoProblems()
	for _, p := range pubs {
		body := opted.body(p.id)
		if body == "" || strings.Contains(body, `"rehearsal":true`) != p.rehearsal {
			t.Errorf("event %s (rehearsal %v) delivered as %s", p.id, p.rehearsal, body)
		}
	}

	// A replay from before the first event: the plain webhook is sent
	// the ordinary ones again, the opted-in one all six.
	for _, c := range []struct {
		w    engine.Webhook
		want []string
	}{
		{wPlain, []string{pubs[0].id, pubs[2].id, pubs[4].id}},
		{wOpted, []string{pubs[0].id, pubs[1].id, pubs[2].id, pubs[3].id, pubs[4].id, pubs[5].id}},
	} {
		res, err := d.Replay(e.ctx(), c.w, engine.ReplayRequest{Since: since, Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		if !res.Done || !slices.Equal(res.EventIDs, c.want) {
			t.Errorf("replay to %s: %+v, want the events %v", c.w.ID, res, c.want)
		}
	}
}

// body is the body the receiver got for event id ("" if none).
func (r *whReceiver) body(id string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.bodies[id]
}

// TestReplayAcrossRehearsals: a replay's limit counts delivered events
// only. One limited to a single event goes past hundreds of rehearsal
// events passed over in one call (a fetch per event would make the ordered
// consumer anew each time), stops where the limit falls with the cursor on
// the first event not sent, and a call from there that finds only events
// passed over ends done with nothing delivered.
func TestReplayAcrossRehearsals(t *testing.T) {
	t.Parallel()
	e := newWHEnv(t)
	rcv := newWHReceiver(t, nil)
	w := e.webhook("plain", rcv.srv.URL)
	rcv.receive(w)
	since := time.Now().Add(-time.Second)
	first := e.publishEvent("tuesday", engine.EventRegistered, 0, false)
	for range 300 {
		e.publishEvent("load-rehearsal", engine.EventRegistered, 0, true)
	}
	second := e.publishEvent("tuesday", engine.EventWon, 0, false)
	for range 3 {
		e.publishEvent("load-rehearsal", engine.EventWon, 0, true)
	}
	d := e.deliverer(webhook.Options{AllowPrivate: true})

	replay := func(req engine.ReplayRequest) engine.ReplayResult {
		t.Helper()
		res, err := d.Replay(e.ctx(), w, req)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	r1 := replay(engine.ReplayRequest{Since: since, Limit: 1})
	if r1.Done || !slices.Equal(r1.EventIDs, []string{first}) || r1.Cursor == 0 {
		t.Fatalf("first call: %+v, want %s alone and a cursor", r1, first)
	}
	r2 := replay(engine.ReplayRequest{Cursor: r1.Cursor, Limit: 1})
	if r2.Done || !slices.Equal(r2.EventIDs, []string{second}) || r2.Cursor <= r1.Cursor+300 {
		t.Fatalf("second call: %+v, want %s past the 300 rehearsal events, not done", r2, second)
	}
	r3 := replay(engine.ReplayRequest{Cursor: r2.Cursor, Limit: 1})
	if !r3.Done || r3.Delivered != 0 || r3.Error != "" {
		t.Fatalf("third call over rehearsal events alone: %+v, want done with none delivered", r3)
	}
	rcv.checkNoProblems()
}
