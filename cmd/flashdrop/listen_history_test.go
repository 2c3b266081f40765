package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/flashdrop/flashdrop/internal/contract"
	"github.com/flashdrop/flashdrop/internal/testkit"
	"github.com/flashdrop/flashdrop/queue"
	"github.com/flashdrop/flashdrop/queue/webhooksig"
)

// sseFrame is one event of GET /v1/admin/events.
type sseFrame struct{ id, event, data string }

// openEvents opens GET /v1/admin/events?query, with a Last-Event-ID when
// lastID is not "-", and returns its frames; the stream closes when the
// test ends.
func openEvents(t *testing.T, s *integStack, query, lastID string) <-chan sseFrame {
	t.Helper()
	req, _ := http.NewRequest("GET", s.base+"/v1/admin/events?"+query, nil)
	req.Header.Set("Authorization", "Bearer "+s.admin)
	if lastID != "-" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := contract.Client(t, nil).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		resp.Body.Close()
		t.Fatalf("GET /v1/admin/events?%s (Last-Event-ID %s): %d", query, lastID, resp.StatusCode)
	}
	t.Cleanup(func() { resp.Body.Close() })
	frames := make(chan sseFrame, 64)
	go func() {
		defer close(frames)
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
		var f sseFrame
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if f.data != "" {
					frames <- f
				}
				f = sseFrame{}
			case strings.HasPrefix(line, "id: "):
				f.id = line[4:]
			case strings.HasPrefix(line, "event: "):
				f.event = line[7:]
			case strings.HasPrefix(line, "data: "):
				f.data = line[6:]
			}
		}
	}()
	return frames
}

// takeFrames reads n frames, failing the test if they take longer than
// 20 s, then checks that nothing more comes within quiet.
func takeFrames(t *testing.T, frames <-chan sseFrame, n int, quiet time.Duration) []sseFrame {
	t.Helper()
	var got []sseFrame
	for len(got) < n {
		select {
		case f, ok := <-frames:
			if !ok {
				t.Fatalf("the stream ended after %d events of %d: %v", len(got), n, got)
			}
			got = append(got, f)
		case <-time.After(20 * time.Second):
			t.Fatalf("the stream sent %d events of %d: %v", len(got), n, got)
		}
	}
	select {
	case f, ok := <-frames:
		if ok {
			t.Fatalf("after %d events, one more: %v", n, f)
		}
	case <-time.After(quiet):
	}
	return got
}

// waitStored waits until the stream holds n events on subject.
func waitStored(t *testing.T, s *integStack, subject string, n int) {
	t.Helper()
	_, js := s.nats.Connect(t)
	testkit.Eventually(t, 20*time.Second, "the events on the stream", func() bool {
		st, err := js.Stream(context.Background(), queue.StreamName)
		if err != nil {
			return false
		}
		info, err := st.Info(context.Background(), jetstream.WithSubjectFilter(subject))
		if err != nil {
			return false
		}
		total := 0
		for _, c := range info.State.Subjects {
			total += int(c)
		}
		return total >= n
	})
}

// uniqueDrop is a drop id of its own for this run (the tests share one
// Redis, and -count runs a test again on it).
func uniqueDrop(base string) string {
	return fmt.Sprintf("%s-%x", base, time.Now().UnixNano()&0xffffffff)
}

func frameSeqs(fs []sseFrame) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.id+":"+f.event)
	}
	return out
}

