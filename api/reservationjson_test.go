package api

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/flashdrop/flashdrop/engine"
)

// checkReservationJSON: appendReservationBody writes writeJSON's bytes, or
// declines where jsonw cannot.
func checkReservationJSON(t *testing.T, r engine.Reservation) {
	t.Helper()
	want, err := json.Marshal(reservationBody{r})
	want = append(want, '\n')
	got, ok := appendReservationBody(nil, &r)
	if ok && (err != nil || !bytes.Equal(got, want)) {
		t.Fatalf("appendReservationBody:\n got %s\nwant %s (%v)", got, want, err)
	}
}

// TestReservationJSONMatches: every field of engine.Reservation set (by
// reflection, so a new field the encoder lacks fails here), a fresh win,
// and values left to encoding/json.
func TestReservationJSONMatches(t *testing.T) {
	at := time.Date(2026, 12, 3, 15, 4, 5, 120000000, time.UTC)
	var full engine.Reservation
	v := reflect.ValueOf(&full).Elem()
	for i := range v.NumField() {
		f := v.Field(i)
		switch {
		case f.Kind() == reflect.String:
			f.SetString("v-" + v.Type().Field(i).Name)
		case f.Kind() == reflect.Int64:
			f.SetInt(int64(i + 1))
		case f.Kind() == reflect.Bool:
			f.SetBool(true)
		case f.Type() == reflect.TypeOf(time.Time{}):
			f.Set(reflect.ValueOf(at.Add(time.Duration(i) * time.Second)))
		default:
			t.Fatalf("engine.Reservation.%s is a %s, which appendReservationBody does not know", v.Type().Field(i).Name, f.Type())
		}
	}
	if _, ok := appendReservationBody(nil, &full); !ok {
		t.Fatal("the encoder declined plain values")
	}
	checkReservationJSON(t, full)
	win := engine.Reservation{ID: "d1.0123456789abcdef0123", Drop: "d1", User: "ann", Quantity: 1, Status: engine.StatusHeld,
		WonAt: at, ExpiresAt: at.Add(10 * time.Minute), UpdatedAt: at, ShareCode: "d1.fedcba9876543210fedc"}
	checkReservationJSON(t, win)
	for name, mod := range map[string]func(*engine.Reservation){
		"zero":         func(r *engine.Reservation) { *r = engine.Reservation{} },
		"non-ascii":    func(r *engine.Reservation) { r.User = "zoë-日本" },
		"needs escape": func(r *engine.Reservation) { r.User = "a<b>&\"c\"\u2028" },
		"year 10000":   func(r *engine.Reservation) { r.ExpiresAt = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) },
		"local zone":   func(r *engine.Reservation) { r.WonAt = at.In(time.FixedZone("x", -7*3600)) },
		"waitlist":     func(r *engine.Reservation) { r.FromWaitlist = true; r.Status = engine.StatusConfirmed },
	} {
		t.Run(name, func(t *testing.T) {
			r := win
			mod(&r)
			checkReservationJSON(t, r)
		})
	}
}

// FuzzReservationJSON: for any strings, numbers and times, the hand
// encoder writes encoding/json's bytes or declines.
func FuzzReservationJSON(f *testing.F) {
	f.Add("d1.x", "ann", "held", int64(1), int64(1764756000000), true)
	f.Add("d<1>", "a\"\\\u2028\xff", "", int64(-9), int64(-62135596800001), false)
	f.Fuzz(func(t *testing.T, id, user, status string, q, ms int64, wl bool) {
		at := time.UnixMilli(ms).UTC()
		checkReservationJSON(t, engine.Reservation{ID: id, Drop: id, User: user, Quantity: q, Status: engine.Status(status),
			WonAt: at, ExpiresAt: at.Add(time.Minute), UpdatedAt: time.UnixMilli(ms / 3), ShareCode: user + id, FromWaitlist: wl})
	})
}
