package webhooksig_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flashdrop/flashdrop/queue/webhooksig"
)

var (
	secret = []byte("whsec_0123456789abcdef")
	now    = time.Unix(1_795_000_000, 0)
	body   = []byte(`{"specversion":"1.0","id":"evt-1","type":"flashdrop.won","data":{"drop":"tuesday"}}`)
)

// reference computes the v1 value independently of the package.
func reference(secret []byte, ts string, body []byte) string {
	h := hmac.New(sha256.New, secret)
	h.Write([]byte(ts + "." + string(body)))
	return hex.EncodeToString(h.Sum(nil))
}

func TestSignFormat(t *testing.T) {
	got := webhooksig.Sign(secret, body, now)
	want := "t=1795000000,v1=" + reference(secret, "1795000000", body)
	if got != want {
		t.Fatalf("Sign = %q, want %q", got, want)
	}
}

func TestRoundTrip(t *testing.T) {
	h := webhooksig.Sign(secret, body, now)
	if err := webhooksig.Verify(secret, h, body, 0, now); err != nil {
		t.Fatalf("Verify(own signature) = %v", err)
	}
	// Within the tolerance either way, and with spaces around the parts.
	for _, skew := range []time.Duration{-4 * time.Minute, 4 * time.Minute} {
		if err := webhooksig.Verify(secret, h, body, 0, now.Add(skew)); err != nil {
			t.Errorf("skew %v: %v", skew, err)
		}
	}
	spaced := " " + strings.ReplaceAll(h, ",", " , ") + " "
	if err := webhooksig.Verify(secret, spaced, body, 0, now); err != nil {
		t.Errorf("spaced header: %v", err)
	}
	// Order and unknown keys do not matter.
	ts, v1, _ := strings.Cut(h, ",")
	for _, hdr := range []string{v1 + "," + ts, ts + ",v0=abc," + v1 + ",x=y"} {
		if err := webhooksig.Verify(secret, hdr, body, 0, now); err != nil {
			t.Errorf("%q: %v", hdr, err)
		}
	}
}

func TestTamperedBody(t *testing.T) {
	h := webhooksig.Sign(secret, body, now)
	for _, b := range [][]byte{
		[]byte(strings.Replace(string(body), "won", "wan", 1)),
		append(append([]byte{}, body...), ' '),
		body[:len(body)-1],
		nil,
	} {
		if err := webhooksig.Verify(secret, h, b, 0, now); !errors.Is(err, webhooksig.ErrMismatch) {
			t.Errorf("body %q: err = %v, want ErrMismatch", b, err)
		}
	}
	// A timestamp moved within the tolerance invalidates the signature too.
	_, v1, _ := strings.Cut(h, ",")
	moved := "t=" + strconv.FormatInt(now.Unix()+1, 10) + "," + v1
	if err := webhooksig.Verify(secret, moved, body, 0, now); !errors.Is(err, webhooksig.ErrMismatch) {
		t.Errorf("moved timestamp: err = %v, want ErrMismatch", err)
	}
}

func TestWrongSecret(t *testing.T) {
	h := webhooksig.Sign([]byte("whsec_other"), body, now)
	if err := webhooksig.Verify(secret, h, body, 0, now); !errors.Is(err, webhooksig.ErrMismatch) {
		t.Fatalf("err = %v, want ErrMismatch", err)
	}
	if err := webhooksig.Verify(nil, webhooksig.Sign(secret, body, now), body, 0, now); !errors.Is(err, webhooksig.ErrMismatch) {
		t.Fatalf("empty secret: err = %v, want ErrMismatch", err)
	}
}

func TestStale(t *testing.T) {
	h := webhooksig.Sign(secret, body, now)
	for _, tc := range []struct {
		name string
		skew time.Duration
		tol  time.Duration
	}{
		{"old, default tolerance", 5*time.Minute + time.Second, 0},
		{"future, default tolerance", -5*time.Minute - time.Second, 0},
		{"old, short tolerance", 31 * time.Second, 30 * time.Second},
		{"future, short tolerance", -31 * time.Second, 30 * time.Second},
		{"far past", -100 * 365 * 24 * time.Hour, 0},
	} {
		if err := webhooksig.Verify(secret, h, body, tc.tol, now.Add(tc.skew)); !errors.Is(err, webhooksig.ErrStale) {
			t.Errorf("%s: err = %v, want ErrStale", tc.name, err)
		}
	}
	if err := webhooksig.Verify(secret, h, body, 30*time.Second, now.Add(30*time.Second)); err != nil {
		t.Errorf("at the tolerance: %v", err)
	}
	// A huge timestamp is stale, not an overflow.
	huge := "t=9223372036854775807,v1=" + reference(secret, "9223372036854775807", body)
	if err := webhooksig.Verify(secret, huge, body, 0, now); !errors.Is(err, webhooksig.ErrStale) {
		t.Errorf("huge timestamp: err = %v, want ErrStale", err)
	}
}

