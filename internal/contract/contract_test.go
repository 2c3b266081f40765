package contract

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func exchange(method, target, reqBody string, status int, ct, body string, hdr ...string) Exchange {
	req := httptest.NewRequest(method, target, strings.NewReader(reqBody))
	if reqBody != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp := &http.Response{StatusCode: status, Header: http.Header{}}
	if ct != "" {
		resp.Header.Set("Content-Type", ct)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		resp.Header.Set(hdr[i], hdr[i+1])
	}
	return Exchange{Req: req, ReqBody: []byte(reqBody), Resp: resp, RespBody: []byte(body)}
}

const prob431 = `{"type":"urn:flashdrop:problem:invalid","title":"Request headers too large","status":431,"detail":"request headers are limited to 8192 bytes","code":"invalid","request_id":"x-1"}`

const prob404 = `{"type":"urn:flashdrop:problem:not_found","title":"Not found","status":404,"code":"not_found","request_id":"x-1"}`

// TestOpenAPICheckerBites proves the checker fails what it must: an
// undocumented field, status, route or method, and a request the document
// refuses that the server accepted; and passes the right answers.
func TestOpenAPICheckerBites(t *testing.T) {
	c, err := OpenAPI()
	if err != nil {
		t.Fatal(err)
	}
	health := `{"status":"ok"}`
	for _, tc := range []struct {
		name string
		x    Exchange
		ok   bool
	}{
		{"documented answer", exchange("GET", "/healthz", "", 200, "application/json", health), true},
		{"undocumented field", exchange("GET", "/healthz", "", 200, "application/json", `{"status":"ok","extra":1}`), false},
		{"undocumented status", exchange("GET", "/healthz", "", 418, "application/problem+json",
			`{"type":"t","title":"t","status":418,"code":"invalid"}`), false},
		{"unknown route answered 404", exchange("GET", "/nowhere/at/all", "", 404, "application/problem+json", prob404), true},
		{"unknown route answered 200", exchange("GET", "/nowhere/at/all", "", 200, "application/json", health), false},
		{"wrong method with Allow", exchange("DELETE", "/healthz", "", 405, "application/problem+json",
			`{"type":"t","title":"t","status":405,"code":"invalid"}`, "Allow", "GET"), true},
		{"wrong method, wrong Allow", exchange("DELETE", "/v1/admin/drops", "", 405, "application/problem+json",
			`{"type":"t","title":"t","status":405,"code":"invalid"}`, "Allow", "GET"), false},
		{"problem with an unknown member", exchange("GET", "/v1/drops/x", "", 404, "application/problem+json",
			`{"type":"t","title":"t","status":404,"code":"not_found","secret":"no"}`), false},
		{"problem with a code the route cannot answer", exchange("GET", "/v1/drops/x", "", 404, "application/problem+json",
			`{"type":"t","title":"t","status":404,"code":"sold_out"}`), false},
		{"invalid request refused", exchange("POST", "/v1/drops/x/registrations", `{"nope":1}`, 400, "application/problem+json",
			`{"type":"t","title":"t","status":400,"code":"invalid","field":"nope"}`), true},
		{"invalid request accepted", exchange("POST", "/v1/drops/x/registrations", `{"nope":1}`, 200, "application/json",
			`{"drop":"x","user":"u","registered_at":"2026-11-24T10:00:00Z"}`), false},
		{"the .ics route is not the page", exchange("GET", "/d/x.ics", "", 200, "text/html; charset=utf-8", "<html>"), false},
		// 431 is decided before routing: right for a long head on any path,
		// wrong for a short one.
		{"long head on an unknown route answered 431", exchange("GET", "/"+strings.Repeat("^", 9000), "", 431, "application/problem+json", prob431), true},
		{"short head on an unknown route answered 431", exchange("GET", "/nowhere", "", 431, "application/problem+json", prob431), false},
		{"long head on a route answered 431", exchange("GET", "/healthz?"+strings.Repeat("a", 9000), "", 431, "application/problem+json", prob431), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.x.Req.URL.Path == "/v1/drops/x/registrations" {
				tc.x.Req.Header.Set("Authorization", "Bearer t")
			}
			err := c.Check(tc.x)
			if (err == nil) != tc.ok {
				t.Fatalf("Check: %v, want ok=%v", err, tc.ok)
			}
		})
	}
}

