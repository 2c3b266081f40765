// Package jsonw writes JSON by hand for the few documents the hot paths
// send per request or per event (a won reservation, an event's envelope),
// byte for byte what encoding/json writes for the same struct, without
// reflection. Anything it would write differently (a string that needs
// escaping, a time outside years 0-9999, a float that needs an exponent)
// turns OK false, and the caller uses encoding/json instead; each caller's
// tests compare the two.
package jsonw

import (
	"strconv"
	"time"
	"unicode/utf8"
)

// Writer appends JSON values. OK turns false at the first value it cannot
// write byte for byte as encoding/json would; the caller then falls back
// to encoding/json for the whole document.
type Writer struct {
	B  []byte
	OK bool
}

// New starts a Writer appending to b.
func New(b []byte) Writer { return Writer{B: b, OK: true} }

// Raw appends s as it is: keys, punctuation, literals.
func (w *Writer) Raw(s string) { w.B = append(w.B, s...) }

// Str writes s quoted when it needs no escaping under encoding/json's
// rules (HTML-safe, U+2028 and U+2029 escaped, invalid UTF-8 replaced).
func (w *Writer) Str(s string) {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c < 0x20, c == '"', c == '\\', c == '<', c == '>', c == '&':
			w.OK = false
			return
		case c >= utf8.RuneSelf:
			if !utf8.ValidString(s[i:]) {
				w.OK = false
				return
			}
			for _, r := range s[i:] {
				if r < 0x20 || r == '"' || r == '\\' || r == '<' || r == '>' || r == '&' || r == '\u2028' || r == '\u2029' {
					w.OK = false
					return
				}
			}
			w.B = append(append(append(w.B, '"'), s...), '"')
			return
		}
	}
	w.B = append(append(append(w.B, '"'), s...), '"')
}

// OptStr writes key and s unless s is empty (omitempty).
func (w *Writer) OptStr(key, s string) {
	if s != "" {
		w.Raw(key)
		w.Str(s)
	}
}

// OptInt writes key and n unless n is 0 (omitempty).
func (w *Writer) OptInt(key string, n int64) {
	if n != 0 {
		w.Raw(key)
		w.B = strconv.AppendInt(w.B, n, 10)
	}
}

// OptPtr writes key and *p unless p is nil (omitempty).
func (w *Writer) OptPtr(key string, p *int64) {
	if p != nil {
		w.Raw(key)
		w.B = strconv.AppendInt(w.B, *p, 10)
	}
}

// Time writes t as time.Time.MarshalJSON does; that refuses years
// outside 0-9999, which are left to it.
func (w *Writer) Time(t time.Time) {
	if y := t.Year(); y < 0 || y > 9999 {
		w.OK = false
		return
	}
	w.B = append(t.AppendFormat(append(w.B, '"'), time.RFC3339Nano), '"')
}

// OptTime writes key and t unless t is zero (omitzero).
func (w *Writer) OptTime(key string, t time.Time) {
	if !t.IsZero() {
		w.Raw(key)
		w.Time(t)
	}
}

// Float writes f in encoding/json's plain form; the exponent form (and
// NaN or infinity, which it refuses) are left to it.
func (w *Writer) Float(f float64) {
	if a := max(f, -f); a != 0 && (a < 1e-6 || a >= 1e21) || f != f {
		w.OK = false
		return
	}
	w.B = strconv.AppendFloat(w.B, f, 'f', -1, 64)
}

// Int writes n.
func (w *Writer) Int(n int64) { w.B = strconv.AppendInt(w.B, n, 10) }

// Bool writes v.
func (w *Writer) Bool(v bool) { w.B = strconv.AppendBool(w.B, v) }
