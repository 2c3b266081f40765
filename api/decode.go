package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/flashdrop/flashdrop/engine"
)

// decode reads a JSON body strictly: unknown fields and trailing data are
// errors, and an empty body decodes to the zero value when allowEmpty.
func decode(r *request, v any, allowEmpty bool) error {
	return decodeBody(r.ctx.PostBody(), v, allowEmpty)
}

// decodeBody decodes body into v, a pointer to a struct whose fields carry
// json tags, and refuses anything a lenient decoder would quietly turn
// into a default: a body that is not one JSON object (null, an array, a
// string, a number, or trailing data), a null anywhere in a value, a key
// given twice, and a key that is not exactly one of the struct's json
// names (encoding/json would match "Quantity" to "quantity"). The error is
// an *engine.ValidationError naming the offending key, or "body". An
// empty or blank body leaves v untouched when allowEmpty: the route's
// documented defaults apply.
func decodeBody(body []byte, v any, allowEmpty bool) error {
	_, err := decodeBodyGiven(body, v, allowEmpty)
	return err
}

// decodeGiven is decode for a body whose zero values the engine reads as
// "not given" (engine.Drop.Normalize): it also says which keys the body
// gave, so the handler can refuse a zero that was sent (givenZero)
// rather than let it quietly become the default.
func decodeGiven(r *request, v any) (map[string]bool, error) {
	return decodeBodyGiven(r.ctx.PostBody(), v, false)
}

// decodeBodyGiven is decodeBody, returning the keys the body gave.
func decodeBodyGiven(body []byte, v any, allowEmpty bool) (map[string]bool, error) {
	if len(bytes.TrimSpace(body)) == 0 {
		if allowEmpty {
			return nil, nil
		}
		return nil, bodyInvalid("must be a JSON object")
	}
	// JSON is UTF-8 (RFC 8259); encoding/json would quietly turn invalid
	// bytes into U+FFFD and store a name the client never sent.
	if !utf8.Valid(body) {
		return nil, bodyInvalid("must be UTF-8")
	}
	// One whole, well-formed value first, so a syntax error anywhere is
	// reported as such rather than as a problem with an earlier field.
	dec := json.NewDecoder(bytes.NewReader(body))
	var raw json.RawMessage
	if err := dec.Decode(&raw); err != nil {
		return nil, bodyInvalid(jsonReason(err))
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, bodyInvalid("unexpected data after the JSON object")
	}
	raw = bytes.TrimSpace(raw)
	if raw[0] != '{' {
		return nil, bodyInvalid("must be a JSON object, not " + jsonKind(raw[0]))
	}
	fields := jsonFieldsOf(v)
	target := reflect.ValueOf(v).Elem()
	obj := json.NewDecoder(bytes.NewReader(raw))
	if _, err := obj.Token(); err != nil { // the '{', already checked
		return nil, bodyInvalid(jsonReason(err))
	}
	seen := make(map[string]bool, len(fields))
	for obj.More() {
		tok, err := obj.Token()
		if err != nil {
			return nil, bodyInvalid(jsonReason(err))
		}
		key, _ := tok.(string) // an object key is always a string
		var val json.RawMessage
		if err := obj.Decode(&val); err != nil {
			return nil, bodyInvalid(jsonReason(err))
		}
		idx, known := fields[key]
		switch {
		case key == "":
			return nil, bodyInvalid("has an empty key")
		case !known:
			return nil, &engine.ValidationError{Field: clipKey(key), Reason: "is not a field of this body"}
		case seen[key]:
			return nil, &engine.ValidationError{Field: key, Reason: "is given more than once"}
		}
		seen[key] = true
		if reason := nullOrDuplicate(val); reason != "" {
			return nil, &engine.ValidationError{Field: key, Reason: reason}
		}
		f := target.Field(idx)
		fdec := json.NewDecoder(bytes.NewReader(val))
		fdec.DisallowUnknownFields() // for fields that are objects themselves
		if err := fdec.Decode(f.Addr().Interface()); err != nil {
			return nil, &engine.ValidationError{Field: key, Reason: "must be " + jsonNoun(f.Type())}
		}
	}
	return seen, nil
}

