package api

import (
	"strconv"

	"github.com/valyala/fasthttp"

	"github.com/flashdrop/flashdrop/engine"
)

// defaultDrawPage is how many tickets GET /v1/drops/{drop}/draw returns
// when the request names no limit.
const defaultDrawPage = 1000

// drawRecord is GET /v1/drops/{drop}/draw?offset=&limit=: the public
// record of a draw, everything `flashdrop verify-draw` needs, the drawn
// order one page at a time.
func (s *Server) drawRecord(r *request) error {
	q := r.ctx.QueryArgs()
	offset, err := queryInt(q, "offset", 0)
	if err != nil {
		return err
	}
	limit, err := queryInt(q, "limit", defaultDrawPage)
	if err != nil {
		return err
	}
	ctx, cancel := r.context()
	defer cancel()
	rec, err := s.cfg.Draws.DrawRecord(ctx, r.args[0], offset, limit)
	if err != nil {
		return err
	}
	return writeJSON(r.ctx, fasthttp.StatusOK, rec)
}

// queryInt reads an optional integer query parameter.
func queryInt(q *fasthttp.Args, name string, def int64) (int64, error) {
	if !q.Has(name) {
		return def, nil
	}
	v, err := strconv.ParseInt(string(q.Peek(name)), 10, 64)
	if err != nil {
		return 0, &engine.ValidationError{Field: name, Reason: "must be an integer"}
	}
	return v, nil
}