// TestAdminEventsHistory: events published before a stream opened are
// delivered with Last-Event-ID 0 (after sequence 0, not "new only") and
// with ?since=<time>, in order, once each; Last-Event-ID wins over since;
// since selects by time; a malformed since is 400 naming it.
func TestAdminEventsHistory(t *testing.T) {
	t.Parallel()
	s := startInteg(t, nil)
	hista, histb, histc := uniqueDrop("hist-a"), uniqueDrop("hist-b"), uniqueDrop("hist-c")
	s.sale(t, hista, 2, "ann", "ben")
	waitStored(t, s, "flashdrop."+hista+".*", 4) // 2 registered, 2 won (and sold_out)
	mid := time.Now()
	time.Sleep(20 * time.Millisecond)
	s.sale(t, histb, 1, "cat")
	waitStored(t, s, "flashdrop."+histb+".won", 1)

	q := "drop=" + hista + "&types=registered,won"
	fromZero := takeFrames(t, openEvents(t, s, q, "0"), 4, 300*time.Millisecond)
	want := []string{"registered", "registered", "won", "won"}
	prev := 0
	for i, f := range fromZero {
		if f.event != want[i] {
			t.Fatalf("Last-Event-ID 0: %v, want the types %v in order", frameSeqs(fromZero), want)
		}
		contract.CheckEvent(t, []byte(f.data))
		n, err := strconv.Atoi(f.id)
		if err != nil || n <= prev {
			t.Fatalf("Last-Event-ID 0: ids %v are not increasing", frameSeqs(fromZero))
		}
		prev = n
	}
	// since before the first event: the same events, same order.
	early := url.QueryEscape(time.Now().Add(-time.Hour).UTC().Format(time.RFC3339))
	bySince := takeFrames(t, openEvents(t, s, q+"&since="+early, "-"), 4, 300*time.Millisecond)
	if strings.Join(frameSeqs(bySince), " ") != strings.Join(frameSeqs(fromZero), " ") {
		t.Fatalf("since: %v, Last-Event-ID 0: %v", frameSeqs(bySince), frameSeqs(fromZero))
	}
	// Last-Event-ID wins over since: a reconnect resumes exactly.
	resumed := takeFrames(t, openEvents(t, s, q+"&since="+early, fromZero[1].id), 2, 300*time.Millisecond)
	if strings.Join(frameSeqs(resumed), " ") != strings.Join(frameSeqs(fromZero[2:]), " ") {
		t.Fatalf("Last-Event-ID %s with since: %v, want %v", fromZero[1].id, frameSeqs(resumed), frameSeqs(fromZero[2:]))
	}
	// since between the sales: only the second's win.
	later := takeFrames(t, openEvents(t, s, "types=won&since="+url.QueryEscape(mid.UTC().Format(time.RFC3339Nano)), "-"), 1, 300*time.Millisecond)
	if !strings.Contains(later[0].data, `"drop":"`+histb+`"`) {
		t.Fatalf("since between the sales: %v", later)
	}
	// Without either, only new events, as before.
	fresh := openEvents(t, s, "types=won", "-")
	s.sale(t, histc, 1, "dan")
	if got := takeFrames(t, fresh, 1, 300*time.Millisecond); !strings.Contains(got[0].data, `"drop":"`+histc+`"`) {
		t.Fatalf("a stream with neither: %v", got)
	}
	// Past 2262 (or before 1678) JetStream's start time wraps and the whole
	// stream came back.
	for _, bad := range []string{"yesterday", "2026-11-24", "2026-11-24 09:00:00", "9999-01-01T00:00:00Z", "2300-01-01T00:00:00Z", "0001-01-01T00:00:00Z"} {
		r := s.call(t, "GET", "/v1/admin/events?since="+url.QueryEscape(bad), nil)
		if r.status != 400 || !strings.Contains(r.raw, "since") {
			t.Fatalf("since=%s: %d %s, want 400 naming since", bad, r.status, r.raw)
		}
	}
}

