package queue_test

import (
	"encoding/json"
	"slices"
	"sort"
	"testing"

	"github.com/flashdrop/flashdrop/api/spec"
	"github.com/flashdrop/flashdrop/engine"
	"github.com/flashdrop/flashdrop/internal/contract"
)

// TestContractListsEveryEventType keeps the engine's event types, the
// AsyncAPI messages and the OpenAPI EventType enum (webhook filters) equal,
// so a new event type cannot go out undocumented.
func TestContractListsEveryEventType(t *testing.T) {
	var engineTypes []string
	for _, typ := range engine.AllEventTypes {
		engineTypes = append(engineTypes, string(typ))
	}
	sort.Strings(engineTypes)
	c, err := contract.Events()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(c.Types(), engineTypes) {
		t.Errorf("asyncapi.json types %v, engine.AllEventTypes %v", c.Types(), engineTypes)
	}
	var doc struct {
		Components struct {
			Schemas struct {
				EventType struct {
					Enum []string `json:"enum"`
				} `json:"EventType"`
			} `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(spec.OpenAPI, &doc); err != nil {
		t.Fatal(err)
	}
	enum := slices.Clone(doc.Components.Schemas.EventType.Enum)
	sort.Strings(enum)
	if !slices.Equal(enum, engineTypes) {
		t.Errorf("openapi.json EventType %v, engine.AllEventTypes %v", enum, engineTypes)
	}
}
