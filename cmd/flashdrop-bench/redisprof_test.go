package main

import (
	"strings"
	"testing"
)

// TestSummarizePerf: perf's named lines keep their names, bare addresses
// of the Redis binary go under the exported function before them, those
// of other objects keep the object's name, kernel lines are summed, and
// the entries come largest first.
func TestSummarizePerf(t *testing.T) {
	report := `# Samples: 11K of event 'cpu-clock:ppp'
#
    12.74%  redis-check-rdb    [.] sdscmp
     9.24%  redis-check-rdb    [.] dictFind
     4.90%  redis-check-rdb    [.] 0x000000000015924a
     3.89%  [kernel.kallsyms]  [k] pvm_irq_enable
     1.77%  redis-check-rdb    [.] 0x000000000015e6ec
     1.62%  redis-check-rdb    [.] 0x000000000015e6d0
     0.79%  [kernel.kallsyms]  [k] _copy_from_iter
     0.50%  redis-check-rdb    [.] 0x0000000000000010
     0.35%  [vdso]             [.] 0x00000000000007bd
     0.30%  libjemalloc.so.2   [.] 0x0000000000160000
`
	syms := []symbol{{0x152000, "lua_yield"}, {0x15e500, "lua_close"}, {0x170000, "luaopen_string"}}
	got := summarizePerf([]byte(report), "redis-check-rdb", syms, 4)
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
	// A jemalloc address in the range of lua_close's neighbours is not
	// one of them.
	all := summarizePerf([]byte(report), "redis-check-rdb", syms, 10)
	for _, w := range []string{"3.4%  (unnamed, after lua_close)", "0.5%  (unnamed)", "0.3%  (unnamed, in [vdso])",
		"0.3%  (unnamed, in libjemalloc.so.2)"} {
		if !strings.Contains(all, w) {
			t.Errorf("missing %q in\n%s", w, all)
		}
	}
}
