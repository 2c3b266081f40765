package engine_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/flashdrop/flashdrop/engine"
)

var t0 = time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)

func validDrop() engine.Drop {
	return engine.Drop{
		ID: "tuesday-1", Name: "Sneaker", Stock: 100,
		RegistrationOpensAt: t0.Add(-2 * time.Hour), RegistrationClosesAt: t0.Add(-time.Hour),
		SaleStartsAt: t0,
	}.Normalize()
}

func TestDropNormalizeDefaults(t *testing.T) {
	d := validDrop()
	if d.PerUserLimit != 1 || d.HoldSeconds != 600 || d.Mode != engine.ModeFCFS || d.Product != "Sneaker" {
		t.Fatalf("defaults not applied: %+v", d)
	}
	if err := d.Validate(); err != nil {
		t.Fatalf("valid drop rejected: %v", err)
	}
	withNS := validDrop()
	withNS.SaleStartsAt = t0.Add(1500 * time.Microsecond)
	if got := withNS.Normalize().SaleStartsAt; !got.Equal(t0.Add(time.Millisecond)) {
		t.Fatalf("times must be truncated to ms, got %v", got)
	}
}

func TestDropValidate(t *testing.T) {
	cases := []struct {
		field string
		edit  func(*engine.Drop)
	}{
		{"id", func(d *engine.Drop) { d.ID = "" }},
		{"id", func(d *engine.Drop) { d.ID = "has space" }},
		{"id", func(d *engine.Drop) { d.ID = "dot.ted" }},
		{"id", func(d *engine.Drop) { d.ID = "{tag}" }},
		{"id", func(d *engine.Drop) { d.ID = strings.Repeat("a", 65) }},
		{"name", func(d *engine.Drop) { d.Name = "  " }},
		{"name", func(d *engine.Drop) { d.Name = "bell\a" }},
		{"name", func(d *engine.Drop) { d.Name = "\xff" }},
		{"stock", func(d *engine.Drop) { d.Stock = 0 }},
		{"stock", func(d *engine.Drop) { d.Stock = -5 }},
		{"stock", func(d *engine.Drop) { d.Stock = engine.MaxStock + 1 }},
		{"per_user_limit", func(d *engine.Drop) { d.PerUserLimit = -1 }},
		{"per_user_limit", func(d *engine.Drop) { d.PerUserLimit = 101 }},
		{"hold_seconds", func(d *engine.Drop) { d.HoldSeconds = -1 }},
		{"hold_seconds", func(d *engine.Drop) { d.HoldSeconds = engine.MaxHoldSeconds + 1 }},
		{"mode", func(d *engine.Drop) { d.Mode = "auction" }},
		{"registration_opens_at", func(d *engine.Drop) { d.RegistrationOpensAt = time.Time{} }},
		{"registration_closes_at", func(d *engine.Drop) { d.RegistrationClosesAt = d.RegistrationOpensAt }},
		{"sale_starts_at", func(d *engine.Drop) { d.SaleStartsAt = d.RegistrationClosesAt.Add(-time.Second) }},
		{"sale_ends_at", func(d *engine.Drop) { d.SaleEndsAt = d.SaleStartsAt }},
		{"registration_opens_at", func(d *engine.Drop) { d.RegistrationOpensAt = time.Date(1999, 1, 1, 0, 0, 0, 0, time.UTC) }},
		{"sale_ends_at", func(d *engine.Drop) { d.SaleEndsAt = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) }},
	}
	for _, c := range cases {
		d := validDrop()
		c.edit(&d)
		err := d.Validate()
		var ve *engine.ValidationError
		if !errors.As(err, &ve) || !errors.Is(err, engine.ErrInvalid) {
			t.Errorf("%s: want a ValidationError, got %v", c.field, err)
			continue
		}
		if ve.Field != c.field {
			t.Errorf("want field %s, got %s (%v)", c.field, ve.Field, err)
		}
	}
	// Registration may close exactly when the sale starts, and a drop
	// may be created with its times in the past.
	d := validDrop()
	d.RegistrationClosesAt = d.SaleStartsAt
	d.RegistrationOpensAt = time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)
	if err := d.Validate(); err != nil {
		t.Fatalf("valid edge rejected: %v", err)
	}
}

