package webhook

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestInternalAddr(t *testing.T) {
	for _, tc := range []struct {
		addr string
		want string // "" for a public address
	}{
		{"127.0.0.1", "loopback"},
		{"127.255.0.9", "loopback"},
		{"::1", "loopback"},
		{"::ffff:127.0.0.1", "loopback"},
		{"10.1.2.3", "private"},
		{"172.16.0.1", "private"},
		{"172.31.255.255", "private"},
		{"192.168.1.1", "private"},
		{"::ffff:192.168.1.1", "private"},
		{"::ffff:10.0.0.1", "private"},
		{"fc00::1", "private"},
		{"fd12:3456::1", "private"},
		{"169.254.169.254", "link-local"}, // cloud metadata
		{"::ffff:169.254.169.254", "link-local"},
		{"fe80::1", "link-local"},
		{"fe80::1%eth0", "link-local"},
		{"0.0.0.0", "unspecified"},
		{"0.1.2.3", "unspecified"},
		{"::", "unspecified"},
		{"::ffff:0.0.0.0", "unspecified"},
		{"224.0.0.1", "multicast or broadcast"},
		{"239.255.255.250", "multicast or broadcast"},
		{"255.255.255.255", "multicast or broadcast"},
		{"ff02::1", "multicast or broadcast"},
		{"100.64.0.1", "carrier-grade NAT"},
		{"100.127.255.254", "carrier-grade NAT"},
		{"::ffff:100.64.0.1", "carrier-grade NAT"},
		{"64:ff9b::7f00:1", "loopback"}, // NAT64 of 127.0.0.1
		{"64:ff9b::a00:1", "private"},   // NAT64 of 10.0.0.1
		{"8.8.8.8", ""},
		{"1.1.1.1", ""},
		{"100.63.255.255", ""},
		{"100.128.0.0", ""},
		{"172.15.255.255", ""},
		{"172.32.0.0", ""},
		{"::ffff:8.8.8.8", ""},
		{"2606:4700:4700::1111", ""},
		{"64:ff9b::808:808", ""}, // NAT64 of 8.8.8.8
	} {
		ip := netip.MustParseAddr(tc.addr)
		if got := privateAddrKind(ip); got != tc.want {
			t.Errorf("privateAddrKind(%s) = %q, want %q", tc.addr, got, tc.want)
		}
		err := refusePrivate(ip)
		if (err != nil) != (tc.want != "") || (err != nil && !errors.Is(err, errPrivateTarget)) {
			t.Errorf("refusePrivate(%s) = %v", tc.addr, err)
		}
	}
}

// metadataURL are targets refused even with --webhooks-allow-private.
var metadataURL = map[string]bool{
	"http://[fe80::1%25eth0]/x":               true,
	"http://169.254.169.254/latest/meta-data": true,
	"http://[::ffff:169.254.169.254]/x":       true,
	"http://0xa9fea9fe/latest/meta-data":      true, // 169.254.169.254 in a legacy form
	"http://[fd00:ec2::254]/latest/meta-data": true, // AWS's IPv6 metadata address, in fc00::/7
	"http://100.100.100.200/latest/meta-data": true, // Alibaba Cloud's, in 100.64.0.0/10
}

