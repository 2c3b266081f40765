// Package spec holds flashdrop's contract documents, embedded so that the
// server, its tests, the generated client and the examples all read the
// same bytes: OpenAPI 3.1 for the HTTP API and AsyncAPI 3.0 for the events
// and webhook deliveries. The JSON files are the source; edit them with
// the behaviour they describe (the api and queue tests validate every
// request, answer and event they see against them).
package spec

import _ "embed"

// OpenAPI is openapi.json, served at GET /openapi.json.
//
//go:embed openapi.json
var OpenAPI []byte

// AsyncAPI is asyncapi.json, served at GET /asyncapi.json.
//
//go:embed asyncapi.json
var AsyncAPI []byte
