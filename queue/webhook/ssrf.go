package webhook

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// errPrivateTarget is the error of a webhook whose target is on a private,
// loopback or otherwise internal address, refused unless the operator
// allows private targets (--webhooks-allow-private). Without this check a
// webhook would let anyone who can create one make the server send
// requests into its own network (SSRF).
var errPrivateTarget = errors.New("webhook target refused: private or loopback address")

var (
	// ssrfSharedSpace is RFC 6598's carrier-grade NAT range.
	ssrfSharedSpace = netip.MustParsePrefix("100.64.0.0/10")
	// ssrfThisNetwork (0.0.0.0/8) reaches the local host on Linux.
	ssrfThisNetwork = netip.MustParsePrefix("0.0.0.0/8")
	ssrfBroadcast   = netip.MustParseAddr("255.255.255.255")
	// ssrfNAT64 (RFC 6052) embeds an IPv4 address in its last 32 bits.
	ssrfNAT64 = netip.MustParsePrefix("64:ff9b::/96")
	// ssrfIPv4Compatible (::a.b.c.d, deprecated by RFC 4291) and
	// ssrfIPv4Translated (::ffff:0:a.b.c.d, RFC 2765) carry an IPv4 address
	// in their last 32 bits too; stacks and translators that still honour
	// them deliver to that IPv4 address.
	ssrfIPv4Compatible = netip.MustParsePrefix("::/96")
	ssrfIPv4Translated = netip.MustParsePrefix("::ffff:0:0:0/96")
	// ssrf6to4 (RFC 3056) carries an IPv4 address in bits 16-47: a 6to4
	// relay inside the network would deliver 2002:7f00:1:: to 127.0.0.1.
	ssrf6to4 = netip.MustParsePrefix("2002::/16")
	// ssrfSiteLocal is the deprecated fec0::/10, still routed internally
	// on some networks; netip's IsPrivate knows only fc00::/7.
	ssrfSiteLocal = netip.MustParsePrefix("fec0::/10")
)

// privateAddrKind returns why ip is not a public unicast address, or "" if it
// is one. IPv6 addresses that embed an IPv4 address (IPv4-mapped
// ::ffff:a.b.c.d, IPv4-compatible ::a.b.c.d, IPv4-translated, NAT64 and
// 6to4) are judged by the IPv4 address they carry.
func privateAddrKind(ip netip.Addr) string {
	ip = ip.WithZone("").Unmap()
	if ip.Is6() {
		b := ip.As16()
		switch {
		case ip.IsLoopback(), ip.IsUnspecified():
			// ::1 and :: are in ::/96 but are IPv6's own loopback and
			// unspecified addresses, judged as such below.
		case ssrfNAT64.Contains(ip), ssrfIPv4Compatible.Contains(ip), ssrfIPv4Translated.Contains(ip):
			ip = netip.AddrFrom4([4]byte(b[12:]))
		case ssrf6to4.Contains(ip):
			ip = netip.AddrFrom4([4]byte(b[2:6]))
		case ssrfSiteLocal.Contains(ip):
			return "site-local"
		}
	}
	switch {
	case !ip.IsValid():
		return "not an IP address"
	case ip.IsUnspecified(), ssrfThisNetwork.Contains(ip):
		return "unspecified"
	case ip.IsLoopback():
		return "loopback"
	case ip.IsPrivate():
		return "private"
	case ip.IsLinkLocalUnicast():
		return "link-local"
	case ip.IsMulticast(), ip == ssrfBroadcast:
		return "multicast or broadcast"
	case ssrfSharedSpace.Contains(ip):
		return "carrier-grade NAT"
	}
	return ""
}

// errMetadataTarget is a webhook target on a link-local address or a cloud
// provider's instance-metadata address, refused even with
// --webhooks-allow-private: that flag is for a receiver on the operator's
// own network, and the metadata service (169.254.169.254 and its kin)
// hands out the machine's cloud credentials to whoever can make it send
// a request there.
var errMetadataTarget = errors.New("webhook target refused: link-local or cloud metadata address")

// cloudMetadata are instance-metadata addresses outside link-local:
// AWS's IPv6 one (in fc00::/7) and Alibaba Cloud's (in 100.64.0.0/10).
var cloudMetadata = []netip.Addr{netip.MustParseAddr("fd00:ec2::254"), netip.MustParseAddr("100.100.100.200")}

