package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flashdrop/flashdrop/internal/testkit"
	"github.com/flashdrop/flashdrop/queue/webhooksig"
)

// exampleReceiver is examples/receiver built and run as a process.
type exampleReceiver struct {
	addr string
	out  *testkit.LockedBuffer
}

// freeAddr returns a loopback address with a free port, for a webhook
// that must name the receiver's URL before it runs (the webhook gives the
// secret the receiver needs).
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// runExampleReceiver builds examples/receiver and runs it on addr with
// secret and args, as the README shows it.
func runExampleReceiver(t *testing.T, addr, secret string, args ...string) *exampleReceiver {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "receiver")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/flashdrop/flashdrop/examples/receiver").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	out := &testkit.LockedBuffer{}
	cmd := exec.Command(bin, append([]string{"--listen", addr}, args...)...)
	cmd.Env = append(os.Environ(), "FLASHDROP_WEBHOOK_SECRET="+secret)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	rc := &exampleReceiver{addr: addr, out: out}
	rc.waitFor(t, 10*time.Second, "the receiver to listen", func(s string) bool { return strings.Contains(s, "listening on") })
	return rc
}

// waitFor waits for the receiver's output to satisfy ok, failing with
// the output.
func (rc *exampleReceiver) waitFor(t *testing.T, within time.Duration, what string, ok func(out string) bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !ok(rc.out.String()) {
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %s; the receiver wrote:\n%s", within, what, rc.out)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// cardsUp are the posts the stand-in social network holds, from its
// "network:" lines.
func (rc *exampleReceiver) cardsUp() map[string]bool {
	up := map[string]bool{}
	for _, line := range strings.Split(rc.out.String(), "\n") {
		switch f := strings.Fields(line); {
		case len(f) >= 3 && f[0] == "network:" && f[1] == "posted":
			up[strings.TrimSuffix(f[2], ",")] = true
		case len(f) >= 4 && f[0] == "network:" && f[1] == "took" && f[2] == "down":
			delete(up, f[3])
		}
	}
	return up
}

var wonLine = regexp.MustCompile(`(?m)^won (\S+): (\S+) holds (\S+);`)

// wins maps each user to her reservation, from the receiver's won lines.
func (rc *exampleReceiver) wins() map[string]string {
	w := map[string]string{}
	for _, m := range wonLine.FindAllStringSubmatch(rc.out.String(), -1) {
		w[m[2]] = m[3]
	}
	return w
}

// TestExampleReceiverTakesDownGivenBackWins runs examples/receiver behind
// a real webhook: a win's card is posted on won, and taken down when the
// win is given back, on cancelled (ann cancels) and on expired (ben's hold
// runs out), so no post links to a card page that answers 404.
func TestExampleReceiverTakesDownGivenBackWins(t *testing.T) {
	t.Parallel()
	s := startInteg(t, nil)
	addr := freeAddr(t)
	hook := s.must(t, 201, "POST", "/v1/admin/webhooks", map[string]any{"url": "http://" + addr + "/hook",
		"types": []string{"won", "cancelled", "expired"}})
	rc := runExampleReceiver(t, addr, hook.body["secret"].(string))

	drop := uniqueDrop("receiver-given-back") // the Redis is shared: an id of this run's own
	s.sale(t, drop, 2, "ann", "ben")
	rc.waitFor(t, 20*time.Second, "both wins posted", func(string) bool { return len(rc.wins()) == 2 })
	ann, ben := rc.wins()["ann"], rc.wins()["ben"]

	if r := call(t, "POST", s.base+"/v1/reservations/"+ann+"/cancel", mint(t, s.m, "ann"), ""); r.status != 200 {
		t.Fatalf("ann cancels: %d %s", r.status, r.raw)
	}
	rc.waitFor(t, 20*time.Second, "ann's card taken down on cancelled", func(out string) bool {
		return strings.Contains(out, "took down "+ann+"'s card") && !rc.cardsUp()["post-"+ann]
	})

	s.clock.Advance(11 * time.Minute) // past the 600-s hold: the sweeper expires ben's
	rc.waitFor(t, 20*time.Second, "ben's card taken down on expired", func(out string) bool {
		return regexp.MustCompile(`(?m)^expired \S+: took down ` + regexp.QuoteMeta(ben) + `'s card$`).MatchString(out)
	})
	for _, res := range []string{ann, ben} {
		if n := strings.Count(rc.out.String(), "network: posted post-"+res+","); n != 1 {
			t.Fatalf("%s's card posted %d times:\n%s", res, n, rc.out)
		}
	}
	if up := rc.cardsUp(); len(up) != 0 {
		t.Fatalf("cards still up after both wins were given back: %v\n%s", up, rc.out)
	}
}

// TestExampleReceiverPostsOnTheRetry makes the receiver's first post fail
// (its stand-in network's --fail-first 1): the receiver answers 503
// without recording the event, and flashdrop's retry posts the card,
// where a receiver that recorded the id before acting answered the retry
// "duplicate" and never posted it.
func TestExampleReceiverPostsOnTheRetry(t *testing.T) {
	t.Parallel()
	s := startInteg(t, nil)
	addr := freeAddr(t)
	hook := s.must(t, 201, "POST", "/v1/admin/webhooks", map[string]any{"url": "http://" + addr + "/hook",
		"types": []string{"won"}})
	rc := runExampleReceiver(t, addr, hook.body["secret"].(string), "--fail-first", "1")

	drop := uniqueDrop("receiver-retry")
	s.sale(t, drop, 1, "cat")
	rc.waitFor(t, 20*time.Second, "cat's card posted", func(string) bool { return rc.wins()["cat"] != "" })
	m := wonLine.FindStringSubmatch(rc.out.String())
	id, res := m[1], m[3]
	out := rc.out.String()
	if !strings.Contains(out, "failed won "+id+": ") {
		t.Fatalf("no failed first post of %s:\n%s", id, out)
	}
	if strings.Contains(out, "duplicate "+id) || strings.Count(out, "network: posted post-"+res+",") != 1 {
		t.Fatalf("want the retry of %s posted once, not a duplicate:\n%s", id, out)
	}
	if up := rc.cardsUp(); len(up) != 1 || !up["post-"+res] {
		t.Fatalf("cards up: %v\n%s", up, out)
	}
	// A later copy (a replay, a retry after a lost answer) is a duplicate.
	r := s.must(t, 200, "POST", "/v1/admin/webhooks/"+hook.body["id"].(string)+"/replay",
		map[string]any{"since": time.Now().Add(-time.Hour), "types": []string{"won"}})
	if r.body["delivered"] != float64(1) {
		t.Fatalf("replay: %s", r.raw)
	}
	rc.waitFor(t, 10*time.Second, "the replayed copy dropped", func(out string) bool { return strings.Contains(out, "duplicate "+id+" ignored") })
	if n := strings.Count(rc.out.String(), "network: posted "); n != 1 {
		t.Fatalf("%d posts:\n%s", n, rc.out)
	}
}

// TestExampleReceiverOrdersBySequence delivers a real sale's events to
// the receiver out of order, as a receiver back from an outage can get
// them (each delivery is retried on its own backoff): dan's expired
// before his won. The won comes after the reservation's end and posts
// nothing: its card already answers 404. Then, to a fresh receiver, dan's
// won with a high Flashdrop-Sequence and his expired with a low one, as
// after a stream made anew (the sequence starts again from 1): the
// expired still takes the card down, where ordering by the sequence
// ignored it as older and left a dead card up. eve's won, confirmed,
// delivered eight times at once (a retry racing a slow first attempt),
// is posted once.
func TestExampleReceiverOrdersBySequence(t *testing.T) {
	t.Parallel()
	s := startInteg(t, nil)
	secret := "whsec_receiver-example-order"
	rc := runExampleReceiver(t, freeAddr(t), secret)

	drop := uniqueDrop("receiver-order")
	s.sale(t, drop, 2, "dan", "eve")
	r := call(t, "GET", s.base+"/v1/drops/"+drop, mint(t, s.m, "eve"), "")
	me, _ := r.body["me"].(map[string]any)
	res, _ := me["reservation"].(map[string]any)
	eveRes, _ := res["id"].(string)
	if r := call(t, "POST", s.base+"/v1/reservations/"+eveRes+"/confirm", mint(t, s.m, "eve"), ""); r.status != 200 {
		t.Fatalf("eve confirms: %d %s", r.status, r.raw)
	}
	s.clock.Advance(11 * time.Minute) // dan's hold expires
	// The events as the stream holds them: each frame's id is the
	// sequence a delivery carries in Flashdrop-Sequence.
	frames := takeFrames(t, openEvents(t, s, "drop="+drop+"&types=won,expired", "0"), 3, 200*time.Millisecond)
	type delivery struct{ seq, id, typ, res, body string }
	var dels []delivery
	for _, f := range frames {
		var ce struct {
			ID   string
			Data struct{ Reservation string }
		}
		if err := json.Unmarshal([]byte(f.data), &ce); err != nil {
			t.Fatal(err)
		}
		dels = append(dels, delivery{f.id, ce.ID, f.event, ce.Data.Reservation, f.data})
	}
	var danWon, danExpired, eveWon delivery
	for _, d := range dels {
		switch {
		case d.typ == "expired":
			danExpired = d
		case d.res == eveRes:
			eveWon = d
		default:
			danWon = d
		}
	}
	if danExpired.res == "" || danWon.res != danExpired.res || eveWon.res == "" {
		t.Fatalf("events: %+v", dels)
	}
	deliver := func(d delivery) int {
		req, _ := http.NewRequest("POST", "http://"+rc.addr+"/hook", bytes.NewReader([]byte(d.body)))
		req.Header.Set("Content-Type", "application/cloudevents+json")
		req.Header.Set("Flashdrop-Event-Id", d.id)
		req.Header.Set("Flashdrop-Sequence", d.seq)
		req.Header.Set(webhooksig.Header, webhooksig.Sign([]byte(secret), []byte(d.body), time.Now()))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Error(err)
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, d := range []delivery{danExpired, danWon} {
		if st := deliver(d); st/100 != 2 {
			t.Fatalf("%s (sequence %s): %d\n%s", d.typ, d.seq, st, rc.out)
		}
	}
	rc.waitFor(t, 10*time.Second, "dan's won ignored after his expired", func(out string) bool {
		return strings.Contains(out, fmt.Sprintf("stale %s: won of %s (sequence %s) after its end; ignored", danWon.id, danWon.res, danWon.seq))
	})
	if up := rc.cardsUp(); len(up) != 0 || strings.Contains(rc.out.String(), "won "+danWon.id) {
		t.Fatalf("a card posted for a win already given back: %v\n%s", up, rc.out)
	}

	// The stream made anew between the won and the expired: the expired's
	// sequence is lower, and it still takes the card down.
	rc = runExampleReceiver(t, freeAddr(t), secret)
	danWon.seq, danExpired.seq = "5000", "2"
	if st := deliver(danWon); st/100 != 2 {
		t.Fatalf("won: %d\n%s", st, rc.out)
	}
	rc.waitFor(t, 10*time.Second, "dan's card posted", func(out string) bool { return strings.Contains(out, "won "+danWon.id) })
	if st := deliver(danExpired); st/100 != 2 {
		t.Fatalf("expired: %d\n%s", st, rc.out)
	}
	rc.waitFor(t, 10*time.Second, "dan's card taken down", func(out string) bool {
		return strings.Contains(out, "expired "+danExpired.id+": took down "+danExpired.res+"'s card")
	})
	if up := rc.cardsUp(); len(up) != 0 {
		t.Fatalf("a dead card left up after a sequence restart: %v\n%s", up, rc.out)
	}

	// Another receiver, whose network takes 100 ms a post, as a real
	// one's does: the copies of one event arrive while the first posts.
	rc = runExampleReceiver(t, freeAddr(t), secret, "--network-delay", "100ms")
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() { defer wg.Done(); deliver(eveWon) }()
	}
	wg.Wait()
	rc.waitFor(t, 10*time.Second, "eve's card posted once, seven duplicates", func(out string) bool {
		return strings.Count(out, "duplicate "+eveWon.id+" ignored") == 7
	})
	if up := rc.cardsUp(); len(up) != 1 || !up["post-"+eveRes] || strings.Count(rc.out.String(), "network: posted ") != 1 {
		t.Fatalf("cards up: %v\n%s", up, rc.out)
	}
}
