package engine

import (
	"net/url"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Mode is how a drop hands out its stock.
type Mode string

const (
	// ModeFCFS decides each reserve request atomically, first come first served.
	ModeFCFS Mode = "fcfs"
	// ModeDraw draws winners at random from the registrants at sale start.
	ModeDraw Mode = "draw"
)

// ConfirmBy says who may confirm a hold, that is, declare the unit sold.
type ConfirmBy string

const (
	// ConfirmByBackend, the default: only the shop backend (admin token),
	// after it has taken payment in its own checkout.
	ConfirmByBackend ConfirmBy = "backend"
	// ConfirmByShopper lets the hold's owner confirm it herself: for free
	// drops and the embedded demo.
	ConfirmByShopper ConfirmBy = "shopper"
)

// CheckoutPlaceholder is replaced by a reservation id in a drop's
// CheckoutURL template.
const CheckoutPlaceholder = "{reservation}"

// State is where a drop is in its lifecycle. It follows from the clock and
// the stock, never from a stored flag, so every node agrees on it.
type State string

// The lifecycle, in order: scheduled → registration_open →
// registration_closed → sale_open → sold_out | sale_closed.
const (
	StateScheduled          State = "scheduled"
	StateRegistrationOpen   State = "registration_open"
	StateRegistrationClosed State = "registration_closed"
	StateSaleOpen           State = "sale_open"
	StateSoldOut            State = "sold_out"
	StateSaleClosed         State = "sale_closed"
)

// Limits on drop configuration. They keep every number well inside what a
// Lua double represents exactly and what one Redis hash slot holds comfortably.
const (
	MaxDropIDLen       = 64
	MaxNameLen         = 200
	MaxStock           = 1_000_000_000
	MaxPerUserLimit    = 1000
	DefaultHoldSeconds = 600
	MaxHoldSeconds     = 7 * 24 * 3600
	// DefaultReminderSeconds is the reminder lead: 15 minutes.
	DefaultReminderSeconds = 15 * 60
	MaxReminderSeconds     = 7 * 24 * 3600
)

// Drop is one limited sale of one product.
type Drop struct {
	ID                   string    `json:"id"`
	Name                 string    `json:"name"`
	Product              string    `json:"product,omitempty"`
	Stock                int64     `json:"stock"`
	PerUserLimit         int64     `json:"per_user_limit"`
	RegistrationOpensAt  time.Time `json:"registration_opens_at"`
	RegistrationClosesAt time.Time `json:"registration_closes_at"`
	SaleStartsAt         time.Time `json:"sale_starts_at"`
	SaleEndsAt           time.Time `json:"sale_ends_at,omitzero"`
	HoldSeconds          int64     `json:"hold_seconds"`
	Mode                 Mode      `json:"mode"`
	// ConfirmBy says who confirms holds (default ConfirmByBackend).
	ConfirmBy ConfirmBy `json:"confirm_by"`
	// CheckoutURL, if set, is where the shop takes payment: a URL
	// template containing CheckoutPlaceholder.
	CheckoutURL string    `json:"checkout_url,omitempty"`
	Paused      bool      `json:"paused"`
	CreatedAt   time.Time `json:"created_at,omitzero"`
	// ReminderSeconds is how long before SaleStartsAt each registrant
	// gets a reminder event (default DefaultReminderSeconds).
	ReminderSeconds int64 `json:"reminder_seconds"`
	// DrawQuantity is the units each winner of a draw gets (mode draw
	// only; default 1, at most PerUserLimit).
	DrawQuantity int64 `json:"draw_quantity,omitempty"`
	// Series is the weekly series the drop belongs to, if any.
	Series string `json:"series,omitempty"`
	// Rehearsal marks a drop made to rehearse release day (flashdrop load
	// makes its drops so): it sells like any other, but the shop's index
	// does not list it, its page says it is a rehearsal, its wins have no
	// share card, and its events carry rehearsal: true and reach only the
	// webhooks that asked for rehearsals. A load run against production
	// otherwise shows shoppers a 24-hour sale of nothing and hands social
	// integrations a crowd of made-up winners to post.
	Rehearsal bool `json:"rehearsal,omitempty"`
	// SeedHash is the draw's commitment, hex sha256 of its secret seed,
	// public from the drop's creation on (mode draw only; draw.go).
	SeedHash string `json:"seed_hash,omitempty"`
	// Secrets carries a new draw drop's seed and ticket key from the
	// engine to the store, which keeps them apart from the drop. They are
	// never read back into a Drop and never serialized.
	Secrets *DrawSecrets `json:"-"`
}

// CheckoutURLFor is the drop's checkout link for one reservation, or ""
// when the drop has none.
func (d Drop) CheckoutURLFor(reservation string) string {
	if d.CheckoutURL == "" {
		return ""
	}
	return strings.ReplaceAll(d.CheckoutURL, CheckoutPlaceholder, url.PathEscape(reservation))
}

// MaxCheckoutURLLen bounds a drop's checkout URL template.
const MaxCheckoutURLLen = 1024

// Normalize fills in defaults and truncates times to the millisecond, the
// resolution the store keeps, so a drop read back equals the one written.
func (d Drop) Normalize() Drop {
	if d.PerUserLimit == 0 {
		d.PerUserLimit = 1
	}
	if d.HoldSeconds == 0 {
		d.HoldSeconds = DefaultHoldSeconds
	}
	if d.Mode == "" {
		d.Mode = ModeFCFS
	}
	if d.ConfirmBy == "" {
		d.ConfirmBy = ConfirmByBackend
	}
	if d.Product == "" {
		d.Product = d.Name
	}
	if d.ReminderSeconds == 0 {
		d.ReminderSeconds = DefaultReminderSeconds
	}
	if d.DrawQuantity == 0 && d.Mode == ModeDraw {
		d.DrawQuantity = 1
	}
	d.RegistrationOpensAt = truncMS(d.RegistrationOpensAt)
	d.RegistrationClosesAt = truncMS(d.RegistrationClosesAt)
	d.SaleStartsAt = truncMS(d.SaleStartsAt)
	d.SaleEndsAt = truncMS(d.SaleEndsAt)
	d.CreatedAt = truncMS(d.CreatedAt)
	return d
}

func truncMS(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return time.UnixMilli(t.UnixMilli()).UTC()
}

// Validate reports the first problem with a (normalized) drop.
func (d Drop) Validate() error {
	if err := ValidateDropID(d.ID); err != nil {
		return err
	}
	if err := validText("name", d.Name, MaxNameLen); err != nil {
		return err
	}
	if err := validText("product", d.Product, MaxNameLen); err != nil {
		return err
	}
	switch {
	case d.Stock < 1 || d.Stock > MaxStock:
		return invalid("stock", "must be between 1 and %d", MaxStock)
	case d.PerUserLimit < 1 || d.PerUserLimit > MaxPerUserLimit:
		return invalid("per_user_limit", "must be between 1 and %d", MaxPerUserLimit)
	case d.PerUserLimit > d.Stock:
		return invalid("per_user_limit", "must not exceed stock")
	case d.HoldSeconds < 1 || d.HoldSeconds > MaxHoldSeconds:
		return invalid("hold_seconds", "must be between 1 and %d", MaxHoldSeconds)
	case d.Mode != ModeFCFS && d.Mode != ModeDraw:
		return invalid("mode", "must be %q or %q", ModeFCFS, ModeDraw)
	case d.ConfirmBy != ConfirmByBackend && d.ConfirmBy != ConfirmByShopper:
		return invalid("confirm_by", "must be %q or %q", ConfirmByBackend, ConfirmByShopper)
	case d.RegistrationOpensAt.IsZero():
		return invalid("registration_opens_at", "is required")
	case d.RegistrationClosesAt.IsZero():
		return invalid("registration_closes_at", "is required")
	case d.SaleStartsAt.IsZero():
		return invalid("sale_starts_at", "is required")
	case !d.RegistrationOpensAt.Before(d.RegistrationClosesAt):
		return invalid("registration_closes_at", "must be after registration_opens_at")
	case d.SaleStartsAt.Before(d.RegistrationClosesAt):
		return invalid("sale_starts_at", "must not be before registration_closes_at")
	case !d.SaleEndsAt.IsZero() && !d.SaleStartsAt.Before(d.SaleEndsAt):
		return invalid("sale_ends_at", "must be after sale_starts_at")
	}
	if err := validCheckoutURL(d.CheckoutURL); err != nil {
		return err
	}
	if err := d.validateWeek(); err != nil {
		return err
	}
	// Times far outside this range are typos, and the store keeps them as
	// Unix milliseconds that must stay exact in a Lua double.
	// The times are ordered by now, so checking the first and last is enough.
	last, lastField := d.SaleStartsAt, "sale_starts_at"
	if !d.SaleEndsAt.IsZero() {
		last, lastField = d.SaleEndsAt, "sale_ends_at"
	}
	if d.RegistrationOpensAt.Year() < 2000 {
		return invalid("registration_opens_at", "must be in the year 2000 or later")
	}
	if last.Year() > 9999 {
		return invalid(lastField, "must be before the year 10000")
	}
	return nil
}

// SettleAfter is how long after the deadline of a drop's last possible
// hold (its sale's end plus its hold time) the drop is settled: the
// scheduler's last announcement is past its grace (SchedulerOptions.Grace
// by default), every hold has expired or been settled, and nothing about
// the drop changes by itself any more.
const SettleAfter = 24 * time.Hour

// Settled says whether d is settled at now (SettleAfter). A node's relay
// reads a settled drop's outbox, which only an admin's act can add to,
// rarely (queue.RelayOptions.SettledPoll).
func (d Drop) Settled(now time.Time) bool {
	return d.SaleEnded(now.Add(-(time.Duration(d.HoldSeconds)*time.Second + SweepSkew + SettleAfter)))
}

// SaleEnded says whether d's sale has an end and it has come at now.
func (d Drop) SaleEnded(now time.Time) bool {
	return !d.SaleEndsAt.IsZero() && !now.Before(d.SaleEndsAt)
}

// State is the drop's lifecycle state at now. available is the current
// number of units in stock; it only matters once the sale is open.
func (d Drop) State(now time.Time, available int64) State {
	switch {
	case now.Before(d.RegistrationOpensAt):
		return StateScheduled
	case now.Before(d.RegistrationClosesAt):
		return StateRegistrationOpen
	case now.Before(d.SaleStartsAt):
		return StateRegistrationClosed
	case d.SaleEnded(now):
		return StateSaleClosed
	case available <= 0:
		return StateSoldOut
	default:
		return StateSaleOpen
	}
}

func validCheckoutURL(tmpl string) error {
	if tmpl == "" {
		return nil
	}
	if len(tmpl) > MaxCheckoutURLLen {
		return invalid("checkout_url", "must be at most %d characters", MaxCheckoutURLLen)
	}
	if !strings.Contains(tmpl, CheckoutPlaceholder) {
		return invalid("checkout_url", "must contain %s, where the reservation id goes", CheckoutPlaceholder)
	}
	u, err := url.Parse(strings.ReplaceAll(tmpl, CheckoutPlaceholder, "x"))
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil {
		return invalid("checkout_url", "must be an absolute http or https URL without credentials")
	}
	return nil
}

// ValidateDropID checks the id charset and length of SPEC §2.
func ValidateDropID(id string) error {
	if id == "" || len(id) > MaxDropIDLen {
		return invalid("id", "must be 1 to %d characters", MaxDropIDLen)
	}
	for i := 0; i < len(id); i++ {
		if !isIDByte(id[i]) {
			return invalid("id", "may contain only A-Z, a-z, 0-9, '_' and '-'")
		}
	}
	return nil
}

func isIDByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}

