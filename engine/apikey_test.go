package engine_test

import (
	"errors"
	"testing"

	"github.com/flashdrop/flashdrop/engine"
)

// TestWebhooksWriteIncludesRead: webhooks:write holds webhooks:read, so
// keys made before webhooks:read existed keep reading webhooks, and a
// key manager with webhooks:write may grant webhooks:read; nothing else
// includes another scope. A refusal names the wider scope that would do.
func TestWebhooksWriteIncludesRead(t *testing.T) {
	for _, c := range []struct {
		held  []string
		scope string
		want  bool
	}{
		{[]string{engine.ScopeWebhooksRead}, engine.ScopeWebhooksRead, true},
		{[]string{engine.ScopeWebhooksWrite}, engine.ScopeWebhooksRead, true},
		{[]string{engine.ScopeWebhooksRead}, engine.ScopeWebhooksWrite, false},
		{[]string{engine.ScopeDropsWrite}, engine.ScopeDropsRead, false},
		{[]string{engine.ScopeKeysWrite, engine.ScopeDropsRead}, engine.ScopeWebhooksRead, false},
	} {
		if got := engine.Holds(c.held, c.scope); got != c.want {
			t.Errorf("Holds(%v, %s) = %v, want %v", c.held, c.scope, got, c.want)
		}
		if got := (engine.APIKey{Scopes: c.held}).HasScope(c.scope); got != c.want {
			t.Errorf("HasScope(%v, %s) = %v, want %v", c.held, c.scope, got, c.want)
		}
		if err := engine.CanGrant(c.held, []string{c.scope}); (err == nil) != c.want {
			t.Errorf("CanGrant(%v, %s) = %v", c.held, c.scope, err)
		}
	}
	err := engine.CanGrant([]string{engine.ScopeDropsRead}, []string{engine.ScopeWebhooksRead})
	if !errors.Is(err, engine.ErrForbidden) || err.Error() != "engine: forbidden: missing scope webhooks:read (or webhooks:write, which includes it)" {
		t.Errorf("CanGrant without either: %v", err)
	}
	if err := engine.MissingScope(engine.ScopeOps); err.Error() != "engine: forbidden: missing scope ops" {
		t.Errorf("MissingScope(ops): %v", err)
	}
	if err := engine.ValidateScopes([]string{engine.ScopeWebhooksRead}); err != nil {
		t.Errorf("ValidateScopes(webhooks:read): %v", err)
	}
}
