package api

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/flashdrop/flashdrop/engine"
)

// TestAppendProblemMatchesMarshal: the hand-written problem encoder
// writes exactly what encoding/json writes, escaping included.
func TestAppendProblemMatchesMarshal(t *testing.T) {
	odd := []string{"", "plain", `quote " and \ backslash`, "<b>&amp;</b>", "tab\tnew\nline\r\x00\x1f",
		"Zoë ✓ 日本", "bad \xff utf8 \xc3", "sep \u2028 \u2029", "end\x7f"}
	rng := rand.New(rand.NewPCG(1, 2))
	pick := func() string { return odd[rng.IntN(len(odd))] }
	for i := range 2000 {
		p := Problem{Type: pick(), Title: pick(), Status: rng.IntN(600), Detail: pick(), Code: pick(),
			Instance: pick(), Field: pick(), RequestID: pick()}
		if i%3 == 0 {
			p.WaitlistPosition = rng.Int64N(100)
		}
		if i%5 == 0 {
			p.Available = rng.Int64N(10)
		}
		if i%4 == 0 {
			p.Fields = []string{pick(), pick()}
		}
		want, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		if got := appendProblem(nil, &p, nil); !bytes.Equal(got, want) {
			t.Fatalf("appendProblem(%+v)\n got %s\nwant %s", p, got, want)
		}
	}
	// An empty RequestID takes the header's.
	p := Problem{Type: "t", Title: "x", Status: 409, Code: "sold_out"}
	got := appendProblem(nil, &p, []byte("abc-1"))
	p.RequestID = "abc-1"
	if want, _ := json.Marshal(p); !bytes.Equal(got, want) {
		t.Fatalf("with the header's id: %s, want %s", got, want)
	}
}

// TestDecodeReserveFast: the fast reader takes the usual bodies and gives
// what the strict decoder gives; everything else it leaves to decode.
func TestDecodeReserveFast(t *testing.T) {
	for _, body := range []string{"", " ", "{}", " { } ", `{"quantity":1}`, `{"quantity":12}`, `{ "quantity" : 3 , "waitlist" : true }`,
		`{"waitlist":false,"quantity":2}`, `{"waitlist":true}`, "{\n\"quantity\":5\n}\n"} {
		q, wl, ok := decodeReserveFast([]byte(body))
		if !ok {
			t.Errorf("%q: not taken", body)
			continue
		}
		var want reserveRequest
		if err := decodeBody([]byte(body), &want, true); err != nil {
			t.Fatalf("%q: the strict decoder refuses it: %v", body, err)
		}
		wantQ := int64(0)
		if want.Quantity != nil {
			wantQ = *want.Quantity
		}
		if q != wantQ || wl != want.Waitlist {
			t.Errorf("%q: fast %d %v, strict %d %v", body, q, wl, wantQ, want.Waitlist)
		}
	}
	for _, body := range []string{"{", "}", "null", "[]", `{"quantity":0}`, `{"quantity":01}`, `{"quantity":-1}`, `{"quantity":1.5}`,
		`{"quantity":1e2}`, `{"quantity":"1"}`, `{"quantity":1,"quantity":2}`, `{"Quantity":1}`, `{"quantity":1,}`,
		`{"quantity":1}x`, `{"waitlist":null}`, `{"other":1}`, `{"quantity":12345678901}`, `{"quantity":1} {}`} {
		if q, wl, ok := decodeReserveFast([]byte(body)); ok {
			t.Errorf("%q: taken as %d %v; it is the strict decoder's", body, q, wl)
		}
	}
}

// TestAppendRegistrationMatchesMarshal: the register answer is what
// encoding/json would write.
func TestAppendRegistrationMatchesMarshal(t *testing.T) {
	for _, reg := range []engine.Registration{
		{Drop: "d", User: "u", RegisteredAt: time.Date(2026, 12, 2, 18, 0, 0, 0, time.UTC)},
		{Drop: "tuesday-1", User: "Zoë <x>", RegisteredAt: time.UnixMilli(1764698400123).UTC()},
		{Drop: "x", User: "y", RegisteredAt: time.UnixMilli(1764698400120).In(time.FixedZone("", 3600))},
	} {
		want, _ := json.Marshal(reg)
		if got := appendRegistration(nil, reg); !bytes.Equal(got, want) {
			t.Fatalf("got %s\nwant %s", got, want)
		}
	}
}
