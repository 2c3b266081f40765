package api_test

import (
	"strings"
	"testing"
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
