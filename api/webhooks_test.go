package api_test

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flashdrop/flashdrop/api"
	"github.com/flashdrop/flashdrop/engine"
)

func TestWebhookAdminRoutes(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	created := h.do("POST", "/v1/admin/webhooks", admin, map[string]any{
		"url": "https://social.example/hooks/flashdrop", "types": []string{"won", "confirmed"},
	})
	h.expect(created, 201, "")
	id, secret := created.str("id"), created.str("secret")
	if !strings.HasPrefix(id, "wh-") || !strings.HasPrefix(secret, "whsec_") || len(secret) < 40 {
		t.Fatalf("created: %s", created.raw)
	}
	got := h.do("GET", "/v1/admin/webhooks/"+id, admin, nil)
	h.expect(got, 200, "")
	if strings.Contains(string(got.raw), secret) || got.body["status"] == nil {
		t.Fatalf("the secret is shown once only, and the status always: %s", got.raw)
	}
	list := h.do("GET", "/v1/admin/webhooks", admin, nil)
	if list.status != 200 || !strings.Contains(string(list.raw), id) || strings.Contains(string(list.raw), secret) {
		t.Fatalf("list: %s", list.raw)
	}
	h.expect(h.do("POST", "/v1/admin/webhooks", admin, map[string]any{"url": "http://127.0.0.1:9/x"}), 400, "invalid")
	h.expect(h.do("POST", "/v1/admin/webhooks", admin, map[string]any{"url": "ftp://social.example/"}), 400, "invalid")
	h.expect(h.do("POST", "/v1/admin/webhooks", admin, map[string]any{"url": "https://a.example/", "types": []string{"bought"}}), 400, "invalid")
	h.expect(h.do("POST", "/v1/admin/webhooks", h.token("alice"), map[string]any{"url": "https://a.example/"}), 403, "forbidden")
	h.expect(h.do("DELETE", "/v1/admin/webhooks/"+id, admin, nil), 204, "")
	h.expect(h.do("GET", "/v1/admin/webhooks/"+id, admin, nil), 404, "not_found")
	h.expect(h.do("DELETE", "/v1/admin/webhooks/"+id, admin, nil), 404, "not_found")
}

// replaySender is a webhook sender whose first replay waits until
// released, so that a test can hold a replay running.
type replaySender struct {
	running, release chan struct{}
	calls            atomic.Int32
	last             atomic.Pointer[engine.ReplayRequest]
	// missing is what MissingDeadLetters answers.
	missing []engine.MissingDeadLetter
}

func newReplaySender() *replaySender {
	return &replaySender{running: make(chan struct{}), release: make(chan struct{})}
}

func (s *replaySender) Test(context.Context, engine.Webhook) (engine.WebhookTestResult, error) {
	return engine.WebhookTestResult{}, nil
}

func (s *replaySender) Replay(ctx context.Context, _ engine.Webhook, req engine.ReplayRequest) (engine.ReplayResult, error) {
	s.last.Store(&req)
	if s.calls.Add(1) == 1 {
		close(s.running)
		select {
		case <-s.release:
		case <-ctx.Done():
		}
	}
	return engine.ReplayResult{EventIDs: []string{}, Done: true}, nil
}

// MissingDeadLetters answers s.missing: what the stream no longer holds.
func (s *replaySender) MissingDeadLetters(context.Context, engine.Webhook) ([]engine.MissingDeadLetter, error) {
	return s.missing, nil
}

// withSender gives the harness's webhook service a sender.
func withSender(s engine.WebhookSender) func(*api.Config) {
	return func(c *api.Config) { c.Webhooks.(*engine.Webhooks).SetSender(s) }
}

