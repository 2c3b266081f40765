package api_test

import (
	"bytes"
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/flashdrop/flashdrop/api/spec"
	"github.com/flashdrop/flashdrop/internal/contract"
)

// TestContractDocumentsServed checks GET /openapi.json and /asyncapi.json
// answer the embedded bytes, as JSON with an ETag that revalidates, and
// that the OpenAPI document is a valid 3.1 document.
func TestContractDocumentsServed(t *testing.T) {
	t.Parallel()
	if _, err := contract.OpenAPI(); err != nil {
		t.Fatal(err) // parses, builds and validates the document as OpenAPI 3.1
	}
	var head struct {
		OpenAPI  string `json:"openapi"`
		AsyncAPI string `json:"asyncapi"`
	}
	if err := json.Unmarshal(spec.OpenAPI, &head); err != nil || !strings.HasPrefix(head.OpenAPI, "3.1.") {
		t.Fatalf("openapi.json declares openapi %q (%v), want 3.1.x", head.OpenAPI, err)
	}
	if err := json.Unmarshal(spec.AsyncAPI, &head); err != nil || !strings.HasPrefix(head.AsyncAPI, "3.0.") {
		t.Fatalf("asyncapi.json declares asyncapi %q (%v), want 3.0.x", head.AsyncAPI, err)
	}
	h := newHarness(t, nil)
	for path, want := range map[string][]byte{"/openapi.json": spec.OpenAPI, "/asyncapi.json": spec.AsyncAPI} {
		r := h.do("GET", path, "", nil)
		h.expect(r, 200, "")
		if !bytes.Equal(r.raw, want) {
			t.Errorf("GET %s: %d bytes, not the %d embedded ones", path, len(r.raw), len(want))
		}
		if ct := r.header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("GET %s: Content-Type %q", path, ct)
		}
		etag := r.header.Get("ETag")
		if etag == "" || !strings.Contains(r.header.Get("Cache-Control"), "max-age=") {
			t.Fatalf("GET %s: ETag %q, Cache-Control %q", path, etag, r.header.Get("Cache-Control"))
		}
		again := h.do("GET", path, "", nil, "If-None-Match", etag)
		if again.status != 304 || len(again.raw) != 0 {
			t.Errorf("GET %s with its ETag: %d with %d bytes, want 304 and none", path, again.status, len(again.raw))
		}
		if other := h.do("GET", path, "", nil, "If-None-Match", `"stale"`); other.status != 200 {
			t.Errorf("GET %s with another ETag: %d, want 200", path, other.status)
		}
	}
}

// routerRoutes reads the route templates and methods the router knows
// from its source (routes.go's pick calls and pages.go's webRoute), so a
// new route cannot be added without the document noticing.
func routerRoutes(t *testing.T) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	fset := token.NewFileSet()
	for _, file := range []string{"routes.go", "pages.go"} {
		f, err := parser.ParseFile(fset, file, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.CallExpr:
				if id, ok := n.Fun.(*ast.Ident); !ok || id.Name != "pick" || len(n.Args) < 3 {
					return true
				}
				lit, ok := n.Args[0].(*ast.BasicLit)
				if !ok {
					return true // webRoute's variable route: read from pages.go below
				}
				path, _ := strconv.Unquote(lit.Value)
				for _, a := range n.Args[2:] {
					cl, ok := a.(*ast.CompositeLit)
					if !ok || len(cl.Elts) == 0 {
						continue
					}
					if m, ok := cl.Elts[0].(*ast.BasicLit); ok {
						method, _ := strconv.Unquote(m.Value)
						out[path] = append(out[path], method)
					}
				}
			case *ast.FuncDecl:
				if n.Name.Name != "webRoute" {
					return true
				}
				ast.Inspect(n.Body, func(m ast.Node) bool {
					ret, ok := m.(*ast.ReturnStmt)
					if !ok || len(ret.Results) == 0 {
						return true
					}
					if lit, ok := ret.Results[0].(*ast.BasicLit); ok && lit.Kind == token.STRING {
						path, _ := strconv.Unquote(lit.Value)
						if path != "" {
							out[path] = append(out[path], "GET") // routes.go picks webRoute's handler for GET
						}
					}
					return true
				})
				return false
			}
			return true
		})
	}
	for p := range out {
		sort.Strings(out[p])
	}
	return out
}

// TestContractCoversEveryRoute walks the router's routes against the
// document's paths both ways: no route undocumented, no documented path
// or method the router lacks.
func TestContractCoversEveryRoute(t *testing.T) {
	t.Parallel()
	c, err := contract.OpenAPI()
	if err != nil {
		t.Fatal(err)
	}
	documented := c.Paths()
	routes := routerRoutes(t)
	if len(routes) < 20 {
		t.Fatalf("read only %d routes from routes.go and pages.go: %v", len(routes), routes)
	}
	for path, methods := range routes {
		doc, ok := documented[path]
		if !ok {
			t.Errorf("route %s %v is not in openapi.json", path, methods)
			continue
		}
		if !slices.Equal(doc, methods) {
			t.Errorf("route %s: the router has %v, openapi.json %v", path, methods, doc)
		}
	}
	for path, methods := range documented {
		if _, ok := routes[path]; !ok {
			t.Errorf("openapi.json documents %s %v, which the router does not have", path, methods)
		}
	}
}
