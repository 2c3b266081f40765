package api_test

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/flashdrop/flashdrop/api"
	"github.com/flashdrop/flashdrop/engine"
	"github.com/flashdrop/flashdrop/internal/testkit"
)

// stream is one GET /v1/drops/{drop}/live over its own TCP connection.
type stream struct {
	conn net.Conn
	resp *http.Response
	prob rawResponse // the answer, when it is not a stream
	sc   *bufio.Scanner
}

// openStream opens a live stream from the loopback address from (each of
// 127.0.0.0/8 is a different client address). rcvBuf > 0 shrinks the
// client's receive buffer, for a client that will stop reading.
func openStream(t *testing.T, addr, from, drop string, rcvBuf int) *stream {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 5 * time.Second}
	conn, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if rcvBuf > 0 {
		if err := conn.(*net.TCPConn).SetReadBuffer(rcvBuf); err != nil {
			t.Fatal(err)
		}
	}
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := fmt.Fprintf(conn, "GET /v1/drops/%s/live HTTP/1.1\r\nHost: x\r\n\r\n", drop); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("live stream from %s: %v", from, err)
	}
	s := &stream{conn: conn, resp: resp}
	if resp.StatusCode != 200 {
		body, _ := io.ReadAll(resp.Body)
		s.prob = rawResponse{status: resp.StatusCode, header: resp.Header, body: body}
		_ = json.Unmarshal(body, &s.prob.prob)
		return s
	}
	s.sc = bufio.NewScanner(resp.Body)
	return s
}

// event reads up to the next event's data line.
func (s *stream) event(t *testing.T) string {
	t.Helper()
	_ = s.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	for s.sc.Scan() {
		if data, ok := strings.CutPrefix(s.sc.Text(), "data: "); ok {
			return data
		}
	}
	t.Fatalf("stream ended: %v", s.sc.Err())
	return ""
}

// heartbeat reads up to the next heartbeat comment.
func (s *stream) heartbeat(t *testing.T) {
	t.Helper()
	_ = s.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	for s.sc.Scan() {
		if strings.HasPrefix(s.sc.Text(), ": heartbeat") {
			return
		}
	}
	t.Fatalf("stream ended: %v", s.sc.Err())
}

// refused fails unless s was answered 503 unavailable problem+json with
// Retry-After and a request id.
func (s *stream) refused(t *testing.T, what string) {
	t.Helper()
	p := s.prob
	if s.resp.StatusCode == 200 {
		t.Fatalf("%s: got a stream, want 503 unavailable with Retry-After", what)
	}
	if p.status != 503 || p.header.Get("Content-Type") != "application/problem+json" || p.prob["code"] != "unavailable" ||
		p.header.Get("Retry-After") == "" || p.prob["request_id"] == nil {
		t.Fatalf("%s: got %d %v %s, want 503 unavailable with Retry-After", what, p.status, p.header, p.body)
	}
}

// streamHarness is a harness whose drop views stay cached: streams here
// need no fresh counters, and each tick would otherwise read Redis.
func streamHarness(t *testing.T, tweak func(*api.Config)) *harness {
	t.Helper()
	return newHarnessWith(t, func(o *engine.AdmissionOptions) { o.ViewTTL = time.Minute }, tweak)
}

// TestLiveStreamsCappedPerNode: with room for two streams, the third is
// refused with a 503, and a stream whose client goes away gives its slot
// back.
func TestLiveStreamsCappedPerNode(t *testing.T) {
	t.Parallel()
	h := streamHarness(t, func(c *api.Config) {
		c.Limits.MaxStreams = 2
		c.Limits.MaxStreamsPerClient = -1
		// Writes are how a gone client is noticed: write often.
		c.LiveHeartbeat = 20 * time.Millisecond
	})
	addr := serveTCP(h)
	id := h.createDrop(5, 1, nil)
	a := openStream(t, addr, "127.0.0.1", id, 0)
	b := openStream(t, addr, "127.0.0.1", id, 0)
	for _, s := range []*stream{a, b} {
		if e := s.event(t); !strings.Contains(e, `"available":5`) {
			t.Fatalf("first event: %s", e)
		}
	}
	openStream(t, addr, "127.0.0.1", id, 0).refused(t, "a third stream")
	// The cap is per node, not per client: another address is refused too.
	openStream(t, addr, "127.0.0.9", id, 0).refused(t, "a third stream from elsewhere")

	a.conn.Close()
	testkit.Eventually(t, 0, "the slot of a closed stream", func() bool {
		s := openStream(t, addr, "127.0.0.1", id, 0)
		defer s.conn.Close()
		return s.resp.StatusCode == 200
	})
	b.heartbeat(t) // the other stream went on meanwhile
}

// TestLiveStreamsCappedPerClient: one address gets its share of streams;
// another address is not held back by it.
func TestLiveStreamsCappedPerClient(t *testing.T) {
	t.Parallel()
	h := streamHarness(t, func(c *api.Config) {
		c.Limits.MaxStreams = 10
		c.Limits.MaxStreamsPerClient = 1
	})
	addr := serveTCP(h)
	id := h.createDrop(5, 1, nil)
	first := openStream(t, addr, "127.0.0.1", id, 0)
	first.event(t)
	openStream(t, addr, "127.0.0.1", id, 0).refused(t, "a second stream from one address")
	other := openStream(t, addr, "127.0.0.2", id, 0)
	if other.resp.StatusCode != 200 {
		t.Fatalf("another address: %d %s", other.resp.StatusCode, other.prob.body)
	}
	other.event(t)
}

// smallSendBuffers gives each accepted connection a small socket send
// buffer, as a congested path would: a client that stops reading then
// stalls the server's writes after a few KB instead of a few MB.
type smallSendBuffers struct{ net.Listener }

func (l smallSendBuffers) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetWriteBuffer(4096)
	}
	return c, err
}

// TestLiveStreamClientThatNeverReads: a client that opens a stream and
// then never reads is cut off once a write has waited WriteTimeout, long
// before the stream's own end, and its slot is freed.
func TestLiveStreamClientThatNeverReads(t *testing.T) {
	t.Parallel()
	h := streamHarness(t, func(c *api.Config) {
		c.Limits.MaxStreams = 1
		c.Limits.WriteTimeout = 300 * time.Millisecond
		c.LiveInterval = time.Millisecond
		c.LiveHeartbeat = time.Millisecond // a heartbeat every tick fills the buffers fast
		c.LiveMaxDuration = 10 * time.Minute
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := serveOn(h, smallSendBuffers{ln})
	id := h.createDrop(5, 1, nil)
	stalled := openStream(t, addr, "127.0.0.1", id, 4096) // reads the headers, then nothing
	if stalled.resp.StatusCode != 200 {
		t.Fatalf("the stream: %d %s", stalled.resp.StatusCode, stalled.prob.body)
	}
	testkit.Eventually(t, time.Minute, "the stalled client's slot", func() bool {
		s := openStream(t, addr, "127.0.0.2", id, 0)
		defer s.conn.Close()
		return s.resp.StatusCode == 200
	})
	// Reading now finds the end of what was buffered, then the close.
	_ = stalled.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, err = io.Copy(io.Discard, stalled.resp.Body)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatal("the stalled client's connection is still open")
	}
}