// TestDialRefusesMetadataWithAllowPrivate: the dialer, which sees the
// address a name resolved to, refuses a link-local or metadata address
// with allowPrivate too, before any packet leaves; a private one passes
// its check (the connection to it is then merely refused or timed out).
func TestDialRefusesMetadataWithAllowPrivate(t *testing.T) {
	dial := safeDialer(true, 2*time.Second)
	for _, addr := range []string{"169.254.169.254:80", "[fe80::1]:80", "[fd00:ec2::254]:80", "100.100.100.200:80"} {
		if _, err := dial(context.Background(), "tcp", addr); !errors.Is(err, errMetadataTarget) {
			t.Errorf("dial %s with allowPrivate: %v, want errMetadataTarget", addr, err)
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, err := dial(context.Background(), "tcp", ln.Addr().String())
	if err != nil {
		t.Fatalf("dial loopback with allowPrivate: %v", err)
	}
	c.Close()
}

// refusedAtCreation tells whether checkTargetURL refused an address as
// internal: private, or link-local and cloud metadata.
func refusedAtCreation(err error) bool {
	return errors.Is(err, errPrivateTarget) || errors.Is(err, errMetadataTarget)
}

func TestCheckTargetURL(t *testing.T) {
	for _, tc := range []struct {
		url     string
		refused bool
	}{
		{"https://hooks.example.com/flashdrop", false},
		{"http://8.8.8.8/x", false},
		{"https://[2606:4700:4700::1111]:8443/x", false},
		{"http://localhost:8080/x", true},
		{"http://LOCALHOST./x", true},
		{"http://api.localhost/x", true},
		{"http://127.0.0.1/x", true},
		{"http://127.0.0.1:9000/x", true},
		{"http://[::1]/x", true},
		{"http://[::ffff:127.0.0.1]/x", true},
		{"http://[fe80::1%25eth0]/x", true},
		{"http://10.0.0.5/x", true},
		{"http://192.168.0.1/x", true},
		{"http://169.254.169.254/latest/meta-data", true},
		{"http://100.64.1.1/x", true},
		{"http://0.0.0.0/x", true},
		{"http://[::]/x", true},
		{"http://224.0.0.1/x", true},
		// Legacy IPv4 forms that resolvers accept.
		{"http://127.1/x", true},
		{"http://0x7f000001/x", true},
		{"https://0x7f.1/", true},
		{"https://0X7F.1:8443/x", true},
		{"http://2130706433/x", true},
		{"http://0177.0.0.1/x", true},
		{"http://0/x", true},
		{"http://0x8.0x8.0x8.0x8/x", false},
		{"http://134744072/x", false}, // 8.8.8.8
		// Names are resolved at dial time, not here.
		{"https://internal.example/x", false},
		{"http://1.2.3.4.5/x", false},
		{"http://0x.example/x", false},
	} {
		err := checkTargetURL(tc.url, false)
		if tc.refused != refusedAtCreation(err) {
			t.Errorf("checkTargetURL(%q) = %v, want refused=%v", tc.url, err, tc.refused)
		}
		if tc.refused && !metadataURL[tc.url] {
			if err := checkTargetURL(tc.url, true); err != nil {
				t.Errorf("checkTargetURL(%q, allowPrivate) = %v", tc.url, err)
			}
		}
	}
	// Link-local and cloud metadata addresses stay refused with
	// --webhooks-allow-private: the flag is for the operator's own
	// network, and the metadata service gives out the machine's cloud
	// credentials.
	// Without the flag they are refused as metadata too: refused as
	// private, the problem named the flag, which would not allow them.
	for u := range metadataURL {
		if err := checkTargetURL(u, false); !errors.Is(err, errMetadataTarget) {
			t.Errorf("checkTargetURL(%q) = %v, want refused as metadata", u, err)
		}
		if err := checkTargetURL(u, true); !errors.Is(err, errMetadataTarget) {
			t.Errorf("checkTargetURL(%q, allowPrivate) = %v, want refused as metadata", u, err)
		}
	}
	for _, bad := range []string{"http://[::1", "://x", "http:///x"} {
		if err := checkTargetURL(bad, false); err == nil || errors.Is(err, errPrivateTarget) {
			t.Errorf("checkTargetURL(%q) = %v, want a parse error", bad, err)
		}
	}
}

func TestParseLegacyIPv4(t *testing.T) {
	for in, want := range map[string]string{
		"127.1":      "127.0.0.1",
		"127.0.1":    "127.0.0.1",
		"10.0x10203": "10.1.2.3",
		"0xa.010.1":  "10.8.0.1",
		"4294967295": "255.255.255.255",
		"1.2.3.4":    "1.2.3.4",
	} {
		got, ok := parseLegacyIPv4(in)
		if !ok || got.String() != want {
			t.Errorf("parseLegacyIPv4(%q) = %v, %v; want %s", in, got, ok, want)
		}
	}
	for _, in := range []string{"4294967296", "256.1", "1.256.1.1", "1.2.3.256", "1.2.65536", "a.b", "1..2", "08", "1_0", "+1", "1.2.3.4.5", ""} {
		if got, ok := parseLegacyIPv4(in); ok {
			t.Errorf("parseLegacyIPv4(%q) = %v, want not an address", in, got)
		}
	}
}

// ssrfListen accepts (and closes) connections on addr until the test ends.
func ssrfListen(t *testing.T, network, addr string) (net.Listener, error) {
	t.Helper()
	l, err := net.Listen(network, addr)
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() { _ = l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			_ = c.Close()
		}
	}()
	return l, nil
}

func TestSafeDialerRefusesLoopback(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	l4, err := ssrfListen(t, "tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(l4.Addr().String())
	// A name that resolves to loopback is refused as well: the check is on
	// the address connected to.
	targets := []string{l4.Addr().String(), net.JoinHostPort("localhost", port)}
	if l6, err := ssrfListen(t, "tcp6", "[::1]:0"); err == nil {
		targets = append(targets, l6.Addr().String())
	} else {
		t.Logf("no IPv6 loopback: %v", err)
	}
	for _, addr := range targets {
		// Refused by default.
		c, err := safeDialer(false, time.Second)(ctx, "tcp", addr)
		if err == nil {
			_ = c.Close()
			t.Errorf("dial %s: connected, want refused", addr)
		} else if !errors.Is(err, errPrivateTarget) || !strings.Contains(err.Error(), "loopback") {
			t.Errorf("dial %s: err = %v, want errPrivateTarget (loopback)", addr, err)
		}
		// Allowed when the operator says so.
		c, err = safeDialer(true, time.Second)(ctx, "tcp", addr)
		if err != nil {
			t.Errorf("dial %s with allowPrivate: %v", addr, err)
			continue
		}
		_ = c.Close()
	}
}