// TestListenHistorySinceAcrossReconnect: listen --since (a duration ago,
// or an RFC 3339 time) prints the events from before it started, in
// order, then keeps resuming by Last-Event-ID: a cut connection repeats
// none of them.
func TestListenHistorySinceAcrossReconnect(t *testing.T) {
	t.Parallel()
	s := startInteg(t, nil)
	pasta, pastb := uniqueDrop("past-a"), uniqueDrop("past-b")
	start := time.Now()
	s.sale(t, pasta, 2, "ann", "ben")
	waitStored(t, s, "flashdrop."+pasta+".won", 2)
	proxy := newCutProxy(t, s.m.Addr)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	run := func(target string, extra ...string) (*testkit.LockedBuffer, *testkit.LockedBuffer, chan error) {
		out, errOut, done := &testkit.LockedBuffer{}, &testkit.LockedBuffer{}, make(chan error, 1)
		go func() {
			done <- listen(ctx, append([]string{"--target", target, "--admin-token", s.admin, "--types", "won"}, extra...),
				out, errOut, func(string) (string, bool) { return "", false })
		}()
		return out, errOut, done
	}
	ids := func(out string) []string {
		var got []string
		for _, m := range regexp.MustCompile(`(?m)^\S+  won +drop=(past-[ab])\S* .* id=(\S+)$`).FindAllStringSubmatch(out, -1) {
			got = append(got, m[1]+"/"+m[2])
		}
		return got
	}
	out, errOut, done := run("http://"+proxy.ln.Addr().String(), "--since", "10m")
	testkit.Eventually(t, 20*time.Second, "the two wins from before listen started", func() bool { return len(ids(out.String())) == 2 })
	proxy.cut()
	s.sale(t, pastb, 3, "cat", "dan", "eve")
	testkit.Eventually(t, 20*time.Second, "the wins after the cut", func() bool { return len(ids(out.String())) == 5 })
	if !strings.Contains(errOut.String(), "reconnected, resuming after event") {
		t.Fatalf("listen did not reconnect:\n%s", errOut)
	}
	time.Sleep(300 * time.Millisecond)
	got := ids(out.String())
	seen := map[string]bool{}
	for i, id := range got {
		if seen[id] {
			t.Fatalf("printed twice: %s\n%s", id, out)
		}
		seen[id] = true
		if want := map[bool]string{true: "past-a/", false: "past-b/"}[i < 2]; !strings.HasPrefix(id, want) {
			t.Fatalf("out of order: %v", got)
		}
	}
	if len(got) != 5 {
		t.Fatalf("%d wins printed, want 5:\n%s", len(got), out)
	}
	// A restarted listen with the time it last ran from: the same five,
	// in the same order.
	out2, _, done2 := run(s.base, "--since", start.UTC().Format(time.RFC3339Nano))
	testkit.Eventually(t, 20*time.Second, "the five wins again", func() bool { return len(ids(out2.String())) == 5 })
	if strings.Join(ids(out2.String()), " ") != strings.Join(got, " ") {
		t.Fatalf("--since TIME: %v, want %v", ids(out2.String()), got)
	}
	cancel()
	for _, d := range []chan error{done, done2} {
		if err := <-d; err != nil {
			t.Fatal(err)
		}
	}
	for _, bad := range []string{"yesterday", "-5m"} {
		err := listen(context.Background(), []string{"--target", s.base, "--admin-token", s.admin, "--since", bad}, &testkit.LockedBuffer{}, &testkit.LockedBuffer{},
			func(string) (string, bool) { return "", false })
		if err == nil || !strings.Contains(err.Error(), "--since") {
			t.Fatalf("--since %s: %v", bad, err)
		}
	}
}

