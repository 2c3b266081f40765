package engine_test

import (
	"errors"
	"slices"
	"strings"
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

// TestWebhooksAllScope: webhooks:all widens webhooks:read or
// webhooks:write to every webhook; it is known, granted only by a holder
// of it, includes nothing (it is not webhooks:read), and is refused alone,
// where it would let the key in nowhere. The admin token holds it.
func TestWebhooksAllScope(t *testing.T) {
	if !slices.Contains(engine.AllScopes, engine.ScopeWebhooksAll) || engine.ScopeWebhooksAll != "webhooks:all" {
		t.Fatalf("AllScopes %v lacks webhooks:all", engine.AllScopes)
	}
	for _, scopes := range [][]string{
		{engine.ScopeWebhooksAll, engine.ScopeWebhooksRead},
		{engine.ScopeWebhooksAll, engine.ScopeWebhooksWrite},
		{engine.ScopeDropsRead, engine.ScopeWebhooksWrite, engine.ScopeWebhooksAll},
	} {
		if err := engine.ValidateScopes(scopes); err != nil {
			t.Errorf("ValidateScopes(%v): %v", scopes, err)
		}
	}
	for _, scopes := range [][]string{{engine.ScopeWebhooksAll}, {engine.ScopeWebhooksAll, engine.ScopeDropsRead, engine.ScopeKeysWrite}} {
		err := engine.ValidateScopes(scopes)
		var ve *engine.ValidationError
		if !errors.As(err, &ve) || ve.Field != "scopes" || !strings.Contains(err.Error(), "webhooks:all widens webhooks:read or webhooks:write") {
			t.Errorf("ValidateScopes(%v): %v, want a refusal saying it needs webhooks:read or webhooks:write", scopes, err)
		}
	}
	if engine.Holds([]string{engine.ScopeWebhooksAll}, engine.ScopeWebhooksRead) {
		t.Error("webhooks:all holds webhooks:read")
	}
	err := engine.CanGrant([]string{engine.ScopeKeysWrite, engine.ScopeWebhooksWrite}, []string{engine.ScopeWebhooksWrite, engine.ScopeWebhooksAll})
	if !errors.Is(err, engine.ErrForbidden) || err.Error() != "engine: forbidden: missing scope webhooks:all" {
		t.Errorf("a key manager without webhooks:all grants it: %v", err)
	}
	if err := engine.CanGrant([]string{engine.ScopeKeysWrite, engine.ScopeWebhooksWrite, engine.ScopeWebhooksAll},
		[]string{engine.ScopeWebhooksRead, engine.ScopeWebhooksAll}); err != nil {
		t.Errorf("a key manager with webhooks:write and webhooks:all grants webhooks:read and webhooks:all: %v", err)
	}
	for _, c := range []struct {
		key    string
		scopes []string
		all    bool
	}{
		{"", nil, true},
		{"key-0123456789abcdef", []string{engine.ScopeWebhooksWrite}, false},
		{"key-0123456789abcdef", []string{engine.ScopeWebhooksRead, engine.ScopeWebhooksAll}, true},
	} {
		if got := engine.WebhookCallerFor(c.key, c.scopes); got != (engine.WebhookCaller{Key: c.key, All: c.all}) {
			t.Errorf("WebhookCallerFor(%q, %v) = %+v, want All %v", c.key, c.scopes, got, c.all)
		}
	}
}
