package api

import (
	"time"
	"unicode/utf8"

	"github.com/golang-jwt/jwt/v5"
)

// decodeClaims reads the claims of the common shopper token, a flat JSON
// object such as {"sub":"alice","exp":1796346146,"iat":1796324546}, into
// c, as encoding/json would, without reflection: a first registration
// verifies a token nobody has shown before, and under a registration rush
// encoding/json's decoding was a sixth of the server's CPU (NumericDate
// goes through json.Number and a float, and every claim allocates).
//
// It accepts only a subset it can decode exactly: the seven registered
// claim names spelled as jwt writes them, each at most once; string values
// without escapes or control bytes, in valid UTF-8; exp, nbf and iat as plain
// integers of at most 15 digits (so the float jwt would go through is
// exact); aud as one string or an array of them; other members with a string, integer, true,
// false or null value. Anything else (a name that matches a claim only
// case-insensitively, which encoding/json would still fill, a fraction,
// an array, an escape, a duplicate) answers false, and the caller decodes
// with encoding/json instead. FuzzVerifyFast holds the two to one answer.
func decodeClaims(b []byte, c *jwt.RegisteredClaims) bool {
	var seen uint8
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return false
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return skipSpace(b, i+1) == len(b)
	}
	for {
		// A member name.
		name, j, ok := plainString(b, i, true)
		if !ok {
			return false
		}
		i = skipSpace(b, j)
		if i >= len(b) || b[i] != ':' {
			return false
		}
		i = skipSpace(b, i+1)
		bit, known := claimBit(name)
		if !known && claimFolds(name) {
			return false // encoding/json matches names case-insensitively
		}
		if known {
			if seen&bit != 0 {
				return false
			}
			seen |= bit
		}
		switch {
		case bit == claimAud && i < len(b) && b[i] == '[':
			aud, j, ok := plainStrings(b, i)
			if !ok {
				return false
			}
			c.Audience = aud
			i = j
		case bit&(claimIss|claimSub|claimJti|claimAud) != 0:
			s, j, ok := plainString(b, i, false)
			if !ok {
				return false
			}
			v := string(s)
			switch bit {
			case claimIss:
				c.Issuer = v
			case claimSub:
				c.Subject = v
			case claimJti:
				c.ID = v
			default:
				c.Audience = jwt.ClaimStrings{v}
			}
			i = j
		case known: // exp, nbf, iat
			n, j, ok := plainInt(b, i)
			if !ok {
				return false
			}
			d := jwt.NewNumericDate(time.Unix(n, 0))
			switch bit {
			case claimExp:
				c.ExpiresAt = d
			case claimNbf:
				c.NotBefore = d
			default:
				c.IssuedAt = d
			}
			i = j
		default:
			j, ok := skipSimpleValue(b, i)
			if !ok {
				return false
			}
			i = j
		}
		i = skipSpace(b, i)
		if i >= len(b) {
			return false
		}
		switch b[i] {
		case ',':
			i = skipSpace(b, i+1)
		case '}':
			return skipSpace(b, i+1) == len(b)
		default:
			return false
		}
	}
}

const (
	claimIss uint8 = 1 << iota
	claimSub
	claimAud
	claimExp
	claimNbf
	claimIat
	claimJti
)

func claimBit(name []byte) (uint8, bool) {
	switch string(name) { // no allocation: the compiler compares in place
	case "iss":
		return claimIss, true
	case "sub":
		return claimSub, true
	case "aud":
		return claimAud, true
	case "exp":
		return claimExp, true
	case "nbf":
		return claimNbf, true
	case "iat":
		return claimIat, true
	case "jti":
		return claimJti, true
	}
	return 0, false
}

// claimFolds reports whether name is a claim's name in another case
// ("SUB", "Exp"), which encoding/json would decode into the claim.
func claimFolds(name []byte) bool {
	if len(name) != 3 {
		return false
	}
	var lower [3]byte
	for i, c := range name {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		lower[i] = c
	}
	_, known := claimBit(lower[:])
	return known
}

// skipSpace is the index of the first byte at or after b[i] that is not
// JSON whitespace.
func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// plainString reads a JSON string at b[i] whose bytes need no decoding:
// no backslash or control byte, and valid UTF-8 (encoding/json replaces
// invalid bytes). A member name must be printable ASCII besides, since
// encoding/json folds some other letters into ASCII ones ("ſub" names
// sub). It returns the bytes between the quotes and the index after the
// closing one.
func plainString(b []byte, i int, name bool) ([]byte, int, bool) {
	if i >= len(b) || b[i] != '"' {
		return nil, i, false
	}
	ascii := true
	for j := i + 1; j < len(b); j++ {
		switch c := b[j]; {
		case c == '"':
			s := b[i+1 : j]
			if !ascii && (name || !utf8.Valid(s)) {
				return nil, j, false
			}
			return s, j + 1, true
		case c == '\\' || c < 0x20:
			return nil, j, false
		case c >= 0x7f:
			ascii = false
		}
	}
	return nil, len(b), false
}

// plainStrings reads a JSON array of plain strings at b[i] (jwt writes
// aud so), as jwt's ClaimStrings decodes it: nil for an empty array.
func plainStrings(b []byte, i int) (jwt.ClaimStrings, int, bool) {
	var out jwt.ClaimStrings
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == ']' {
		return nil, i + 1, true
	}
	for {
		s, j, ok := plainString(b, i, false)
		if !ok {
			return nil, j, false
		}
		out = append(out, string(s))
		i = skipSpace(b, j)
		if i >= len(b) {
			return nil, i, false
		}
		switch b[i] {
		case ',':
			i = skipSpace(b, i+1)
		case ']':
			return out, i + 1, true
		default:
			return nil, i, false
		}
	}
}

// plainInt reads a JSON integer of 1 to 15 digits without a sign at b[i]:
// below 2^53, so jwt's float64 holds it exactly, and as JSON has it, no
// leading zero.
func plainInt(b []byte, i int) (int64, int, bool) {
	var n int64
	j := i
	for j < len(b) && b[j] >= '0' && b[j] <= '9' {
		n = n*10 + int64(b[j]-'0')
		j++
	}
	digits := j - i
	if digits == 0 || digits > 15 || (digits > 1 && b[i] == '0') {
		return 0, i, false
	}
	// A number must end there: "1.5", "1e3" and "12a" are not ours.
	if !valueEnds(b, j) {
		return 0, i, false
	}
	return n, j, true
}

// valueEnds reports whether a number or literal that ends before b[j]
// really ends there: at the end of b, space, ',' or '}'.
func valueEnds(b []byte, j int) bool {
	if j == len(b) {
		return true
	}
	switch b[j] {
	case ' ', '\t', '\n', '\r', ',', '}':
		return true
	}
	return false
}

// skipSimpleValue skips the value of a member decodeClaims ignores: a
// plain string, a plain integer, true, false or null.
func skipSimpleValue(b []byte, i int) (int, bool) {
	if i >= len(b) {
		return i, false
	}
	switch b[i] {
	case '"':
		_, j, ok := plainString(b, i, false)
		return j, ok
	case 't':
		return literal(b, i, "true")
	case 'f':
		return literal(b, i, "false")
	case 'n':
		return literal(b, i, "null")
	}
	_, j, ok := plainInt(b, i)
	return j, ok
}

func literal(b []byte, i int, lit string) (int, bool) {
	if len(b)-i < len(lit) || string(b[i:i+len(lit)]) != lit {
		return i, false
	}
	if j := i + len(lit); valueEnds(b, j) {
		return j, true
	}
	return i, false
}
