package main

import (
	"flag"
	"io"
	"slices"
	"strings"
	"testing"
)

// TestReportFlagsPairing: an --out names the file of the --report right
// before it, or, when every --out comes after every --report, of the
// --report in its position; an --out that follows no --report is refused,
// never written to another report's file. The README's CI gate
// (text to the terminal, JSON and HTML to files) once sent its text to
// r.json and its JSON to r.html.
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
		{"--report text --report html --out merged.html", nil, nil, "1 --out for 2 --report"},
		{"--report json --out a.json --out b.json --report html", nil, nil, "--out b.json follows no --report"},
		{"--out a --report json --out b", nil, nil, "--out a follows no --report"},
		{"--report json --out a --out b", nil, nil, "2 --out for 1 --report"},
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
