package main

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/flashdrop/flashdrop/internal/testkit"
	"github.com/flashdrop/flashdrop/queue/webhook"
)

// TestBrowserOpsReplayDeadLetters: a receiver that failed has three events
// dead-lettered, then takes events again; the ops page says "3 dead
// letters waiting" beside the webhook's state and offers Replay dead
// letters, which asks first (No changes nothing), replays with
// dead_letters: true following the cursor, and says the outcome in a
// sentence: the dead letters the stream no longer holds (faked: the
// stream keeps them here), the receiver's refusal (it is down again), and
// then, reached with the keyboard, 3 delivered. The receiver gets exactly
// the dead-lettered events, once each, and none it already had; the count
// and the button go.
func TestBrowserOpsReplayDeadLetters(t *testing.T) {
	t.Parallel()
	s := startInteg(t, func(o *webhook.Options) { o.MaxAttempts = 1 })
	rc := newReceiver(t)
	hook := s.must(t, 201, "POST", "/v1/admin/webhooks", map[string]any{"url": rc.URL + "/hook", "types": []string{"registered"}})
	id := hook.body["id"].(string)
	rc.mu.Lock()
	rc.secret = hook.body["secret"].(string)
	rc.mu.Unlock()
	received := func(n int, what string) {
		t.Helper()
		testkit.Eventually(t, 30*time.Second, what, func() bool { got, _ := rc.snapshot(); return len(got) == n })
	}
	status := func() httpResult { return s.call(t, "GET", "/v1/admin/webhooks/"+id, nil) }
	pending := func() float64 {
		st, _ := status().body["status"].(map[string]any)
		n, _ := st["dead_letters_pending"].(float64)
		return n
	}

	// One event delivered before the receiver fails, three dead-lettered
	// (one attempt each) while it does, one delivered after.
	s.sale(t, "before", 1, "eve")
	received(1, "the event before the failures")
	rc.down.Store(true)
	s.sale(t, "during", 3, "ann", "ben", "cat")
	testkit.Eventually(t, 30*time.Second, "three dead letters", func() bool { return pending() == 3 })
	var dead []string
	for _, d := range status().body["dead_letters"].([]any) {
		dead = append(dead, d.(string))
	}
	rc.down.Store(false)
	s.sale(t, "after", 1, "dan")
	received(2, "the event after the failures")
	before, _ := rc.snapshot()

	b := newBrowser(t, s.base)
	ops := b.tab("ops-dead-letters", 1280, 800)
	b.signInOps(ops, s.admin)
	row := `document.querySelector('tr[data-webhook="` + id + `"]')`
	deadButton := row + `.querySelector('button[data-role="replay-dead"]')`
	b.until(ops, "the dead letters waiting, and the button", `!!`+row+` && `+row+`.querySelector('.hook-dead') !== null
		&& `+row+`.querySelector('.hook-dead').textContent === '3 dead letters waiting' && !!`+deadButton)
	if st := eval[string](b, ops, row+`.querySelector('.hook-state').textContent`); st != "enabled" {
		t.Errorf("the state beside the count: %q, want enabled", st)
	}
	shot := func(name string) {
		t.Helper()
		eval[bool](b, ops, row+`.scrollIntoView({ block: 'center' }) === undefined`)
		b.shotViewport(ops, name)
	}
	shot("ops-dead-letters-waiting")

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

	// It asks first; No sends nothing.
	click("replay-dead")
	wait("no")
	if q := eval[string](b, ops, row+`.querySelector('.confirm-q').textContent`); !strings.HasPrefix(q, "Replay the dead letters of "+id+"?") {
		t.Errorf("the question: %q", q)
	}
	shot("ops-dead-letters-question")
	click("no")
	wait("replay-dead")

	// The page follows the cursor, and says in words the dead letters the
	// stream no longer holds (answers faked: this stream holds them all).
	eval[bool](b, ops, `(() => {
		const f = window.fetch;
		window.replies = [];
		window.bodies = [];
		window.fetch = function (u, o) {
			if (new URL(String(u), location.href).pathname.endsWith('/replay') && window.replies.length) {
				window.bodies.push(o.body);
				return Promise.resolve(new Response(JSON.stringify(window.replies.shift()), { status: 200, headers: { 'Content-Type': 'application/json' } }));
			}
			return f.apply(this, arguments);
		};
		return true; })()`)
	gone := "the stream no longer holds its event (it keeps 7 days)"
	replies, _ := json.Marshal([]any{
		map[string]any{"delivered": 1, "event_ids": []string{"evt-1"}, "done": false, "cursor": 42,
			"missing": []any{map[string]any{"event_id": "evt-0", "reason": "dead-lettered before its stream sequence was kept: replay it by since"}}},
		map[string]any{"delivered": 1, "event_ids": []string{"evt-4"}, "done": true, "missing": []any{
			map[string]any{"event_id": "evt-0", "reason": "dead-lettered before its stream sequence was kept: replay it by since"},
			map[string]any{"event_id": "evt-2", "sequence": 43, "reason": gone},
			map[string]any{"event_id": "evt-3", "sequence": 44, "reason": gone}}},
	})
	eval[bool](b, ops, `(() => { window.replies = `+string(replies)+`; return true })()`)
	click("replay-dead")
	click("yes")
	want("the faked replay", "Replayed the dead letters of "+id+": 2 delivered. "+
		"1 stays a dead letter, not sent: it was dead-lettered before stream sequences were kept: replay it by time (Replay…). "+
		"2 stay dead letters, not sent: the stream no longer holds their events (it keeps 7 days).")
	if sent := eval[string](b, ops, `JSON.stringify(window.bodies)`); sent != `["{\"dead_letters\":true,\"limit\":1000}","{\"dead_letters\":true,\"cursor\":42,\"limit\":1000}"]` {
		t.Errorf("the replay calls: %s", sent)
	}

	// The receiver refuses: said, and the dead letters stay.
	rc.down.Store(true)
	wait("replay-dead")
	click("replay-dead")
	click("yes")
	b.until(ops, "the refusal said", message+`.startsWith('The replay of the dead letters of `+id+` stopped with none delivered: the receiver did not take event ')`)
	if m := eval[string](b, ops, message); !strings.Contains(m, "(HTTP 503 Service Unavailable: down for maintenance). The rest stay dead letters: replay them again once the receiver takes them.") {
		t.Errorf("the refusal: %q", m)
	}
	if n := pending(); n != 3 {
		t.Fatalf("after the refusal %v dead letters pending, want 3", n)
	}

	// With the keyboard, from Replay… beside it: Tab, Enter, and Enter on
	// the question's Yes, which has the focus.
	rc.down.Store(false)
	wait("replay-dead")
	eval[bool](b, ops, row+`.querySelector('button[data-role="replay"]').focus() === undefined`)
	b.run(ops, chromedp.KeyEvent(kb.Tab))
	if role := eval[string](b, ops, `document.activeElement.dataset.role || ''`); role != "replay-dead" {
		t.Fatalf("Tab from Replay… reached %q, not Replay dead letters", role)
	}
	b.run(ops, chromedp.KeyEvent(kb.Enter))
	wait("no")
	if role := eval[string](b, ops, `document.activeElement.dataset.role || ''`); role != "yes" {
		t.Fatalf("the question's focus is on %q, want Yes", role)
	}
	b.run(ops, chromedp.KeyEvent(kb.Enter))
	want("the replay", "Replayed the dead letters of "+id+": 3 delivered.")

	// Exactly the dead letters, once each; none of the events it had.
	got, bad := rc.snapshot()
	if bad != 0 || len(got) != len(before)+len(dead) || len(dead) != 3 {
		t.Errorf("the receiver has %d events (bad signatures %d), want the %d it had and the %d dead letters", len(got), bad, len(before), len(dead))
	}
	for _, d := range dead {
		if got[d] != 1 {
			t.Errorf("dead letter %s reached the receiver %d times, want once", d, got[d])
		}
	}
	for e, n := range before {
		if got[e] != n {
			t.Errorf("event %s, delivered before, came again (%d times)", e, got[e])
		}
	}

	// The row follows: no count, no button, and the focus on the row's
	// Replay….
	b.until(ops, "the dead letters gone from the row", row+`.querySelector('.hook-dead').textContent === '' && !`+deadButton)
	if role := eval[string](b, ops, `document.activeElement.dataset.role || ''`); role != "replay" {
		t.Errorf("after the replay the focus is on %q, want Replay…", role)
	}
	if n := pending(); n != 0 {
		t.Errorf("after the replay %v dead letters pending, want 0", n)
	}
	shot("ops-dead-letters-replayed")
	b.clean()
}