// TestListenLinesCarryEveryField: listen's text line of each event type
// shows the fields an integration acts on: a referral's ref (the share
// code credited), a win's product, expires_at and from_waitlist, and
// sold_out's and restocked's version and available.
func TestListenLinesCarryEveryField(t *testing.T) {
	t.Parallel()
	s := startInteg(t, nil)
	linesa, linesb := uniqueDrop("lines-a"), uniqueDrop("lines-b")
	now := s.clock.Now()
	start := now.Add(30 * time.Minute)
	s.must(t, 201, "POST", "/v1/admin/drops", map[string]any{"id": linesa, "name": "Sneaker", "product": "Air Max 1",
		"stock": 1, "per_user_limit": 1, "confirm_by": "shopper", "registration_opens_at": now.Add(-time.Hour),
		"registration_closes_at": start, "sale_starts_at": start, "sale_ends_at": start.Add(time.Hour)})
	for _, u := range []string{"ann", "ben"} {
		if r := call(t, "POST", s.base+"/v1/drops/"+linesa+"/registrations", mint(t, s.m, u), ""); r.status != 201 {
			t.Fatalf("register %s: %d %s", u, r.status, r.raw)
		}
	}
	s.clock.Set(start.Add(time.Second))
	reserve := func(u, body string) map[string]any {
		r := call(t, "POST", s.base+"/v1/drops/"+linesa+"/reservations", mint(t, s.m, u), body)
		if r.status != 201 && (r.status != 409 || r.body["waitlist_position"] == nil) {
			t.Fatalf("reserve %s: %d %s", u, r.status, r.raw)
		}
		res, _ := r.body["reservation"].(map[string]any)
		return res
	}
	ann := reserve("ann", "")                        // won; sold_out
	reserve("ben", `{"quantity":1,"waitlist":true}`) // waitlisted
	cancel := func(u, id string) {
		if r := call(t, "POST", s.base+"/v1/reservations/"+id+"/cancel", mint(t, s.m, u), ""); r.status != 200 {
			t.Fatalf("%s cancels: %d %s", u, r.status, r.raw)
		}
	}
	// Another drop's registration credits ann's card while her win is
	// held (a win given back credits nothing): referral.
	s.must(t, 201, "POST", "/v1/admin/drops", map[string]any{"id": linesb, "name": "Tee", "stock": 1, "per_user_limit": 1,
		"registration_opens_at": s.clock.Now().Add(-time.Minute), "registration_closes_at": s.clock.Now().Add(time.Hour),
		"sale_starts_at": s.clock.Now().Add(time.Hour), "sale_ends_at": s.clock.Now().Add(2 * time.Hour)})
	code := ann["share_code"].(string)
	if r := call(t, "POST", s.base+"/v1/drops/"+linesb+"/registrations", mint(t, s.m, "cat"), `{"ref":"`+code+`"}`); r.status != 201 {
		t.Fatalf("cat registers with ann's code: %d %s", r.status, r.raw)
	}
	waitStored(t, s, "flashdrop."+linesb+".referral", 1)
	cancel("ann", ann["id"].(string)) // ben is promoted: won from the waitlist
	var benRes string
	testkit.Eventually(t, 10*time.Second, "ben's promotion", func() bool {
		r := call(t, "GET", s.base+"/v1/drops/"+linesa, mint(t, s.m, "ben"), "")
		me, _ := r.body["me"].(map[string]any)
		res, _ := me["reservation"].(map[string]any)
		benRes, _ = res["id"].(string)
		return benRes != ""
	})
	cancel("ben", benRes) // restocked

	out := &testkit.LockedBuffer{}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- listen(ctx, []string{"--target", s.base, "--admin-token", s.admin, "--since", "1h",
			"--types", "won,sold_out,restocked,referral"}, out, io.Discard, func(string) (string, bool) { return "", false })
	}()
	testkit.Eventually(t, 20*time.Second, "the lines", func() bool {
		o := out.String()
		return strings.Count(o, "  won ") == 2 && strings.Contains(o, "  sold_out ") && strings.Contains(o, "  restocked ") &&
			strings.Contains(o, "  referral ")
	})
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	ts, id := `\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z`, `  id=\S+`
	exp := `\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z`
	for _, want := range []string{
		`^` + ts + `  won +drop=` + linesa + ` reservation=` + linesa + `\.\S+ user=ann quantity=1 product="Air Max 1" expires_at=` + exp +
			` share_url=http://\S+/s/` + regexp.QuoteMeta(code) + ` seconds_after_start=\d+(\.\d+)? won_by=reserve` + id + `$`,
		`^` + ts + `  won +drop=` + linesa + ` reservation=` + linesa + `\.\S+ user=ben quantity=1 from_waitlist=true product="Air Max 1" expires_at=` + exp +
			` share_url=http://\S+ seconds_after_start=\d+(\.\d+)? won_by=waitlist` + id + `$`,
		`^` + ts + `  sold_out +drop=` + linesa + ` available=0 version=\d+` + id + `$`,
		`^` + ts + `  restocked +drop=` + linesa + ` available=1 version=\d+` + id + `$`,
		`^` + ts + `  referral +drop=` + linesb + ` ref=` + regexp.QuoteMeta(code) + id + `$`,
	} {
		if !regexp.MustCompile(`(?m)` + want).MatchString(out.String()) {
			t.Errorf("no line matches\n  %s\nin:\n%s", want, out)
		}
	}
	// sold_out and restocked versions grow.
	var versions []int
	for _, m := range regexp.MustCompile(`(?m)  (?:sold_out|restocked) +drop=`+linesa+` available=\d+ version=(\d+)`).FindAllStringSubmatch(out.String(), -1) {
		v, _ := strconv.Atoi(m[1])
		versions = append(versions, v)
	}
	if !slices.IsSorted(versions) || len(versions) < 2 || versions[0] == versions[len(versions)-1] {
		t.Errorf("sold_out and restocked versions %v do not grow", versions)
	}
}

