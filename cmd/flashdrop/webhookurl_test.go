package main

import (
	"strings"
	"testing"
)

// TestNewWebhookMustBeHTTPS: serve refuses a new webhook with a plain
// http:// target on a public host (400 on url, naming both flags), takes
// it https, and takes http with --webhooks-allow-http, or with
// --webhooks-allow-private for a loopback address (never a link-local or
// cloud metadata one, refused as such with or without the flag): the wiring of webhook.CheckURL's flags, end to end;
// and a missing url, a fragment or a URL that does not parse refused in words for a person.
func TestNewWebhookMustBeHTTPS(t *testing.T) {
	const admin = "webhook-url-admin-token-0123456789"
	create := func(t *testing.T, base, url string) httpResult {
		t.Helper()
		return call(t, "POST", base+"/v1/admin/webhooks", admin, `{"url":"`+url+`","types":["won"]}`)
	}
	t.Run("default", func(t *testing.T) {
		m, _, _ := startServe(t, "--admin-token", admin)
		base := "http://" + m.Addr
		r := create(t, base, "http://hooks.example.com/flashdrop")
		if d, _ := r.body["detail"].(string); r.status != 400 || !strings.Contains(d, "must be https") ||
			!strings.Contains(d, "--webhooks-allow-http") || !strings.Contains(d, "--webhooks-allow-private") {
			t.Fatalf("http target: %d %s", r.status, r.raw)
		}
		if r := create(t, base, "https://hooks.example.com/flashdrop"); r.status != 201 {
			t.Fatalf("https target: %d %s", r.status, r.raw)
		}
		// A metadata address is refused as one, not as private: that
		// refusal's "serve allows such targets with --webhooks-allow-private"
		// would send the operator to a flag that does not allow it.
		r = create(t, base, "https://169.254.169.254/latest/meta-data")
		if d, _ := r.body["detail"].(string); r.status != 400 || !strings.Contains(d, "cloud metadata") ||
			strings.Contains(d, "allows such targets") {
			t.Fatalf("metadata target: %d %s", r.status, r.raw)
		}
		// Serve's check words the URL's problems for a person: no url is
		// "url is required" (it was "url webhook url: no host"), a parse
		// error does not quote Go's ("url webhook url: parse …"), a
		// fragment, never sent, is refused (it was accepted), and a
		// legacy IPv4 form of a loopback address is refused as private.
		for _, c := range []struct{ body, detail string }{
			{`{}`, "url is required"},
			{`{"url":"https://hooks.example.com/h#frag"}`, "url must not have a fragment"},
			{`{"url":"https://exa mple.com/"}`, "url is not a valid URL: its host has"},
			{`{"url":"https://0x7f.1/"}`, "url must not be on a private, loopback or link-local address (127.0.0.1 is loopback)"},
		} {
			r := call(t, "POST", base+"/v1/admin/webhooks", admin, c.body)
			if d, _ := r.body["detail"].(string); r.status != 400 || r.body["field"] != "url" || !strings.HasPrefix(d, c.detail) {
				t.Errorf("%s: %d %s, want 400 on url %q…", c.body, r.status, r.raw, c.detail)
			}
		}
	})
	t.Run("allow-http", func(t *testing.T) {
		m, _, _ := startServe(t, "--admin-token", admin, "--webhooks-allow-http")
		if r := create(t, "http://"+m.Addr, "http://hooks.example.com/flashdrop"); r.status != 201 {
			t.Fatalf("http target with --webhooks-allow-http: %d %s", r.status, r.raw)
		}
	})
	t.Run("allow-private", func(t *testing.T) {
		m, _, _ := startServe(t, "--admin-token", admin, "--webhooks-allow-private")
		base := "http://" + m.Addr
		if r := create(t, base, "http://127.0.0.1:9/hook"); r.status != 201 {
			t.Fatalf("http loopback with --webhooks-allow-private: %d %s", r.status, r.raw)
		}
		if r := create(t, base, "http://hooks.example.com/flashdrop"); r.status != 400 {
			t.Fatalf("http public host with only --webhooks-allow-private: %d %s", r.status, r.raw)
		}
		// The cloud metadata service stays out of reach: the flag is for
		// the operator's own network.
		for _, u := range []string{"http://169.254.169.254/latest/meta-data", "https://[fd00:ec2::254]/latest"} {
			if r := create(t, base, u); r.status != 400 || !strings.Contains(r.raw, "cloud metadata") {
				t.Fatalf("%s with --webhooks-allow-private: %d %s", u, r.status, r.raw)
			}
		}
	})
}
