package main

import (
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/flashdrop/flashdrop/internal/testkit"
)

// TestProductionDocNamesRealFlagsAndMetrics: every `--flag` that
// docs/production.md names is one of `flashdrop serve --help`'s, and every
// flashdrop_* metric it names is registered by the code, so the runbook
// cannot send an operator after something that does not exist. The README
// links the guide.
func TestProductionDocNamesRealFlagsAndMetrics(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "production.md"))
	if err != nil {
		t.Fatal(err)
	}
	help := &testkit.LockedBuffer{}
	m := NewMain(io.Discard, help)
	m.Lookup = func(string) (string, bool) { return "", false }
	if err := m.ParseFlags([]string{"--help"}); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("serve --help: %v", err)
	}
	flags := regexp.MustCompile("`(--[a-z][a-z0-9-]*)").FindAllStringSubmatch(string(doc), -1)
	if len(flags) < 10 {
		t.Fatalf("found only %d flags in the guide", len(flags))
	}
	for _, f := range flags {
		name := f[1]
		if !regexp.MustCompile(`(?m)^\s+` + regexp.QuoteMeta(name) + `\b`).MatchString(help.String()) {
			t.Errorf("docs/production.md names %s, which `flashdrop serve --help` does not list", name)
		}
	}
	// Metric names are string literals where they are registered.
	var src strings.Builder
	for _, dir := range []string{".", filepath.Join("..", "..", "api"), filepath.Join("..", "..", "queue")} {
		files, _ := filepath.Glob(filepath.Join(dir, "*.go"))
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			src.Write(b)
		}
	}
	metrics := regexp.MustCompile(`\bflashdrop_[a-z_]+[a-z]`).FindAllString(string(doc), -1)
	if len(metrics) < 8 {
		t.Fatalf("found only %d metric names in the guide", len(metrics))
	}
	for _, name := range metrics {
		if !strings.Contains(src.String(), `"`+name+`"`) {
			t.Errorf("docs/production.md names the metric %s, which no code registers", name)
		}
	}
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(readme), "(docs/production.md)") {
		t.Error("the README does not link docs/production.md")
	}
}
