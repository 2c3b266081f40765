package main

import "testing"

// TestGCPercent: serve sets its own collection target unless GOGC is set;
// --gc-percent and FLASHDROP_GC_PERCENT win over GOGC; a negative value
// (GOGC's "off", which would let the heap grow without bound) is refused.
func TestGCPercent(t *testing.T) {
	noGOGC := func(string) (string, bool) { return "", false }
	withGOGC := func(k string) (string, bool) { return "150", k == "GOGC" }
	for _, tc := range []struct {
		name   string
		env    map[string]string
		args   []string
		lookup func(string) (string, bool)
		want   int
		set    bool
	}{
		{"default", nil, nil, noGOGC, DefaultGCPercent, true},
		{"GOGC set", nil, nil, withGOGC, 0, false},
		{"GOGC empty", nil, nil, func(k string) (string, bool) { return "", k == "GOGC" }, DefaultGCPercent, true},
		{"flag over GOGC", nil, []string{"--gc-percent", "250"}, withGOGC, 250, true},
		{"variable over GOGC", map[string]string{"FLASHDROP_GC_PERCENT": "800"}, nil, withGOGC, 800, true},
	} {
		m := NewMainWith(tc.env)
		if err := m.ParseFlags(tc.args); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got, set := m.Config.gcPercent(tc.lookup); got != tc.want || set != tc.set {
			t.Errorf("%s: gcPercent = %d, %v; want %d, %v", tc.name, got, set, tc.want, tc.set)
		}
	}
	if err := NewMainWith(nil).ParseFlags([]string{"--gc-percent", "-1"}); err == nil {
		t.Error("--gc-percent -1 must be refused")
	}
}
