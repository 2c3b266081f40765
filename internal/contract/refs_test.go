package contract

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/flashdrop/flashdrop/api/spec"
)

// TestDocumentRefsResolve walks both documents and resolves every local
// $ref: the AsyncAPI document has no full validator in Go, so at least
// each channel, operation, message and schema it points to must exist.
func TestDocumentRefsResolve(t *testing.T) {
	for name, doc := range map[string][]byte{"openapi.json": spec.OpenAPI, "asyncapi.json": spec.AsyncAPI} {
		var root any
		if err := json.Unmarshal(doc, &root); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		refs := 0
		var walk func(v any)
		walk = func(v any) {
			switch v := v.(type) {
			case map[string]any:
				for k, c := range v {
					if s, ok := c.(string); ok && k == "$ref" {
						refs++
						if !resolves(root, s) {
							t.Errorf("%s: $ref %q does not resolve", name, s)
						}
						continue
					}
					walk(c)
				}
			case []any:
				for _, c := range v {
					walk(c)
				}
			}
		}
		walk(root)
		if refs < 50 {
			t.Errorf("%s: only %d $refs found; the walk is broken", name, refs)
		}
	}
}

func resolves(root any, ref string) bool {
	ptr, ok := strings.CutPrefix(ref, "#/")
	if !ok {
		return false // only local references in these documents
	}
	v := root
	for _, tok := range strings.Split(ptr, "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		m, ok := v.(map[string]any)
		if !ok {
			return false
		}
		if v, ok = m[tok]; !ok {
			return false
		}
	}
	return true
}
