package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/flashdrop/flashdrop/engine"
)

// decodeCase is one reviewed body: for its route's body type, the field
// the 400 must name, or "" where the body is accepted. Every case is also
// a seed of that body's fuzz target.
type decodeCase struct {
	body  string
	field string
}

const validDrop = `{"id":"d1","name":"n","product":"p","stock":5,"per_user_limit":1,` +
	`"registration_opens_at":"2026-01-01T00:00:00Z","registration_closes_at":"2026-01-02T00:00:00Z",` +
	`"sale_starts_at":"2026-01-02T00:00:00Z","sale_ends_at":"2026-01-02T01:00:00+01:00","hold_seconds":60,"mode":"fcfs"}`

// commonCases hold for every body: what is not one JSON object.
var commonCases = []decodeCase{
	{`null`, "body"},
	{" \n null \t", "body"},
	{`[]`, "body"},
	{`[{}]`, "body"},
	{`"text"`, "body"},
	{`12`, "body"},
	{`-1.5e3`, "body"},
	{`true`, "body"},
	{`false`, "body"},
	{`{} {}`, "body"},
	{`{}garbage`, "body"},
	{`{}]`, "body"},
	{`{`, "body"},
	{`{"a"`, "body"},
	{`{"a":}`, "body"},
	{`{,}`, "body"},
	{`{"":1}`, "body"},
	{`{'a':1}`, "body"},
	{"{\"a\":1}\x00", "body"},
	{`{"not_a_field":1}`, "not_a_field"},
	{`{"` + strings.Repeat("k", 100) + `":1}`, strings.Repeat("k", maxKeyInProblem) + "…"},
}

var reserveCases = []decodeCase{
	{``, ""},
	{"  \r\n\t", ""},
	{`{}`, ""},
	{`{"quantity":2}`, ""},
	{`{"quantity":1,"waitlist":true}`, ""},
	{`{"waitlist":false}`, ""},
	{`{"quantit\u0079":3}`, ""}, // an escaped key is the same key
	{`{"quantity":null}`, "quantity"},
	{`{"waitlist":null}`, "waitlist"},
	{`{"quantity":1,"quantity":2}`, "quantity"},
	{`{"quantity":1,"quantit\u0079":2}`, "quantity"},
	{`{"waitlist":true,"waitlist":true}`, "waitlist"},
	{`{"Quantity":2}`, "Quantity"},
	{`{"QUANTITY":2}`, "QUANTITY"},
	{`{"quantity":1,"bogus":2}`, "bogus"},
	{`{"bogus":null}`, "bogus"},
	{`{"quantity":"one"}`, "quantity"},
	{`{"quantity":"1"}`, "quantity"},
	{`{"quantity":1.5}`, "quantity"},
	{`{"quantity":1e99}`, "quantity"},
	{`{"quantity":[1]}`, "quantity"},
	{`{"quantity":{}}`, "quantity"},
	{`{"quantity":true}`, "quantity"},
	{`{"waitlist":"yes"}`, "waitlist"},
	{`{"waitlist":1}`, "waitlist"},
	{`{"quantity":1,}`, "body"},
	{`{"quantity":01}`, "body"},
	{`{"quantity":1} {"quantity":2}`, "body"},
}

var registerCases = []decodeCase{
	{``, ""},
	{`{}`, ""},
	{`{"ref":"friend-code"}`, ""},
	{`{"ref":""}`, ""},
	{`{"ref":null}`, "ref"},
	{`{"ref":"a","ref":"b"}`, "ref"},
	{`{"code":"x"}`, "code"},
	{`{"Ref":"x"}`, "Ref"},
	{`{"ref":1}`, "ref"},
	{`{"ref":["a"]}`, "ref"},
	{`["abc"]`, "body"},
	{`"abc"`, "body"},
}

var createDropCases = []decodeCase{
	{``, "body"},
	{"\n", "body"},
	{`{}`, ""}, // the engine names what is missing
	{validDrop, ""},
	{`{"id":"x","stock":null}`, "stock"},
	{`{"id":null}`, "id"},
	{`{"id":"x","sale_starts_at":null}`, "sale_starts_at"},
	{`{"id":"x","mode":null}`, "mode"},
	{`{"id":"x","stok":1}`, "stok"},
	{`{"id":"x","id":"y"}`, "id"},
	{`{"id":"x","ID":"y"}`, "ID"},
	{`{"sale_starts_at":"yesterday"}`, "sale_starts_at"},
	{`{"sale_starts_at":1700000000}`, "sale_starts_at"},
	{`{"stock":"ten"}`, "stock"},
	{`{"stock":-1}`, ""}, // a value the engine refuses, not the decoder
	{`{"hold_seconds":9223372036854775808}`, "hold_seconds"},
	{`{"per_user_limit":2.0}`, "per_user_limit"},
	{`{"name":{"en":"x"}}`, "name"},
	{`[` + validDrop + `]`, "body"},
	{`{"confirm_by":"shopper","checkout_url":"https://shop.example/pay/{reservation}"}`, ""},
	{`{"confirm_by":null}`, "confirm_by"},
	{`{"confirm_by":"shopper","confirm_by":"shop"}`, "confirm_by"},
	{`{"checkout_url":null}`, "checkout_url"},
	{`{"checkoutURL":"https://shop.example/"}`, "checkoutURL"},
}