// TestKeyedReplayRetriedAfterReplayRunning: a 409 replay_running is a
// temporary refusal, not kept under the Idempotency-Key: the same keyed
// call once the running replay has ended runs the replay (the README
// promises 409 only "while one runs"). A final answer is then kept.
func TestKeyedReplayRetriedAfterReplayRunning(t *testing.T) {
	t.Parallel()
	sender := newReplaySender()
	h := newHarness(t, withSender(sender))
	created := h.do("POST", "/v1/admin/webhooks", admin, map[string]any{"url": "https://social.example/hooks/replay"})
	h.expect(created, 201, "")
	path := "/v1/admin/webhooks/" + created.str("id") + "/replay"
	body := map[string]any{"cursor": 1}

	first := make(chan response, 1)
	go func() { first <- h.do("POST", path, admin, body) }()
	<-sender.running
	key := "rk-" + dropID(t)
	h.expect(h.do("POST", path, admin, body, "Idempotency-Key", key), 409, "replay_running")
	close(sender.release)
	h.expect(<-first, 200, "")

	again := h.do("POST", path, admin, body, "Idempotency-Key", key)
	h.expect(again, 200, "")
	if again.header.Get("Idempotent-Replayed") != "" || sender.calls.Load() != 2 {
		t.Fatalf("the keyed retry after the replay ended was answered the stored 409, not run (replays: %d): %s",
			sender.calls.Load(), again.raw)
	}
	kept := h.do("POST", path, admin, body, "Idempotency-Key", key)
	h.expect(kept, 200, "")
	if kept.header.Get("Idempotent-Replayed") != "true" || sender.calls.Load() != 2 {
		t.Fatalf("a final answer must be kept under its key (replays: %d): %s", sender.calls.Load(), kept.raw)
	}
}

// TestReplayBodyValidation: since and cursor are exclusive, a cursor is at
// least 1, and a limit of 0 is the default (as openapi.json says) while
// one outside 1 to 1000 is refused with a message that says so.
func TestReplayBodyValidation(t *testing.T) {
	t.Parallel()
	sender := newReplaySender()
	close(sender.release)
	h := newHarness(t, withSender(sender))
	created := h.do("POST", "/v1/admin/webhooks", admin, map[string]any{"url": "https://social.example/hooks/v"})
	h.expect(created, 201, "")
	path := "/v1/admin/webhooks/" + created.str("id") + "/replay"
	since := "2026-11-24T09:55:00Z"

	for _, c := range []struct {
		body         map[string]any
		field, words string
	}{
		{map[string]any{"since": since, "cursor": 40}, "cursor", "exclusive"},
		{map[string]any{"since": since, "cursor": 0}, "cursor", "exclusive"},
		{map[string]any{"cursor": 0}, "cursor", "cursor must be at least 1"},
		{map[string]any{}, "since", "since is required"},
		{map[string]any{"since": since, "limit": -1}, "limit", "limit must be 1 to 1000, or 0"},
		{map[string]any{"cursor": 3, "limit": 1001}, "limit", "limit must be 1 to 1000, or 0"},
	} {
		r := h.do("POST", path, admin, c.body)
		h.expect(r, 400, "invalid")
		if r.str("field") != c.field || !strings.Contains(r.str("detail"), c.words) {
			t.Errorf("%v: field %q, detail %q; want field %q saying %q", c.body, r.str("field"), r.str("detail"), c.field, c.words)
		}
	}
	if n := sender.calls.Load(); n != 0 {
		t.Fatalf("%d refused bodies reached the sender", n)
	}

	for _, c := range []struct {
		body map[string]any
		want engine.ReplayRequest
	}{
		{map[string]any{"since": since, "limit": 0}, engine.ReplayRequest{Since: t0.Add(-5 * time.Minute), Limit: engine.DefaultReplayEvents}},
		{map[string]any{"cursor": 7, "limit": 1000}, engine.ReplayRequest{Cursor: 7, Limit: 1000}},
		{map[string]any{"cursor": 1}, engine.ReplayRequest{Cursor: 1, Limit: engine.DefaultReplayEvents}},
	} {
		h.expect(h.do("POST", path, admin, c.body), 200, "")
		got := sender.last.Load()
		if got == nil || !got.Since.Equal(c.want.Since) || got.Cursor != c.want.Cursor || got.Limit != c.want.Limit {
			t.Errorf("%v: the sender got %+v, want %+v", c.body, got, c.want)
		}
	}
}

