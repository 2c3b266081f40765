package api_test

import (
	"context"
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/flashdrop/flashdrop/api"
)

func TestAdminDropRoutes(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	id := h.createDrop(5, 2, map[string]any{"product": "Red Sneaker", "hold_seconds": 120})

	get := h.do("GET", "/v1/admin/drops/"+id, admin, nil)
	h.expect(get, 200, "")
	if get.str("id") != id || get.num("stock") != 5 || get.num("per_user_limit") != 2 || get.num("hold_seconds") != 120 ||
		get.str("product") != "Red Sneaker" || get.str("mode") != "fcfs" || get.str("state") != "registration_open" {
		t.Fatalf("drop: %s", get.raw)
	}
	list := h.do("GET", "/v1/admin/drops", admin, nil)
	h.expect(list, 200, "")
	if !strings.Contains(string(list.raw), `"id":"`+id+`"`) {
		t.Fatalf("list misses the drop: %s", list.raw)
	}
	h.expect(h.do("POST", "/v1/admin/drops", admin, map[string]any{
		"id": id, "name": "again", "stock": 1, "registration_opens_at": t0, "registration_closes_at": t0.Add(time.Hour),
		"sale_starts_at": t0.Add(time.Hour),
	}), 409, "drop_exists")

	bad := h.do("POST", "/v1/admin/drops", admin, map[string]any{
		"id": "bad-times-" + id, "name": "x", "stock": 1, "registration_opens_at": t0,
		"registration_closes_at": t0.Add(-time.Hour), "sale_starts_at": t0.Add(time.Hour),
	})
	h.expect(bad, 400, "invalid")
	if bad.str("field") != "registration_closes_at" {
		t.Fatalf("a 400 names its field: %s", bad.raw)
	}
	h.expect(h.do("POST", "/v1/admin/drops", admin, `{"id":"x","stok":1}`), 400, "invalid")
	h.expect(h.do("POST", "/v1/admin/drops", admin, `{"id":`), 400, "invalid")
	h.expect(h.do("POST", "/v1/admin/drops", admin, `{"id":"x","stock":"ten"}`), 400, "invalid")
	h.expect(h.do("POST", "/v1/admin/drops", admin, ``), 400, "invalid")
	h.expect(h.do("POST", "/v1/admin/drops", admin, `{} {}`), 400, "invalid")
	h.expect(h.do("POST", "/v1/admin/drops", admin, `{"id":"x","name":"`+strings.Repeat("x", 5000)+`"}`), 413, "invalid")

	st := h.do("GET", "/v1/admin/drops/"+id+"/stats", admin, nil)
	h.expect(st, 200, "")
	for _, k := range []string{"stock", "available", "held", "confirmed", "released", "registered", "waitlisted", "reservations", "referrals"} {
		if _, ok := st.body[k]; !ok {
			t.Errorf("stats lacks %s: %s", k, st.raw)
		}
	}
	p := h.do("POST", "/v1/admin/drops/"+id+"/pause", admin, nil)
	h.expect(p, 200, "")
	if p.body["paused"] != true {
		t.Fatalf("pause: %s", p.raw)
	}
	r := h.do("POST", "/v1/admin/drops/"+id+"/resume", admin, nil)
	if r.status != 200 || r.body["paused"] != false {
		t.Fatalf("resume: %s", r.raw)
	}
	for _, path := range []string{"/v1/admin/drops/nope-" + id, "/v1/admin/drops/nope-" + id + "/stats"} {
		h.expect(h.do("GET", path, admin, nil), 404, "not_found")
	}
	h.expect(h.do("POST", "/v1/admin/drops/nope-"+id+"/pause", admin, nil), 404, "not_found")
	h.expect(h.do("GET", "/v1/admin/drops/bad%20id", admin, nil), 404, "not_found")
	h.expect(h.do("PUT", "/v1/admin/drops/"+id, admin, nil), 405, "invalid")
	// Nobody took part in it: it can be deleted.
	h.expect(h.do("DELETE", "/v1/admin/drops/"+id, admin, nil), 204, "")
	h.expect(h.do("GET", "/v1/admin/drops/"+id, admin, nil), 404, "not_found")
	h.expect(h.do("GET", "/v1/nothing/here", admin, nil), 404, "not_found")
}

