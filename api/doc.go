// Package api is flashdrop's HTTP transport on fasthttp: routes, auth,
// JSON and problem+json errors, server-sent events and pages. It holds no
// business rules; those are in package engine.
//
// The routes arrive with the HTTP API issue; until then this package is
// only its place in the layout.
package api
