package api_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/flashdrop/flashdrop/api"
	"github.com/flashdrop/flashdrop/internal/contract"
	"github.com/flashdrop/flashdrop/internal/testkit"
)

// serveTCP serves h's server on a real loopback port as well, for tests
// that need what only TCP has: raw bytes, client addresses, socket
// buffers. It returns the address.
func serveTCP(h *harness) string {
	h.t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		h.t.Fatal(err)
	}
	return serveOn(h, ln)
}

// serveOn serves h's server on ln as well and returns ln's address.
func serveOn(h *harness, ln net.Listener) string {
	h.t.Helper()
	done := make(chan error, 1)
	go func() { done <- h.srv.Serve(ln) }()
	// Cleanups run last-registered first, so this one runs before the
	// harness's: it shuts the server down itself (Shutdown is safe to call
	// twice) to get this Serve to return.
	h.t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := h.srv.Shutdown(ctx); err != nil {
			h.t.Errorf("shutdown: %v", err)
		}
		if err := <-done; err != nil {
			h.t.Errorf("serve on TCP: %v", err)
		}
	})
	return ln.Addr().String()
}

// logBuffer collects the server's JSON log lines.
type logBuffer struct{ testkit.LockedBuffer }

// lines returns the log records that have request_id id.
func (l *logBuffer) lines(id string) []map[string]any {
	var out []map[string]any
	for _, line := range strings.Split(l.String(), "\n") {
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) == nil && rec["request_id"] == id {
			out = append(out, rec)
		}
	}
	return out
}

