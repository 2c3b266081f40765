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
	// ExpiriesOverdue is how many whole seconds past its deadline the
	// earliest hold not yet expired is (0: none is past). The sweepers of
	// the worker nodes (--role all) expire holds within about a second;
	// more means none runs, and the units wait in held while shoppers
	// wait for them (an API node alone sells but expires nothing).
	ExpiriesOverdue int64 `json:"expiries_overdue_seconds"`
	// NextExpiry is the store's: the earliest deadline of a hold not yet
	// expired (zero: none). Engine.Stats turns it into ExpiriesOverdue
	// and clears it.
	NextExpiry time.Time `json:"-"`
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
	// Units is how many units she holds or has confirmed in this drop,
	// over all her reservations: what counts against PerUserLimit. Her
	// latest reservation alone cannot say it (an older confirmed one
	// still counts after a newer one is cancelled), and a page offering
	// more than PerUserLimit-Units would only get limit_reached.
	Units int64 `json:"units"`
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

// ValidateUser checks a shopper id (a JWT subject): 1 to MaxUserLen bytes
// of UTF-8 without control, format (zero-width, bidi override), line or
// paragraph separator, private-use or surrogate characters, and without
// leading or trailing white space.
//
// Shopper ids are the shop's account ids, signed into the token by the
// shop: the engine compares them as exact bytes, case-sensitive and
// without Unicode normalisation, because folding "Alice" into "alice"
// would merge accounts that the shop keeps apart. A shopper cannot pick
// her id (it comes only from the signed token), so a variant is another
// user only when the shop really issued it to another account. The
// refused characters are the ones that make two different ids look the
// same, or reorder text, on the ops page and in the logs.
func ValidateUser(user string) error {
	if user == "" || len(user) > MaxUserLen {
		return invalid("user", "must be 1 to %d bytes", MaxUserLen)
	}
	if !safeID(user) {
		return invalid("user", "must be UTF-8 without control, format or separator characters")
	}
	if strings.TrimSpace(user) != user {
		return invalid("user", "must not start or end with white space")
	}
	return nil
}

// safeID reports whether id is valid UTF-8 without a rune unsafeInID
// refuses. Every request is checked (a reserve decision, a registration,
// a token's subject), and ids are nearly always ASCII: an ASCII byte is
// unsafe exactly when it is a control character (Cf, Co, Cs, Zl and Zp
// have no ASCII members), which a comparison answers. unicode.In's six
// tables per rune were 3 % of serve's CPU in the bench's all-wins run.
func safeID(id string) bool {
	for i := 0; i < len(id); i++ {
		if c := id[i]; c >= utf8.RuneSelf {
			// Not ASCII from here on: the full check of the rest.
			rest := id[i:]
			return utf8.ValidString(rest) && strings.IndexFunc(rest, unsafeInID) < 0
		} else if c < 0x20 || c == 0x7f {
			return false
		}
	}
	return true
}

// unsafeInID reports the runes ValidateUser refuses.
func unsafeInID(r rune) bool {
	return unicode.In(r, unicode.Cc, unicode.Cf, unicode.Co, unicode.Cs, unicode.Zl, unicode.Zp) ||
		r == utf8.RuneError // only U+FFFD itself reaches here: invalid UTF-8 is refused before
}

// ValidateIdempotencyKey checks an Idempotency-Key: 1 to 255 visible ASCII
// characters. An empty key means "none" and is checked by the caller.
func ValidateIdempotencyKey(key string) error {
	if key == "" || len(key) > MaxIdempotencyKeyLen {
		return invalid("idempotency_key", "must be 1 to %d characters", MaxIdempotencyKeyLen)
	}
	if !visibleASCII(key) {
		return invalid("idempotency_key", "must be visible ASCII characters")
	}
	return nil
}

// visibleASCII reports whether s is all visible ASCII (0x21-0x7e): no
// space, control or non-ASCII byte. An idempotency key and an event id
// a dismissal names are checked so.
func visibleASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
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