var createWebhookCases = []decodeCase{
	{``, "body"},
	{`{"url":"https://hooks.example/x","types":["won"]}`, ""},
	{`{"url":"https://hooks.example/x","types":[]}`, ""},
	{`{"url":"https://hooks.example/x"}`, ""},
	{`{"url":null}`, "url"},
	{`{"url":"https://x","types":null}`, "types"},
	{`{"url":"https://x","types":["won",null]}`, "types"},
	{`{"url":"https://x","types":[["won"]]}`, "types"},
	{`{"url":"https://x","types":[{"a":1,"a":2}]}`, "types"},
	{`{"url":"https://x","types":"won"}`, "types"},
	{`{"url":"https://x","types":[1]}`, "types"},
	{`{"url":"a","url":"b"}`, "url"},
	{`{"url":"https://x","secret":"s"}`, "secret"},
	{`{"URL":"https://x"}`, "URL"},
	{`"https://x"`, "body"},
	// The decoder takes these; the webhook service refuses them, naming
	// url (TestWebhookURLProblems, TestCheckURLWordsItsProblems): seeds
	// for the fuzz target all the same.
	{`{}`, ""},
	{`{"url":""}`, ""},
	{`{"url":"https://example.com/h#frag"}`, ""},
	{`{"url":"https://0x7f.1/"}`, ""},
	{`{"url":"https://exa mple.com/"}`, ""},
}

// The bodies added after the first fuzz round: series, API keys, webhook
// replay. Each goes through the same strict decoder, and each has its own
// cases and fuzz target so its field types are exercised too.
var createSeriesCases = []decodeCase{
	{``, "body"},
	{`{"id":"tee","name":"Tee","product":"p","stock":3,"per_user_limit":1,"hold_seconds":60,"mode":"fcfs",` +
		`"weekday":7,"sale_time":"10:00","time_zone":"Europe/Berlin","registration_opens_before_seconds":259200}`, ""},
	{`{"weekday":"sunday"}`, "weekday"},
	{`{"weekday":7.5}`, "weekday"},
	{`{"stock":"3"}`, "stock"},
	{`{"sale_time":1000}`, "sale_time"},
	{`{"time_zone":null}`, "time_zone"},
	{`{"mode":["fcfs"]}`, "mode"},
	{`{"id":"a","id":"b"}`, "id"},
	{`{"timeZone":"UTC"}`, "timeZone"},
}

var createKeyCases = []decodeCase{
	{``, "body"},
	{`{"name":"social","scopes":["events:read"]}`, ""},
	{`{"name":"caf\u00e9","scopes":[]}`, ""},
	{"{\"name\":\"café\",\"scopes\":[]}", ""},
	// Not UTF-8 (RFC 8259): refused, not stored as U+FFFD.
	{"{\"name\":\"\xff\xfe\",\"scopes\":[]}", "body"},
	{"{\"name\":\"\xc0\xaf\",\"scopes\":[]}", "body"},
	{`{"name":"social","scopes":[]}`, ""},
	{`{"scopes":"events:read"}`, "scopes"},
	{`{"scopes":["events:read",null]}`, "scopes"},
	{`{"scopes":[1]}`, "scopes"},
	{`{"name":1}`, "name"},
	{`{"name":"a","name":"b"}`, "name"},
	{`{"secret":"mine"}`, "secret"},
}

var rotateKeyCases = []decodeCase{
	{``, ""},
	{`{}`, ""},
	{`{"grace_seconds":60}`, ""},
	{`{"grace_seconds":-1}`, ""},
	{`{"grace_seconds":1.5}`, "grace_seconds"},
	{`{"grace_seconds":"60"}`, "grace_seconds"},
	{`{"grace_seconds":null}`, "grace_seconds"},
	{`{"grace_seconds":1e400}`, "grace_seconds"},
}