// TestWebhookTypesReadAsCreated: a webhook's types read back as created:
// [] (every type) rather than null when none were given, and each type
// once, in the order first given.
func TestWebhookTypesReadAsCreated(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	for _, c := range []struct {
		types any
		want  string
	}{
		{nil, `[]`},
		{[]string{}, `[]`},
		{[]string{"won", "won", "confirmed", "won"}, `["won","confirmed"]`},
	} {
		body := map[string]any{"url": "https://social.example/hooks/types"}
		if c.types != nil {
			body["types"] = c.types
		}
		created := h.do("POST", "/v1/admin/webhooks", admin, body)
		h.expect(created, 201, "")
		id := created.str("id")
		got := h.do("GET", "/v1/admin/webhooks/"+id, admin, nil)
		h.expect(got, 200, "")
		list := h.do("GET", "/v1/admin/webhooks", admin, nil)
		h.expect(list, 200, "")
		var listed any
		for _, w := range list.at("webhooks").([]any) {
			if w.(map[string]any)["id"] == id {
				listed = w.(map[string]any)["types"]
			}
		}
		for what, v := range map[string]any{"create": created.at("types"), "get": got.at("types"), "list": listed} {
			if js, _ := json.Marshal(v); string(js) != c.want {
				t.Errorf("types %v: %s answered %s, want %s", c.types, what, js, c.want)
			}
		}
	}
}

// TestReplayDeadLettersBody: {"dead_letters": true} asks the sender for
// the webhook's dead letters, with no since (a cursor and a limit go with
// it); with since it is refused, the two being different replays.
func TestReplayDeadLettersBody(t *testing.T) {
	t.Parallel()
	sender := newReplaySender()
	close(sender.release)
	h := newHarness(t, withSender(sender))
	created := h.do("POST", "/v1/admin/webhooks", admin, map[string]any{"url": "https://social.example/hooks/dead"})
	h.expect(created, 201, "")
	path := "/v1/admin/webhooks/" + created.str("id") + "/replay"

	r := h.do("POST", path, admin, map[string]any{"dead_letters": true, "since": "2026-11-24T09:55:00Z"})
	h.expect(r, 400, "invalid")
	if r.str("field") != "dead_letters" || !strings.Contains(r.str("detail"), "exclusive") {
		t.Errorf("dead_letters with since: field %q, detail %q", r.str("field"), r.str("detail"))
	}
	if n := sender.calls.Load(); n != 0 {
		t.Fatalf("a refused body reached the sender")
	}
	for _, c := range []struct {
		body map[string]any
		want engine.ReplayRequest
	}{
		{map[string]any{"dead_letters": true}, engine.ReplayRequest{DeadLetters: true, Limit: engine.DefaultReplayEvents}},
		{map[string]any{"dead_letters": true, "cursor": 9, "limit": 5}, engine.ReplayRequest{DeadLetters: true, Cursor: 9, Limit: 5}},
	} {
		h.expect(h.do("POST", path, admin, c.body), 200, "")
		got := sender.last.Load()
		if got == nil || !got.DeadLetters || !got.Since.IsZero() || got.Cursor != c.want.Cursor || got.Limit != c.want.Limit {
			t.Errorf("%v: the sender got %+v, want %+v", c.body, got, c.want)
		}
	}
}