func TestMissingAndMalformed(t *testing.T) {
	if err := webhooksig.Verify(secret, "", body, 0, now); !errors.Is(err, webhooksig.ErrMissing) {
		t.Errorf("empty header: err = %v, want ErrMissing", err)
	}
	if err := webhooksig.Verify(secret, "   ", body, 0, now); !errors.Is(err, webhooksig.ErrMissing) {
		t.Errorf("blank header: err = %v, want ErrMissing", err)
	}
	ts := strconv.FormatInt(now.Unix(), 10)
	good := reference(secret, ts, body)
	for _, h := range []string{
		"garbage",
		"t=" + ts,                                      // no v1
		"v1=" + good,                                   // no t
		"t=,v1=" + good,                                // empty t
		"t=abc,v1=" + good,                             // not a number
		"t=-" + ts + ",v1=" + good,                     // signed
		"t=+" + ts + ",v1=" + good,                     // signed
		"t=0" + ts + ",v1=" + good,                     // leading zero
		"t=1e9,v1=" + good,                             // not an integer
		"t=99999999999999999999,v1=" + good,            // overflow
		"t=" + ts + ",t=" + ts + ",v1=" + good,         // two timestamps
		"t=" + ts + ",v1=zz" + good[2:],                // not hex
		"t=" + ts + ",v1=" + good[:62],                 // short
		"t=" + ts + ",v1=" + good + "00",               // long
		"t=" + ts + ",v1=",                             // empty v1
		"t=" + ts + ",,v1=" + good,                     // empty part
		"t=" + ts + ";v1=" + good,                      // wrong separator
		"t=" + ts + ",v1=" + good + ",v1=" + good[:10], // one bad value
	} {
		if err := webhooksig.Verify(secret, h, body, 0, now); !errors.Is(err, webhooksig.ErrMalformed) {
			t.Errorf("%q: err = %v, want ErrMalformed", h, err)
		}
	}
}

func TestSecretRotation(t *testing.T) {
	oldSecret, newSecret := []byte("whsec_old"), []byte("whsec_new")
	ts := strconv.FormatInt(now.Unix(), 10)
	// During a rotation the sender signs with both secrets.
	h := "t=" + ts + ",v1=" + reference(oldSecret, ts, body) + ",v1=" + reference(newSecret, ts, body)
	for _, s := range [][]byte{oldSecret, newSecret} {
		if err := webhooksig.Verify(s, h, body, 0, now); err != nil {
			t.Errorf("secret %s: %v", s, err)
		}
	}
	if err := webhooksig.Verify([]byte("whsec_third"), h, body, 0, now); !errors.Is(err, webhooksig.ErrMismatch) {
		t.Errorf("third secret: err = %v, want ErrMismatch", err)
	}
	// A receiver holding both secrets accepts either.
	one := webhooksig.Sign(newSecret, body, now)
	accepted := false
	for _, s := range [][]byte{oldSecret, newSecret} {
		if webhooksig.Verify(s, one, body, 0, now) == nil {
			accepted = true
		}
	}
	if !accepted {
		t.Error("a receiver with both secrets refused a delivery signed with the new one")
	}
}

// TestSignWith: the header of a delivery in a rotation's grace holds one
// v1 value per secret, in order, each the reference HMAC; one secret is
// Sign's header.
func TestSignWith(t *testing.T) {
	oldSecret, newSecret := []byte("whsec_old"), []byte("whsec_new")
	ts := strconv.FormatInt(now.Unix(), 10)
	if got, want := webhooksig.SignWith(body, now, newSecret, oldSecret),
		"t="+ts+",v1="+reference(newSecret, ts, body)+",v1="+reference(oldSecret, ts, body); got != want {
		t.Fatalf("SignWith = %s, want %s", got, want)
	}
	if got := webhooksig.SignWith(body, now, secret); got != webhooksig.Sign(secret, body, now) {
		t.Fatalf("SignWith with one secret = %s, Sign = %s", got, webhooksig.Sign(secret, body, now))
	}
}

