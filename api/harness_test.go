package api_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp/fasthttputil"

	"github.com/flashdrop/flashdrop/api"
	"github.com/flashdrop/flashdrop/engine"
	"github.com/flashdrop/flashdrop/engine/redisstore"
	"github.com/flashdrop/flashdrop/engine/redisstore/redistest"
	"github.com/flashdrop/flashdrop/internal/contract"
)

func TestMain(m *testing.M) { redistest.Main(m, redistest.FastHTTPLingerers...) }

const (
	secret = "e2e-secret-0123456789abcdef0123456789"
	admin  = "e2e-admin-token-0123456789"
)

// t0 is the sale start of every test drop.
var t0 = time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)

// harness is one API server on real Redis, reached over an in-memory
// listener with a real HTTP client.
type harness struct {
	t      *testing.T
	clock  *engine.ManualClock
	store  *redisstore.Store
	eng    *engine.Engine
	srv    *api.Server
	client *http.Client
}

func newHarness(t *testing.T, tweak func(*api.Config)) *harness {
	t.Helper()
	return newHarnessWith(t, nil, tweak)
}

// newHarnessWith is newHarness with the admission's options tweaked too.
func newHarnessWith(t *testing.T, admTweak func(*engine.AdmissionOptions), tweak func(*api.Config)) *harness {
	t.Helper()
	rdb := redistest.Shared(t).Client()
	t.Cleanup(func() { rdb.Close() })
	clock := engine.NewManualClock(t0.Add(-time.Hour))
	store := redisstore.New(rdb, redisstore.Options{})
	eng := engine.New(store, engine.Options{Clock: clock})
	metrics := api.NewMetrics()
	// The public view may lag; tests that check it move on their own.
	admOpts := engine.AdmissionOptions{ViewTTL: time.Nanosecond, OnBatch: metrics.ObserveBatch,
		OnSoldOutFromMemory: metrics.CountSoldOutFromMemory}
	if admTweak != nil {
		admTweak(&admOpts)
	}
	adm := engine.NewAdmission(eng, admOpts)
	hooks := engine.NewWebhooks(store, clock, func(u string) error {
		if strings.Contains(u, "127.0.0.1") {
			return errors.New("private or loopback address")
		}
		return nil
	})
	cfg := api.Config{
		Metrics:          metrics,
		Auth:             api.AuthConfig{JWTSecret: []byte(secret), AdminToken: admin},
		ReadyChecks:      []api.ReadyCheck{{Name: "redis", Check: store.Ping}},
		Logger:           slog.New(slog.NewTextHandler(io.Discard, nil)),
		LiveInterval:     10 * time.Millisecond,
		AdminIdempotency: store,
		Keys:             engine.NewKeys(store, clock),
	}.WithEngine(eng, adm, hooks)
	if tweak != nil {
		tweak(&cfg)
	}
	srv, err := api.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln := fasthttputil.NewInmemoryListener()
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	// Every exchange through the harness is checked against openapi.json.
	client := contract.Client(t, &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{
		MaxIdleConnsPerHost: 256,
		DialContext:         func(context.Context, string, string) (net.Conn, error) { return ln.Dial() },
	}})
	t.Cleanup(func() {
		client.CloseIdleConnections()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
		if err := adm.Close(); err != nil {
			t.Errorf("admission: %v", err)
		}
	})
	return &harness{t: t, clock: clock, store: store, eng: eng, srv: srv, client: client}
}

// response is an HTTP answer with its JSON body decoded loosely.
type response struct {
	status int
	header http.Header
	raw    []byte
	body   map[string]any
}

func (r response) code() string { s, _ := r.body["code"].(string); return s }

// at walks the decoded body along path (object keys); nil if absent.
func (r response) at(path ...string) any {
	var v any = r.body
	for _, p := range path {
		m, _ := v.(map[string]any)
		v = m[p]
	}
	return v
}

func (r response) str(path ...string) string { s, _ := r.at(path...).(string); return s }

func (r response) num(path ...string) float64 { f, _ := r.at(path...).(float64); return f }

// do sends a request; token "" sends no Authorization header. Extra
// headers come in name/value pairs.
func (h *harness) do(method, path, token string, body any, headers ...string) response {
	h.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		js, err := json.Marshal(b)
		if err != nil {
			h.t.Fatal(err)
		}
		rd = bytes.NewReader(js)
	}
	req, err := http.NewRequest(method, "http://flashdrop.test"+path, rd)
	if err != nil {
		h.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := h.client.Do(req)
	if err != nil {
		h.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	out := response{status: resp.StatusCode, header: resp.Header, raw: raw}
	_ = json.Unmarshal(raw, &out.body)
	if resp.StatusCode >= 400 {
		if ct := resp.Header.Get("Content-Type"); ct != "application/problem+json" {
			h.t.Errorf("%s %s: %d with Content-Type %q, want problem+json", method, path, resp.StatusCode, ct)
		}
		if out.code() == "" || out.num("status") != float64(resp.StatusCode) || out.str("type") == "" || out.str("title") == "" {
			h.t.Errorf("%s %s: malformed problem %s", method, path, raw)
		}
	}
	return out
}

// expect fails unless r has the status and (for errors) the problem code.
func (h *harness) expect(r response, status int, code string) {
	h.t.Helper()
	if r.status != status || (code != "" && r.code() != code) {
		h.t.Fatalf("got %d %s, want %d %s", r.status, r.raw, status, code)
	}
}

func (h *harness) token(user string) string {
	h.t.Helper()
	tok, err := api.MintShopperToken([]byte(secret), user, time.Hour, time.Now(), "", "")
	if err != nil {
		h.t.Fatal(err)
	}
	return tok
}

func dropID(t *testing.T) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	name := strings.NewReplacer("/", "-", " ", "-").Replace(t.Name())
	if len(name) > 40 {
		name = name[len(name)-40:]
	}
	return strings.Trim(name, "-") + "-" + hex.EncodeToString(b[:])
}

// createDrop creates a drop over the API with registration open and the
// sale at t0, and leaves the clock inside registration.
func (h *harness) createDrop(stock, limit int, extra map[string]any) string {
	h.t.Helper()
	id := dropID(h.t)
	body := map[string]any{
		"id": id, "name": "Sneaker", "stock": stock, "per_user_limit": limit,
		"registration_opens_at":  t0.Add(-2 * time.Hour),
		"registration_closes_at": t0.Add(-time.Minute),
		"sale_starts_at":         t0,
		"sale_ends_at":           t0.Add(time.Hour),
	}
	for k, v := range extra {
		body[k] = v
	}
	h.clock.Set(t0.Add(-time.Hour))
	h.expect(h.do("POST", "/v1/admin/drops", admin, body), 201, "")
	return id
}

func (h *harness) register(drop string, users ...string) {
	h.t.Helper()
	for _, u := range users {
		r := h.do("POST", "/v1/drops/"+drop+"/registrations", h.token(u), nil)
		if r.status != 201 && r.status != 200 {
			h.t.Fatalf("register %s: %d %s", u, r.status, r.raw)
		}
	}
}
