package engine

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Sentinel errors for the closed set of outcomes a caller must tell apart.
// The api package maps each to an HTTP status and a problem code in one
// table; anything else is an internal error.
var (
	// ErrInvalid is the class of all input validation failures; the
	// concrete error is a *ValidationError naming the field.
	ErrInvalid = errors.New("engine: invalid input")
	// ErrNotFound means the drop or reservation does not exist.
	ErrNotFound = errors.New("engine: not found")
	// ErrDropExists means a drop with that id was already created.
	ErrDropExists = errors.New("engine: drop already exists")
	// ErrWebhookExists means a webhook with that id exists (ids are
	// random: a collision is a bug, never the caller's mistake).
	ErrWebhookExists = errors.New("engine: webhook already exists")
	// ErrForbidden means the actor may not see or change the object.
	ErrForbidden = errors.New("engine: forbidden")

	// ErrRegistrationNotOpen means registration has not opened yet.
	ErrRegistrationNotOpen = errors.New("engine: registration not open yet")
	// ErrRegistrationClosed means the registration window has passed.
	ErrRegistrationClosed = errors.New("engine: registration closed")

	// ErrNotRegistered means the shopper did not register in the window.
	ErrNotRegistered = errors.New("engine: not registered")
	// ErrSaleNotOpen means the sale has not started (or, in draw mode,
	// the draw has not happened yet).
	ErrSaleNotOpen = errors.New("engine: sale not open")
	// ErrSaleClosed means the sale has ended.
	ErrSaleClosed = errors.New("engine: sale closed")
	// ErrSalePaused means an operator paused the sale.
	ErrSalePaused = errors.New("engine: sale paused")
	// ErrSoldOut means not enough units are available; the concrete
	// error is a *SoldOutError when the shopper joined the waitlist.
	ErrSoldOut = errors.New("engine: sold out")
	// ErrLimitReached means the request would take the shopper past the
	// drop's per-user limit.
	ErrLimitReached = errors.New("engine: per-user limit reached")
	// ErrIdempotencyMismatch means the idempotency key was already used by
	// this shopper for a different request.
	ErrIdempotencyMismatch = errors.New("engine: idempotency key reused with a different request")
	// ErrInProgress means a request with the same idempotency key is
	// running now; its answer is not known yet.
	ErrInProgress = errors.New("engine: a request with this idempotency key is in progress")

	// ErrExpired means the reservation's hold ran out.
	ErrExpired = errors.New("engine: reservation expired")
	// ErrCancelled means the reservation was cancelled.
	ErrCancelled = errors.New("engine: reservation cancelled")
	// ErrConfirmed means the reservation is already a sale and cannot be
	// cancelled (a confirmed unit never returns, I7).
	ErrConfirmed = errors.New("engine: reservation already confirmed")

	// ErrRotationPending means an API key's previous secret is still in
	// the grace its rotation promised: a key keeps one previous secret, so
	// rotating again with a grace would end that promise early.
	ErrRotationPending = errors.New("engine: the key's previous secret is still in its grace")
)

// ErrShopConfirms means a shopper tried to confirm her own hold on a drop
// whose shop backend confirms reservations, after taking payment
// (confirm_by "backend", the default).
var ErrShopConfirms = &DetailError{Err: ErrForbidden,
	Detail: "the shop confirms reservations of this drop after payment: finish checkout with the shop"}

// DetailError is an outcome with a sentence for the person who met it.
// errors.Is matches both the error itself and Err.
type DetailError struct {
	Err    error
	Detail string
}

func (e *DetailError) Error() string { return e.Err.Error() + ": " + e.Detail }
func (e *DetailError) Unwrap() error { return e.Err }

// RotationPendingError is ErrRotationPending from a store, with the end of
// the grace that refused the rotation.
type RotationPendingError struct{ Until time.Time }

func (e *RotationPendingError) Error() string {
	return ErrRotationPending.Error() + " until " + e.Until.UTC().Format(time.RFC3339)
}
func (e *RotationPendingError) Unwrap() error { return ErrRotationPending }

// DropConflictError is ErrDropExists for a create whose configuration
// differs from the stored drop's; Fields names what differs (API names).
type DropConflictError struct {
	ID     string
	Fields []string
}

func (e *DropConflictError) Error() string {
	return fmt.Sprintf("engine: drop %q exists with a different %s", e.ID, strings.Join(e.Fields, ", "))
}

// Is makes errors.Is(err, ErrDropExists) true.
func (e *DropConflictError) Is(target error) bool { return target == ErrDropExists }

// ValidationError says which input field is wrong and why.
type ValidationError struct {
	Field  string
	Reason string
}

func (e *ValidationError) Error() string {
	return fmt.Sprintf("engine: invalid %s: %s", e.Field, e.Reason)
}

// Is makes errors.Is(err, ErrInvalid) true for every ValidationError.
func (e *ValidationError) Is(target error) bool { return target == ErrInvalid }

func invalid(field, format string, args ...any) error {
	return &ValidationError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// SoldOutError is ErrSoldOut with what the shopper may act on: her
// 1-based waitlist position when she is on the waitlist, and the units
// left when she asked for more than that (a reserve is all or nothing, and
// "sold out" alone would hide the units a smaller request could win).
type SoldOutError struct {
	WaitlistPosition int64
	// Available is the units left when the request was decided, when it
	// asked for more (0 otherwise, and on a repeat's stored answer).
	Available int64
}

func (e *SoldOutError) Error() string {
	if e.Available > 0 {
		return fmt.Sprintf("engine: sold out (only %d left; waitlist position %d)", e.Available, e.WaitlistPosition)
	}
	return fmt.Sprintf("engine: sold out (waitlist position %d)", e.WaitlistPosition)
}

// Is makes errors.Is(err, ErrSoldOut) true.
func (e *SoldOutError) Is(target error) bool { return target == ErrSoldOut }
