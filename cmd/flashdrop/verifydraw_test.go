package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/flashdrop/flashdrop/internal/contract"
)

// drawOnServe makes a draw drop on m with n registrants and draws it.
func drawOnServe(t *testing.T, m *Main, clock interface{ Set(time.Time) }, id string, stock, n int) {
	t.Helper()
	base := "http://" + m.Addr
	now := m.Clock.Now()
	body := fmt.Sprintf(`{"id":%q,"name":"Draw","stock":%d,"mode":"draw","registration_opens_at":%q,
		"registration_closes_at":%q,"sale_starts_at":%q,"sale_ends_at":%q}`, id, stock,
		now.Add(-time.Minute).Format(time.RFC3339), now.Add(10*time.Minute).Format(time.RFC3339),
		now.Add(15*time.Minute).Format(time.RFC3339), now.Add(time.Hour).Format(time.RFC3339))
	if r := call(t, "POST", base+"/v1/admin/drops", m.Config.AdminToken, body); r.status != 201 {
		t.Fatalf("create: %d %s", r.status, r.raw)
	}
	for i := 0; i < n; i++ {
		if r := call(t, "POST", base+"/v1/drops/"+id+"/registrations", mint(t, m, fmt.Sprint("s", i)), ""); r.status != 201 {
			t.Fatalf("register: %d %s", r.status, r.raw)
		}
	}
	clock.Set(now.Add(10 * time.Minute))
	if err := m.scheduler.Tick(context.Background()); err != nil {
		t.Fatal(err)
	}
	clock.Set(now.Add(15 * time.Minute))
	if err := m.scheduler.Tick(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// TestVerifyDraw: verify-draw confirms an honest record (exit 0), catches
// every tampering of it that a proxy between it and the server can do
// (exit 1), and gives no verdict when it cannot tell (exit 2).
func TestVerifyDraw(t *testing.T) {
	m, clock, _ := startServe(t, "--no-demo", "--schedule-every", "1h")
	base := "http://" + m.Addr
	run := func(target string, extra ...string) (int, string) {
		var out, errOut bytes.Buffer
		code := verifyDraw(append([]string{"--target", target, "--drop", "weekly", "--page", "7"}, extra...), &out, &errOut, nil)
		return code, out.String() + errOut.String()
	}
	// Before the draw: no verdict, but the commitment is shown.
	now := m.Clock.Now()
	if r := call(t, "POST", base+"/v1/admin/drops", m.Config.AdminToken, fmt.Sprintf(`{"id":"early","name":"D","stock":1,
		"mode":"draw","registration_opens_at":%q,"registration_closes_at":%q,"sale_starts_at":%q}`,
		now.Format(time.RFC3339), now.Add(time.Hour).Format(time.RFC3339), now.Add(time.Hour).Format(time.RFC3339))); r.status != 201 {
		t.Fatalf("create: %s", r.raw)
	}
	var out bytes.Buffer
	if code := verifyDraw([]string{"--target", base, "--drop", "early"}, &out, io.Discard, nil); code != 2 ||
		!strings.Contains(out.String(), "not done yet") {
		t.Fatalf("before the draw: %d %s", code, out.String())
	}

	drawOnServe(t, m, clock, "weekly", 10, 40)
	if code, msg := run(base); code != 0 || !strings.Contains(msg, "verified") {
		t.Fatalf("honest record: exit %d: %s", code, msg)
	}

	// The drop page says the draw is done, shows its seed and the command
	// that checks it; that command, run as the page gives it, verifies.
	// Before its draw, a draw drop's page says none of it.
	page := func(id string) string {
		t.Helper()
		resp, err := http.Get(base + "/d/" + id)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	rec := call(t, "GET", base+"/v1/drops/weekly/draw?limit=1", "", "")
	seed, _ := rec.body["seed"].(string)
	cmd := "flashdrop verify-draw --target " + base + " --drop weekly"
	if html := page("weekly"); seed == "" || !strings.Contains(html, "The draw is done: <strong>10</strong> winners among 40 registered") ||
		!strings.Contains(html, seed) || !strings.Contains(html, "<code>"+cmd+"</code>") || !strings.Contains(html, `href="/v1/drops/weekly/draw"`) ||
		!strings.Contains(html, "The draw was committed in advance") {
		t.Fatalf("the drawn drop's page (seed %q):\n%s", seed, html)
	}
	if code := runCmd(strings.Fields(cmd)[1:]); code != 0 {
		t.Fatalf("the page's command: exit %d", code)
	}
	if html := page("early"); strings.Contains(html, "The draw is done") || strings.Contains(html, "verify-draw") || !strings.Contains(html, "The draw is committed in advance") {
		t.Fatalf("a draw drop's page before its draw:\n%s", html)
	}

	tamper := map[string]func(page map[string]any){
		"two tickets swapped": func(p map[string]any) {
			if ts, _ := p["tickets"].([]any); p["offset"] == float64(0) && len(ts) > 1 {
				ts[0], ts[1] = ts[1], ts[0]
			}
		},
		"another seed": func(p map[string]any) { p["seed"] = strings.Repeat("00", 32) },
		"another seed with its own hash": func(p map[string]any) {
			p["seed"] = strings.Repeat("00", 32)
			p["seed_hash"] = "66687aadf862bd776c8fc18b8e9f8e20089714856ee233b3902a591d0d5f2925"
		},
		"a ticket left out": func(p map[string]any) {
			if ts, _ := p["tickets"].([]any); p["offset"] == float64(14) {
				p["tickets"] = ts[1:]
			}
		},
		"a ticket replaced": func(p map[string]any) {
			if ts, _ := p["tickets"].([]any); p["offset"] == float64(21) {
				ts[3] = strings.Repeat("ab", 16)
			}
		},
		"one more winner": func(p map[string]any) { p["winners"] = p["winners"].(float64) + 1 },
		"winners only on the first page": func(p map[string]any) {
			if p["offset"] != float64(0) {
				p["winners"] = float64(0)
			}
		},
	}
	// What the honest server answers the proxy is checked against openapi.json.
	upstream := contract.Client(t, nil)
	for name, fn := range tamper {
		proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			resp, err := upstream.Get(base + r.URL.RequestURI())
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadGateway)
				return
			}
			defer resp.Body.Close()
			var page map[string]any
			if err := json.NewDecoder(resp.Body).Decode(&page); err != nil {
				http.Error(w, err.Error(), http.StatusBadGateway)
				return
			}
			fn(page)
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(page)
		}))
		code, msg := run(proxy.URL)
		proxy.Close()
		if code != 1 || !strings.Contains(msg, "MISMATCH") {
			t.Errorf("%s: exit %d: %s", name, code, msg)
		}
	}

	for _, args := range [][]string{{}, {"--target", base}, {"--drop", "weekly"}, {"--target", "ftp://x", "--drop", "weekly"}} {
		if code := verifyDraw(args, io.Discard, io.Discard, nil); code != 2 {
			t.Errorf("verify-draw %v: exit %d, want 2", args, code)
		}
	}
	if code := runCmd([]string{"verify-draw", "--target", base}); code != 2 {
		t.Errorf("flashdrop verify-draw without --drop: exit %d, want 2", code)
	}
	if code := runCmd([]string{"verify-draw", "--target", base, "--drop", "weekly"}); code != 0 {
		t.Errorf("flashdrop verify-draw: exit %d, want 0", code)
	}
	if code, _ := run(base, "--timeout", "5s"); code != 0 {
		t.Fatalf("flags after the others: %d", code)
	}
	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close()
	if code, _ := run(dead.URL); code != 2 {
		t.Errorf("unreachable server: exit %d, want 2", code)
	}
	if code := run2(t, base, "nope"); code != 2 {
		t.Errorf("unknown drop: exit %d, want 2", code)
	}
	if code := run2(t, base, "early"); code != 2 {
		t.Errorf("undrawn drop: exit %d, want 2", code)
	}
}

