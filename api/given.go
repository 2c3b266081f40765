package api

import (
	"fmt"
	"time"

	"github.com/flashdrop/flashdrop/engine"
)

// A drop's defaults are filled in by engine.Drop.Normalize, which reads a
// zero value as "not given": that is what a Go caller (a series making
// its week's drop) means by leaving a field out. A JSON body tells the two
// apart, and one that sends "hold_seconds":0, "mode":"" or a zero time
// means something else than the default it would quietly get (0 s holds,
// a sale that never ends). So a field the body gave is judged as given:
// its zero value is refused here, with the rule the engine applies to any
// other value, and only an absent field gets its default.

// dropTemplateGiven is what a drop body and a series body share: the
// fields whose zero value the engine turns into a default.
type dropTemplateGiven struct {
	Product         string
	PerUserLimit    int64
	HoldSeconds     int64
	ReminderSeconds int64
	DrawQuantity    int64
	Mode            engine.Mode
	ConfirmBy       engine.ConfirmBy
}

// givenZero refuses a field of t that given holds with its zero value.
func (t dropTemplateGiven) givenZero(given map[string]bool) error {
	switch {
	case given["product"] && t.Product == "":
		return givenInvalid("product", "must not be empty (leave it out to show the drop's name)")
	case given["per_user_limit"] && t.PerUserLimit == 0:
		return givenInvalid("per_user_limit", "must be between 1 and %d (leave it out for 1)", engine.MaxPerUserLimit)
	case given["hold_seconds"] && t.HoldSeconds == 0:
		return givenInvalid("hold_seconds", "must be between 1 and %d (leave it out for %d)", engine.MaxHoldSeconds, engine.DefaultHoldSeconds)
	case given["reminder_seconds"] && t.ReminderSeconds == 0:
		// Reminders cannot be turned off: every registrant gets one
		// (README, Invitations and reminders), so 0 is no "off" switch.
		return givenInvalid("reminder_seconds", "must be between 1 and %d (leave it out for %d; reminders cannot be turned off)",
			engine.MaxReminderSeconds, engine.DefaultReminderSeconds)
	case given["draw_quantity"] && t.DrawQuantity == 0:
		if t.Mode == engine.ModeDraw {
			return givenInvalid("draw_quantity", "must be between 1 and per_user_limit (leave it out for 1)")
		}
		return givenInvalid("draw_quantity", "applies to mode %q only", engine.ModeDraw)
	case given["mode"] && t.Mode == "":
		return givenInvalid("mode", "must be %q or %q (leave it out for %q)", engine.ModeFCFS, engine.ModeDraw, engine.ModeFCFS)
	case given["confirm_by"] && t.ConfirmBy == "":
		return givenInvalid("confirm_by", "must be %q or %q (leave it out for %q)",
			engine.ConfirmByBackend, engine.ConfirmByShopper, engine.ConfirmByBackend)
	}
	return nil
}

// givenZero refuses a drop body field given with the zero value the
// engine reads as absent: the template's, and the times, where the zero
// time (0001-01-01T00:00:00Z) read as "not given" ("is required", or a
// sale without end).
func (b *createDropRequest) givenZero(given map[string]bool) error {
	t := dropTemplateGiven{Product: b.Product, PerUserLimit: b.PerUserLimit, HoldSeconds: b.HoldSeconds,
		ReminderSeconds: b.ReminderSeconds, DrawQuantity: b.DrawQuantity, Mode: b.Mode, ConfirmBy: b.ConfirmBy}
	if err := t.givenZero(given); err != nil {
		return err
	}
	for _, f := range []struct {
		name string
		at   time.Time
		hint string
	}{
		{"registration_opens_at", b.RegistrationOpensAt, ""},
		{"registration_closes_at", b.RegistrationClosesAt, ""},
		{"sale_starts_at", b.SaleStartsAt, ""},
		{"sale_ends_at", b.SaleEndsAt, " (leave it out for a sale without end)"},
	} {
		if given[f.name] && f.at.IsZero() {
			return givenInvalid(f.name, "must be a time in the year 2000 or later, not the zero time%s", f.hint)
		}
	}
	return nil
}

// givenZero refuses a series body field given with the zero value the
// engine reads as absent: the drop template's, and the two leads that
// have defaults (registration_closes_before_seconds has none: its 0 is
// "when the sale starts", the default and a value alike).
func (b *createSeriesRequest) givenZero(given map[string]bool) error {
	t := dropTemplateGiven{Product: b.Product, PerUserLimit: b.PerUserLimit, HoldSeconds: b.HoldSeconds,
		ReminderSeconds: b.ReminderSeconds, DrawQuantity: b.DrawQuantity, Mode: b.Mode, ConfirmBy: b.ConfirmBy}
	if err := t.givenZero(given); err != nil {
		return err
	}
	switch {
	case given["registration_opens_before_seconds"] && b.RegistrationOpensBeforeSeconds == 0:
		return givenInvalid("registration_opens_before_seconds", "must be more than registration_closes_before_seconds (leave it out for %d, 3 days)",
			engine.DefaultRegistrationOpensBefore)
	case given["sale_seconds"] && b.SaleSeconds == 0:
		return givenInvalid("sale_seconds", "must be between 60 and %d (leave it out for %d)", engine.MaxSeriesSaleSeconds, engine.DefaultSaleSeconds)
	}
	return nil
}

func givenInvalid(field, format string, args ...any) error {
	return &engine.ValidationError{Field: field, Reason: fmt.Sprintf(format, args...)}
}
