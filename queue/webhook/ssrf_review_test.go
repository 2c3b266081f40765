package webhook

// Regression tests of the security review (issue 15): the address forms
// and paths around the private-address check that the first tests did
// not cover.

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestSSRFEmbeddedIPv4Forms: IPv6 forms that carry an internal IPv4
// address, and the deprecated site-local range, were judged public before
// the review.
func TestSSRFEmbeddedIPv4Forms(t *testing.T) {
	for addr, want := range map[string]string{
		"::127.0.0.1":          "loopback",   // IPv4-compatible
		"::a9fe:a9fe":          "link-local", // IPv4-compatible 169.254.169.254
		"::ffff:0:7f00:1":      "loopback",   // IPv4-translated
		"::ffff:0:a00:1":       "private",
		"2002:7f00:1::":        "loopback", // 6to4 of 127.0.0.1
		"2002:a9fe:a9fe::1":    "link-local",
		"2002:c0a8:101::":      "private", // 6to4 of 192.168.1.1
		"fec0::1":              "site-local",
		"feff:ffff::1":         "site-local",
		"::1":                  "loopback", // still IPv6's own loopback
		"::":                   "unspecified",
		"2002:808:808::":       "", // 6to4 of 8.8.8.8
		"::808:808":            "", // IPv4-compatible 8.8.8.8
		"2001:4860:4860::8888": "",
	} {
		if got := privateAddrKind(netip.MustParseAddr(addr)); got != want {
			t.Errorf("privateAddrKind(%s) = %q, want %q", addr, got, want)
		}
	}
	// The forms of the review's list, at creation time.
	for _, u := range []string{
		"http://0x7f.1/x", "http://0X7F.1/x", "http://017700000001/x", "http://127.000.000.001/x",
		"http://[fe80::]/x", "http://[::127.0.0.1]/x", "http://[::ffff:0:7f00:1]/x",
		"http://[0:0:0:0:0:ffff:127.0.0.1]/x", "http://[2002:7f00:1::]/x", "http://[fec0::1]/x",
		"http://0251.0376.0251.0376/latest", "http://2852039166/latest", "http://[::ffff:a9fe:a9fe]/latest",
	} {
		if err := checkTargetURL(u, false); !refusedAtCreation(err) {
			t.Errorf("checkTargetURL(%q) = %v, want refused", u, err)
		}
	}
}

// TestSSRFRedirectNotFollowed: a public receiver that answers with a
// redirect to an internal address must not get the deliverer to follow
// it. The receivers are on loopback, so private targets are allowed here:
// what is checked is the redirect policy, which holds either way.
func TestSSRFRedirectNotFollowed(t *testing.T) {
	var inner atomic.Int64
	internal := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		inner.Add(1)
	}))
	defer internal.Close()
	for _, code := range []int{301, 302, 303, 307, 308} {
		outer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, internal.URL+"/admin", code)
		}))
		client := newWebhookClient(Options{AllowPrivate: true, Timeout: 5 * time.Second, Concurrency: 1})
		resp, err := client.Post(outer.URL+"/hook", "application/json", strings.NewReader(`{}`))
		if err != nil {
			t.Fatalf("%d: %v", code, err)
		}
		resp.Body.Close()
		client.CloseIdleConnections()
		outer.Close()
		if resp.StatusCode != code {
			t.Errorf("redirect %d answered %d: it was followed", code, resp.StatusCode)
		}
	}
	if n := inner.Load(); n != 0 {
		t.Fatalf("the internal server got %d requests through redirects", n)
	}
}

// TestSSRFRebindingRefusedAtConnect: a host name passes the creation-time
// check (names are not resolved then) and resolves to loopback when the
// delivery connects, as after DNS rebinding. The deliverer's own client
// refuses the connection; nothing reaches the listener.
func TestSSRFRebindingRefusedAtConnect(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hits.Add(1) }))
	defer srv.Close()
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	// The machine's own host name usually resolves to a loopback address
	// (Debian maps it to 127.0.1.1) yet is no "localhost": exactly a name
	// that passes creation and rebinds at connect time. Where it does not,
	// "localhost" still exercises the connect-time check.
	names := []string{"localhost"}
	if h, err := os.Hostname(); err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		addrs, _ := net.DefaultResolver.LookupNetIP(ctx, "ip", h)
		cancel()
		if len(addrs) > 0 && addrs[0].IsLoopback() {
			if err := checkTargetURL("http://"+net.JoinHostPort(h, port)+"/x", false); err != nil {
				t.Fatalf("a host name is refused at creation (%v): names must be checked at connect time", err)
			}
			names = append(names, h)
		}
	}
	client := newWebhookClient(Options{Timeout: 2 * time.Second, Concurrency: 1})
	defer client.CloseIdleConnections()
	for _, name := range names {
		resp, err := client.Post("http://"+net.JoinHostPort(name, port)+"/x", "application/json", strings.NewReader(`{}`))
		if err == nil {
			resp.Body.Close()
			t.Errorf("%s: delivered (%d), want refused at connect", name, resp.StatusCode)
			continue
		}
		if !errors.Is(err, errPrivateTarget) {
			t.Errorf("%s: err = %v, want errPrivateTarget", name, err)
		}
	}
	if n := hits.Load(); n != 0 {
		t.Fatalf("the loopback receiver got %d requests", n)
	}
}