func runCmd(args []string) int { return run(args, io.Discard, io.Discard) }

func run2(t *testing.T, base, drop string) int {
	t.Helper()
	return verifyDraw([]string{"--target", base, "--drop", drop}, io.Discard, io.Discard, nil)
}

// TestDrawAfterTheSaleClosedSaysSo: a draw that every node missed until
// its sale had closed still verifies, but its record (holds_given 0), its
// page and verify-draw say that no winner got a hold, where they
// announced the order's winners as if they had.
func TestDrawAfterTheSaleClosedSaysSo(t *testing.T) {
	m, clock, _ := startServe(t, "--no-demo", "--schedule-every", "1h")
	base := "http://" + m.Addr
	now := m.Clock.Now()
	body := fmt.Sprintf(`{"id":"missed","name":"Draw","stock":3,"mode":"draw","registration_opens_at":%q,
		"registration_closes_at":%q,"sale_starts_at":%q,"sale_ends_at":%q}`,
		now.Add(-time.Minute).Format(time.RFC3339), now.Add(10*time.Minute).Format(time.RFC3339),
		now.Add(15*time.Minute).Format(time.RFC3339), now.Add(time.Hour).Format(time.RFC3339))
	if r := call(t, "POST", base+"/v1/admin/drops", m.Config.AdminToken, body); r.status != 201 {
		t.Fatalf("create: %d %s", r.status, r.raw)
	}
	for i := 0; i < 8; i++ {
		if r := call(t, "POST", base+"/v1/drops/missed/registrations", mint(t, m, fmt.Sprint("s", i)), ""); r.status != 201 {
			t.Fatalf("register: %d %s", r.status, r.raw)
		}
	}
	// Every node down from before registration closed until after the
	// sale: the first tick freezes and draws at once.
	clock.Set(now.Add(time.Hour + time.Minute))
	if err := m.scheduler.Tick(context.Background()); err != nil {
		t.Fatal(err)
	}
	rec := call(t, "GET", base+"/v1/drops/missed/draw?limit=1", "", "")
	if rec.status != 200 || rec.body["state"] != "drawn" || rec.body["winners"] != float64(3) || rec.body["holds_given"] != float64(0) {
		t.Fatalf("the record: %d %s", rec.status, rec.raw)
	}
	var out bytes.Buffer
	if code := verifyDraw([]string{"--target", base, "--drop", "missed"}, &out, io.Discard, nil); code != 0 ||
		!strings.Contains(out.String(), "verified") || !strings.Contains(out.String(), "note: 3 of the 3 winners got no hold") {
		t.Fatalf("verify-draw: exit %d: %s", code, out.String())
	}
	resp, err := http.Get(base + "/d/missed")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	html, _ := io.ReadAll(resp.Body)
	if !strings.Contains(string(html), "The sale had closed before the draw finished, so no winner got a hold") {
		t.Fatalf("the page does not say the winners got nothing:\n%s", html)
	}
	if st := call(t, "GET", base+"/v1/admin/drops/missed/stats", m.Config.AdminToken, ""); st.body["held"] != float64(0) || st.body["waitlisted"] != float64(0) {
		t.Fatalf("stats: %s", st.raw)
	}
}
