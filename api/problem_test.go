package api

import (
	"encoding/json"
	"testing"

	"github.com/valyala/fasthttp"
)

// TestEnsureProblem: an error answer written by something other than
// writeProblem (a library's plain text) leaves as problem+json with the
// request id, its status and its other headers kept; other answers are
// left alone.
func TestEnsureProblem(t *testing.T) {
	for _, c := range []struct {
		status int
		code   string
	}{{500, "internal"}, {503, "unavailable"}, {404, "not_found"}, {429, "rate_limited"}, {418, "invalid"}, {400, "invalid"}} {
		var ctx fasthttp.RequestCtx
		ctx.Response.Header.Set(headerRequestID, "rid-1")
		ctx.Response.Header.Set("Retry-After", "3")
		ctx.Response.Header.SetContentType("text/plain; charset=utf-8")
		ctx.SetStatusCode(c.status)
		ctx.SetBodyString("An error has occurred while serving metrics: secret detail")
		if !ensureProblem(&ctx) {
			t.Fatalf("%d: not rewritten", c.status)
		}
		var p Problem
		if err := json.Unmarshal(ctx.Response.Body(), &p); err != nil {
			t.Fatalf("%d: %v %s", c.status, err, ctx.Response.Body())
		}
		if string(ctx.Response.Header.ContentType()) != problemContentType || ctx.Response.StatusCode() != c.status ||
			p.Status != c.status || p.Code != c.code || p.RequestID != "rid-1" || p.Title == "" ||
			string(ctx.Response.Header.Peek("Retry-After")) != "3" {
			t.Fatalf("%d: %s %s", c.status, ctx.Response.Header.String(), ctx.Response.Body())
		}
	}
	for _, status := range []int{200, 201, 204, 304} {
		var ctx fasthttp.RequestCtx
		ctx.SetStatusCode(status)
		ctx.SetBodyString("fine")
		if ensureProblem(&ctx) || string(ctx.Response.Body()) != "fine" {
			t.Fatalf("%d was rewritten", status)
		}
	}
	var ctx fasthttp.RequestCtx
	writeProblem(&ctx, problemFor(errOverloaded))
	if ensureProblem(&ctx) {
		t.Fatal("a problem was rewritten")
	}
}
