// Package genclient is a Go client of flashdrop's HTTP API generated from
// api/spec/openapi.json by oapi-codegen (a tool of this module: go tool
// oapi-codegen). It proves the document usable, not only valid: the
// tests drive a sale through it against a real serve, and fail when the
// committed code differs from what the document generates today.
//
// Regenerate after changing the document with go generate ./internal/genclient.
package genclient

//go:generate go tool oapi-codegen -generate types,client -package genclient -o client.gen.go ../../api/spec/openapi.json
