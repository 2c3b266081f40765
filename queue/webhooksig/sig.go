// Package webhooksig signs and verifies flashdrop webhook deliveries. It
// uses the standard library only, so integrators can import it on its own.
//
// Every delivery is an HTTP POST of a CloudEvent (SPEC §5) carrying
//
//	Flashdrop-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>
//
// A receiver verifies the signature over the raw body bytes (before any
// JSON decoding), rejects stale timestamps to bound replays, and
// deduplicates by the CloudEvent id (also sent as Flashdrop-Event-Id):
// delivery is at least once, so the same event may arrive more than once.
// While a secret is being rotated the header may carry several v1 values;
// a delivery is genuine when any of them matches.
package webhooksig

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"time"
)

// Header is the HTTP header that carries the signature.
const Header = "Flashdrop-Signature"

// DefaultTolerance is how far a delivery's timestamp may be from the
// receiver's clock when Verify is given no tolerance.
const DefaultTolerance = 5 * time.Minute

// Errors returned by Verify.
var (
	// ErrMissing: there is no signature header.
	ErrMissing = errors.New("webhooksig: missing signature")
	// ErrMalformed: the header is not t=<unix>,v1=<hex>[,v1=<hex>…].
	ErrMalformed = errors.New("webhooksig: malformed signature header")
	// ErrStale: the timestamp is further than the tolerance from now.
	ErrStale = errors.New("webhooksig: timestamp outside the tolerance")
	// ErrMismatch: no v1 signature matches the body and the secret.
	ErrMismatch = errors.New("webhooksig: signature mismatch")
)

// Sign returns the header value "t=<unix>,v1=<hex HMAC-SHA256(secret,
// "<t>.<raw body>")>" for a delivery of body at time t.
func Sign(secret []byte, body []byte, t time.Time) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + hex.EncodeToString(mac(secret, ts, body))
}

// SignWith is Sign with one v1 value per secret, in order: the header a
// delivery carries while a secret is being rotated (the new one first,
// then the one it replaces), which Verify accepts with either.
func SignWith(body []byte, t time.Time, secrets ...[]byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	out := "t=" + ts
	for _, s := range secrets {
		out += ",v1=" + hex.EncodeToString(mac(s, ts, body))
	}
	return out
}

func mac(secret []byte, ts string, body []byte) []byte {
	h := hmac.New(sha256.New, secret)
	h.Write([]byte(ts))
	h.Write([]byte{'.'})
	h.Write(body)
	return h.Sum(nil)
}

// Verify checks a delivery: it parses the header (one t and one or more v1
// values, in any order; unknown keys are ignored), rejects a timestamp
// further than tolerance from now in either direction (DefaultTolerance
// when tolerance <= 0), and compares the signatures in constant time. body
// must be the raw request body, unchanged.
//
// It returns nil, ErrMissing, ErrMalformed, ErrStale or ErrMismatch.
func Verify(secret []byte, header string, body []byte, tolerance time.Duration, now time.Time) error {
	header = strings.TrimSpace(header)
	if header == "" {
		return ErrMissing
	}
	var (
		ts   string
		sigs [][]byte
	)
	for part := range strings.SplitSeq(header, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return ErrMalformed
		}
		switch k {
		case "t":
			if ts != "" || !canonicalUnix(v) {
				return ErrMalformed
			}
			ts = v
		case "v1":
			sig, err := hex.DecodeString(v)
			if err != nil || len(sig) != sha256.Size {
				return ErrMalformed
			}
			sigs = append(sigs, sig)
		}
	}
	if ts == "" || len(sigs) == 0 {
		return ErrMalformed
	}
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	sec, _ := strconv.ParseInt(ts, 10, 64) // checked by canonicalUnix
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return ErrStale
	}
	want := mac(secret, ts, body)
	ok := 0
	for _, sig := range sigs {
		// Compare every value, so timing does not reveal which one matched.
		if hmac.Equal(sig, want) {
			ok = 1
		}
	}
	if ok == 0 {
		return ErrMismatch
	}
	return nil
}

// canonicalUnix reports whether s is a non-negative integer in the form
// Sign writes it: decimal digits only, no sign, no leading zero.
func canonicalUnix(s string) bool {
	if s == "" || len(s) > 19 || (len(s) > 1 && s[0] == '0') {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	_, err := strconv.ParseInt(s, 10, 64)
	return err == nil
}
