package main

import (
	"net"
	"net/http"
	"testing"
)

// TestPprofAddr: a bare port listens on loopback only, an explicit host is
// kept, and the public listener's address is refused.
func TestPprofAddr(t *testing.T) {
	for _, c := range []struct{ in, listen, want string }{
		{":6060", "127.0.0.1:8080", "127.0.0.1:6060"},
		{"6060", "127.0.0.1:8080", "127.0.0.1:6060"},
		{"0.0.0.0:6060", "127.0.0.1:8080", "0.0.0.0:6060"},
		{"[::1]:0", "127.0.0.1:8080", "[::1]:0"},
	} {
		got, err := pprofAddr(c.in, c.listen)
		if err != nil || got != c.want {
			t.Errorf("pprofAddr(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
	for _, bad := range []string{"127.0.0.1:8080", ":8080", "host:", "a:b:c"} {
		if got, err := pprofAddr(bad, "127.0.0.1:8080"); err == nil {
			t.Errorf("pprofAddr(%q) = %q, want an error", bad, got)
		}
	}
}

// TestServePprof: profiles are off by default, and with --pprof-listen
// they are served on their own loopback listener and not on the public
// one.
func TestServePprof(t *testing.T) {
	m, _, _ := startServe(t)
	if m.PprofAddr != "" {
		t.Fatalf("profiles served at %s without --pprof-listen", m.PprofAddr)
	}
	if r := call(t, "GET", "http://"+m.Addr+"/debug/pprof/", "", ""); r.status != 404 {
		t.Fatalf("public listener answered /debug/pprof/ with %d", r.status)
	}
	m, _, _ = startServe(t, "--pprof-listen", "127.0.0.1:0")
	host, _, _ := net.SplitHostPort(m.PprofAddr)
	if host != "127.0.0.1" {
		t.Fatalf("pprof on %q, want loopback", m.PprofAddr)
	}
	// The profiling listener is not the API, so not the contract's: a
	// plain client.
	if r := callWith(t, http.DefaultClient, "GET", "http://"+m.PprofAddr+"/debug/pprof/cmdline", "", ""); r.status != 200 {
		t.Fatalf("pprof cmdline: %d %s", r.status, r.raw)
	}
	if r := call(t, "GET", "http://"+m.Addr+"/debug/pprof/cmdline", "", ""); r.status != 404 {
		t.Fatalf("public listener answered /debug/pprof/cmdline with %d", r.status)
	}
}
