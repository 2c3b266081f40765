package api_test

import (
	"log/slog"
	"regexp"
	"strings"
	"testing"

	"github.com/flashdrop/flashdrop/api"
	"github.com/flashdrop/flashdrop/internal/testkit"
)

// TestAdminChangesAreLogged: who paused the sale, and when, is in the
// node's log (the admin token or the key's id, never a secret), with the
// request id; so are the other admin changes.
func TestAdminChangesAreLogged(t *testing.T) {
	t.Parallel()
	logs := &testkit.LockedBuffer{}
	h := newHarness(t, func(c *api.Config) {
		c.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	})
	drop := h.createDrop(3, 1, nil)
	opsID, ops := h.createKey(admin, "ops desk", "ops")
	paused := h.do("POST", "/v1/admin/drops/"+drop+"/pause", ops, nil)
	h.expect(paused, 200, "")
	h.expect(h.do("POST", "/v1/admin/drops/"+drop+"/resume", admin, nil), 200, "")
	hookID := h.do("POST", "/v1/admin/webhooks", admin, map[string]any{"url": "https://hooks.example/x"})
	h.expect(hookID, 201, "")
	h.expect(h.do("DELETE", "/v1/admin/keys/"+opsID, admin, nil), 204, "")

	out := logs.String()
	for _, want := range []string{
		`msg="drop created" drop=` + drop + ` .*by="admin token"`,
		`msg="API key created" key=` + opsID + ` name="ops desk" scopes=ops by="admin token"`,
		`msg="drop paused" drop=` + drop + ` by=` + opsID + ` request_id=\S+`,
		`msg="drop resumed" drop=` + drop + ` by="admin token"`,
		`msg="webhook created" webhook=` + hookID.str("id") + ` rehearsals=false by="admin token"`,
		`msg="API key revoked" key=` + opsID + ` by="admin token"`,
	} {
		if !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("no log line like %s in:\n%s", want, out)
		}
	}
	if strings.Contains(out, ops) || strings.Contains(out, admin) || strings.Contains(out, "whsec_") {
		t.Errorf("a secret in the log:\n%s", out)
	}
}
