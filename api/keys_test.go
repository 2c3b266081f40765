package api_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/flashdrop/flashdrop/api"
	"github.com/flashdrop/flashdrop/engine"
	"github.com/flashdrop/flashdrop/internal/testkit"
)

func (h *harness) createKey(token, name string, scopes ...string) (id, secret string) {
	h.t.Helper()
	r := h.do("POST", "/v1/admin/keys", token, map[string]any{"name": name, "scopes": scopes})
	h.expect(r, 201, "")
	return r.str("id"), r.str("secret")
}

func TestAPIKeysScopesRotationRevocation(t *testing.T) {
	t.Parallel()
	logs := &testkit.LockedBuffer{}
	h := newHarness(t, func(c *api.Config) {
		c.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	drop := h.createDrop(3, 1, nil)

	readID, read := h.createKey(admin, "dashboard", "drops:read")
	if !strings.HasPrefix(read, "fdk_"+readID+"_") || len(read) < 60 {
		t.Fatalf("key %q (id %q): want fdk_<id>_<secret>", read, readID)
	}
	h.expect(h.do("GET", "/v1/admin/drops/"+drop, read, nil), 200, "")
	denied := h.do("POST", "/v1/admin/drops/"+drop+"/pause", read, nil)
	h.expect(denied, 403, "forbidden")
	if !strings.Contains(denied.str("detail"), "ops") {
		t.Fatalf("the refusal names the missing scope: %s", denied.raw)
	}
	h.expect(h.do("POST", "/v1/admin/webhooks", read, map[string]any{"url": "https://a.example/"}), 403, "forbidden")
	h.expect(h.do("GET", "/v1/admin/keys", read, nil), 403, "forbidden")

	// A key manager cannot grant, or rotate itself into, what it lacks.
	mgrID, mgr := h.createKey(admin, "key manager", "keys:write", "drops:read")
	h.expect(h.do("POST", "/v1/admin/keys", mgr, map[string]any{"name": "x", "scopes": []string{"ops"}}), 403, "forbidden")
	opsID, _ := h.createKey(admin, "ops", "ops")
	h.expect(h.do("POST", "/v1/admin/keys/"+opsID+"/rotate", mgr, nil), 403, "forbidden")
	subID, sub := h.createKey(mgr, "sub", "drops:read")
	h.expect(h.do("GET", "/v1/admin/drops", sub, nil), 200, "")
	// Nor revoke a stronger key (an integration taking another down): the
	// refusal names what it lacks, and the key still works. One within its
	// scopes it may.
	gone := h.do("DELETE", "/v1/admin/keys/"+opsID, mgr, nil)
	h.expect(gone, 403, "forbidden")
	if !strings.Contains(gone.str("detail"), "ops") {
		t.Fatalf("the revoke's refusal names the missing scope: %s", gone.raw)
	}
	h.expect(h.do("DELETE", "/v1/admin/keys/"+subID, mgr, nil), 204, "")
	h.expect(h.do("GET", "/v1/admin/drops", sub, nil), 401, "unauthorized")
	h.expect(h.do("DELETE", "/v1/admin/keys/key-0123456789abcdef", mgr, nil), 404, "not_found")

	// Bad input and wrong callers.
	h.expect(h.do("POST", "/v1/admin/keys", admin, map[string]any{"name": "x", "scopes": []string{"root"}}), 400, "invalid")
	h.expect(h.do("POST", "/v1/admin/keys", admin, map[string]any{"name": "", "scopes": []string{"ops"}}), 400, "invalid")
	h.expect(h.do("POST", "/v1/admin/keys", h.token("alice"), map[string]any{"name": "x", "scopes": []string{"ops"}}), 403, "forbidden")
	h.expect(h.do("GET", "/v1/admin/drops", "fdk_key-0123456789abcdef_nope", nil), 401, "unauthorized")
	h.expect(h.do("GET", "/v1/admin/drops", read+"x", nil), 401, "unauthorized")

	// The list shows names, scopes and last use, never a secret or hash.
	list := h.do("GET", "/v1/admin/keys", admin, nil)
	h.expect(list, 200, "")
	if strings.Contains(string(list.raw), read) || strings.Contains(string(list.raw), "hash") || !strings.Contains(string(list.raw), readID) {
		t.Fatalf("list: %s", list.raw)
	}
	var used bool
	for _, k := range list.at("keys").([]any) {
		m := k.(map[string]any)
		if m["id"] == readID {
			used = m["last_used_at"] != nil && m["name"] == "dashboard"
		}
	}
	if !used {
		t.Fatalf("the used key shows its last use: %s", list.raw)
	}

	// Rotation: both secrets work during the grace period.
	rot := h.do("POST", "/v1/admin/keys/"+readID+"/rotate", admin, map[string]any{"grace_seconds": 60})
	h.expect(rot, 200, "")
	read2 := rot.str("secret")
	if read2 == read || !strings.HasPrefix(read2, "fdk_"+readID+"_") {
		t.Fatalf("rotated: %s", rot.raw)
	}
	h.expect(h.do("GET", "/v1/admin/drops", read, nil), 200, "")
	h.expect(h.do("GET", "/v1/admin/drops", read2, nil), 200, "")
	// Rotating again within that grace would end it early (a key keeps
	// one old secret): refused, saying until when the old one works.
	// The admin token's idempotency keys live in the shared Redis: a key of
	// this run's own (another run, -count=N, rotated another key under it).
	idemKey := "rotate-twice-" + readID
	again := h.do("POST", "/v1/admin/keys/"+readID+"/rotate", admin, map[string]any{"grace_seconds": 60}, "Idempotency-Key", idemKey)
	h.expect(again, 409, "rotation_pending")
	if !strings.Contains(again.str("detail"), "works until "+rot.str("previous_valid_until")) {
		t.Errorf("the refusal does not say until when: %s", again.raw)
	}
	h.expect(h.do("GET", "/v1/admin/drops", read, nil), 200, "")
	h.clock.Advance(61 * time.Second)
	h.expect(h.do("GET", "/v1/admin/drops", read, nil), 401, "unauthorized")
	h.expect(h.do("GET", "/v1/admin/drops", read2, nil), 200, "")
	// The refusal was temporary: the same Idempotency-Key after the grace
	// rotates, instead of replaying the 409 for a day.
	retried := h.do("POST", "/v1/admin/keys/"+readID+"/rotate", admin, map[string]any{"grace_seconds": 60}, "Idempotency-Key", idemKey)
	h.expect(retried, 200, "")
	read2 = retried.str("secret")
	h.clock.Advance(61 * time.Second)
	// Without grace the old secret stops at once, and the answer names no
	// time it would work until.
	rot = h.do("POST", "/v1/admin/keys/"+readID+"/rotate", admin, map[string]any{"grace_seconds": -1})
	h.expect(rot, 200, "")
	if strings.Contains(string(rot.raw), "previous_valid_until") {
		t.Errorf("a rotation with no grace names a previous secret's time: %s", rot.raw)
	}
	h.expect(h.do("GET", "/v1/admin/drops", read2, nil), 401, "unauthorized")
	read3 := rot.str("secret")

	// Another node trusts what it read for at most KeyCacheTTL.
	other := engine.NewKeys(h.store, h.clock)
	ctx := context.Background()
	if _, err := other.Authenticate(ctx, read3); err != nil {
		t.Fatalf("other node: %v", err)
	}
	// Revocation: at once here, within KeyCacheTTL elsewhere.
	h.expect(h.do("DELETE", "/v1/admin/keys/"+readID, admin, nil), 204, "")
	h.expect(h.do("GET", "/v1/admin/drops", read3, nil), 401, "unauthorized")
	h.clock.Advance(engine.KeyCacheTTL)
	if _, err := other.Authenticate(ctx, read3); !errors.Is(err, engine.ErrBadKey) {
		t.Fatalf("other node after %v: %v, want ErrBadKey", engine.KeyCacheTTL, err)
	}
	h.expect(h.do("DELETE", "/v1/admin/keys/"+readID, admin, nil), 404, "not_found")
	h.expect(h.do("DELETE", "/v1/admin/keys/"+mgrID, admin, nil), 204, "")

	for _, s := range []string{read, read2, read3, sub} {
		if strings.Contains(logs.String(), s) || strings.Contains(logs.String(), s[len(s)-20:]) {
			t.Fatalf("a key reached the log")
		}
	}
}

func TestAPIKeyScopeOnSettlement(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	drop := h.createDrop(2, 1, nil)
	h.register(drop, "bob")
	h.clock.Set(t0.Add(time.Second))
	won := h.do("POST", "/v1/drops/"+drop+"/reservations", h.token("bob"), nil)
	h.expect(won, 201, "")
	res := won.str("reservation", "id")
	_, read := h.createKey(admin, "reader", "drops:read")
	_, shop := h.createKey(admin, "shop backend", "reservations:confirm")
	r := h.do("POST", "/v1/reservations/"+res+"/confirm", read, nil)
	h.expect(r, 403, "forbidden")
	if !strings.Contains(r.str("detail"), "reservations:confirm") {
		t.Fatalf("detail: %s", r.raw)
	}
	h.expect(h.do("GET", "/v1/reservations/"+res, shop, nil), 200, "")
	h.expect(h.do("POST", "/v1/reservations/"+res+"/confirm", shop, nil), 200, "")
}