var replayCases = []decodeCase{
	{``, "body"},
	{`{"since":"2026-12-01T10:00:00Z"}`, ""},
	{`{"cursor":12,"types":["won","invited"],"drop":"tee-2026-12-06","limit":500}`, ""},
	{`{"since":"yesterday"}`, "since"},
	{`{"since":1764583200}`, "since"},
	{`{"cursor":-1}`, "cursor"},
	{`{"cursor":"12"}`, "cursor"},
	{`{"types":"won"}`, "types"},
	{`{"types":[null]}`, "types"},
	{`{"limit":1.5}`, "limit"},
	{`{"drop":["d"]}`, "drop"},
}

// dismissCases are the decoder's: the counts, ids and "exactly one" are
// the engine's to refuse (TestDismissDeadLettersRoute).
var dismissCases = []decodeCase{
	{``, "body"},
	{`{"event_ids":["0123456789abcdef0123456789abcdef-1","stream-seq-12"]}`, ""},
	{`{"missing":true}`, ""},
	{`{"event_ids":[]}`, ""},
	{`{"event_ids":"ev-1"}`, "event_ids"},
	{`{"event_ids":[1]}`, "event_ids"},
	{`{"event_ids":[null]}`, "event_ids"},
	{`{"missing":"true"}`, "missing"},
	{`{"missing":null}`, "missing"},
	{`{"ids":["ev-1"]}`, "ids"},
	{`{"Event_IDs":["ev-1"]}`, "Event_IDs"},
}

func checkDecodeCases[T any](t *testing.T, allowEmpty bool, cases []decodeCase) {
	t.Helper()
	for _, c := range append(append([]decodeCase{}, commonCases...), cases...) {
		var v T
		err := decodeBody([]byte(c.body), &v, allowEmpty)
		var ve *engine.ValidationError
		switch {
		case c.field == "" && err != nil:
			t.Errorf("%q: refused: %v", c.body, err)
		case c.field != "" && (!errors.As(err, &ve) || !errors.Is(err, engine.ErrInvalid)):
			t.Errorf("%q: want a validation error naming %q, got %v", c.body, c.field, err)
		case c.field != "" && (ve.Field != c.field || ve.Reason == ""):
			t.Errorf("%q: names %q (%s), want %q", c.body, ve.Field, ve.Reason, c.field)
		}
	}
}

func TestDecodeBodies(t *testing.T) {
	t.Run("reserve", func(t *testing.T) { checkDecodeCases[reserveRequest](t, true, reserveCases) })
	t.Run("register", func(t *testing.T) { checkDecodeCases[registerRequest](t, true, registerCases) })
	t.Run("create drop", func(t *testing.T) { checkDecodeCases[createDropRequest](t, false, createDropCases) })
	t.Run("create webhook", func(t *testing.T) { checkDecodeCases[createWebhookRequest](t, false, createWebhookCases) })
	t.Run("create series", func(t *testing.T) { checkDecodeCases[createSeriesRequest](t, false, createSeriesCases) })
	t.Run("create key", func(t *testing.T) { checkDecodeCases[createKeyRequest](t, false, createKeyCases) })
	t.Run("rotate key", func(t *testing.T) { checkDecodeCases[rotateKeyRequest](t, true, rotateKeyCases) })
	t.Run("replay", func(t *testing.T) { checkDecodeCases[replayRequest](t, false, replayCases) })
	t.Run("dismiss", func(t *testing.T) { checkDecodeCases[dismissRequest](t, false, dismissCases) })
}

func TestDecodeBodyValues(t *testing.T) {
	var res reserveRequest
	if err := decodeBody([]byte(`{"quantity":3,"waitlist":true}`), &res, true); err != nil ||
		res.Quantity == nil || *res.Quantity != 3 || !res.Waitlist {
		t.Fatalf("reserve: %+v %v", res, err)
	}
	res = reserveRequest{}
	if err := decodeBody(nil, &res, true); err != nil || res.Quantity != nil || res.Waitlist {
		t.Fatalf("an empty reserve body keeps the defaults: %+v %v", res, err)
	}
	var d createDropRequest
	if err := decodeBody([]byte(validDrop), &d, false); err != nil {
		t.Fatal(err)
	}
	if d.ID != "d1" || d.Stock != 5 || d.HoldSeconds != 60 || d.Mode != engine.ModeFCFS ||
		!d.SaleEndsAt.Equal(d.SaleStartsAt) || d.RegistrationOpensAt.Year() != 2026 {
		t.Fatalf("drop: %+v", d)
	}
	var w createWebhookRequest
	err := decodeBody([]byte(`{"url":"https://x","types":["won",null]}`), &w, false)
	var ve *engine.ValidationError
	if !errors.As(err, &ve) || !strings.Contains(ve.Reason, "null") {
		t.Fatalf("a null in an array is named as such: %v", err)
	}
	err = decodeBody([]byte(`{"sale_starts_at":"yesterday"}`), &d, false)
	if !errors.As(err, &ve) || !strings.Contains(ve.Reason, "RFC 3339") {
		t.Fatalf("a bad time says what a time looks like: %v", err)
	}
}