// withLog makes the server log JSON at info, the default level, into buf.
func withLog(buf *logBuffer) func(*api.Config) {
	return func(c *api.Config) {
		c.Logger = slog.New(slog.NewJSONHandler(buf, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
}

// rawResponse is one HTTP answer read off a raw connection.
type rawResponse struct {
	status int
	header http.Header
	body   []byte
	prob   map[string]any
}

// exchange writes req on a fresh TCP connection, then reads one response.
func exchange(t *testing.T, addr string, req ...[]byte) rawResponse {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	for _, part := range req {
		if _, err := conn.Write(part); err != nil {
			t.Fatalf("writing the request: %v", err)
		}
	}
	return readResponse(t, bufio.NewReader(conn))
}

func readResponse(t *testing.T, br *bufio.Reader) rawResponse {
	t.Helper()
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("reading the response: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading the response body: %v", err)
	}
	out := rawResponse{status: resp.StatusCode, header: resp.Header, body: body}
	_ = json.Unmarshal(body, &out.prob)
	return out
}

// checkProblem fails unless r is a problem+json with status and code whose
// request_id is in the body and the header and names a log record with
// that status.
func checkProblem(t *testing.T, logs *logBuffer, what string, r rawResponse, status int, code string) string {
	t.Helper()
	id, _ := r.prob["request_id"].(string)
	// The request was malformed on purpose; its answer must still be a
	// problem openapi.json describes.
	if err := contract.CheckProblem(r.status, r.header, r.body); err != nil {
		t.Errorf("%s: contract (api/spec/openapi.json): %v", what, err)
	}
	switch {
	case r.status != status:
		t.Errorf("%s: status %d, want %d: %s", what, r.status, status, r.body)
	case r.header.Get("Content-Type") != "application/problem+json":
		t.Errorf("%s: Content-Type %q, want problem+json: %s", what, r.header.Get("Content-Type"), r.body)
	case r.prob["code"] != code || r.prob["status"] != float64(status) || r.prob["title"] == nil || r.prob["type"] == nil:
		t.Errorf("%s: malformed problem %s", what, r.body)
	case id == "":
		t.Errorf("%s: no request_id in %s", what, r.body)
	case r.header.Get("X-Request-Id") != id:
		t.Errorf("%s: X-Request-Id %q, body request_id %q", what, r.header.Get("X-Request-Id"), id)
	default:
		recs := logs.lines(id)
		if len(recs) == 0 {
			t.Errorf("%s: nothing logged with request_id %s:\n%s", what, id, logs)
		} else if recs[len(recs)-1]["status"] != float64(status) {
			t.Errorf("%s: logged %v, want status %d", what, recs[len(recs)-1], status)
		}
	}
	return id
}

// TestErrorsBelowTheHandlers sends, over real TCP, each kind of request
// that fasthttp refuses before any handler runs, and the router's and a
// panic's answers: each is a problem+json with a request_id, in the body
// and the X-Request-Id header, and logged with it.
func TestErrorsBelowTheHandlers(t *testing.T) {
	t.Parallel()
	logs := &logBuffer{}
	h := newHarness(t, func(c *api.Config) {
		withLog(logs)(c)
		c.ReadyChecks = []api.ReadyCheck{{Name: "redis", Check: func(context.Context) error { panic("readiness check told to panic") }}}
	})
	addr := serveTCP(h)

	// The server stops reading at 8 KiB and closes with the rest unread,
	// which resets the connection; the answer sent before the reset is
	// still delivered (Linux reads queued data before reporting a reset).
	big := "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Padding: " + strings.Repeat("p", 20<<10) + "\r\n\r\n"
	checkProblem(t, logs, "20 KB header", exchange(t, addr, []byte(big)), 431, "invalid")

	// Headers first, then the 10 KB body once the answer is read: the
	// server answers from Content-Length alone and closes, and a body
	// still unread in its socket would turn that close into a reset.
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	_, _ = conn.Write([]byte("POST /v1/admin/drops HTTP/1.1\r\nHost: x\r\nX-Request-Id: support-413\r\n" +
		"Authorization: Bearer " + admin + "\r\nContent-Type: application/json\r\nContent-Length: 10240\r\n\r\n"))
	tooBig := readResponse(t, bufio.NewReader(conn))
	conn.Close()
	if id := checkProblem(t, logs, "10 KB body", tooBig, 413, "invalid"); id != "" && id != "support-413" {
		t.Errorf("413: the caller's X-Request-Id is known by then and kept, got %q", id)
	}
	// The same for a chunked body: the size line of a 10 KB chunk is
	// enough for the server to answer.
	chunked := exchange(t, addr, []byte("POST /v1/admin/drops HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2800\r\n"))
	checkProblem(t, logs, "10 KB chunked body", chunked, 413, "invalid")

	for name, req := range map[string]string{
		"malformed request line":   "GARBAGE\r\n\r\n",
		"no HTTP version":          "GET /healthz\r\nHost: x\r\n\r\n",
		"header without a colon":   "GET /healthz HTTP/1.1\r\nHost: x\r\nNot a header\r\n\r\n",
		"bad Content-Length":       "POST /v1/admin/drops HTTP/1.1\r\nHost: x\r\nContent-Length: ten\r\n\r\n",
		"bad chunk size":           "POST /v1/admin/drops HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
		"control byte in the path": "GET /heal\x01thz HTTP/1.1\r\nHost: x\r\n\r\n",
	} {
		checkProblem(t, logs, name, exchange(t, addr, []byte(req)), 400, "invalid")
	}

	checkProblem(t, logs, "no route", exchange(t, addr, []byte("GET /v1/nothing/here HTTP/1.1\r\nHost: x\r\n\r\n")), 404, "not_found")
	wrong := exchange(t, addr, []byte("DELETE /healthz HTTP/1.1\r\nHost: x\r\n\r\n"))
	checkProblem(t, logs, "wrong method", wrong, 405, "invalid")
	if wrong.header.Get("Allow") != "GET" {
		t.Errorf("405 without Allow: %v", wrong.header)
	}

	panicked := exchange(t, addr, []byte("GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n"))
	checkProblem(t, logs, "panic", panicked, 500, "internal")
	if strings.Contains(string(panicked.body), "told to panic") {
		t.Errorf("the panic's value reached the client: %s", panicked.body)
	}
	// The server lives on.
	h.expect(h.do("GET", "/healthz", "", nil), 200, "")
}

// TestReadTimeoutAnswered: a client that stops half-way through its
// headers gets a 408 problem+json with a request_id when the read timeout
// strikes, and the connection is closed.
func TestReadTimeoutAnswered(t *testing.T) {
	t.Parallel()
	logs := &logBuffer{}
	h := newHarness(t, func(c *api.Config) {
		withLog(logs)(c)
		c.Limits.ReadTimeout = 300 * time.Millisecond
	})
	addr := serveTCP(h)
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := conn.Write([]byte("GET /healthz HTTP/1.1\r\nHost: x\r\n")); err != nil { // never the blank line
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	checkProblem(t, logs, "read timeout", readResponse(t, br), 408, "invalid")
	if _, err := br.ReadByte(); err != io.EOF {
		t.Errorf("the connection should be closed after a 408, read: %v", err)
	}
}

// TestTransportErrorsLogNoSecrets: fasthttp quotes the bytes it could not
// parse in its errors, which can hold an Authorization header; neither its
// own log line nor the server's may carry them.
func TestTransportErrorsLogNoSecrets(t *testing.T) {
	t.Parallel()
	logs := &logBuffer{}
	h := newHarness(t, func(c *api.Config) {
		c.Logger = slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	addr := serveTCP(h)
	tok := h.token("alice")
	for _, req := range []string{
		"GET /v1/admin/drops HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + admin + "\r\nNot a header\r\n\r\n",
		"GET /v1/drops/x HTTP/1.1\r\nAuthorization: Bearer " + tok + "\r\nHost: x\r\nX-Pad: " + strings.Repeat("p", 20<<10) + "\r\n\r\n",
		"BAD REQUEST LINE Authorization: Bearer " + admin + "\r\n\r\n",
	} {
		r := exchange(t, addr, []byte(req))
		if r.status < 400 {
			t.Fatalf("%q was accepted: %d", req[:40], r.status)
		}
	}
	out := logs.String()
	if !strings.Contains(out, "request_id") {
		t.Fatalf("the refusals should be logged:\n%s", out)
	}
	for _, secret := range []string{admin, tok, tok[strings.LastIndex(tok, ".")+1:]} {
		if strings.Contains(out, secret) {
			t.Fatalf("a secret reached the log:\n%s", out)
		}
	}
}

// TestConnectionCapAnswersProblem: past Limits.MaxConns a new connection
// gets a 503 problem+json with a request_id and Retry-After (fasthttp's
// own refusal would be plain text), and the slot comes back when the
// connection holding it closes.
func TestConnectionCapAnswersProblem(t *testing.T) {
	t.Parallel()
	logs := &logBuffer{}
	h := newHarness(t, func(c *api.Config) {
		c.Logger = slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
		c.Limits.MaxConns = 1
	})
	addr := serveTCP(h)
	holder, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	_ = holder.SetDeadline(time.Now().Add(10 * time.Second))
	// An answered request proves the holder has the one slot.
	if _, err := holder.Write([]byte("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	if r := readResponse(t, bufio.NewReader(holder)); r.status != 200 {
		t.Fatalf("the first connection: %d %s", r.status, r.body)
	}
	over := exchange(t, addr, []byte("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"))
	checkProblem(t, logs, "connection over the cap", over, 503, "unavailable")
	if over.header.Get("Retry-After") == "" {
		t.Errorf("503 without Retry-After: %v", over.header)
	}
	holder.Close()
	testkit.Eventually(t, 0, "the slot of the closed connection", func() bool {
		return exchange(t, addr, []byte("GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")).status == 200
	})
}
