package queue

import (
	"bytes"
	"encoding/json"
	"math"
	"reflect"
	"testing"
	"time"

	"github.com/flashdrop/flashdrop/engine"
)

// fullEvent has every field of engine.Event set to a non-zero value, found
// by reflection: a field added to Event and not to appendCloudEvent makes
// TestAppendCloudEventMatchesJSON fail.
func fullEvent(t *testing.T, s string, n int64, at time.Time, f float64) engine.Event {
	var ev engine.Event
	v := reflect.ValueOf(&ev).Elem()
	for i := range v.NumField() {
		fv := v.Field(i)
		switch {
		case fv.Kind() == reflect.String:
			fv.SetString(s + "-" + v.Type().Field(i).Name)
		case fv.Kind() == reflect.Int64:
			fv.SetInt(n + int64(i))
		case fv.Kind() == reflect.Bool:
			fv.SetBool(true)
		case fv.Type() == reflect.TypeOf(time.Time{}):
			fv.Set(reflect.ValueOf(at.Add(time.Duration(i) * time.Millisecond)))
		case fv.Type() == reflect.TypeOf((*int64)(nil)):
			m := n * int64(i)
			fv.Set(reflect.ValueOf(&m))
		case fv.Type() == reflect.TypeOf((*float64)(nil)):
			fv.Set(reflect.ValueOf(&f))
		default:
			t.Fatalf("engine.Event.%s is a %s, which appendCloudEvent does not know", v.Type().Field(i).Name, fv.Type())
		}
	}
	return ev
}

func checkSameJSON(t *testing.T, c CloudEvent) {
	t.Helper()
	want, werr := json.Marshal(c)
	got, gerr := c.Marshal()
	if (werr == nil) != (gerr == nil) || !bytes.Equal(got, want) {
		t.Fatalf("Marshal:\n got %s (%v)\nwant %s (%v)", got, gerr, want, werr)
	}
}

// TestAppendCloudEventMatchesJSON: the hand-written encoder writes what
// encoding/json writes, for every field set, for typical events, and for
// the values it leaves to encoding/json.
func TestAppendCloudEventMatchesJSON(t *testing.T) {
	at := time.Date(2026, 12, 3, 15, 4, 5, 123456789, time.UTC)
	full := Envelope(fullEvent(t, "x", 7, at, 1.25), "https://shop.example")
	if _, ok := appendCloudEvent(nil, &full); !ok {
		t.Fatal("the encoder refused an event of plain values")
	}
	checkSameJSON(t, full)
	won := engine.Event{ID: "n-1", Type: engine.EventWon, Drop: "d1", Time: at, Reservation: "d1.r", User: "ann",
		Quantity: 1, ExpiresAt: at.Add(time.Minute), ShareCode: "d1.s", Product: "Air Max '90 — Édition"}
	zero := 0.0
	won.SecondsAfterStart = &zero
	checkSameJSON(t, Envelope(won, ""))
	for name, mod := range map[string]func(*engine.Event){
		"html":         func(e *engine.Event) { e.Product = "a<b>&c" },
		"quote":        func(e *engine.Event) { e.User = `a"b\c` },
		"control":      func(e *engine.Event) { e.Reason = "line\nbreak\x00" },
		"bad utf-8":    func(e *engine.Event) { e.Product = "a\xffb" },
		"separator":    func(e *engine.Event) { e.Product = "a\u2028b\u2029" },
		"tiny float":   func(e *engine.Event) { f := 1e-9; e.SecondsAfterStart = &f },
		"huge float":   func(e *engine.Event) { f := -3e22; e.SecondsAfterStart = &f },
		"nan":          func(e *engine.Event) { f := math.NaN(); e.SecondsAfterStart = &f },
		"negative 0":   func(e *engine.Event) { f := math.Copysign(0, -1); e.SecondsAfterStart = &f },
		"year 10000":   func(e *engine.Event) { e.ExpiresAt = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) },
		"zone":         func(e *engine.Event) { e.SaleStartsAt = at.In(time.FixedZone("x", 5*3600+1800)) },
		"negative":     func(e *engine.Event) { e.Quantity = -3; n := int64(math.MinInt64); e.Available = &n },
		"zero counts":  func(e *engine.Event) { var z int64; e.Winners, e.Registrants = &z, &z },
		"no optionals": func(e *engine.Event) { *e = engine.Event{ID: e.ID, Type: e.Type, Drop: e.Drop, Time: e.Time} },
	} {
		t.Run(name, func(t *testing.T) {
			e := won
			mod(&e)
			checkSameJSON(t, Envelope(e, "https://shop.example/"))
		})
	}
}

// FuzzAppendCloudEvent: for any strings, numbers and times, Marshal
// writes encoding/json's bytes, or fails where it fails.
func FuzzAppendCloudEvent(f *testing.F) {
	f.Add("d1", "ann", "Sneaker", int64(1), int64(1764756000000), 0.5)
	f.Add("d<1>", "a\"n\\n", "\u2028\xff", int64(-1), int64(-62135596800001), 1e-7)
	f.Add("", "é", "日本", int64(0), int64(253402300800000), 1e21)
	f.Fuzz(func(t *testing.T, drop, user, product string, n, ms int64, sec float64) {
		ev := fullEvent(t, product, n, time.UnixMilli(ms).UTC(), sec)
		ev.Drop, ev.User, ev.Product = drop, user, product
		c := Envelope(ev, "https://shop.example/"+user)
		checkSameJSON(t, c)
		ev.Reservation, ev.Available = "", nil
		checkSameJSON(t, Envelope(ev, ""))
	})
}

func BenchmarkCloudEventMarshal(b *testing.B) {
	at := time.Date(2026, 12, 3, 15, 4, 5, 123456789, time.UTC)
	sec := 0.042
	ev := engine.Event{ID: "0123456789abcdef0123-5", Type: engine.EventWon, Drop: "sneaker-tuesday", Time: at,
		Reservation: "sneaker-tuesday.0123456789abcdef0123", User: "buyer-12345", Quantity: 1, ExpiresAt: at.Add(time.Minute),
		ShareCode: "sneaker-tuesday.fedcba9876543210fedc", Product: "Sneaker", SecondsAfterStart: &sec}
	c := Envelope(ev, "https://shop.example")
	b.Run("hand", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_, _ = c.Marshal()
		}
	})
	b.Run("encoding/json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_, _ = json.Marshal(c)
		}
	})
}