// refuseMetadata returns errMetadataTarget, with the address, if ip is
// link-local (after unwrapping an embedded IPv4 address, as
// privateAddrKind does) or a cloud metadata address, else nil.
func refuseMetadata(ip netip.Addr) error {
	if privateAddrKind(ip) == "link-local" {
		return fmt.Errorf("%w: %s is link-local, where cloud metadata services answer", errMetadataTarget, ip)
	}
	for _, m := range cloudMetadata {
		if ip.WithZone("").Unmap() == m {
			return fmt.Errorf("%w: %s is a cloud metadata address", errMetadataTarget, ip)
		}
	}
	return nil
}

// refuseTarget is the check of a target address, at a webhook's creation
// and at every connection: a link-local or metadata address is refused as
// such whatever allowPrivate (refused as private, its problem named
// --webhooks-allow-private, which would not have allowed it), and any
// other internal one unless allowPrivate.
func refuseTarget(ip netip.Addr, allowPrivate bool) error {
	if err := refuseMetadata(ip); err != nil || allowPrivate {
		return err
	}
	return refusePrivate(ip)
}

// refuse returns errPrivateTarget, with the address and its kind, if ip is
// internal, else nil.
func refusePrivate(ip netip.Addr) error {
	if why := privateAddrKind(ip); why != "" {
		return fmt.Errorf("%w: %s is %s", errPrivateTarget, ip, why)
	}
	return nil
}

// safeDialer returns a DialContext for the webhook HTTP client that refuses
// to connect to internal addresses unless allowPrivate. The check runs in
// the dialer's Control hook, which sees the address actually being
// connected to, after name resolution: a host name that resolves (or is
// re-bound, DNS rebinding) to an internal address is refused just the same.
func safeDialer(allowPrivate bool, timeout time.Duration) func(ctx context.Context, network, addr string) (net.Conn, error) {
	d := &net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second}
	d.Control = func(network, address string, _ syscall.RawConn) error {
		host, _, err := net.SplitHostPort(address)
		if err != nil {
			return fmt.Errorf("%w: unparsable address %q", errPrivateTarget, address)
		}
		ip, err := netip.ParseAddr(host)
		if err != nil {
			return fmt.Errorf("%w: unparsable address %q", errPrivateTarget, address)
		}
		return refuseTarget(ip, allowPrivate)
	}
	return d.DialContext
}

// checkTargetURL refuses, when a webhook is created, a URL whose host is
// "localhost" (or under .localhost) or a literal internal IP address,
// including the legacy IPv4 forms resolvers accept ("127.1", "0x7f000001",
// "2130706433"), unless allowPrivate. Host names are not resolved here:
// what they resolve to is checked when connecting (safeDialer), every time.
func checkTargetURL(raw string, allowPrivate bool) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("webhook url: %w", err)
	}
	host := strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
	if host == "" {
		return errors.New("webhook url: no host")
	}
	if !allowPrivate && (host == "localhost" || strings.HasSuffix(host, ".localhost")) {
		return fmt.Errorf("%w: %s is loopback", errPrivateTarget, host)
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		return refuseTarget(ip, allowPrivate)
	}
	if ip, ok := parseLegacyIPv4(host); ok {
		return refuseTarget(ip, allowPrivate)
	}
	return nil
}

// parseLegacyIPv4 parses the inet_aton forms of an IPv4 address: one to
// four dot-separated parts, each decimal, octal (leading 0) or hex (0x),
// the last part filling the remaining bytes ("127.1" is 127.0.0.1).
func parseLegacyIPv4(s string) (netip.Addr, bool) {
	parts := strings.Split(s, ".")
	if len(parts) > 4 {
		return netip.Addr{}, false
	}
	vals := make([]uint64, len(parts))
	for i, p := range parts {
		base := 10
		switch {
		case p == "":
			return netip.Addr{}, false
		case len(p) > 2 && (p[:2] == "0x"):
			base, p = 16, p[2:]
		case len(p) > 1 && p[0] == '0':
			base, p = 8, p[1:]
		}
		v, err := strconv.ParseUint(p, base, 32)
		if err != nil {
			return netip.Addr{}, false
		}
		vals[i] = v
	}
	var n uint64
	for i, v := range vals[:len(vals)-1] {
		if v > 0xff {
			return netip.Addr{}, false
		}
		n |= v << (8 * (3 - i))
	}
	last := vals[len(vals)-1]
	if last >= 1<<(8*(5-len(vals))) {
		return netip.Addr{}, false
	}
	n |= last
	return netip.AddrFrom4([4]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}), true
}
