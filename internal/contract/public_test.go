package contract

import (
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// eventSchema tells whether a schema of asyncapi.json is an event's: its
// CloudEvents envelope (…Event) or its data (…Data).
func eventSchema(name string) bool {
	return strings.HasSuffix(name, "Event") || strings.HasSuffix(name, "Data")
}

// TestAsyncAPIFieldsSayIfPublic: every property of every event schema,
// the envelope's and the data's, says with x-public whether an
// integration may post it publicly (a social post, a public page), and
// each private one says why in its description, so an integrator never
// guesses that `user` (a token's `sub`, maybe an email address) is fine
// to show. The envelope's `data` is exempt: each of its fields says it.
// A data field has one answer whatever the event, so the README's table
// can give it once.
func TestAsyncAPIFieldsSayIfPublic(t *testing.T) {
	d := readAsyncDoc(t)
	byField := map[string]bool{}
	seen := 0
	for name, s := range d.Components.Schemas {
		if !eventSchema(name) {
			continue
		}
		for field, p := range s.Properties {
			if strings.HasSuffix(name, "Event") && field == "data" {
				continue
			}
			seen++
			if p.Public == nil {
				t.Errorf("%s.%s has no x-public", name, field)
				continue
			}
			if !*p.Public && !strings.Contains(p.Description, "Private") {
				t.Errorf("%s.%s is x-public: false and its description does not say why (a sentence with \"Private\"): %q", name, field, p.Description)
			}
			if strings.HasSuffix(name, "Data") {
				if was, ok := byField[field]; ok && was != *p.Public {
					t.Errorf("data field %s is x-public %v in %s and %v elsewhere", field, *p.Public, name, was)
				}
				byField[field] = *p.Public
			}
		}
	}
	if seen < 100 {
		t.Fatalf("only %d event schema properties found; the walk is broken", seen)
	}
	for _, private := range []string{"user", "reservation", "checkout_url"} {
		if byField[private] {
			t.Errorf("data field %s is marked public", private)
		}
	}
}

// TestReadmeSafeToPostTable keeps the README's "safe to post" table and
// asyncapi.json's x-public equal: every data field of every event in one
// row, "yes" (or "yes, escaped") for a public one, "no" for a private one.
func TestReadmeSafeToPostTable(t *testing.T) {
	d := readAsyncDoc(t)
	want := map[string]bool{}
	for name, s := range d.Components.Schemas {
		if !strings.HasSuffix(name, "Data") {
			continue
		}
		for field, p := range s.Properties {
			if p.Public != nil {
				want[field] = *p.Public
			}
		}
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	const header = "| `data` field | safe to post | why |"
	_, after, ok := strings.Cut(string(readme), header)
	if !ok {
		t.Fatalf("README has no safe-to-post table (header %q)", header)
	}
	code := regexp.MustCompile("`([a-z_]+)`")
	got := map[string]bool{}
	for _, line := range strings.Split(after, "\n")[2:] {
		if !strings.HasPrefix(line, "| `") {
			break
		}
		cells := strings.Split(line, "|")
		if len(cells) < 4 {
			t.Fatalf("malformed row %q", line)
		}
		var public bool
		switch v := strings.TrimSpace(cells[2]); v {
		case "yes", "yes, escaped":
			public = true
		case "no":
		default:
			t.Fatalf("row %q: safe to post is %q, want yes, yes, escaped or no", line, v)
		}
		for _, m := range code.FindAllStringSubmatch(cells[1], -1) {
			if _, dup := got[m[1]]; dup {
				t.Errorf("README's safe-to-post table lists %s twice", m[1])
			}
			got[m[1]] = public
		}
	}
	var missing, extra []string
	for f, pub := range want {
		g, ok := got[f]
		switch {
		case !ok:
			missing = append(missing, f)
		case g != pub:
			t.Errorf("README says %s is safe to post: %v; asyncapi.json x-public: %v", f, g, pub)
		}
	}
	for f := range got {
		if _, ok := want[f]; !ok {
			extra = append(extra, f)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	if len(missing) > 0 || len(extra) > 0 {
		t.Errorf("README's safe-to-post table misses %v and lists %v, which no event carries", missing, extra)
	}
}
