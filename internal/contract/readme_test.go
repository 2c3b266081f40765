package contract

import (
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
)

// TestReadmeEventTable keeps the README's event table and asyncapi.json
// equal: the same types, and for each the same data fields (beside drop,
// series and seed_hash, which the table names once for all).
func TestReadmeEventTable(t *testing.T) {
	c, err := Events()
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(readme), "| type | `data` besides `drop` | when |")
	if !ok {
		t.Fatal("README has no event table (header `| type | `data` besides `drop` | when |`)")
	}
	code := regexp.MustCompile("`([a-z_]+)`")
	table := map[string][]string{}
	for _, line := range strings.Split(after, "\n")[2:] {
		if !strings.HasPrefix(line, "| `") {
			break
		}
		cells := strings.Split(line, "|")
		if len(cells) < 4 {
			t.Fatalf("malformed row %q", line)
		}
		typ := strings.Trim(strings.TrimSpace(cells[1]), "`")
		var fields []string
		for _, m := range code.FindAllStringSubmatch(cells[2], -1) {
			fields = append(fields, m[1])
		}
		sort.Strings(fields)
		table[typ] = fields
	}
	var readmeTypes []string
	for typ := range table {
		readmeTypes = append(readmeTypes, typ)
	}
	sort.Strings(readmeTypes)
	if !slices.Equal(readmeTypes, c.Types()) {
		t.Fatalf("README event types %v, asyncapi.json %v", readmeTypes, c.Types())
	}
	for _, typ := range c.Types() {
		var want []string
		for _, f := range c.DataFields(typ) {
			if f != "drop" && f != "series" && f != "seed_hash" && f != "rehearsal" {
				want = append(want, f)
			}
		}
		if !slices.Equal(table[typ], want) {
			t.Errorf("%s: README lists %v, asyncapi.json %v", typ, table[typ], want)
		}
	}
}
