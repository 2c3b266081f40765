package main

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/flashdrop/flashdrop/internal/testkit"
	"github.com/flashdrop/flashdrop/queue/webhook"
)

// TestBrowserOpsWebhookEnableReplay: a receiver that fails has its events
// dead-lettered and its webhook disabled; the ops page shows the state
// beside the webhook, readable whole on a 1280-px screen, and offers
// Enable and Replay, each asking first as Pause does (No changes
// nothing) and saying the server's answer: a refusal in words (a token
// without webhooks:write; a replay already running), then enabled, then
// the dead letters replayed from before the failures began, each
// reaching the receiver once. A key with webhooks:read only sees the
// state, the dead letters waiting and the delivery log, no button, and a
// sentence saying changes need webhooks:write; a key without either
// scope sees a sentence and no button.
func TestBrowserOpsWebhookEnableReplay(t *testing.T) {
	t.Parallel()
	s := startInteg(t, func(o *webhook.Options) { o.MaxAttempts = 1 },
		"--webhook-disable-after", "3", "--webhook-disable-span", "1ms")
	rc := newReceiver(t)
	rc.down.Store(true)
	hook := s.must(t, 201, "POST", "/v1/admin/webhooks", map[string]any{
		"url":   rc.URL + "/a/rather/long/path/to/the/shops/webhook/receiver/endpoint?tenant=flashdrop-production-eu-west",
		"types": []string{"registered"}})
	id := hook.body["id"].(string)
	rc.mu.Lock()
	rc.secret = hook.body["secret"].(string)
	rc.mu.Unlock()
	// Three registered events, dead-lettered; when they failed within
	// one millisecond (no span yet), a fourth disables the webhook.
	status := func() httpResult { return s.call(t, "GET", "/v1/admin/webhooks/"+id, nil) }
	s.sale(t, "hooked", 3, "ann", "ben", "cat")
	registered := 3
	testkit.Eventually(t, 30*time.Second, "three dead letters", func() bool {
		dead, _ := status().body["dead_letters"].([]any)
		return len(dead) == 3
	})
	if status().body["disabled"] != true {
		s.sale(t, "hooked-again", 1, "dan")
		registered++
	}
	testkit.Eventually(t, 30*time.Second, "the webhook disabled", func() bool { return status().body["disabled"] == true })
	dead := status().body["dead_letters"].([]any)

	b := newBrowser(t, s.base)
	ops := b.tab("ops-webhooks", 1280, 800)
	b.signInOps(ops, s.admin)
	row := `document.querySelector('tr[data-webhook="` + id + `"]')`
	b.until(ops, "the disabled webhook", `!!`+row+` && `+row+`.querySelector('.hook-state').textContent.startsWith('disabled since ')
		&& `+row+`.querySelector('.hook-state').textContent.includes('3 consecutive failed deliveries')`)

	// Readable on a laptop: the table does not scroll sideways, and the
	// state, the buttons and the last status are on the screen.
	wide := eval[string](b, ops, `(() => {
		const wrap = document.getElementById('webhooks').parentElement, bad = [], tr = `+row+`;
		if (wrap.scrollWidth > wrap.clientWidth) bad.push('the table scrolls: ' + wrap.scrollWidth + ' > ' + wrap.clientWidth);
		if (document.documentElement.scrollWidth > window.innerWidth) bad.push('the page is ' + document.documentElement.scrollWidth + ' px wide');
		for (const el of [tr.querySelector('.hook-state'), tr.querySelector('.hook-last'), tr.querySelector('button[data-role="enable"]'), tr.querySelector('button[data-role="replay"]')]) {
			if (!el) { bad.push('missing'); continue; }
			const r = el.getBoundingClientRect();
			if (r.width === 0 || r.right > window.innerWidth || r.right > wrap.getBoundingClientRect().right) bad.push(el.className + el.textContent.slice(0, 20) + ' ends at ' + Math.round(r.right));
		}
		return bad.join('; '); })()`)
	if wide != "" {
		b.shot(ops, "webhooks-too-wide")
		t.Errorf("the webhooks table at 1280 px: %s", wide)
	}
	b.shotViewport(ops, "ops-webhook-disabled")

	// A key with webhooks:read only (an on-call person's, with
	// webhooks:all to see the webhooks it did not create): the same state
	// and dead letters waiting, the delivery log, and no Enable or Replay
	// button (each would be refused), but a sentence saying so.
	reader := s.must(t, 201, "POST", "/v1/admin/keys", map[string]any{"name": "on-call", "scopes": []string{"drops:read", "webhooks:read", "webhooks:all"}})
	readOps := b.tab("ops-webhooks-read", 1280, 800)
	b.signInOps(readOps, reader.body["secret"].(string))
	b.until(readOps, "the state for a read-only key", `!!`+row+` && `+row+`.querySelector('.hook-state').textContent.startsWith('disabled since ')
		&& /^\d+ dead letters? waiting$/.test(`+row+`.querySelector('.hook-dead').textContent)
		&& !!document.querySelector('#deliveries tbody tr[data-event]')
		&& !document.getElementById('webhooks-readonly').hidden`)
	if eval[bool](b, readOps, `!!document.querySelector('#webhooks button')`) {
		t.Error("a key with webhooks:read only is offered a webhook button")
	}
	if say := eval[string](b, readOps, `document.getElementById('webhooks-readonly').textContent`); say != "This token may only read the webhooks: enabling or replaying one needs the scope webhooks:write." {
		t.Errorf("the read-only sentence: %q", say)
	}
	eval[bool](b, readOps, `(() => { document.getElementById('webhooks-note').previousElementSibling.scrollIntoView(); return true })()`)
	b.shotViewport(readOps, "ops-webhook-read-only")
	if !eval[bool](b, ops, `document.getElementById('webhooks-readonly').hidden && !!`+row+`.querySelector('button[data-role="enable"]')`) {
		t.Error("the admin token's page says it may only read, or offers no Enable")
	}
	if !eval[bool](b, readOps, `document.getElementById('webhooks-own').hidden`) || !eval[bool](b, ops, `document.getElementById('webhooks-own').hidden`) {
		t.Error("the page of the admin token or of a webhooks:all key says it sees only its own webhooks")
	}
	// Without webhooks:all a key sees only the webhooks it created: none,
	// for one that only reads, and the page says why the table is empty.
	own := s.must(t, 201, "POST", "/v1/admin/keys", map[string]any{"name": "own only", "scopes": []string{"drops:read", "webhooks:read"}})
	ownOps := b.tab("ops-webhooks-own", 1280, 800)
	b.signInOps(ownOps, own.body["secret"].(string))
	b.until(ownOps, "the table of a key that made no webhook", `document.querySelector('#webhooks tbody').textContent === 'No webhooks created by this key.'
		&& !document.getElementById('webhooks-own').hidden`)
	if say := eval[string](b, ownOps, `document.getElementById('webhooks-own').textContent`); say != "This key sees only the webhooks it created: a key with the scope webhooks:all sees every webhook." {
		t.Errorf("the own-webhooks sentence: %q", say)
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

	// Enable asks; No leaves it as it is.
	click("enable")
	wait("no")
	if q := eval[string](b, ops, row+`.querySelector('.confirm-q').textContent`); !strings.HasPrefix(q, "Enable "+id+"?") {
		t.Errorf("the question: %q", q)
	}
	click("no")
	wait("enable")
	if r := s.call(t, "GET", "/v1/admin/webhooks/"+id, nil); r.body["disabled"] != true {
		t.Fatalf("No enabled the webhook: %s", r.raw)
	}

	// Refusals are sentences (faked: this admin token holds every scope).
	eval[bool](b, ops, `(() => {
		const f = window.fetch;
		window.faults = {};
		window.fetch = function (u, o) {
			const fault = window.faults[new URL(String(u), location.href).pathname];
			if (fault) return Promise.resolve(new Response(fault.body, { status: fault.status, headers: { 'Content-Type': 'application/problem+json' } }));
			return f.apply(this, arguments);
		};
		return true; })()`)
	setFault := func(path, status, body string) {
		t.Helper()
		eval[bool](b, ops, `(() => { window.faults[`+strconv.Quote(path)+`] = { status: `+status+`, body: `+strconv.Quote(body)+` }; return true })()`)
	}
	setFault("/v1/admin/webhooks/"+id+"/enable", "403", `{"title":"Missing scope","status":403,"code":"forbidden","detail":"this credential lacks the scope webhooks:write"}`)
	click("enable")
	click("yes")
	b.until(ops, "the missing scope said", message+` === 'Could not enable `+id+`: This token lacks the scope webhooks:write: it cannot enable a webhook.'`)
	wait("enable")
	setFault("/v1/admin/webhooks/"+id+"/replay", "409", `{"title":"Replay running","status":409,"code":"replay_running"}`)
	click("replay")
	click("yes")
	b.until(ops, "the running replay said", message+`.includes('already running')`)
	eval[bool](b, ops, `(() => { window.faults = {}; return true })()`)

	// Yes: enabled, and the row follows.
	rc.down.Store(false)
	wait("enable")
	click("enable")
	click("yes")
	b.until(ops, "the enable answered", message+`.startsWith('Enabled `+id+`: ')`)
	if r := s.call(t, "GET", "/v1/admin/webhooks/"+id, nil); r.body["disabled"] != false {
		t.Fatalf("Yes did not enable the webhook: %s", r.raw)
	}
	b.until(ops, "the row enabled", row+`.querySelector('.hook-state').textContent === 'enabled' && !`+row+`.querySelector('button[data-role="enable"]')`)

	// Replay: from before the failures began, by default; the dead
	// letters reach the receiver, once each.
	click("replay")
	b.run(ops, chromedp.WaitVisible(chromedp.CSS(`tr[data-webhook="`+id+`"] input[data-role="since"]`)))
	since, err := time.Parse("2006-01-02T15:04Z", eval[string](b, ops, row+`.querySelector('input[data-role="since"]').value`)+"Z")
	if err != nil || time.Since(since) < 5*time.Minute || time.Since(since) > 10*time.Minute {
		t.Errorf("the replay offers since %v (%v): want 5 minutes before the failures began", since, err)
	}
	b.shotViewport(ops, "ops-webhook-replay-question")
	click("yes")
	b.until(ops, "the replay answered", message+` === 'Replayed `+strconv.Itoa(registered)+` events stored since `+since.UTC().Format("2006-01-02 15:04:05")+` UTC to `+id+`: done.'`)
	got, bad := rc.snapshot()
	for _, d := range dead {
		if got[d.(string)] != 1 || bad != 0 {
			t.Errorf("dead letter %s reached the receiver %d times (bad signatures %d), want once", d, got[d.(string)], bad)
		}
	}
	wait("replay")

	// A key without webhooks:read (or webhooks:write): a sentence, and no
	// button.
	key := s.must(t, 201, "POST", "/v1/admin/keys", map[string]any{"name": "ops page", "scopes": []string{"drops:read", "ops"}})
	keyOps := b.tab("ops-webhooks-key", 1280, 800)
	b.signInOps(keyOps, key.body["secret"].(string))
	b.until(keyOps, "the missing scope said", `document.querySelector('#webhooks tbody').textContent.includes('lacks the scope webhooks:read (or webhooks:write, which includes it): the webhooks cannot be shown, enabled or replayed')`)
	if eval[bool](b, keyOps, `!!document.querySelector('#webhooks button')`) {
		t.Error("a key without webhooks:read is offered a webhook button")
	}
	b.clean()
}
