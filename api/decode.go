package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/flashdrop/flashdrop/engine"
)

// decode reads a JSON body strictly: unknown fields and trailing data are
// errors, and an empty body decodes to the zero value when allowEmpty.
func decode(r *request, v any, allowEmpty bool) error {
	body := r.ctx.PostBody()
	if len(bytes.TrimSpace(body)) == 0 {
		if allowEmpty {
			return nil
		}
		return &engine.ValidationError{Field: "body", Reason: "a JSON object is required"}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return &engine.ValidationError{Field: "body", Reason: jsonReason(err)}
	}
	if _, err := dec.Token(); err != io.EOF {
		return &engine.ValidationError{Field: "body", Reason: "unexpected data after the JSON object"}
	}
	return nil
}

// jsonReason turns a decoding error into a short message for the client.
func jsonReason(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Sprintf("malformed JSON at byte %d", syn.Offset)
	case errors.As(err, &typ):
		if typ.Field != "" {
			return fmt.Sprintf("field %s must be a %s", typ.Field, typ.Type)
		}
		return "must be a JSON object"
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "truncated JSON"
	}
	msg := err.Error()
	if len(msg) > 160 {
		msg = msg[:160]
	}
	return msg
}
