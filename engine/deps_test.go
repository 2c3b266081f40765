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