// validText accepts non-empty UTF-8 without control characters.
func validText(field, s string, max int) error {
	if strings.TrimSpace(s) == "" {
		return invalid(field, "is required")
	}
	if len(s) > max {
		return invalid(field, "must be at most %d bytes", max)
	}
	if !utf8.ValidString(s) {
		return invalid(field, "must be UTF-8")
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return invalid(field, "must not contain control characters")
		}
	}
	return nil
}

// validateWeek checks the fields the week's features added: the
// reminder lead, the draw quantity and the series id.
func (d Drop) validateWeek() error {
	switch {
	case d.ReminderSeconds < 1 || d.ReminderSeconds > MaxReminderSeconds:
		return invalid("reminder_seconds", "must be between 1 and %d", MaxReminderSeconds)
	case d.Mode != ModeDraw && d.DrawQuantity != 0:
		return invalid("draw_quantity", "applies to mode %q only", ModeDraw)
	case d.Mode == ModeDraw && (d.DrawQuantity < 1 || d.DrawQuantity > d.PerUserLimit):
		return invalid("draw_quantity", "must be between 1 and per_user_limit")
	}
	if d.Series != "" {
		if err := ValidateDropID(d.Series); err != nil {
			return invalid("series", "must be a series id")
		}
	}
	return nil
}
