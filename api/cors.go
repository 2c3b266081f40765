package api

import (
	"bytes"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/valyala/fasthttp"
)

// CORS lets a shop's own storefront, on another origin, call the shopper
// API from the browser (register, reserve, read the drop and a
// reservation, cancel or confirm its own), with the shopper's token in the
// Authorization header. Admin routes are never shared: an admin token
// belongs on the shop's backend or on this service's own ops page.
//
// Nothing is shared unless Config.CORSOrigins names origins; no cookie is
// ever involved (tokens travel in a header), so no response allows
// credentials.

// corsPolicy is the parsed Config.CORSOrigins.
type corsPolicy struct {
	any     bool
	origins map[string]bool
}

// The request headers a storefront sends, and the answer's headers it
// may read.
const (
	corsAllowHeaders  = "Authorization, Content-Type, Idempotency-Key, X-Request-Id, Last-Event-ID"
	corsExposeHeaders = "Retry-After, X-Request-Id, Idempotent-Replayed, Location"
	corsAllowMethods  = "GET, POST"
	corsMaxAge        = "600"
)

// ParseCORSOrigins checks a list of origins ("https://shop.example",
// scheme and host and an optional port, nothing else; or "*" for any).
func ParseCORSOrigins(list []string) error {
	_, err := newCORSPolicy(list)
	return err
}

func newCORSPolicy(list []string) (*corsPolicy, error) {
	if len(list) == 0 {
		return nil, nil
	}
	p := &corsPolicy{origins: map[string]bool{}}
	for _, o := range list {
		o = strings.TrimSpace(o)
		if o == "" {
			continue
		}
		if o == "*" {
			p.any = true
			continue
		}
		u, err := url.Parse(o)
		if err == nil && u.User != nil {
			// Said without the value: it holds a password.
			return nil, errors.New("an origin has no user or password: give the scheme and host the storefront is served from, such as https://shop.example")
		}
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" ||
			(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
			return nil, fmt.Errorf("%q is not an origin: give the scheme and host the storefront is served from, such as https://shop.example (a port if it has one, no path)", o)
		}
		p.origins[u.Scheme+"://"+strings.ToLower(u.Host)] = true
	}
	if !p.any && len(p.origins) == 0 {
		return nil, nil
	}
	return p, nil
}

// allows reports whether origin may read answers. Browsers send origins
// in lower case, which the map holds: the exact lookup allocates nothing;
// only another spelling pays for lowering it.
func (p *corsPolicy) allows(origin []byte) bool {
	if p.any || p.origins[string(origin)] {
		return true
	}
	return p.origins[strings.ToLower(string(origin))]
}

// corsPath reports whether path is a route a storefront may call: the
// shopper and public API, not the admin API, metrics, pages or probes.
func corsPath(path []byte) bool {
	return bytes.HasPrefix(path, []byte("/v1/drops/")) || bytes.HasPrefix(path, []byte("/v1/reservations/")) ||
		bytes.HasPrefix(path, []byte("/v1/series/"))
}

// apply sets the answer's CORS headers for a request from an allowed
// origin and reports whether the request was a preflight, which it has
// answered. A request from an origin not allowed gets no CORS header (the
// browser then keeps the answer from the page) and is served as any
// other: the server's rules do not depend on the Origin header.
func (p *corsPolicy) apply(ctx *fasthttp.RequestCtx) (answered bool) {
	if !corsPath(ctx.Path()) {
		return false
	}
	// Every answer of a shared path varies by Origin, with one or
	// without: a cache in between must not hand a storefront the answer
	// made for a request without CORS headers.
	h := &ctx.Response.Header
	h.Add("Vary", "Origin")
	origin := ctx.Request.Header.Peek("Origin")
	if len(origin) == 0 || !p.allows(origin) {
		return false
	}
	h.SetBytesV("Access-Control-Allow-Origin", origin)
	if ctx.IsOptions() && len(ctx.Request.Header.Peek("Access-Control-Request-Method")) > 0 {
		h.Set("Access-Control-Allow-Methods", corsAllowMethods)
		h.Set("Access-Control-Allow-Headers", corsAllowHeaders)
		h.Set("Access-Control-Max-Age", corsMaxAge)
		ctx.SetStatusCode(fasthttp.StatusNoContent)
		return true
	}
	h.Set("Access-Control-Expose-Headers", corsExposeHeaders)
	return false
}
