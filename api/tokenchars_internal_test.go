package api

import (
	"math/rand/v2"
	"testing"
)

// tokenCharsByByte is isTokenChars one byte at a time: the rule itself.
func tokenCharsByByte(b []byte) bool {
	for _, c := range b {
		if c <= ' ' || c >= 0x7f {
			return false
		}
	}
	return true
}

// TestIsTokenCharsWordAtATime checks the eight-bytes-a-word scan against
// the rule: every byte value at every position of tokens long enough for
// two words and a tail, and random tokens mixing good and bad bytes.
func TestIsTokenCharsWordAtATime(t *testing.T) {
	for n := 0; n <= 19; n++ {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(0x21 + i%0x5e)
		}
		if !isTokenChars(b) {
			t.Fatalf("%q refused", b)
		}
		for i := range b {
			keep := b[i]
			for c := 0; c < 256; c++ {
				b[i] = byte(c)
				if got, want := isTokenChars(b), tokenCharsByByte(b); got != want {
					t.Fatalf("length %d, byte %#x at %d: %v, want %v", n, c, i, got, want)
				}
			}
			b[i] = keep
		}
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 200000 {
		b := make([]byte, r.IntN(40))
		for i := range b {
			if r.IntN(20) == 0 {
				b[i] = byte(r.IntN(256))
			} else {
				b[i] = byte(0x21 + r.IntN(0x5e))
			}
		}
		if got, want := isTokenChars(b), tokenCharsByByte(b); got != want {
			t.Fatalf("%q: %v, want %v", b, got, want)
		}
	}
}

func BenchmarkIsTokenChars(b *testing.B) {
	tok := make([]byte, 200)
	for i := range tok {
		tok[i] = byte(0x21 + i%0x5e)
	}
	b.Run("word", func(b *testing.B) {
		for b.Loop() {
			if !isTokenChars(tok) {
				b.Fatal("refused")
			}
		}
	})
	b.Run("byte", func(b *testing.B) {
		for b.Loop() {
			if !tokenCharsByByte(tok) {
				b.Fatal("refused")
			}
		}
	})
}