// TestWebhooksReadScope: a key with webhooks:read reads the webhooks, one
// webhook and its delivery log, and is refused every change (403 naming
// webhooks:write), so an on-call person's or a dashboard's key cannot
// delete a webhook or rotate its secret. A key with webhooks:write still
// reads (it includes webhooks:read: keys made before it existed keep
// working), and a key with neither is refused the reads naming both. The
// list says the caller's scopes (Flashdrop-Scopes) for a page to offer
// only what the credential may do. A key manager with webhooks:write may
// grant webhooks:read, a part of what it holds; one without may not. The
// webhook is the admin token's, so the keys here hold webhooks:all too
// (TestWebhooksOfAnotherKeyAreNotFound has the keys without it).
func TestWebhooksReadScope(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	created := h.do("POST", "/v1/admin/webhooks", admin, map[string]any{"url": "https://social.example/hooks/read"})
	h.expect(created, 201, "")
	id := created.str("id")
	_, read := h.createKey(admin, "dashboard", "webhooks:read", "webhooks:all")
	_, write := h.createKey(admin, "integration", "webhooks:write", "webhooks:all")
	_, other := h.createKey(admin, "drops", "drops:read", "ops")

	reads := []string{"/v1/admin/webhooks", "/v1/admin/webhooks/" + id, "/v1/admin/webhooks/" + id + "/deliveries"}
	for _, key := range []string{read, write} {
		for _, path := range reads {
			r := h.do("GET", path, key, nil)
			if h.expect(r, 200, ""); !strings.Contains(string(r.raw), id) && !strings.HasSuffix(path, "/deliveries") {
				t.Errorf("GET %s: %s", path, r.raw)
			}
		}
	}
	for key, want := range map[string]string{read: "webhooks:all,webhooks:read", write: "webhooks:all,webhooks:write", admin: strings.Join(engine.AllScopes, ",")} {
		if got := h.do("GET", "/v1/admin/webhooks", key, nil).header.Get("Flashdrop-Scopes"); got != want {
			t.Errorf("Flashdrop-Scopes %q, want %q", got, want)
		}
	}
	for _, path := range reads {
		r := h.do("GET", path, other, nil)
		h.expect(r, 403, "forbidden")
		if d := r.str("detail"); d != "this credential lacks the scope webhooks:read (or webhooks:write, which includes it)" {
			t.Errorf("GET %s without either scope: detail %q", path, d)
		}
	}

	writes := []struct {
		method, path string
		body         any
	}{
		{"POST", "/v1/admin/webhooks", map[string]any{"url": "https://social.example/hooks/more"}},
		{"DELETE", "/v1/admin/webhooks/" + id, nil},
		{"POST", "/v1/admin/webhooks/" + id + "/test", nil},
		{"POST", "/v1/admin/webhooks/" + id + "/replay", map[string]any{"dead_letters": true}},
		{"POST", "/v1/admin/webhooks/" + id + "/enable", nil},
		{"POST", "/v1/admin/webhooks/" + id + "/rotate", map[string]any{}},
		{"POST", "/v1/admin/webhooks/" + id + "/end-grace", nil},
	}
	for _, w := range writes {
		r := h.do(w.method, w.path, read, w.body)
		h.expect(r, 403, "forbidden")
		if d := r.str("detail"); d != "this credential lacks the scope webhooks:write" {
			t.Errorf("%s %s with webhooks:read: detail %q", w.method, w.path, d)
		}
	}
	// Nothing changed: the webhook is there, with its first secret.
	if got := h.do("GET", "/v1/admin/webhooks/"+id, write, nil); got.status != 200 || got.body["previous_secret_until"] != nil {
		t.Fatalf("after the refused changes: %d %s", got.status, got.raw)
	}

	_, mgr := h.createKey(admin, "key manager", "keys:write", "webhooks:write", "webhooks:all")
	_, sub := h.createKey(mgr, "on-call", "webhooks:read", "webhooks:all")
	h.expect(h.do("GET", "/v1/admin/webhooks/"+id, sub, nil), 200, "")
	_, weak := h.createKey(admin, "weak manager", "keys:write", "drops:read")
	refused := h.do("POST", "/v1/admin/keys", weak, map[string]any{"name": "x", "scopes": []string{"webhooks:read"}})
	h.expect(refused, 403, "forbidden")
	if !strings.Contains(refused.str("detail"), "webhooks:read (or webhooks:write") {
		t.Errorf("the grant's refusal: %s", refused.raw)
	}
}