func TestDropState(t *testing.T) {
	d := validDrop()
	d.SaleEndsAt = t0.Add(time.Hour)
	cases := []struct {
		at    time.Time
		avail int64
		want  engine.State
	}{
		{t0.Add(-3 * time.Hour), 5, engine.StateScheduled},
		{d.RegistrationOpensAt, 5, engine.StateRegistrationOpen},
		{d.RegistrationClosesAt, 5, engine.StateRegistrationClosed},
		{t0, 5, engine.StateSaleOpen},
		{t0, 0, engine.StateSoldOut},
		{d.SaleEndsAt, 5, engine.StateSaleClosed},
		{d.SaleEndsAt, 0, engine.StateSaleClosed},
	}
	for _, c := range cases {
		if got := d.State(c.at, c.avail); got != c.want {
			t.Errorf("at %v avail %d: got %s want %s", c.at, c.avail, got, c.want)
		}
	}
}

func TestSplitReservationID(t *testing.T) {
	if d, err := engine.SplitReservationID("drop-1.abc123"); err != nil || d != "drop-1" {
		t.Fatalf("got %q %v", d, err)
	}
	for _, bad := range []string{"", "nodot", ".abc", "drop.", "dr op.abc", "drop.a/b", "drop." + strings.Repeat("a", 65)} {
		if _, err := engine.SplitReservationID(bad); !errors.Is(err, engine.ErrInvalid) {
			t.Errorf("%q: want ErrInvalid, got %v", bad, err)
		}
	}
}

func TestEnrichWon(t *testing.T) {
	d := validDrop()
	ev := engine.Event{Type: engine.EventWon, Time: t0.Add(1500 * time.Millisecond)}
	ev.EnrichWon(d)
	if ev.Product != "Sneaker" || ev.DropName != d.Name || ev.DropName == "" || ev.SecondsAfterStart == nil || *ev.SecondsAfterStart != 1.5 || ev.CheckoutURL != "" {
		t.Fatalf("enriched: %+v", ev)
	}
	// With a checkout template, the winner's own link (issue 9 §6).
	d.CheckoutURL = "https://shop.example/pay/{reservation}"
	ev = engine.Event{Type: engine.EventWon, Time: t0, Reservation: "drop.abc"}
	ev.EnrichWon(d)
	if ev.CheckoutURL != "https://shop.example/pay/drop.abc" {
		t.Fatalf("checkout link: %q", ev.CheckoutURL)
	}
	other := engine.Event{Type: engine.EventConfirmed, Time: t0.Add(time.Second)}
	other.EnrichWon(d)
	if other.Product != "" || other.DropName != "" || other.SecondsAfterStart != nil {
		t.Fatalf("only won events are enriched: %+v", other)
	}
	// A confirmed win with a card is worth posting too: Enrich gives it
	// the product and the drop's name; one without a card gets neither.
	paid := engine.Event{Type: engine.EventConfirmed, ShareCode: "drop.abcdef0123456789abcd"}
	paid.Enrich(d)
	bare := engine.Event{Type: engine.EventConfirmed}
	bare.Enrich(d)
	if paid.DropName != d.Name || paid.Product != "Sneaker" || bare.DropName != "" || bare.Product != "" {
		t.Fatalf("confirmed: with a card %+v, without %+v", paid, bare)
	}
	// How a win came, as the card says it: a draw drop's wins are the
	// draw's (its waitlist's too), else a promotion's or a press's; a
	// confirmed win with its won_at says it too, with the seconds.
	draw := validDrop()
	draw.Mode = engine.ModeDraw
	for _, c := range []struct {
		d    engine.Drop
		wl   bool
		want string
	}{{d, false, engine.WonByReserve}, {d, true, engine.WonByWaitlist}, {draw, false, engine.WonByDraw}, {draw, true, engine.WonByDraw}} {
		won := engine.Event{Type: engine.EventWon, Time: t0.Add(time.Second), FromWaitlist: c.wl}
		won.Enrich(c.d)
		conf := engine.Event{Type: engine.EventConfirmed, Time: t0.Add(time.Minute), ShareCode: "drop.abcdef0123456789abcd",
			WonAt: t0.Add(time.Second), FromWaitlist: c.wl}
		conf.Enrich(c.d)
		if won.WonBy != c.want || conf.WonBy != c.want || conf.SecondsAfterStart == nil || *conf.SecondsAfterStart != 1 {
			t.Errorf("mode %s, from the waitlist %v: won by %q, confirmed by %q after %v; want %q after 1 s",
				c.d.Mode, c.wl, won.WonBy, conf.WonBy, conf.SecondsAfterStart, c.want)
		}
	}
	// An older version's confirmed entry has no won_at: nothing to guess.
	old := engine.Event{Type: engine.EventConfirmed, ShareCode: "drop.abcdef0123456789abcd"}
	old.Enrich(d)
	if old.WonBy != "" || old.SecondsAfterStart != nil {
		t.Fatalf("confirmed without won_at: %+v", old)
	}
}