func TestAuthMatrix(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	id := h.createDrop(5, 1, nil)
	h.register(id, "alice", "bob")
	h.clock.Set(t0)
	won := h.do("POST", "/v1/drops/"+id+"/reservations", h.token("alice"), nil)
	h.expect(won, 201, "")
	resID := won.str("reservation", "id")

	sign := func(method jwt.SigningMethod, key any, claims jwt.MapClaims) string {
		tok, err := jwt.NewWithClaims(method, claims).SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	now := time.Now()
	good := jwt.MapClaims{"sub": "alice", "exp": now.Add(time.Hour).Unix()}
	b64 := base64.RawURLEncoding.EncodeToString
	algNone := b64([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + b64([]byte(`{"sub":"alice","exp":`+itoa(now.Add(time.Hour).Unix())+`}`)) + "."

	reserve := "/v1/drops/" + id + "/reservations"
	for _, c := range []struct {
		name, token string
	}{
		{"no token", ""},
		{"bad signature", sign(jwt.SigningMethodHS256, []byte("another-secret-0123456789abcdef012"), good)},
		{"alg none", algNone},
		{"HS512", sign(jwt.SigningMethodHS512, []byte(secret), good)},
		{"expired", sign(jwt.SigningMethodHS256, []byte(secret), jwt.MapClaims{"sub": "alice", "exp": now.Add(-time.Hour).Unix()})},
		{"no exp", sign(jwt.SigningMethodHS256, []byte(secret), jwt.MapClaims{"sub": "alice"})},
		{"garbage", "not.a.jwt"},
		{"wrong admin token", admin + "x"},
	} {
		r := h.do("POST", reserve, c.token, nil)
		if r.status != 401 || r.code() != "unauthorized" || r.header.Get("WWW-Authenticate") == "" {
			t.Errorf("%s: got %d %s", c.name, r.status, r.raw)
		}
	}
	// The right token works (the reservation above), and is checked per owner.
	h.expect(h.do("GET", "/v1/reservations/"+resID, h.token("alice"), nil), 200, "")
	h.expect(h.do("GET", "/v1/reservations/"+resID, h.token("bob"), nil), 403, "forbidden")
	h.expect(h.do("POST", "/v1/reservations/"+resID+"/confirm", h.token("bob"), nil), 403, "forbidden")
	h.expect(h.do("POST", "/v1/reservations/"+resID+"/cancel", h.token("bob"), nil), 403, "forbidden")
	h.expect(h.do("GET", "/v1/reservations/"+resID, admin, nil), 200, "")
	// Roles: a shopper on admin routes, an admin where a shopper must act.
	h.expect(h.do("GET", "/v1/admin/drops", h.token("alice"), nil), 403, "forbidden")
	h.expect(h.do("POST", "/v1/admin/drops/"+id+"/pause", h.token("alice"), nil), 403, "forbidden")
	h.expect(h.do("POST", "/v1/drops/"+id+"/registrations", admin, nil), 403, "forbidden")
	h.expect(h.do("POST", reserve, admin, nil), 403, "forbidden")
	h.expect(h.do("GET", "/v1/admin/drops", "", nil), 401, "unauthorized")
	// A bad token on the public view is refused rather than ignored.
	h.expect(h.do("GET", "/v1/drops/"+id, "not.a.jwt", nil), 401, "unauthorized")
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func TestShopperFlow(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	id := h.createDrop(2, 1, nil)
	alice, bob, carol, mallory := h.token("alice"), h.token("bob"), h.token("carol"), h.token("mallory")
	drop := "/v1/drops/" + id

	pub := h.do("GET", drop, "", nil)
	h.expect(pub, 200, "")
	if pub.str("state") != "registration_open" || pub.num("available") != 2 || pub.body["me"] != nil {
		t.Fatalf("public view: %s", pub.raw)
	}
	reg := h.do("POST", drop+"/registrations", alice, map[string]any{"ref": "friend-code"})
	h.expect(reg, 201, "")
	if reg.str("user") != "alice" || reg.str("drop") != id || reg.str("registered_at") == "" {
		t.Fatalf("registration: %s", reg.raw)
	}
	h.expect(h.do("POST", drop+"/registrations", alice, nil), 200, "")
	h.expect(h.do("POST", drop+"/registrations", bob, `{}`), 201, "")
	h.expect(h.do("POST", drop+"/registrations", carol, nil), 201, "")
	h.expect(h.do("POST", drop+"/registrations", bob, map[string]any{"ref": "has space"}), 400, "invalid")
	h.expect(h.do("POST", "/v1/drops/nope-"+id+"/registrations", bob, nil), 404, "not_found")

	me := h.do("GET", drop, alice, nil)
	if me.body["me"] == nil || me.body["me"].(map[string]any)["registered"] != true {
		t.Fatalf("me: %s", me.raw)
	}
	early := h.do("POST", drop+"/reservations", alice, nil)
	h.expect(early, 409, "sale_not_open")
	if early.str("detail") != "the sale starts at "+t0.Format(time.RFC3339) {
		t.Fatalf("a countdown needs the start time: %s", early.raw)
	}

	h.clock.Set(t0.Add(-30 * time.Second))
	h.expect(h.do("POST", drop+"/registrations", mallory, nil), 409, "registration_closed")
	h.clock.Set(t0.Add(time.Second))
	h.expect(h.do("POST", drop+"/reservations", mallory, nil), 403, "not_registered")
	h.expect(h.do("POST", drop+"/reservations", alice, map[string]any{"quantity": 0}), 400, "invalid")
	h.expect(h.do("POST", drop+"/reservations", alice, map[string]any{"quantity": 2}), 409, "limit_reached")
	h.expect(h.do("POST", drop+"/reservations", alice, `{"quantity":"one"}`), 400, "invalid")
	h.expect(h.do("POST", drop+"/reservations", alice, nil, "Idempotency-Key", "bad key"), 400, "invalid")

	won := h.do("POST", drop+"/reservations", alice, map[string]any{"quantity": 1}, "Idempotency-Key", "alice-1")
	h.expect(won, 201, "")
	rid := won.str("reservation", "id")
	if won.str("reservation", "status") != "held" || won.str("reservation", "user") != "alice" ||
		won.num("reservation", "quantity") != 1 || won.str("reservation", "share_code") == "" ||
		won.str("reservation", "expires_at") == "" || won.header.Get("Location") != "/v1/reservations/"+rid {
		t.Fatalf("won: %s", won.raw)
	}
	replay := h.do("POST", drop+"/reservations", alice, map[string]any{"quantity": 1}, "Idempotency-Key", "alice-1")
	h.expect(replay, 201, "")
	if replay.str("reservation", "id") != rid || replay.header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("replay: %s %v", replay.raw, replay.header)
	}
	h.expect(h.do("POST", drop+"/reservations", alice, map[string]any{"quantity": 1, "waitlist": true}, "Idempotency-Key", "alice-1"),
		422, "idempotency_mismatch")

	h.expect(h.do("POST", "/v1/admin/drops/"+id+"/pause", admin, nil), 200, "")
	h.expect(h.do("POST", drop+"/reservations", bob, nil), 409, "sale_paused")
	h.expect(h.do("POST", "/v1/admin/drops/"+id+"/resume", admin, nil), 200, "")
	h.expect(h.do("POST", drop+"/reservations", bob, nil), 201, "")
	so := h.do("POST", drop+"/reservations", carol, map[string]any{"waitlist": true})
	h.expect(so, 409, "sold_out")
	if so.num("waitlist_position") != 1 {
		t.Fatalf("waitlist position: %s", so.raw)
	}
	view := h.do("GET", drop, carol, nil)
	if view.str("state") != "sold_out" || view.body["me"].(map[string]any)["waitlist_position"] != float64(1) {
		t.Fatalf("carol's view: %s", view.raw)
	}

	got := h.do("GET", "/v1/reservations/"+rid, alice, nil)
	if got.status != 200 || got.str("reservation", "status") != "held" {
		t.Fatalf("get: %s", got.raw)
	}
	// Confirm means paid: the shop backend's call on this drop, not hers.
	h.expect(h.do("POST", "/v1/reservations/"+rid+"/confirm", alice, nil), 403, "forbidden")
	conf := h.do("POST", "/v1/reservations/"+rid+"/confirm", admin, nil)
	if conf.status != 200 || conf.str("reservation", "status") != "confirmed" {
		t.Fatalf("confirm: %s", conf.raw)
	}
	h.expect(h.do("POST", "/v1/reservations/"+rid+"/cancel", alice, nil), 409, "confirmed")
	h.expect(h.do("GET", "/v1/reservations/nope", alice, nil), 404, "not_found")
	h.expect(h.do("GET", "/v1/reservations/"+id+".nope", alice, nil), 404, "not_found")

	// Bob cancels as admin would: his unit goes to carol, the waitlist head.
	bobView := h.do("GET", drop, bob, nil)
	bobRes := bobView.body["me"].(map[string]any)["reservation"].(map[string]any)["id"].(string)
	canc := h.do("POST", "/v1/reservations/"+bobRes+"/cancel", admin, nil)
	if canc.status != 200 || canc.str("reservation", "status") != "cancelled" {
		t.Fatalf("cancel: %s", canc.raw)
	}
	cv := h.do("GET", drop, carol, nil)
	cres := cv.body["me"].(map[string]any)["reservation"].(map[string]any)
	if cres["status"] != "held" || cres["from_waitlist"] != true {
		t.Fatalf("carol should hold the released unit: %s", cv.raw)
	}
	h.clock.Set(t0.Add(20 * time.Minute))
	h.expect(h.do("POST", "/v1/reservations/"+cres["id"].(string)+"/confirm", carol, nil), 409, "expired")

	stats := h.do("GET", "/v1/admin/drops/"+id+"/stats", admin, nil)
	if stats.num("confirmed") != 1 || stats.num("available") != 1 || stats.num("released") != 2 || stats.num("referrals") != 0 { // "friend-code" names no win
		t.Fatalf("stats: %s", stats.raw)
	}
	h.clock.Set(t0.Add(2 * time.Hour))
	h.expect(h.do("POST", drop+"/reservations", bob, nil), 409, "sale_closed")
}

func TestHealthReadyMetrics(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	h.expect(h.do("GET", "/healthz", "", nil), 200, "")
	ready := h.do("GET", "/readyz", "", nil)
	if ready.status != 200 || ready.str("status") != "ready" {
		t.Fatalf("readyz: %s", ready.raw)
	}
	m := h.do("GET", "/metrics", "", nil)
	for _, name := range []string{"flashdrop_http_requests_total", "flashdrop_http_request_duration_seconds", "go_goroutines"} {
		if !strings.Contains(string(m.raw), name) {
			t.Errorf("metrics lack %s", name)
		}
	}
	if m.header.Get("X-Request-Id") == "" {
		t.Error("no request id")
	}
	given := h.do("GET", "/healthz", "", nil, "X-Request-Id", "trace-123")
	if given.header.Get("X-Request-Id") != "trace-123" {
		t.Errorf("a caller's request id is kept: %v", given.header)
	}
}

func TestReadyzReportsAFailingDependency(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(c *api.Config) {
		c.ReadyChecks = []api.ReadyCheck{{Name: "redis", Check: func(context.Context) error { return errors.New("redis: connection refused") }}}
	})
	r := h.do("GET", "/readyz", "", nil)
	h.expect(r, 503, "unavailable")
	if r.header.Get("Retry-After") == "" || !strings.Contains(r.str("detail"), "redis") {
		t.Fatalf("readyz: %v %s", r.header, r.raw)
	}
}

func TestUserRateLimit(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(c *api.Config) { c.Limits.UserRate = 1; c.Limits.UserBurst = 3 })
	id := h.createDrop(5, 1, nil)
	tok := h.token("eager")
	var last response
	for i := 0; i < 4; i++ {
		last = h.do("POST", "/v1/drops/"+id+"/registrations", tok, nil)
	}
	h.expect(last, 429, "rate_limited")
	if last.header.Get("Retry-After") == "" {
		t.Fatal("429 without Retry-After")
	}
	// Another shopper is not slowed down by the first.
	h.expect(h.do("POST", "/v1/drops/"+id+"/registrations", h.token("calm"), nil), 201, "")
}

// TestReplayedWinIsNotCountedAsAWin: a repeat of a win under its
// Idempotency-Key answers the win again, but the reserve outcomes count it
// apart (won_replayed): counted as won, a rush's retries made the ops
// page's won count exceed the units sold.
func TestReplayedWinIsNotCountedAsAWin(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	drop := h.createDrop(3, 1, nil)
	h.register(drop, "alice")
	h.clock.Set(t0.Add(time.Second))
	for range 3 {
		h.expect(h.do("POST", "/v1/drops/"+drop+"/reservations", h.token("alice"), nil, "Idempotency-Key", "press-1"), 201, "")
	}
	m := string(h.do("GET", "/metrics", "", nil).raw)
	for _, want := range []string{`flashdrop_reserve_outcomes_total{outcome="won"} 1` + "\n", `flashdrop_reserve_outcomes_total{outcome="won_replayed"} 2` + "\n"} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

// TestReadyzRunsItsChecksTogether: each check has the whole bound (2 s),
// started together, so two backends that each take a second and more are
// ready; one after another, the second was blamed for the first's time.
func TestReadyzRunsItsChecksTogether(t *testing.T) {
	t.Parallel()
	// Each check answers only once both have started: run one after the
	// other, the first waits for the second until the 2-s bound, and
	// /readyz fails. A barrier rather than two 1.2-s sleeps, whose 0.8 s
	// of margin a loaded machine could eat.
	var started atomic.Int32
	allIn := make(chan struct{})
	together := func(ctx context.Context) error {
		if started.Add(1) == 2 {
			close(allIn)
		}
		select {
		case <-allIn:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	h := newHarness(t, func(c *api.Config) {
		c.ReadyChecks = []api.ReadyCheck{{Name: "redis", Check: together}, {Name: "nats", Check: together}}
	})
	if r := h.do("GET", "/readyz", "", nil); r.status != 200 {
		t.Fatalf("two checks that each wait for the other: %d %s", r.status, r.raw)
	}
}