// TestWebhooksOfAnotherKeyAreNotFound: a webhook records who created it,
// and a key with webhooks:write (what the README gives a social
// integration) acts only on its own. Key B gets 404 not_found on every
// route for key A's webhook and for the admin token's, worded as for an
// id that does not exist, and lists neither; before, B deleted A's
// webhook (204), listed every URL and rotated any secret, so it could
// sign fake events to the shop's backend. The admin token and a key with
// webhooks:all see and act on both; a webhooks:read key that made none
// sees none.
func TestWebhooksOfAnotherKeyAreNotFound(t *testing.T) {
	t.Parallel()
	sender := newReplaySender()
	close(sender.release)
	h := newHarness(t, withSender(sender))
	aID, a := h.createKey(admin, "order sync", "events:read", "webhooks:write")
	_, b := h.createKey(admin, "winner cards", "events:read", "webhooks:write")
	_, all := h.createKey(admin, "ops dashboard", "webhooks:write", "webhooks:all")
	_, reader := h.createKey(admin, "on-call", "webhooks:read")

	made := h.do("POST", "/v1/admin/webhooks", a, map[string]any{"url": "https://shop.example/hooks/orders", "types": []string{"confirmed"}})
	h.expect(made, 201, "")
	wa, secretA := made.str("id"), made.str("secret")
	if made.str("created_by") != aID {
		t.Fatalf("created by key A: %s", made.raw)
	}
	madeAdm := h.do("POST", "/v1/admin/webhooks", admin, map[string]any{"url": "https://shop.example/hooks/all"})
	h.expect(madeAdm, 201, "")
	wadm := madeAdm.str("id")
	if madeAdm.str("created_by") != "admin" {
		t.Fatalf("created by the admin token: %s", madeAdm.raw)
	}

	ids := func(key string) []string {
		r := h.do("GET", "/v1/admin/webhooks", key, nil)
		h.expect(r, 200, "")
		var out []string
		for _, w := range r.at("webhooks").([]any) {
			id := w.(map[string]any)["id"].(string)
			if key != a && key != b && key != reader && id != wa && id != wadm {
				continue // the admin's and webhooks:all see other tests' too
			}
			out = append(out, id)
		}
		if strings.Contains(string(r.raw), secretA) {
			t.Errorf("the list shows a secret: %s", r.raw)
		}
		return out
	}
	for name, c := range map[string]struct {
		key  string
		want []string
	}{"A": {a, []string{wa}}, "B": {b, nil}, "webhooks:read": {reader, nil}, "admin": {admin, []string{wa, wadm}}, "webhooks:all": {all, []string{wa, wadm}}} {
		got := ids(c.key)
		slices.Sort(got)
		want := slices.Clone(c.want)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("%s lists %v, want %v", name, got, want)
		}
	}

	type route struct {
		method, suffix string
		body           any
		status         int
	}
	routes := []route{
		{"GET", "", nil, 200},
		{"GET", "/deliveries", nil, 200},
		{"POST", "/test", nil, 200},
		{"POST", "/replay", map[string]any{"dead_letters": true}, 200},
		{"POST", "/dead-letters/dismiss", map[string]any{"event_ids": []string{"ev-1"}}, 200},
		{"POST", "/enable", nil, 200},
		{"POST", "/rotate", map[string]any{}, 200},
		{"POST", "/end-grace", nil, 200},
		{"DELETE", "", nil, 204},
	}
	nobody := "wh-0123456789abcdef"
	for _, rt := range routes {
		absent := h.do(rt.method, "/v1/admin/webhooks/"+nobody+rt.suffix, b, rt.body)
		h.expect(absent, 404, "not_found")
		for who, c := range map[string]struct{ key, id string }{"B on A's": {b, wa}, "B on the admin's": {b, wadm}, "A on the admin's": {a, wadm}, "webhooks:read on A's": {reader, wa}} {
			if c.key == reader && rt.method != "GET" {
				continue // refused 403 for want of webhooks:write first
			}
			r := h.do(rt.method, "/v1/admin/webhooks/"+c.id+rt.suffix, c.key, rt.body)
			h.expect(r, 404, "not_found")
			if want := strings.ReplaceAll(absent.str("detail"), nobody, c.id); r.str("detail") != want {
				t.Errorf("%s %s%s: detail %q, want %q, as for no webhook", rt.method, who, rt.suffix, r.str("detail"), want)
			}
		}
	}
	// Nothing of theirs changed: both webhooks there, no rotation; the
	// admin token sees who made each.
	for id, by := range map[string]string{wa: aID, wadm: "admin"} {
		got := h.do("GET", "/v1/admin/webhooks/"+id, admin, nil)
		if got.status != 200 || got.body["previous_secret_until"] != nil || got.str("created_by") != by {
			t.Fatalf("%s after the refused calls: %d %s, want created_by %s", id, got.status, got.raw, by)
		}
	}

	// Its creator acts on it, as does a webhooks:all key on the admin's.
	for _, c := range []struct{ key, id string }{{a, wa}, {all, wadm}} {
		for _, rt := range routes {
			h.expect(h.do(rt.method, "/v1/admin/webhooks/"+c.id+rt.suffix, c.key, rt.body), rt.status, "")
		}
	}
	h.expect(h.do("GET", "/v1/admin/webhooks/"+wa, admin, nil), 404, "not_found")
}
