package api

import (
	"github.com/valyala/fasthttp"

	"github.com/flashdrop/flashdrop/api/spec"
)

// contractCache lets clients keep the documents a while and revalidate
// them with their ETag: they change only with a new release.
const contractCache = "public, max-age=300"

// contractDoc is one embedded contract document with its precomputed ETag.
type contractDoc struct {
	body []byte
	etag string
}

var (
	openAPIDoc  = contractDoc{spec.OpenAPI, etagOf(spec.OpenAPI)}
	asyncAPIDoc = contractDoc{spec.AsyncAPI, etagOf(spec.AsyncAPI)}
)

// serve answers the document, or 304 when the client holds this version.
func (d contractDoc) serve(r *request) error {
	h := &r.ctx.Response.Header
	h.Set("Cache-Control", contractCache)
	h.Set("ETag", d.etag)
	if etagMatch(string(r.ctx.Request.Header.Peek("If-None-Match")), d.etag) {
		r.ctx.SetStatusCode(fasthttp.StatusNotModified)
		return nil
	}
	h.SetContentType("application/json")
	r.ctx.SetBody(d.body)
	return nil
}

func (s *Server) openAPI(r *request) error  { return openAPIDoc.serve(r) }
func (s *Server) asyncAPI(r *request) error { return asyncAPIDoc.serve(r) }