// TestEventCheckerBites: a documented event passes; an unknown type, an
// undocumented data field and a missing required one fail.
func TestEventCheckerBites(t *testing.T) {
	c, err := Events()
	if err != nil {
		t.Fatal(err)
	}
	env := func(typ, data string) []byte {
		return []byte(`{"specversion":"1.0","id":"n-1","source":"/flashdrop/drops/d","type":"flashdrop.` + typ +
			`","subject":"d","time":"2026-11-24T10:00:00Z","datacontenttype":"application/json","data":` + data + `}`)
	}
	if err := c.Check(env("registered", `{"drop":"d","user":"u"}`)); err != nil {
		t.Fatalf("a documented event: %v", err)
	}
	for name, raw := range map[string][]byte{
		"unknown type":       env("teleported", `{"drop":"d"}`),
		"undocumented field": env("registered", `{"drop":"d","user":"u","email":"x"}`),
		"missing field":      env("registered", `{"drop":"d"}`),
		"wrong envelope":     env("registered", `{"drop":"d","user":"u"}`)[1:],
	} {
		if err := c.Check(raw); err == nil {
			t.Errorf("%s: passed", name)
		}
	}
}

// TestEventCheckerWebhookOnlyTypes: the test delivery is documented only
// as a webhook message, so it is checked like any event but is not among
// the JetStream types (which the engine, the filters and the README table
// list).
func TestEventCheckerWebhookOnlyTypes(t *testing.T) {
	c, err := Events()
	if err != nil {
		t.Fatal(err)
	}
	if got := c.WebhookOnlyTypes(); len(got) != 1 || got[0] != "webhook_test" {
		t.Fatalf("WebhookOnlyTypes %v, want [webhook_test]", got)
	}
	for _, typ := range c.Types() {
		if typ == "webhook_test" {
			t.Fatalf("Types %v lists the webhook-only webhook_test", c.Types())
		}
	}
	ev := func(id, data string) []byte {
		return []byte(`{"specversion":"1.0","id":"` + id + `","source":"/flashdrop/webhooks/wh-0123456789abcdef",` +
			`"type":"flashdrop.webhook_test","subject":"wh-0123456789abcdef","time":"2026-11-24T10:00:00Z",` +
			`"datacontenttype":"application/json","data":` + data + `}`)
	}
	good := `{"drop":"","webhook":"wh-0123456789abcdef","reason":"a test delivery asked for by an operator"}`
	if err := c.Check(ev("test-0123456789abcdef", good)); err != nil {
		t.Fatalf("a test delivery: %v", err)
	}
	for name, raw := range map[string][]byte{
		"a drop":      ev("test-0123456789abcdef", `{"drop":"d","webhook":"wh-0123456789abcdef","reason":"r"}`),
		"no webhook":  ev("test-0123456789abcdef", `{"drop":"","reason":"r"}`),
		"an event id": ev("9f1c-1", good),
	} {
		if err := c.Check(raw); err == nil {
			t.Errorf("%s: passed", name)
		}
	}
}

// TestRouterPath: the checker reads the document for the path the server
// routes, after fasthttp's normalization (a fuzz input, "/.", once made it
// look up a path nobody routes).
func TestRouterPath(t *testing.T) {
	for in, want := range map[string]string{
		"/":                       "/",
		"/.":                      "/",
		"/..":                     "/",
		"/v1/drops/d1":            "/v1/drops/d1",
		"/v1/drops/./d1":          "/v1/drops/d1",
		"/v1/x/../drops/d1":       "/v1/drops/d1",
		"//v1//drops/d1":          "/v1/drops/d1",
		"/v1/drops/":              "/v1/drops/",
		"/v1/drops/.":             "/v1/drops/",
		"/.well-known/x":          "/.well-known/x",
		"/v1/reservations/d.abc":  "/v1/reservations/d.abc",
		"/v1/reservations/%2e%2e": "/v1/reservations/%2e%2e",
	} {
		if got := routerPath(in); got != want {
			t.Errorf("routerPath(%q) = %q, want %q", in, got, want)
		}
	}
}