// recorder is a receiver that keeps every request and answers 503 to the
// first fail of them.
type recorder struct {
	*httptest.Server
	mu   sync.Mutex
	fail int
	reqs []recorded
}

type recorded struct {
	header http.Header
	body   []byte
	status int
}

func newRecorder(t *testing.T, fail int) *recorder {
	rc := &recorder{fail: fail}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		status := 204
		if len(rc.reqs) < rc.fail {
			status = 503
		}
		rc.reqs = append(rc.reqs, recorded{r.Header.Clone(), body, status})
		rc.mu.Unlock()
		w.WriteHeader(status)
	}))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *recorder) got() []recorded {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return slices.Clone(rc.reqs)
}

// TestForwardAsAWebhookDelivery: listen --forward-to makes the request a
// webhook delivery of the same event makes (the same headers, the
// deliverer's User-Agent, the same event id and sequence, the same body),
// signed with a secret kept across restarts (FLASHDROP_WEBHOOK_SECRET or
// --forward-secret, never printed), and retries a 503 and a refused
// connection a few times, briefly, then says it gave up and goes on.
func TestForwardAsAWebhookDelivery(t *testing.T) {
	t.Parallel()
	s := startInteg(t, nil)
	drop := uniqueDrop("fwd")
	const kept = "whsec_kept-across-restarts-0123456789abcdefghijkl"
	hook := newRecorder(t, 0)
	wh := s.must(t, 201, "POST", "/v1/admin/webhooks", map[string]any{"url": hook.URL + "/hook", "types": []string{"won"}})
	hookSecret := wh.body["secret"].(string)
	local := newRecorder(t, 2) // down for two attempts, then up
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out, errOut, done := &testkit.LockedBuffer{}, &testkit.LockedBuffer{}, make(chan error, 1)
	env := func(k string) (string, bool) {
		if k == "FLASHDROP_WEBHOOK_SECRET" {
			return kept, true
		}
		return "", false
	}
	go func() {
		done <- listen(ctx, []string{"--target", s.base, "--admin-token", s.admin, "--types", "won", "--drop", drop,
			"--forward-to", local.URL + "/hook"}, out, errOut, env)
	}()
	testkit.Eventually(t, 10*time.Second, "listen to connect", func() bool { return strings.Contains(errOut.String(), "connected") })
	// The webhook's consumer starts with the webhooks refreshed.
	time.Sleep(200 * time.Millisecond)
	s.sale(t, drop, 1, "ann")
	testkit.Eventually(t, 20*time.Second, "the forward after two 503s, and the webhook's delivery", func() bool {
		return len(local.got()) == 3 && len(hook.got()) == 1
	})
	fwd, del := local.got(), hook.got()[0]
	if fwd[0].status != 503 || fwd[1].status != 503 || fwd[2].status != 204 {
		t.Fatalf("attempts answered %d %d %d", fwd[0].status, fwd[1].status, fwd[2].status)
	}
	if strings.Count(errOut.String(), "HTTP 503; retrying in") != 2 || strings.Contains(errOut.String(), "gave up") {
		t.Fatalf("listen's account of the retries:\n%s", errOut)
	}
	for i, f := range fwd {
		if err := webhooksig.Verify([]byte(kept), f.header.Get(webhooksig.Header), f.body, 0, time.Now()); err != nil {
			t.Fatalf("attempt %d is not signed with FLASHDROP_WEBHOOK_SECRET: %v", i+1, err)
		}
		if string(f.body) != string(fwd[0].body) {
			t.Fatalf("attempt %d sent another body", i+1)
		}
	}
	if err := webhooksig.Verify([]byte(hookSecret), del.header.Get(webhooksig.Header), del.body, 0, time.Now()); err != nil {
		t.Fatal(err)
	}
	// What matches a delivery: the body and these headers, exactly.
	if string(fwd[2].body) != string(del.body) {
		t.Fatalf("forwarded body\n%s\ndelivered body\n%s", fwd[2].body, del.body)
	}
	for _, h := range []string{"Content-Type", "User-Agent", "Flashdrop-Event-Id", "Flashdrop-Sequence"} {
		if fwd[2].header.Get(h) != del.header.Get(h) || del.header.Get(h) == "" {
			t.Errorf("%s: forwarded %q, delivered %q", h, fwd[2].header.Get(h), del.header.Get(h))
		}
	}
	for h := range del.header {
		if _, ok := fwd[2].header[h]; !ok {
			t.Errorf("a delivery has %s, the forward does not", h)
		}
	}
	if err := contract.CheckDelivery(fwd[2].header, fwd[2].body); err != nil {
		t.Errorf("contract: %v", err)
	}
	if strings.Contains(out.String(), kept) || !strings.Contains(out.String(), "FLASHDROP_WEBHOOK_SECRET") {
		t.Fatalf("listen printed the secret it was given, or not where it came from:\n%s", out)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	// Nothing listening: each event is tried a few times, within seconds,
	// then given up on, and the stream goes on.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	ctx2, cancel2 := context.WithCancel(context.Background())
	defer cancel2()
	out2, errOut2, done2 := &testkit.LockedBuffer{}, &testkit.LockedBuffer{}, make(chan error, 1)
	go func() {
		done2 <- listen(ctx2, []string{"--target", s.base, "--admin-token", s.admin, "--types", "won", "--since", "1h",
			"--forward-to", "http://" + closed + "/hook", "--forward-secret", kept}, out2, errOut2,
			func(string) (string, bool) { return "", false })
	}()
	began := time.Now()
	testkit.Eventually(t, 20*time.Second, "listen to give up on the refused forward", func() bool {
		return strings.Contains(errOut2.String(), "gave up after 4 attempts")
	})
	if took := time.Since(began); took > 8*time.Second {
		t.Errorf("giving up took %s", took)
	}
	if n := strings.Count(errOut2.String(), "connection refused; retrying in"); n != 3 {
		t.Errorf("%d retries of a refused connection, want 3:\n%s", n, errOut2)
	}
	if strings.Contains(out2.String(), kept) || !strings.Contains(out2.String(), "--forward-secret") {
		t.Fatalf("listen printed the secret it was given, or not where it came from:\n%s", out2)
	}
	// The stream goes on: the next sale's win is printed and given up on too.
	s.sale(t, uniqueDrop("fwd-next"), 1, "ben")
	testkit.Eventually(t, 20*time.Second, "the next win, given up on", func() bool {
		return strings.Count(out2.String(), "  won ") == 2 && strings.Count(errOut2.String(), "gave up after 4 attempts") == 2
	})
	cancel2()
	if err := <-done2; err != nil {
		t.Fatal(err)
	}
}

// TestListenReconnectBeforeAnyEventKeepsTheGap: a listen started without
// --since whose connection drops before its first event had no event id
// to resume after, asked for new events only, and lost the wins made
// while it was away. The stream now tells its position as it opens (an
// SSE id with no data), and the reconnect resumes after it.
func TestListenReconnectBeforeAnyEventKeepsTheGap(t *testing.T) {
	t.Parallel()
	s := startInteg(t, nil)
	proxy := newCutProxy(t, s.m.Addr)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out, errOut, done := &testkit.LockedBuffer{}, &testkit.LockedBuffer{}, make(chan error, 1)
	go func() {
		done <- listen(ctx, []string{"--target", "http://" + proxy.ln.Addr().String(), "--admin-token", s.admin, "--types", "won"},
			out, errOut, func(string) (string, bool) { return "", false })
	}()
	testkit.Eventually(t, 20*time.Second, "listen connected", func() bool { return strings.Contains(errOut.String(), "listen: connected") })
	proxy.hold()
	gap := uniqueDrop("gap")
	s.sale(t, gap, 2, "ann", "ben")
	waitStored(t, s, "flashdrop."+gap+".won", 2)
	proxy.release()
	testkit.Eventually(t, 20*time.Second, "the two wins made while listen was away", func() bool {
		return strings.Count(out.String(), "drop="+gap) == 2
	})
	// The stream told its position as it opened (an id with no data):
	// the reconnect resumes exactly there, by no clock.
	if !regexp.MustCompile(`reconnected, resuming after event \d+`).MatchString(errOut.String()) {
		t.Errorf("the reconnect did not resume after the stream's opening position:\n%s", errOut)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
