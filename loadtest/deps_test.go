package loadtest_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestBlackBox keeps the load tester a client of the HTTP contract and
// JetStream only: neither it nor its fake server may depend on any other
// package of this module, so it can rehearse any deployment of any
// version.
func TestBlackBox(t *testing.T) {
	for _, pkg := range []string{"github.com/flashdrop/flashdrop/loadtest", "github.com/flashdrop/flashdrop/loadtest/fakeserver"} {
		out, err := exec.Command("go", "list", "-deps", pkg).CombinedOutput()
		if err != nil {
			t.Fatalf("go list: %v\n%s", err, out)
		}
		for _, p := range strings.Fields(string(out)) {
			if strings.HasPrefix(p, "github.com/flashdrop/flashdrop/") && !strings.HasPrefix(p, "github.com/flashdrop/flashdrop/loadtest") {
				t.Errorf("%s depends on %s: the load tester must talk to flashdrop only over HTTP and NATS", pkg, p)
			}
		}
	}
}
