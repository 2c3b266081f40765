package main

import (
	"flag"
	"io"
	"slices"
	"strings"
	"testing"
)

// TestReportFlagsPairing: an --out names the file of the --report right
// before it, and a --report without one goes to stdout; one --out per
// --report, all after them, pair by position. An --out that follows no
// --report is refused, never written to another report's file, and so are
// two reports on stdout or in one file. The README's CI gate (text to the
// terminal, JSON and HTML to files) once sent its text to r.json and its
// JSON to r.html; --report text --report json --out x.json was refused.
func TestReportFlagsPairing(t *testing.T) {
	for _, c := range []struct {
		args          string
		reports, outs []string
		err           string
	}{
		{"", []string{"text"}, nil, ""},
		{"--out r.txt", []string{"text"}, []string{"r.txt"}, ""},
		{"--report json --out r.json", []string{"json"}, []string{"r.json"}, ""},
		{"--report text --report json --out r.json --report html --out r.html", []string{"text", "json", "html"}, []string{"-", "r.json", "r.html"}, ""},
		{"--report text --report json --out - --out r.json", []string{"text", "json"}, []string{"-", "r.json"}, ""},
		{"--report json --out r.json --report text", []string{"json", "text"}, []string{"r.json"}, ""},
		{"--report text --report json --out x.json", []string{"text", "json"}, []string{"-", "x.json"}, ""},
		{"--report text --report html --out merged.html", []string{"text", "html"}, []string{"-", "merged.html"}, ""},
		{"--report html --out r.html --report text --report json --out r.json", []string{"html", "text", "json"}, []string{"r.html", "-", "r.json"}, ""},
		{"--report text --report json", nil, nil, "--report text, --report json all go to stdout"},
		{"--report text --out - --report json --out -", nil, nil, "--report text, --report json all go to stdout"},
		{"--report text --report json --out - --out -", nil, nil, "--report text, --report json all go to stdout"},
		{"--report json --out r.json --report html --out ./r.json", nil, nil, "--report json and --report html both go to ./r.json"},
		{"--report json --out a.json --out b.json --report html", nil, nil, "--out b.json follows no --report"},
		{"--report text --report json --report html --out a --out b", nil, nil, "--out b follows no --report"},
		{"--out a --report json --out b", nil, nil, "--out a follows no --report"},
		{"--report json --out a --out b", nil, nil, "--out b follows no --report"},
		{"--out a --out b", nil, nil, "2 --out for 1 --report"},
	} {
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		var rf reportFlags
		rf.register(fs)
		if err := fs.Parse(strings.Fields(c.args)); err != nil {
			t.Fatal(err)
		}
		reports, outs, err := rf.resolve()
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%q: error %v, want %q", c.args, err, c.err)
			}
			continue
		}
		if err != nil || !slices.Equal(reports, c.reports) || !slices.Equal(outs, c.outs) {
			t.Errorf("%q: reports %q outs %q (%v), want %q %q", c.args, reports, outs, err, c.reports, c.outs)
		}
	}
}
