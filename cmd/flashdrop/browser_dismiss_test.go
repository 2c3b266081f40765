package main

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/flashdrop/flashdrop/internal/testkit"
	"github.com/flashdrop/flashdrop/queue/webhook"
)

// TestBrowserOpsDismissDeadLetters: three dead letters whose events the
// stream no longer holds (purged) and one it holds. Replay dead letters
// sends the held one and says the three stay; the row then offers
// "Dismiss 3 that can't be delivered", which asks first (No changes
// nothing) and dismisses them (missing: true): the page says so, the
// count and the buttons go, dead_letters_pending is 0 while dead_lettered
// still counts all four, and a second dismissal finds none. A key with
// webhooks:read sees the count and no button. Before, those three stayed
// "3 dead letters waiting" for good.
func TestBrowserOpsDismissDeadLetters(t *testing.T) {
	t.Parallel()
	s := startInteg(t, func(o *webhook.Options) { o.MaxAttempts = 1 })
	rc := newReceiver(t)
	hook := s.must(t, 201, "POST", "/v1/admin/webhooks", map[string]any{"url": rc.URL + "/hook", "types": []string{"registered"}})
	id := hook.body["id"].(string)
	rc.mu.Lock()
	rc.secret = hook.body["secret"].(string)
	rc.mu.Unlock()
	status := func() httpResult { return s.call(t, "GET", "/v1/admin/webhooks/"+id, nil) }
	count := func(k string) float64 {
		st, _ := status().body["status"].(map[string]any)
		n, _ := st[k].(float64)
		return n
	}

	// Three dead-lettered, then purged from the stream; one more
	// dead-lettered that the stream keeps.
	rc.down.Store(true)
	s.sale(t, "purged", 3, "ann", "ben", "cat")
	testkit.Eventually(t, 30*time.Second, "three dead letters", func() bool { return count("dead_letters_pending") == 3 })
	nc, err := nats.Connect(s.nats.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	stream, err := js.Stream(ctx, "FLASHDROP")
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Purge(ctx, jetstream.WithPurgeSubject("flashdrop.purged.>")); err != nil {
		t.Fatal(err)
	}
	s.sale(t, "kept", 1, "dan")
	testkit.Eventually(t, 30*time.Second, "four dead letters", func() bool { return count("dead_letters_pending") == 4 })
	rc.down.Store(false)

	b := newBrowser(t, s.base)
	ops := b.tab("ops-dismiss", 1280, 800)
	b.signInOps(ops, s.admin)
	row := `document.querySelector('tr[data-webhook="` + id + `"]')`
	waiting := func(n string) string {
		return `!!` + row + ` && ` + row + `.querySelector('.hook-dead').textContent === ` + strconv.Quote(n)
	}
	b.until(ops, "four dead letters waiting", waiting("4 dead letters waiting"))
	if eval[bool](b, ops, `!!`+row+`.querySelector('button[data-role="dismiss-dead"]')`) {
		t.Error("Dismiss is offered before a replay said what can't be delivered")
	}
	click := func(role string) {
		t.Helper()
		b.run(ops, chromedp.Click(chromedp.CSS(`tr[data-webhook="`+id+`"] button[data-role="`+role+`"]`)))
	}
	wait := func(role string) {
		t.Helper()
		b.run(ops, chromedp.WaitVisible(chromedp.CSS(`tr[data-webhook="`+id+`"] button[data-role="`+role+`"]`)))
	}
	message := `document.getElementById('webhooks-message').textContent`
	want := func(what, text string) {
		t.Helper()
		if _, err := chromedp.Run(ops, chromedp.Poll[bool](message+` === `+strconv.Quote(text), chromedp.WithPollingTimeout(20*time.Second))); err != nil {
			b.shot(ops, "failure-message")
			t.Fatalf("%s: the page says %q, want %q", what, eval[string](b, ops, message), text)
		}
	}

	click("replay-dead")
	click("yes")
	want("the replay", "Replayed the dead letters of "+id+": 1 delivered. "+
		"3 stay dead letters, not sent: the stream no longer holds their events (it keeps 7 days).")
	b.until(ops, "three dead letters waiting", waiting("3 dead letters waiting"))
	wait("dismiss-dead")
	eval[bool](b, ops, row+`.scrollIntoView({ block: 'center' }) === undefined`)
	b.shotViewport(ops, "ops-dead-letters-dismiss-offered")
	if label := eval[string](b, ops, row+`.querySelector('button[data-role="dismiss-dead"]').textContent`); label != "Dismiss 3 that can't be delivered" {
		t.Errorf("the button: %q", label)
	}

	// A key with webhooks:read (and webhooks:all: the webhook is the
	// admin token's) sees the count, and no button.
	reader := s.must(t, 201, "POST", "/v1/admin/keys", map[string]any{"name": "on-call", "scopes": []string{"drops:read", "webhooks:read", "webhooks:all"}})
	readOps := b.tab("ops-dismiss-read", 1280, 800)
	b.signInOps(readOps, reader.body["secret"].(string))
	b.until(readOps, "the count for a reader", waiting("3 dead letters waiting"))
	if n := eval[int](b, readOps, row+`.querySelectorAll('button').length`); n != 0 {
		t.Errorf("a key with webhooks:read is offered %d buttons", n)
	}

	// It asks first; No dismisses nothing.
	click("dismiss-dead")
	wait("no")
	q := eval[string](b, ops, row+`.querySelector('.confirm-q').textContent`)
	if !strings.HasPrefix(q, "Dismiss the 3 dead letters of "+id+" that can't be delivered? The stream no longer holds their events") {
		t.Errorf("the question: %q", q)
	}
	eval[bool](b, ops, row+`.scrollIntoView({ block: 'center' }) === undefined`)
	b.shotViewport(ops, "ops-dead-letters-dismiss-question")
	click("no")
	wait("dismiss-dead")
	if n := count("dead_letters_pending"); n != 3 {
		t.Fatalf("after No %v dead letters pending, want 3", n)
	}

	click("dismiss-dead")
	click("yes")
	want("the dismissal", "Dismissed 3 dead letters of "+id+" that the stream no longer holds.")
	b.until(ops, "the dead letters gone from the row", waiting("")+` && !`+row+`.querySelector('button[data-role="dismiss-dead"]')
		&& !`+row+`.querySelector('button[data-role="replay-dead"]')`)
	st := status()
	if n, total := count("dead_letters_pending"), count("dead_lettered"); n != 0 || total != 4 || st.body["dead_letters"] != nil {
		t.Fatalf("after the dismissal: %v pending, %v dead-lettered, want 0 and 4, and no dead letters: %s", n, total, st.raw)
	}
	again := s.must(t, 200, "POST", "/v1/admin/webhooks/"+id+"/dead-letters/dismiss", map[string]any{"missing": true})
	if again.body["dismissed"] != 0.0 {
		t.Fatalf("a second dismissal: %s, want none dismissed", again.raw)
	}
	b.clean()
}
