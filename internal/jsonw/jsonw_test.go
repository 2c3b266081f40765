package jsonw

import (
	"bytes"
	"encoding/json"
	"math"
	"testing"
	"time"
)

// FuzzAppendString: a string, given as a string or as bytes, is written
// exactly as encoding/json writes it.
func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "plain", "a\bb\fc\n\r\t\x00\x1f", `"\`, "<&>", "\u2028\u2029", "\xff\xfe", "é日本🎉", "a\xe2\x80"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		if got := AppendString([]byte("x"), s); !bytes.Equal(got[1:], want) || got[0] != 'x' {
			t.Fatalf("AppendString(%q) = %s, encoding/json %s", s, got, want)
		}
		if got := AppendString(nil, []byte(s)); !bytes.Equal(got, want) {
			t.Fatalf("AppendString([]byte(%q)) = %s, encoding/json %s", s, got, want)
		}
	})
}

// TestWriterDeclines: what encoding/json writes in a form the Writer does
// not (or refuses) turns OK false; the rest matches encoding/json.
func TestWriterDeclines(t *testing.T) {
	at := time.Date(2026, 12, 3, 14, 0, 0, 5, time.FixedZone("x", 3600))
	for _, c := range []struct {
		name string
		f    func(*Writer)
		v    any // what encoding/json gets, when OK
		ok   bool
	}{
		{"time", func(w *Writer) { w.Time(at) }, at, true},
		{"year 10000", func(w *Writer) { w.Time(time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)) }, nil, false},
		{"year -1", func(w *Writer) { w.Time(time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC)) }, nil, false},
		{"float", func(w *Writer) { w.Float(0.042) }, 0.042, true},
		{"float 1e20", func(w *Writer) { w.Float(1e20) }, 1e20, true},
		{"negative zero", func(w *Writer) { w.Float(math.Copysign(0, -1)) }, math.Copysign(0, -1), true},
		{"float 1e21", func(w *Writer) { w.Float(1e21) }, nil, false},
		{"float 1e-7", func(w *Writer) { w.Float(1e-7) }, nil, false},
		{"NaN", func(w *Writer) { w.Float(math.NaN()) }, nil, false},
		{"int", func(w *Writer) { w.Int(math.MinInt64) }, int64(math.MinInt64), true},
		{"bool", func(w *Writer) { w.Bool(false) }, false, true},
		{"string", func(w *Writer) { w.Str("a\b<") }, "a\b<", true},
	} {
		w := New(nil)
		c.f(&w)
		if w.OK != c.ok {
			t.Errorf("%s: OK %v, want %v", c.name, w.OK, c.ok)
			continue
		}
		if c.ok {
			want, _ := json.Marshal(c.v)
			if !bytes.Equal(w.B, want) {
				t.Errorf("%s: %s, encoding/json %s", c.name, w.B, want)
			}
		}
	}
}
