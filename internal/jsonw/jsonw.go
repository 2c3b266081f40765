// Package jsonw writes JSON by hand for the few documents the hot paths
// send per request or per event (a won reservation, a registration, an
// event's envelope, a problem), byte for byte what encoding/json writes
// for the same struct, without reflection. A value it would write
// differently (a time outside years 0-9999, a float that needs an
// exponent) turns a Writer's OK false, and the caller uses encoding/json
// instead; each caller's tests compare the two, and FuzzAppendString holds
// the string escaping to encoding/json's.
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

// Str writes s as a JSON string, escaped as encoding/json escapes it.
func (w *Writer) Str(s string) { w.B = AppendString(w.B, s) }

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

// AppendString appends s as a JSON string escaped as encoding/json
// escapes it by default: control characters, quote and backslash, the
// HTML-sensitive <, > and &, U+2028 and U+2029, and invalid UTF-8 as
// U+FFFD.
func AppendString[S ~string | ~[]byte](b []byte, s S) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	// Most strings written (ids, codes, type URIs) need no escape at
	// all: their plain start is skipped eight bytes at a time, and the
	// loop below goes byte by byte from the first eight that are not.
	start, i := 0, 0
	for i+8 <= len(s) {
		w := s[i : i+8] // one bounds check for the eight loads, which merge into one
		if !plain8(uint64(w[0]) | uint64(w[1])<<8 | uint64(w[2])<<16 | uint64(w[3])<<24 |
			uint64(w[4])<<32 | uint64(w[5])<<40 | uint64(w[6])<<48 | uint64(w[7])<<56) {
			break
		}
		i += 8
	}
	for i < len(s) {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(string(s[i:min(i+utf8.UTFMax, len(s))]))
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// plain8 reports whether each of the eight bytes in x is written as it
// is: ASCII from 0x20 and none of " \ < > &. Each test sets bit 7 of a
// lane that fails it (a lane's borrow into the next one comes only from a
// lane that fails already, so the answer for the word is exact). Four of
// the five characters come in pairs one bit apart, " and & (0x22, 0x26)
// and < and > (0x3c, 0x3e), each pair found with one compare; \ alone.
func plain8(x uint64) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	zero := func(v uint64) uint64 { return (v - ones) &^ v } // bit 7 of each zero lane, and above
	bad := x | (x-ones*0x20)&^x |
		zero((x|ones*0x04)^ones*0x26) | zero((x|ones*0x02)^ones*0x3e) | zero(x^ones*'\\')
	return bad&highs == 0
}