func FuzzVerify(f *testing.F) {
	ts := strconv.FormatInt(now.Unix(), 10)
	f.Add(webhooksig.Sign(secret, body, now), body, []byte("other"), int64(0))
	f.Add("t="+ts+",v1="+reference(secret, ts, body)+",v1=00", body, body, int64(30))
	f.Add("v1="+reference(secret, ts, body)+",t="+ts, []byte{}, []byte("x"), int64(-400))
	f.Add("t=1,v1=1", []byte("a"), []byte("b"), int64(1<<40))
	f.Add("", []byte(nil), []byte(nil), int64(0))
	f.Fuzz(func(t *testing.T, header string, signed, other []byte, skew int64) {
		at := now.Add(time.Duration(skew%1_000_000) * time.Second)

		// Whatever the header, Verify does not panic, and it accepts only
		// a body whose HMAC under the secret, for a timestamp within the
		// tolerance, the header carries.
		if webhooksig.Verify(secret, header, signed, 0, now) == nil {
			found := false
			for d := int64(-300); d <= 300 && !found; d++ {
				cand := strconv.FormatInt(now.Unix()+d, 10)
				found = strings.Contains(header, "t="+cand) && strings.Contains(header, "v1="+reference(secret, cand, signed))
			}
			if !found {
				t.Fatalf("Verify accepted %q for body %q, which was not signed with the secret", header, signed)
			}
		}

		// A delivery we signed verifies, and only for its own body and secret.
		h := webhooksig.Sign(secret, signed, at)
		if err := webhooksig.Verify(secret, h, signed, 0, at); err != nil {
			t.Fatalf("round trip at %v: %v", at, err)
		}
		if string(other) != string(signed) {
			if err := webhooksig.Verify(secret, h, other, 0, at); !errors.Is(err, webhooksig.ErrMismatch) {
				t.Fatalf("body %q signed, body %q accepted: %v", signed, other, err)
			}
		}
		if err := webhooksig.Verify(append([]byte("x"), secret...), h, signed, 0, at); !errors.Is(err, webhooksig.ErrMismatch) {
			t.Fatalf("other secret accepted: %v", err)
		}
		// The fuzzed header appended to a genuine one cannot break or fake it.
		if err := webhooksig.Verify(secret, h+","+header, other, 0, at); err == nil && string(other) != string(signed) {
			found := false
			for d := int64(-300); d <= 300 && !found; d++ {
				cand := strconv.FormatInt(at.Unix()+d, 10)
				found = strings.Contains(header, "v1="+reference(secret, cand, other))
			}
			if !found {
				t.Fatalf("Verify accepted %q for body %q", h+","+header, other)
			}
		}
	})
}

// An integrator's endpoint: verify the signature over the raw body, then
// process each event once, whatever the number of deliveries.
func ExampleVerify() {
	secret := []byte("whsec_shown_once_when_the_webhook_was_created")

	var (
		mu   sync.Mutex
		seen = map[string]bool{} // in production: a unique key in your database
	)
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
		if err != nil {
			http.Error(w, "body too large", http.StatusRequestEntityTooLarge)
			return
		}
		// Verify the raw bytes, before decoding them.
		if err := webhooksig.Verify(secret, r.Header.Get(webhooksig.Header), body, 0, time.Now()); err != nil {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		var ev struct {
			ID   string `json:"id"`
			Type string `json:"type"`
			Data struct {
				Drop string `json:"drop"`
				User string `json:"user"`
			} `json:"data"`
		}
		if err := json.Unmarshal(body, &ev); err != nil || ev.ID == "" {
			http.Error(w, "not a CloudEvent", http.StatusBadRequest)
			return
		}
		// Delivery is at least once: the same id may come again (a retry
		// after a timeout, another node). Acknowledge it without acting twice.
		mu.Lock()
		dup := seen[ev.ID]
		seen[ev.ID] = true // record it with the side effect, in one transaction
		mu.Unlock()
		if !dup {
			fmt.Printf("%s: %s won at %s\n", ev.ID, ev.Data.User, ev.Data.Drop)
		}
		w.WriteHeader(http.StatusNoContent) // any 2xx acknowledges
	})

	// What flashdrop sends (the CloudEvent is abbreviated here).
	deliver := func(body []byte, sig string) int {
		r := httptest.NewRequest(http.MethodPost, "/flashdrop", strings.NewReader(string(body)))
		r.Header.Set("Content-Type", "application/cloudevents+json")
		r.Header.Set(webhooksig.Header, sig)
		w := httptest.NewRecorder()
		handler.ServeHTTP(w, r)
		return w.Code
	}
	ev := []byte(`{"specversion":"1.0","id":"01J9Z7","type":"flashdrop.won","data":{"drop":"tuesday","user":"alice"}}`)
	sig := webhooksig.Sign(secret, ev, time.Now())
	fmt.Println(deliver(ev, sig))                                                         // first delivery
	fmt.Println(deliver(ev, sig))                                                         // a retry
	fmt.Println(deliver([]byte(strings.Replace(string(ev), "alice", "mallory", 1)), sig)) // forged
	// Output:
	// 01J9Z7: alice won at tuesday
	// 204
	// 204
	// 401
}
