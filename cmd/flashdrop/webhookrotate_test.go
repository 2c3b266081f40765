package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flashdrop/flashdrop/internal/testkit"
	"github.com/flashdrop/flashdrop/queue/webhooksig"
)

// signedDelivery is one delivery as the receiver got it.
type signedDelivery struct {
	header string
	body   []byte
}

// verifiesWith reports whether d's signature verifies with secret (at
// the delivery's own time: the node runs on a manual clock).
func (d signedDelivery) verifiesWith(secret string) bool {
	_, rest, _ := strings.Cut(d.header, "t=")
	ts, _, _ := strings.Cut(rest, ",")
	sec, _ := strconv.ParseInt(ts, 10, 64)
	return webhooksig.Verify([]byte(secret), d.header, d.body, time.Minute, time.Unix(sec, 0)) == nil
}

// registeredUser finds the shopper in a registered event's body.
var registeredUser = regexp.MustCompile(`"user":\s*"u(\d+)"`)

// TestWebhookSecretRotation: a leaked or old signing secret is replaced
// without losing a delivery. After a rotation with grace each delivery
// is signed with the new secret and the old one (two v1 values), so the
// receiver moves at leisure; a second rotation inside that grace is
// refused, unless it keeps no grace, after which only the newest signs.
// The secret is shown only in the rotation's answer.
func TestWebhookSecretRotation(t *testing.T) {
	t.Parallel()
	s := startInteg(t, nil)
	// The deliverer signs on the node's wall clock, but judges a grace on
	// the engine's, on which the rotation set it: the engine's clock here
	// is two days from the wall clock, so a grace judged on the wall clock
	// would end at once or last for days.
	s.clock.Set(time.Now().UTC().Add(48 * time.Hour).Truncate(time.Millisecond))
	var mu sync.Mutex
	var got []signedDelivery
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, signedDelivery{r.Header.Get(webhooksig.Header), body})
		mu.Unlock()
	}))
	defer rcv.Close()
	created := s.must(t, 201, "POST", "/v1/admin/webhooks", map[string]any{"url": rcv.URL, "types": []string{"registered"}})
	id, first := created.body["id"].(string), created.body["secret"].(string)

	drop := uniqueDrop("rotate-secret")
	s.must(t, 201, "POST", "/v1/admin/drops", map[string]any{"id": drop, "name": "Sneaker", "stock": 5, "per_user_limit": 1,
		"registration_opens_at": s.clock.Now().Add(-time.Hour), "registration_closes_at": s.clock.Now().Add(3 * time.Hour),
		"sale_starts_at": s.clock.Now().Add(3 * time.Hour)})
	n := 0
	// nextSigned registers shoppers until a delivery of one of those
	// registrations verifies with secret, and returns it. Only this call's
	// registrations count: a delivery of an earlier one may arrive late,
	// signed before the change the caller just made (CI saw one signed in
	// the grace arrive after the clock had passed it).
	nextSigned := func(what, secret string) signedDelivery {
		t.Helper()
		var found signedDelivery
		first := n + 1
		ours := func(d signedDelivery) bool {
			m := registeredUser.FindSubmatch(d.body)
			if m == nil {
				return false
			}
			k, err := strconv.Atoi(string(m[1]))
			return err == nil && k >= first
		}
		testkit.Eventually(t, 20*time.Second, what, func() bool {
			n++
			if r := call(t, "POST", s.base+"/v1/drops/"+drop+"/registrations", mint(t, s.m, "u"+strconv.Itoa(n)), ""); r.status != 201 {
				t.Fatalf("register: %d %s", r.status, r.raw)
			}
			time.Sleep(20 * time.Millisecond) // a registration a tick, not a flood
			mu.Lock()
			defer mu.Unlock()
			for _, d := range got {
				if ours(d) && d.verifiesWith(secret) {
					found = d
					got = nil
					return true
				}
			}
			got = nil
			return false
		})
		return found
	}
	if d := nextSigned("a delivery signed with the first secret", first); strings.Count(d.header, "v1=") != 1 {
		t.Fatalf("before any rotation: %s", d.header)
	}

	rot := s.must(t, 200, "POST", "/v1/admin/webhooks/"+id+"/rotate", map[string]any{"grace_seconds": 3600})
	second, _ := rot.body["secret"].(string)
	until, _ := time.Parse(time.RFC3339Nano, rot.body["previous_secret_until"].(string))
	if !strings.HasPrefix(second, "whsec_") || second == first || !until.Equal(s.clock.Now().Add(time.Hour).Truncate(time.Millisecond)) {
		t.Fatalf("rotation: %s", rot.raw)
	}
	if r := s.must(t, 200, "GET", "/v1/admin/webhooks/"+id, nil); strings.Contains(r.raw, "whsec_") || r.body["previous_secret_until"] == nil {
		t.Fatalf("the webhook shows a secret, or not its grace: %s", r.raw)
	}
	// In the grace, both sign: a receiver on either secret accepts.
	d := nextSigned("a delivery signed with the new secret", second)
	if !d.verifiesWith(first) || strings.Count(d.header, "v1=") != 2 {
		t.Fatalf("in the grace, the old secret does not verify: %s", d.header)
	}
	// A second rotation would end that grace early: refused, unless it
	// asks for no grace (the new secret leaked too).
	if r := s.call(t, "POST", "/v1/admin/webhooks/"+id+"/rotate", map[string]any{}); r.status != 409 || r.body["code"] != "rotation_pending" {
		t.Fatalf("a rotation inside the grace: %d %s", r.status, r.raw)
	}
	// The receiver has moved to the new secret: it ends the grace at
	// once. Only the new secret signs, and a rotation is no longer
	// pending (where the one way out was a rotation without grace,
	// which made yet another secret the receiver did not have).
	if r := s.must(t, 200, "POST", "/v1/admin/webhooks/"+id+"/end-grace", nil); r.body["previous_secret_until"] != nil || strings.Contains(r.raw, "whsec_") {
		t.Fatalf("ending the grace: %s", r.raw)
	}
	// Every node rereads its webhooks within about 2 s.
	testkit.Eventually(t, 20*time.Second, "a delivery signed with the new secret alone once the grace was ended", func() bool {
		d = nextSigned("a delivery signed with the new secret", second)
		return strings.Count(d.header, "v1=") == 1
	})
	if d.verifiesWith(first) {
		t.Fatalf("after ending the grace, the old secret still signs: %s", d.header)
	}
	s.must(t, 404, "POST", "/v1/admin/webhooks/wh-0000000000000000/end-grace", nil)
	// Another rotation with grace goes through, for the grace's end by
	// the clock below.
	rot = s.must(t, 200, "POST", "/v1/admin/webhooks/"+id+"/rotate", map[string]any{"grace_seconds": 3600})
	first, second = second, rot.body["secret"].(string)
	until, _ = time.Parse(time.RFC3339Nano, rot.body["previous_secret_until"].(string))
	// The grace ends by the engine's clock, with the wall clock still
	// inside it (the engine's is two days ahead, the grace an hour).
	s.clock.Set(until.Add(time.Millisecond))
	d = nextSigned("a delivery signed with the new secret after the grace", second)
	if d.verifiesWith(first) || strings.Count(d.header, "v1=") != 1 {
		t.Fatalf("after the grace by the engine's clock, the old secret still signs: %s", d.header)
	}
	third := s.must(t, 200, "POST", "/v1/admin/webhooks/"+id+"/rotate", map[string]any{"grace_seconds": -1}).body["secret"].(string)
	d = nextSigned("a delivery signed with the third secret", third)
	if d.verifiesWith(first) || d.verifiesWith(second) || strings.Count(d.header, "v1=") != 1 {
		t.Fatalf("after a rotation with no grace, an old secret still verifies: %s", d.header)
	}
	if r := s.call(t, "POST", "/v1/admin/webhooks/wh-0000000000000000/rotate", nil); r.status != 404 {
		t.Fatalf("rotating no webhook: %d %s", r.status, r.raw)
	}
	if r := s.call(t, "POST", "/v1/admin/webhooks/"+id+"/rotate", map[string]any{"grace_seconds": -5}); r.status != 400 || !strings.Contains(r.raw, "grace_seconds") {
		t.Fatalf("a bad grace: %d %s", r.status, r.raw)
	}
}
