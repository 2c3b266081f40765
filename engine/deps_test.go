package engine_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestStandardLibraryOnly keeps the domain core free of infrastructure:
// every package engine depends on must be in the standard library (whose
// import paths have no dot in their first element).
func TestStandardLibraryOnly(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "github.com/flashdrop/flashdrop/engine").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, p := range strings.Fields(string(out)) {
		if p == "github.com/flashdrop/flashdrop/engine" {
			continue
		}
		if first, _, _ := strings.Cut(p, "/"); strings.Contains(first, ".") {
			t.Errorf("engine depends on %s; it must import only the standard library", p)
		}
	}
}

// layers says which of this module's packages each package may import
// (directly or not), tests included: imports point inward, and only cmd
// composes. A package missing here fails the test, so a new package must
// take its place in the picture.
var layers = map[string][]string{
	"engine":                      {},
	"engine/redisstore":           {"engine"},
	"engine/redisstore/redistest": {},
	"api":                         {"engine", "api/spec", "internal/jsonw"},
	"api/spec":                    {},
	"queue":                       {"engine", "internal/run", "internal/jsonw"},
	"queue/webhook":               {"engine", "queue", "queue/webhooksig", "internal/run", "internal/jsonw"},
	"queue/webhooksig":            {},
	"queue/natstest":              {"queue", "engine", "internal/run", "internal/jsonw"},
	"loadtest":                    {"loadtest/fakeserver"},
	"loadtest/fakeserver":         {},
	"internal/run":                {},
	"internal/jsonw":              {},
	"internal/history":            {"loadtest"},
	"internal/testkit":            {"engine/redisstore/redistest", "queue/natstest", "queue", "engine", "internal/run", "internal/jsonw"},
	"internal/contract":           {"api/spec"},
	"internal/genclient":          {},
	"cmd/flashdrop":               {"*"},
	"examples/receiver":           {"queue/webhooksig"},
}

// testOnly are packages any package's tests may import besides its layer:
// the shared test kit, the real servers it starts, and the real store, so
// tests run on real Redis; and the contract documents (api/spec) with
// their checker (internal/contract), which every test that sees an HTTP
// exchange or an event validates against. Never a sibling adapter: a queue test does not
// import api, nor an api test queue.
var testOnly = map[string]bool{
	"internal/testkit": true, "engine/redisstore/redistest": true, "queue/natstest": true,
	"engine/redisstore": true, "internal/history": true, "internal/contract": true, "api/spec": true,
}

const module = "github.com/flashdrop/flashdrop/"

// TestImportRules keeps the layering of the README's project structure
// true for every package: what it imports of this module, production code
// and tests, must be among what its layer allows.
func TestImportRules(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", "{{.ImportPath}}", module+"...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, pkg := range strings.Fields(string(out)) {
		rel := strings.TrimPrefix(pkg, module)
		allowed, ok := layers[rel]
		if !ok {
			if strings.HasPrefix(rel, "examples/") || strings.HasPrefix(rel, "cmd/") {
				continue // programs compose whatever they need
			}
			t.Errorf("%s has no place in the layers of TestImportRules", rel)
			continue
		}
		if len(allowed) == 1 && allowed[0] == "*" {
			continue
		}
		ok2 := map[string]bool{rel: true}
		for _, a := range allowed {
			ok2[a] = true
		}
		check := func(what string, deps []string, tests bool) {
			for _, d := range deps {
				drel, ours := strings.CutPrefix(d, module)
				if !ours || ok2[drel] || tests && testOnly[drel] {
					continue
				}
				t.Errorf("%s %s imports %s, which its layer does not allow", rel, what, drel)
			}
		}
		prod, err := exec.Command("go", "list", "-deps", pkg).CombinedOutput()
		if err != nil {
			t.Fatalf("go list -deps %s: %v\n%s", pkg, err, prod)
		}
		check("", strings.Fields(string(prod)), false)
		// Tests: the direct imports of its test files (in-package and
		// external), whose own dependencies are checked as packages.
		tst, err := exec.Command("go", "list", "-f", `{{join .TestImports " "}} {{join .XTestImports " "}}`, pkg).CombinedOutput()
		if err != nil {
			t.Fatalf("go list test imports %s: %v\n%s", pkg, err, tst)
		}
		check("(tests)", strings.Fields(string(tst)), true)
	}
}