func bodyInvalid(reason string) error {
	return &engine.ValidationError{Field: "body", Reason: reason}
}

// maxKeyInProblem bounds how much of an unknown key the problem repeats:
// the key is the client's own input, up to the whole body.
const maxKeyInProblem = 64

func clipKey(key string) string {
	if len(key) <= maxKeyInProblem {
		return key
	}
	cut := maxKeyInProblem
	for cut > 0 && !utf8.RuneStart(key[cut]) {
		cut--
	}
	return key[:cut] + "…"
}

// jsonFieldIndex caches, per struct type, its json names and field indexes.
var jsonFieldIndex sync.Map // reflect.Type → map[string]int

// jsonFieldsOf maps each json name of *v's struct type to its field index.
// The body structs are flat and all their fields are tagged; an untagged
// or "-" field is not settable from the body.
func jsonFieldsOf(v any) map[string]int {
	t := reflect.TypeOf(v).Elem()
	if m, ok := jsonFieldIndex.Load(t); ok {
		return m.(map[string]int)
	}
	m := map[string]int{}
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		name, _, _ := strings.Cut(sf.Tag.Get("json"), ",")
		if sf.IsExported() && name != "" && name != "-" {
			m[name] = i
		}
	}
	jsonFieldIndex.Store(t, m)
	return m
}

// nullOrDuplicate walks a well-formed JSON value and says what is wrong
// with it: a null (which encoding/json would skip, leaving a default) or
// an object with a key given twice (where it would keep the last). "" if
// neither.
func nullOrDuplicate(val json.RawMessage) string {
	dec := json.NewDecoder(bytes.NewReader(val))
	var walk func(top bool) string
	walk = func(top bool) string {
		tok, err := dec.Token()
		if err != nil {
			return "is not well-formed JSON"
		}
		switch t := tok.(type) {
		case nil:
			if top {
				return "must not be null"
			}
			return "must not contain null"
		case json.Delim:
			seen := map[string]bool{}
			for dec.More() {
				if t == '{' {
					k, err := dec.Token()
					if err != nil {
						return "is not well-formed JSON"
					}
					key, _ := k.(string)
					if seen[key] {
						return fmt.Sprintf("has the key %q more than once", clipKey(key))
					}
					seen[key] = true
				}
				if r := walk(false); r != "" {
					return r
				}
			}
			if _, err := dec.Token(); err != nil { // the closing delimiter
				return "is not well-formed JSON"
			}
		}
		return ""
	}
	return walk(true)
}

// jsonKind names what a JSON value starting with c is.
func jsonKind(c byte) string {
	switch c {
	case 'n':
		return "null"
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	}
	return "a number"
}

var timeType = reflect.TypeOf(time.Time{})

// jsonNoun says in words what JSON a field of type t takes.
func jsonNoun(t reflect.Type) string {
	if t == timeType {
		return "an RFC 3339 time such as \"2026-11-24T10:00:00Z\""
	}
	switch t.Kind() {
	case reflect.Pointer:
		return jsonNoun(t.Elem())
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "an integer"
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a non-negative integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Slice, reflect.Array:
		return "an array of " + plural(jsonNoun(t.Elem()))
	case reflect.Struct, reflect.Map:
		return "an object with known fields"
	}
	return "a value of another type"
}

// plural turns "a string" into "strings", "an integer" into "integers".
func plural(noun string) string {
	for _, article := range []string{"a ", "an "} {
		if rest, ok := strings.CutPrefix(noun, article); ok && !strings.Contains(rest, " ") {
			return rest + "s"
		}
	}
	return "values that are each " + noun
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
