package api

import (
	"bytes"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/flashdrop/flashdrop/engine"
	"github.com/flashdrop/flashdrop/internal/jsonw"
)

type registerRequest struct {
	Ref string `json:"ref"`
}

func (s *Server) register(r *request) error {
	if err := s.requireShopper(r); err != nil {
		return err
	}
	if ok, wait := s.regLimit.allowAt(r.who.user, r.now()); !ok {
		setRetryAfter(r.ctx, wait.Seconds())
		return errRateLimited
	}
	var body registerRequest
	// Most shoppers register with no body or {}: no decoder for those.
	if b := bytes.TrimSpace(r.ctx.PostBody()); len(b) != 0 && string(b) != "{}" {
		if err := decode(r, &body, true); err != nil {
			return err
		}
	}
	ctx, cancel := r.context()
	defer cancel()
	reg, created, err := s.adm.Register(ctx, r.args[0], r.who.user, body.Ref)
	if err != nil {
		return err
	}
	status := fasthttp.StatusOK
	if created {
		status = fasthttp.StatusCreated
	}
	// The answer as json.Marshal(reg) writes it, without reflection.
	var buf [256]byte
	setJSONBody(r.ctx, status, append(appendRegistration(buf[:0], reg), '\n'))
	return nil
}

// appendRegistration appends reg as json.Marshal(reg) writes it.
func appendRegistration(b []byte, reg engine.Registration) []byte {
	b = append(b, `{"drop":`...)
	b = jsonw.AppendString(b, reg.Drop)
	b = append(b, `,"user":`...)
	b = jsonw.AppendString(b, reg.User)
	b = append(b, `,"registered_at":"`...)
	b = reg.RegisteredAt.AppendFormat(b, time.RFC3339Nano)
	return append(b, `"}`...)
}
