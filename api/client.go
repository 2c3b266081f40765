package api

import "net"

// clientOf is the key under which the per-address bounds (--rate-ip,
// --max-streams-per-client) count a peer: its IPv4 address, or the /64
// of an IPv6 one. An IPv6 subscriber is routinely given a whole /64 and
// can pick any of its 2^64 addresses for each connection, so a bound per
// address would not bound her at all; the /64 is what one subscriber (or
// one carrier's shared exit) holds.
func clientOf(ip net.IP) string {
	if v4 := ip.To4(); v4 != nil {
		return v4.String()
	}
	if len(ip) != net.IPv6len {
		return ip.String() // nil or malformed: its own key, as before
	}
	return ip.Mask(net.CIDRMask(64, 128)).String() + "/64"
}
