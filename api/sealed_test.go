package api_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/flashdrop/flashdrop/api"
	"github.com/flashdrop/flashdrop/engine/redisstore/redistest"
)

// TestIdempotentSecretsAreSealed: an admin answer that shows a secret
// once (a new API key, a rotated one, a new webhook) and carries an
// Idempotency-Key is kept for its retries sealed, never in the clear: the
// raw answer in Redis holds no secret, a retry with the same credential
// gets the same secret (not to be cached), and a retry with another
// credential of the same scope (the admin token, changed) is refused.
func TestIdempotentSecretsAreSealed(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	rdb := redistest.Shared(t).Client()
	t.Cleanup(func() { rdb.Close() })
	// stored is the answer kept for a key, as the store holds it:
	// "D\n<fingerprint>\n<JSON>", the JSON's body in base64.
	stored := func(scope, key string) string {
		t.Helper()
		sum := sha256.Sum256([]byte(scope + "\x00" + key))
		v, err := rdb.Get(context.Background(), "fd:ans:{"+hex.EncodeToString(sum[:16])+"}").Result()
		if err != nil {
			t.Fatalf("the answer to %s was not kept: %v", key, err)
		}
		parts := strings.SplitN(v, "\n", 3)
		var a struct {
			Body   []byte `json:"body"`
			Sealed bool   `json:"sealed"`
		}
		if len(parts) != 3 || json.Unmarshal([]byte(parts[2]), &a) != nil {
			t.Fatalf("unreadable kept answer %q", v)
		}
		// Kept under a fingerprint marked sealed, which a node of a
		// version before sealing reads as another request's (422), never
		// replaying the ciphertext as the answer.
		return fmt.Sprintf("sealed=%t marked=%t %s %s", a.Sealed, strings.HasSuffix(parts[1], " sealed"), v, a.Body)
	}
	suffix := dropID(t)

	keyK := "key-" + suffix
	first := h.do("POST", "/v1/admin/keys", admin, map[string]any{"name": "ci", "scopes": []string{"keys:write", "webhooks:write"}}, "Idempotency-Key", keyK)
	h.expect(first, 201, "")
	secret := first.str("secret")
	if len(secret) < 16 {
		t.Fatalf("no secret in %s", first.raw)
	}
	if raw := stored("admin", keyK); strings.Contains(raw, secret) || !strings.HasPrefix(raw, "sealed=true marked=true") {
		t.Fatalf("the kept answer is not sealed: %q", raw)
	}
	again := h.do("POST", "/v1/admin/keys", admin, map[string]any{"name": "ci", "scopes": []string{"keys:write", "webhooks:write"}}, "Idempotency-Key", keyK)
	h.expect(again, 201, "")
	if again.str("secret") != secret || again.str("id") != first.str("id") || again.header.Get("Idempotent-Replayed") != "true" ||
		again.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("the retry did not get the first answer, uncached:\n%s\n%s %v", first.raw, again.raw, again.header)
	}

	// The key's own webhook: sealed under the key's credential.
	hookK := "hook-" + suffix
	hook := h.do("POST", "/v1/admin/webhooks", secret, map[string]any{"url": "https://hooks.example/s"}, "Idempotency-Key", hookK)
	h.expect(hook, 201, "")
	if hook.header.Get("Cache-Control") != "no-store" {
		t.Errorf("a new webhook's answer may be cached: %v", hook.header)
	}
	if raw := stored("key:"+first.str("id"), hookK); strings.Contains(raw, hook.str("secret")) {
		t.Fatalf("the kept webhook answer shows its secret: %q", raw)
	}
	if again := h.do("POST", "/v1/admin/webhooks", secret, map[string]any{"url": "https://hooks.example/s"}, "Idempotency-Key", hookK); again.str("secret") != hook.str("secret") {
		t.Fatalf("the webhook retry: %s", again.raw)
	}

	// Rotating: the new secret sealed too.
	rotK := "rot-" + suffix
	rot := h.do("POST", "/v1/admin/keys/"+first.str("id")+"/rotate", admin, map[string]any{}, "Idempotency-Key", rotK)
	h.expect(rot, 200, "")
	if s := rot.str("secret"); s == "" || strings.Contains(stored("admin", rotK), s) {
		t.Fatalf("the kept rotation answer shows its secret: %s", rot.raw)
	}

	// The same admin token on nodes with another JWT secret: the seal's
	// key needs the nodes' secret too (Redis alone gives no way to test
	// guesses of the token).
	otherSecret := newHarness(t, func(c *api.Config) { c.Auth.JWTSecret = []byte(strings.Repeat("z", 32)) })
	otherSecret.expect(otherSecret.do("POST", "/v1/admin/keys", admin, map[string]any{"name": "ci", "scopes": []string{"keys:write", "webhooks:write"}}, "Idempotency-Key", keyK),
		422, "idempotency_mismatch")

	// Another admin token on the same store (the token changed): the
	// scope is the same, the seal is not.
	other := newHarness(t, func(c *api.Config) { c.Auth.AdminToken = "another-admin-token-0123456789" })
	other.expect(other.do("POST", "/v1/admin/keys", "another-admin-token-0123456789", map[string]any{"name": "ci", "scopes": []string{"keys:write", "webhooks:write"}}, "Idempotency-Key", keyK),
		422, "idempotency_mismatch")
}
