package engine

import (
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Registration records that a shopper registered for a drop in its window.
type Registration struct {
	Drop         string    `json:"drop"`
	User         string    `json:"user"`
	RegisteredAt time.Time `json:"registered_at"`
}

// Status is a reservation's state. Only held reservations change; the
// other three are final.
type Status string

// Reservation statuses.
const (
	StatusHeld      Status = "held"
	StatusConfirmed Status = "confirmed"
	StatusCancelled Status = "cancelled"
	StatusExpired   Status = "expired"
)

// Reservation is a won hold on units of a drop, and what became of it.
type Reservation struct {
	ID        string    `json:"id"`
	Drop      string    `json:"drop"`
	User      string    `json:"user"`
	Quantity  int64     `json:"quantity"`
	Status    Status    `json:"status"`
	WonAt     time.Time `json:"won_at"`
	ExpiresAt time.Time `json:"expires_at"`
	// UpdatedAt is when the status last changed (equal to WonAt while held).
	UpdatedAt time.Time `json:"updated_at"`
	ShareCode string    `json:"share_code"`
	// FromWaitlist is true when the hold came from released units given to
	// the head of the waitlist rather than from a reserve request.
	FromWaitlist bool `json:"from_waitlist,omitempty"`
}

// Stats are a drop's counters. Units: Stock = Available + Owed + Held +
// Confirmed at every instant (I6; Owed is zero unless the sale is paused). Released counts units ever released by a cancel or
// an expiry, whether they went to the waitlist or back to stock.
type Stats struct {
	Stock        int64 `json:"stock"`
	Available    int64 `json:"available"`
	Held         int64 `json:"held"`
	Confirmed    int64 `json:"confirmed"`
	Released     int64 `json:"released"`
	Registered   int64 `json:"registered"`
	Waitlisted   int64 `json:"waitlisted"`
	Reservations int64 `json:"reservations"`
	Referrals    int64 `json:"referrals"`
	// Owed counts units released while the sale was paused with shoppers
	// on the waitlist: they are promoted down the waitlist on resume, and
	// are neither available nor held meanwhile, so then
	// Stock = Available + Owed + Held + Confirmed.
	Owed int64 `json:"owed"`
	// SoldOutVersion grows with every sold_out and restocked event; the
	// nodes' sold-out flags apply only news newer than what they hold.
	SoldOutVersion int64 `json:"-"`
}

// ShopperView is what one shopper sees of a drop: SPEC §4's `me`.
type ShopperView struct {
	Registered bool `json:"registered"`
	// Reservation is the shopper's most recent reservation, or nil.
	Reservation *Reservation `json:"reservation"`
	// WaitlistPosition is 1-based, or nil when not on the waitlist.
	WaitlistPosition *int64 `json:"waitlist_position"`
	// WaitlistEnded is true when the shopper was still waiting when the
	// sale ended: nothing more will come to her from this drop.
	WaitlistEnded bool `json:"waitlist_ended"`
	// Ticket is the shopper's ticket in a draw drop, as the draw's public
	// record lists it ("" for other drops).
	Ticket string `json:"ticket,omitempty"`
}

// Input limits for values that come from outside.
const (
	MaxUserLen           = 128
	MaxIdempotencyKeyLen = 255
	// MaxRefLen fits a share code: a drop id, '.', and its own part.
	MaxRefLen = MaxDropIDLen + 1 + MaxShareOwnLen
)

// ValidateUser checks a shopper id (a JWT subject): UTF-8 without control
// characters, 1 to MaxUserLen bytes. The store treats it as opaque bytes.
func ValidateUser(user string) error {
	if user == "" || len(user) > MaxUserLen {
		return invalid("user", "must be 1 to %d bytes", MaxUserLen)
	}
	if !utf8.ValidString(user) || strings.IndexFunc(user, unicode.IsControl) >= 0 {
		return invalid("user", "must be UTF-8 without control characters")
	}
	return nil
}

// ValidateIdempotencyKey checks an Idempotency-Key: 1 to 255 visible ASCII
// characters. An empty key means "none" and is checked by the caller.
func ValidateIdempotencyKey(key string) error {
	if key == "" || len(key) > MaxIdempotencyKeyLen {
		return invalid("idempotency_key", "must be 1 to %d characters", MaxIdempotencyKeyLen)
	}
	for i := 0; i < len(key); i++ {
		if key[i] < 0x21 || key[i] > 0x7e {
			return invalid("idempotency_key", "must be visible ASCII characters")
		}
	}
	return nil
}

// ValidateRef checks the form of a referral (share) code as it comes
// from outside: 1 to MaxRefLen characters of the drop-id charset and '.'.
// An empty ref means "none". A ref of that form that is no code the engine
// made, or names no win, is not an error: it credits nothing (Register).
func ValidateRef(ref string) error {
	if ref == "" {
		return nil
	}
	if len(ref) > MaxRefLen {
		return invalid("ref", "must be at most %d characters", MaxRefLen)
	}
	for i := 0; i < len(ref); i++ {
		if !isIDByte(ref[i]) && ref[i] != '.' {
			return invalid("ref", "may contain only A-Z, a-z, 0-9, '_', '-' and '.'")
		}
	}
	return nil
}

// ReservationIDSeparator splits a reservation id into its drop id and its
// own part. Reservation ids carry their drop so that a lookup by id alone
// reaches the drop's keys (and its cluster shard) without a global index.
const ReservationIDSeparator = "."

// SplitReservationID returns the drop id of a reservation id, or an error
// if the id is not one the engine could have made.
func SplitReservationID(id string) (drop string, err error) {
	i := strings.LastIndex(id, ReservationIDSeparator)
	if i < 0 {
		return "", invalid("reservation", "malformed id")
	}
	drop, own := id[:i], id[i+1:]
	if ValidateDropID(drop) != nil || own == "" || len(own) > 64 {
		return "", invalid("reservation", "malformed id")
	}
	for i := 0; i < len(own); i++ {
		if !isIDByte(own[i]) {
			return "", invalid("reservation", "malformed id")
		}
	}
	return drop, nil
}
