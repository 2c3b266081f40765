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
	for _, s := range []string{"", "plain", "a\bb\fc\n\r\t\x00\x1f", `"\`, "<&>", "\u2028\u2029", "\xff\xfe", "é日本🎉", "a\xe2\x80",
		// Eight plain bytes or more, then one that is not: the prefix is
		// skipped a word at a time, the rest goes byte by byte.
		"urn:flashdrop:problem:sold_out", "abcdefgh<", "abcdefg\u2028", "abcdefgh\xff", "abcdefghijklmnop\x00", "abcdefghijklmnopq\"r"} {
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

// TestPlain8: every byte in every lane of a word of plain bytes, each
// alone, is judged as the byte-at-a-time loop judges it.
func TestPlain8(t *testing.T) {
	for c := range 256 {
		want := c >= 0x20 && c < 0x80 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
		for lane := range 8 {
			w := []byte("abcdefgh")
			w[lane] = byte(c)
			x := uint64(0)
			for i := 7; i >= 0; i-- {
				x = x<<8 | uint64(w[i])
			}
			if got := plain8(x); got != want {
				t.Fatalf("byte %#x in lane %d: plain %v, want %v", c, lane, got, want)
			}
		}
	}
}

func BenchmarkAppendString(b *testing.B) {
	for _, s := range []string{"urn:flashdrop:problem:sold_out", "3f9a1c27e8b4d6f0a1b2c3d4", "Per-shopper <limit> reached & more"} {
		b.Run(s[:8], func(b *testing.B) {
			buf := make([]byte, 0, 128)
			for b.Loop() {
				buf = AppendString(buf[:0], s)
			}
		})
	}
}
