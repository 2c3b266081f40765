package main

import (
	"bufio"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/flashdrop/flashdrop/internal/contract"
)

// TestEndedKeyEndsItsEventStream: an event stream opened with an API key
// ends within seconds once the key stops working, revoked or its secret
// rotated out with no grace; it was checked only as it opened, so a
// leaked key's stream went on reading every event (shoppers' ids among
// them) for the stream's 5 minutes. The reconnect is refused.
func TestEndedKeyEndsItsEventStream(t *testing.T) {
	t.Parallel()
	s := startInteg(t, nil)
	for _, how := range []string{"revoke", "rotate"} {
		t.Run(how, func(t *testing.T) {
			k := s.must(t, 201, "POST", "/v1/admin/keys", map[string]any{"name": "cards " + how, "scopes": []string{"events:read"}})
			id, secret := k.body["id"].(string), k.body["secret"].(string)
			req, _ := http.NewRequest("GET", s.base+"/v1/admin/events?types=registered", nil)
			req.Header.Set("Authorization", "Bearer "+secret)
			resp, err := contract.Client(t, nil).Do(req)
			if err != nil || resp.StatusCode != 200 {
				t.Fatalf("the stream: %v %v", err, resp)
			}
			defer resp.Body.Close()
			lines := make(chan string, 64)
			go func() {
				defer close(lines)
				sc := bufio.NewScanner(resp.Body)
				for sc.Scan() {
					lines <- sc.Text()
				}
			}()
			// It works: a registration comes through.
			drop := uniqueDrop("keystream-" + how) // the Redis is shared, and -count=N runs the test again on it
			s.sale(t, drop, 1, "ann")
			waitLine(t, lines, "event: registered", 20*time.Second)

			if how == "revoke" {
				s.must(t, 204, "DELETE", "/v1/admin/keys/"+id, nil)
			} else {
				s.must(t, 200, "POST", "/v1/admin/keys/"+id+"/rotate", map[string]any{"grace_seconds": 0})
			}
			ended := time.Now()
			waitLine(t, lines, ": the key this stream was opened with no longer works", 5*time.Second)
			for range lines { // then the end
			}
			if d := time.Since(ended); d > 5*time.Second {
				t.Fatalf("the stream ended %v after the key did", d)
			}
			if r := call(t, "GET", s.base+"/v1/admin/events", secret, ""); r.status != 401 {
				t.Fatalf("reconnect with the ended key: %d %s", r.status, r.raw)
			}
		})
	}
}

// waitLine reads lines until want, failing after d or at the end.
func waitLine(t *testing.T, lines <-chan string, want string, d time.Duration) {
	t.Helper()
	timeout := time.After(d)
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("the stream ended before %q", want)
			}
			if strings.HasPrefix(l, want) {
				return
			}
		case <-timeout:
			t.Fatalf("no %q in %v", want, d)
		}
	}
}