// fuzzDecoder checks decodeBody for body type T on arbitrary input: it
// never panics; a refusal is a validation error naming a field; and what
// it accepts is one JSON object, without null or repeated or unknown keys
// (checked here independently, on encoding/json's generic decoding), that
// encoding/json decodes to the very same value.
func fuzzDecoder[T any](f *testing.F, allowEmpty bool, cases []decodeCase) {
	for _, c := range append(append([]decodeCase{}, commonCases...), cases...) {
		f.Add([]byte(c.body))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var got T
		err := decodeBody(body, &got, allowEmpty)
		if err != nil {
			var ve *engine.ValidationError
			if !errors.As(err, &ve) || !errors.Is(err, engine.ErrInvalid) || ve.Field == "" || ve.Reason == "" ||
				len(ve.Field) > maxKeyInProblem+len("…") {
				t.Fatalf("%q: refused without naming a field: %#v", body, err)
			}
			return
		}
		if len(bytes.TrimSpace(body)) == 0 {
			if !allowEmpty || !reflect.ValueOf(got).IsZero() {
				t.Fatalf("%q: an empty body accepted as %+v (allowed: %v)", body, got, allowEmpty)
			}
			return
		}
		var want T
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&want); err != nil {
			t.Fatalf("%q: accepted, but encoding/json refuses it: %v", body, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%q: decoded to %+v, encoding/json says %+v", body, got, want)
		}
		var generic any
		if err := json.Unmarshal(body, &generic); err != nil {
			t.Fatalf("%q: accepted, but is not JSON: %v", body, err)
		}
		obj, ok := generic.(map[string]any)
		if !ok {
			t.Fatalf("%q: accepted a body that is not an object", body)
		}
		known := jsonFieldsOf(&got)
		for k, v := range obj {
			if _, ok := known[k]; !ok {
				t.Fatalf("%q: accepted the unknown key %q", body, k)
			}
			if hasNull(v) {
				t.Fatalf("%q: accepted a null in %q", body, k)
			}
		}
		if n := topLevelKeys(body); n != len(obj) {
			t.Fatalf("%q: accepted %d keys of which only %d differ", body, n, len(obj))
		}
	})
}

func hasNull(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case []any:
		for _, e := range x {
			if hasNull(e) {
				return true
			}
		}
	case map[string]any:
		for _, e := range x {
			if hasNull(e) {
				return true
			}
		}
	}
	return false
}

// topLevelKeys counts the keys of the object body, repeats included.
func topLevelKeys(body []byte) int {
	dec := json.NewDecoder(bytes.NewReader(body))
	depth, n, key := 0, 0, false
	for {
		tok, err := dec.Token()
		if err != nil {
			return n
		}
		if d, ok := tok.(json.Delim); ok {
			if d == '{' || d == '[' {
				depth++
				if depth == 1 {
					key = true
				}
			} else {
				depth--
			}
			if depth == 1 && (d == '}' || d == ']') {
				key = true // a nested value ended; a key comes next
			}
			continue
		}
		if depth == 1 {
			if key {
				n++
			}
			key = !key
		}
	}
}

func FuzzDecodeReserve(f *testing.F) { fuzzDecoder[reserveRequest](f, true, reserveCases) }

func FuzzDecodeRegister(f *testing.F) { fuzzDecoder[registerRequest](f, true, registerCases) }

func FuzzDecodeCreateDrop(f *testing.F) { fuzzDecoder[createDropRequest](f, false, createDropCases) }

func FuzzDecodeCreateWebhook(f *testing.F) {
	fuzzDecoder[createWebhookRequest](f, false, createWebhookCases)
}

func FuzzDecodeCreateSeries(f *testing.F) {
	fuzzDecoder[createSeriesRequest](f, false, createSeriesCases)
}

func FuzzDecodeCreateKey(f *testing.F) { fuzzDecoder[createKeyRequest](f, false, createKeyCases) }

func FuzzDecodeRotateKey(f *testing.F) { fuzzDecoder[rotateKeyRequest](f, true, rotateKeyCases) }

func FuzzDecodeReplay(f *testing.F) { fuzzDecoder[replayRequest](f, false, replayCases) }

func FuzzDecodeDismiss(f *testing.F) { fuzzDecoder[dismissRequest](f, false, dismissCases) }
