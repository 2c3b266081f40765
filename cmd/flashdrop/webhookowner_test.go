package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
)

// TestWebhooksOfAnotherKeyOnServe: on a real serve, the README's
// integration key (events:read,webhooks:write) acts only on the webhooks
// it created. Key B gets 404 not_found on every webhook route for key A's
// webhook and for the admin token's, and lists neither, so it can no
// longer rotate the shop's order-system webhook to learn its secret, nor
// delete or replay it (it could: 204 to a DELETE, 200 with the secret to
// a rotate). Key A acts on its own, the admin token and a webhooks:all
// key on both, and every answer shows created_by. A webhooks:all key is
// refused without webhooks:read or webhooks:write.
func TestWebhooksOfAnotherKeyOnServe(t *testing.T) {
	s := startInteg(t, nil)
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(204) }))
	defer rcv.Close()
	key := func(name string, scopes ...string) (id, secret string) {
		r := s.must(t, 201, "POST", "/v1/admin/keys", map[string]any{"name": name, "scopes": scopes})
		return r.body["id"].(string), r.body["secret"].(string)
	}
	as := func(token, method, path string, body any) httpResult {
		t.Helper()
		raw := ""
		if body != nil {
			b, _ := json.Marshal(body)
			raw = string(b)
		}
		return call(t, method, s.base+path, token, raw)
	}
	aID, a := key("order sync", "events:read", "webhooks:write")
	_, b := key("winner cards", "events:read", "webhooks:write")
	_, all := key("ops dashboard", "drops:read", "webhooks:write", "webhooks:all")
	if r := s.call(t, "POST", "/v1/admin/keys", map[string]any{"name": "x", "scopes": []string{"webhooks:all"}}); r.status != 400 || !strings.Contains(r.raw, "webhooks:all widens webhooks:read or webhooks:write") {
		t.Errorf("webhooks:all alone: %d %s", r.status, r.raw)
	}

	madeA := as(a, "POST", "/v1/admin/webhooks", map[string]any{"url": rcv.URL + "/orders", "types": []string{"confirmed"}})
	madeAdm := s.must(t, 201, "POST", "/v1/admin/webhooks", map[string]any{"url": rcv.URL + "/shop"})
	if madeA.status != 201 || madeA.body["created_by"] != aID || madeAdm.body["created_by"] != "admin" {
		t.Fatalf("created: %d %s; %s", madeA.status, madeA.raw, madeAdm.raw)
	}
	wa, wadm := madeA.body["id"].(string), madeAdm.body["id"].(string)

	listed := func(token string) []string {
		r := as(token, "GET", "/v1/admin/webhooks", nil)
		if r.status != 200 {
			t.Fatalf("list: %d %s", r.status, r.raw)
		}
		var ids []string
		for _, w := range r.body["webhooks"].([]any) {
			ids = append(ids, w.(map[string]any)["id"].(string))
		}
		slices.Sort(ids)
		return ids
	}
	both := []string{wa, wadm}
	slices.Sort(both)
	for name, c := range map[string]struct {
		token string
		want  []string
	}{"A": {a, []string{wa}}, "B": {b, nil}, "admin": {s.admin, both}, "webhooks:all": {all, both}} {
		if got := listed(c.token); !slices.Equal(got, c.want) {
			t.Errorf("%s lists %v, want %v", name, got, c.want)
		}
	}

	routes := []struct {
		method, suffix string
		body           any
		status         int
	}{
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
	for _, rt := range routes {
		for _, c := range []struct{ who, token, id string }{{"B on A's", b, wa}, {"B on the admin's", b, wadm}, {"A on the admin's", a, wadm}} {
			if r := as(c.token, rt.method, "/v1/admin/webhooks/"+c.id+rt.suffix, rt.body); r.status != 404 || r.body["code"] != "not_found" || strings.Contains(r.raw, "whsec_") {
				t.Errorf("%s %s%s: %d %s, want 404 not_found", rt.method, c.who, rt.suffix, r.status, r.raw)
			}
		}
	}
	for _, id := range both {
		if r := s.must(t, 200, "GET", "/v1/admin/webhooks/"+id, nil); r.body["previous_secret_until"] != nil {
			t.Errorf("%s was rotated by a refused call: %s", id, r.raw)
		}
	}
	for _, c := range []struct{ who, token, id string }{{"A on its own", a, wa}, {"webhooks:all on the admin's", all, wadm}} {
		for _, rt := range routes {
			if r := as(c.token, rt.method, "/v1/admin/webhooks/"+c.id+rt.suffix, rt.body); r.status != rt.status {
				t.Errorf("%s %s%s: %d %s, want %d", rt.method, c.who, rt.suffix, r.status, r.raw, rt.status)
			} else if rt.suffix == "/rotate" && r.body["created_by"] == nil {
				t.Errorf("the rotation's answer lacks created_by: %s", r.raw)
			}
		}
	}
	if got := listed(s.admin); len(got) != 0 {
		t.Errorf("after both deleted by those who may: %v", got)
	}
}
