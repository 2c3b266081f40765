package main

import (
	"bytes"
	"context"
	"io"
	"regexp"
	"strings"
	"testing"
)

// runKeys runs `flashdrop keys …` against m and returns its output.
func runKeys(t *testing.T, m *Main, token string, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	full := append(args, "--target", "http://"+m.Addr, "--admin-token", token)
	err := keys(context.Background(), full, &out, io.Discard, func(string) (string, bool) { return "", false })
	return out.String(), err
}

var keySecret = regexp.MustCompile(`(?m)^(fdk_(key-[0-9a-f]{16})_[A-Za-z0-9_-]{43})$`)

func TestKeysCommand(t *testing.T) {
	m, _, _ := startServe(t, "--no-demo")
	base := "http://" + m.Addr
	out, err := runKeys(t, m, m.Config.AdminToken, "create", "--name", "listen on a laptop", "--scopes", "events:read,drops:read")
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	got := keySecret.FindStringSubmatch(out)
	if got == nil {
		t.Fatalf("create printed no secret:\n%s", out)
	}
	secret, id := got[1], got[2]
	if r := call(t, "GET", base+"/v1/admin/drops", secret, ""); r.status != 200 {
		t.Fatalf("the new key reads drops: %d %s", r.status, r.raw)
	}
	if r := call(t, "POST", base+"/v1/admin/drops/x/pause", secret, ""); r.status != 403 || !strings.Contains(r.raw, "ops") {
		t.Fatalf("the new key may not pause: %d %s", r.status, r.raw)
	}
	out, err = runKeys(t, m, m.Config.AdminToken, "list")
	if err != nil || !strings.Contains(out, id) || !strings.Contains(out, "listen on a laptop") || strings.Contains(out, secret) {
		t.Fatalf("list: %v\n%s", err, out)
	}
	out, err = runKeys(t, m, m.Config.AdminToken, "rotate", id, "--grace", "0")
	if err != nil {
		t.Fatalf("rotate: %v", err)
	}
	got = keySecret.FindStringSubmatch(out)
	if got == nil || got[1] == secret || got[2] != id {
		t.Fatalf("rotate printed no new secret:\n%s", out)
	}
	if r := call(t, "GET", base+"/v1/admin/drops", secret, ""); r.status != 401 {
		t.Fatalf("old secret after a rotation without grace: %d", r.status)
	}
	if r := call(t, "GET", base+"/v1/admin/drops", got[1], ""); r.status != 200 {
		t.Fatalf("new secret: %d", r.status)
	}
	// A key without keys:write cannot manage keys.
	if _, err := runKeys(t, m, got[1], "list"); err == nil || !strings.Contains(err.Error(), "keys:write") {
		t.Fatalf("list with a reading key: %v", err)
	}
	if _, err := runKeys(t, m, m.Config.AdminToken, "revoke", id); err != nil {
		t.Fatalf("revoke: %v", err)
	}
	if r := call(t, "GET", base+"/v1/admin/drops", got[1], ""); r.status != 401 {
		t.Fatalf("revoked key: %d", r.status)
	}
	if _, err := runKeys(t, m, m.Config.AdminToken, "create", "--name", "x", "--scopes", "root"); err == nil || !strings.Contains(err.Error(), "invalid") {
		t.Fatalf("unknown scope: %v", err)
	}
}
