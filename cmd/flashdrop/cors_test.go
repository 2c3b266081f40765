package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// storefront serves a blank page: the shop's own site, on an origin of
// its own (another port of loopback).
func storefront(t *testing.T) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, "<!doctype html><title>shop</title><p>storefront</p>")
	}))
	t.Cleanup(s.Close)
	return s
}

// TestBrowserStorefrontCORS: a shop's storefront page, on its own origin,
// registers and reserves through the shopper API from a real browser
// when serve's --cors-origins names that origin, and reads the answer's
// X-Request-Id; the browser keeps the answer from a page of another
// origin, and from the allowed one for the admin API, which is never
// shared.
func TestBrowserStorefrontCORS(t *testing.T) {
	t.Parallel()
	shop, other := storefront(t), storefront(t)
	m, clock, _ := startServe(t, "--no-demo", "--cors-origins", shop.URL)
	base := "http://" + m.Addr
	now := clock.Now()
	if r := call(t, "POST", base+"/v1/admin/drops", m.Config.AdminToken, fmt.Sprintf(
		`{"id":"storefront","name":"Sneaker","stock":5,"registration_opens_at":%q,"registration_closes_at":%q,"sale_starts_at":%q}`,
		now.Add(-time.Hour).Format(time.RFC3339), now.Add(time.Hour).Format(time.RFC3339), now.Add(time.Hour).Format(time.RFC3339))); r.status != 201 {
		t.Fatalf("create: %d %s", r.status, r.raw)
	}
	token := mint(t, m, "alice")

	b := newBrowser(t, shop.URL)
	// fetchFrom opens page and, from it, calls url with token; it returns
	// the status and the X-Request-Id the page could read, or the error
	// the browser gave the page.
	fetchFrom := func(page, method, url, token string) string {
		t.Helper()
		ctx := b.tab("storefront", 800, 600)
		b.run(ctx, chromedp.Navigate(page))
		js := fmt.Sprintf(`fetch(%q, {method: %q, headers: {"Authorization": "Bearer " + %q, "Idempotency-Key": "k-1"}})
			.then(r => r.status + " " + (r.headers.get("X-Request-Id") ? "id" : "no-id"), e => "blocked: " + e.name)`, url, method, token)
		step, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		got, err := chromedp.Run(step, chromedp.Evaluate[string](js, chromedp.EvalAwaitPromise))
		if err != nil {
			t.Fatalf("fetch %s from %s: %v", url, page, err)
		}
		return got
	}
	if got := fetchFrom(shop.URL, "POST", base+"/v1/drops/storefront/registrations", token); got != "201 id" {
		t.Fatalf("a registration from the allowed storefront: %s", got)
	}
	if got := fetchFrom(shop.URL, "GET", base+"/v1/drops/storefront", token); got != "200 id" {
		t.Fatalf("the drop from the allowed storefront: %s", got)
	}
	// Before the sale: a refusal reaches the page too, as the sentence
	// source it is (409), not as a network error.
	if got := fetchFrom(shop.URL, "POST", base+"/v1/drops/storefront/reservations", token); got != "409 id" {
		t.Fatalf("a reserve before the sale from the allowed storefront: %s", got)
	}
	if got := fetchFrom(other.URL, "GET", base+"/v1/drops/storefront", token); !strings.HasPrefix(got, "blocked") {
		t.Fatalf("a page of an origin not allowed read the answer: %s", got)
	}
	if got := fetchFrom(shop.URL, "GET", base+"/v1/admin/drops", m.Config.AdminToken); !strings.HasPrefix(got, "blocked") {
		t.Fatalf("the storefront read the admin API: %s", got)
	}
}

// TestCORSHeaders: the preflight and the headers of an allowed origin's
// requests, none for another origin or the admin API, none at all
// without --cors-origins, and a bad origin refused naming the flag.
func TestCORSHeaders(t *testing.T) {
	m, _, _ := startServe(t, "--no-demo", "--cors-origins", "https://shop.example, https://www.shop.example")
	base := "http://" + m.Addr
	do := func(method, path, origin string, h map[string]string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(method, base+path, nil)
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		for k, v := range h {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	pre := do("OPTIONS", "/v1/drops/x/reservations", "https://www.shop.example", map[string]string{
		"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization, idempotency-key"})
	if pre.StatusCode != 204 || pre.Header.Get("Access-Control-Allow-Origin") != "https://www.shop.example" ||
		!strings.Contains(pre.Header.Get("Access-Control-Allow-Headers"), "Idempotency-Key") ||
		!strings.Contains(pre.Header.Get("Access-Control-Allow-Methods"), "POST") || pre.Header.Get("Access-Control-Max-Age") == "" ||
		pre.Header.Get("Access-Control-Allow-Credentials") != "" {
		t.Fatalf("preflight: %d %v", pre.StatusCode, pre.Header)
	}
	got := do("GET", "/v1/drops/x", "https://shop.example", nil)
	if got.Header.Get("Access-Control-Allow-Origin") != "https://shop.example" || !strings.Contains(got.Header.Get("Access-Control-Expose-Headers"), "Retry-After") ||
		got.Header.Get("Vary") != "Origin" || got.StatusCode != 404 {
		t.Fatalf("a request of an allowed origin: %d %v", got.StatusCode, got.Header)
	}
	if r := do("GET", "/v1/drops/x", "", nil); r.Header.Get("Vary") != "Origin" || r.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("a shared path's answer without an Origin must still vary by it: %v", r.Header)
	}
	for _, c := range []struct{ path, origin string }{
		{"/v1/drops/x", "https://evil.example"},
		{"/v1/admin/drops", "https://shop.example"},
		{"/metrics", "https://shop.example"},
	} {
		if r := do("GET", c.path, c.origin, nil); r.Header.Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("%s from %s: allowed", c.path, c.origin)
		}
	}
	if r := do("OPTIONS", "/v1/drops/x/reservations", "https://evil.example", map[string]string{"Access-Control-Request-Method": "POST"}); r.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("a preflight of another origin: %v", r.Header)
	}

	plain, _, _ := startServe(t, "--no-demo")
	req, _ := http.NewRequest("GET", "http://"+plain.Addr+"/v1/drops/x", nil)
	req.Header.Set("Origin", "https://shop.example")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Header.Get("Access-Control-Allow-Origin") != "" || resp.Header.Get("Vary") != "" {
		t.Errorf("CORS headers without --cors-origins: %v", resp.Header)
	}

	for _, bad := range []string{"shop.example", "https://shop.example/path", "ftp://shop.example", "https://user:pw@shop.example"} {
		mm := NewMain(&strings.Builder{}, &strings.Builder{})
		mm.Lookup = func(string) (string, bool) { return "", false }
		if err := mm.ParseFlags([]string{"--cors-origins", bad}); err == nil || !strings.Contains(err.Error(), "--cors-origins") || strings.Contains(err.Error(), "pw") {
			t.Errorf("--cors-origins %s: %v", bad, err)
		}
	}
}
