package api

import (
	"net"
	"testing"
)

// TestClientOfIPv6CountsTheSlash64: the per-address bounds count an IPv6
// peer by its /64, which one subscriber holds whole, and an IPv4 peer (or
// an IPv4-mapped IPv6 one) by its address. A review noted that a bound per
// full IPv6 address lets one subscriber take a node's every stream slot.
func TestClientOfIPv6CountsTheSlash64(t *testing.T) {
	for _, c := range []struct{ ip, want string }{
		{"203.0.113.7", "203.0.113.7"},
		{"::ffff:203.0.113.7", "203.0.113.7"},
		{"2001:db8:1:2:aaaa:bbbb:cccc:dddd", "2001:db8:1:2::/64"},
		{"2001:db8:1:2::1", "2001:db8:1:2::/64"},
		{"2001:db8:1:3::1", "2001:db8:1:3::/64"},
		{"::1", "::/64"},
	} {
		if got := clientOf(net.ParseIP(c.ip)); got != c.want {
			t.Errorf("clientOf(%s) = %q, want %q", c.ip, got, c.want)
		}
	}
	if got := clientOf(nil); got != "<nil>" {
		t.Errorf("clientOf(nil) = %q", got)
	}

	// Two streams per client: the third address of one /64 is refused,
	// an address of the next /64 is not.
	slots := newStreamSlots(100, 2)
	for i, ip := range []string{"2001:db8:1:2::1", "2001:db8:1:2::2"} {
		if _, ok := slots.acquire(clientOf(net.ParseIP(ip))); !ok {
			t.Fatalf("stream %d refused", i)
		}
	}
	if _, ok := slots.acquire(clientOf(net.ParseIP("2001:db8:1:2:ffff::9"))); ok {
		t.Error("a third address of the same /64 got a stream past the per-client bound of 2")
	}
	if _, ok := slots.acquire(clientOf(net.ParseIP("2001:db8:1:3::1"))); !ok {
		t.Error("an address of another /64 was refused")
	}
}
