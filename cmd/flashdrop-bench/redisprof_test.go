package main

import (
	"strings"
	"testing"
)

// TestSummarizePerf: perf's named lines keep their names, bare addresses
// go under the exported function before them, kernel lines are summed,
// and the entries come largest first.
func TestSummarizePerf(t *testing.T) {
	report := `# Samples: 11K of event 'cpu-clock:ppp'
#
    12.74%  [.] sdscmp
     9.24%  [.] dictFind
     4.90%  [.] 0x000000000015924a
     3.89%  [k] pvm_irq_enable
     1.77%  [.] 0x000000000015e6ec
     1.62%  [.] 0x000000000015e6d0
     0.79%  [k] _copy_from_iter
     0.50%  [.] 0x0000000000000010
`
	syms := []symbol{{0x152000, "lua_yield"}, {0x15e500, "lua_close"}, {0x170000, "luaopen_string"}}
	got := summarizePerf([]byte(report), syms, 4)
	lines := strings.Split(got, "\n")
	want := []string{"12.7%  sdscmp", "9.2%  dictFind", "4.9%  (unnamed, after lua_yield)", "4.7%  (kernel)"}
	if len(lines) != 1+len(want) {
		t.Fatalf("got %d lines, want a header and %d:\n%s", len(lines), len(want), got)
	}
	for i, w := range want {
		if strings.TrimSpace(lines[i+1]) != w {
			t.Errorf("line %d = %q, want %q", i+1, strings.TrimSpace(lines[i+1]), w)
		}
	}
	// The two addresses after lua_close are one entry (3.4%), below the
	// top four; an address before every symbol is unnamed.
	all := summarizePerf([]byte(report), syms, 10)
	for _, w := range []string{"3.4%  (unnamed, after lua_close)", "0.5%  (unnamed)"} {
		if !strings.Contains(all, w) {
			t.Errorf("missing %q in\n%s", w, all)
		}
	}
}
