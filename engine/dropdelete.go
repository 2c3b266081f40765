package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// ErrDropInUse means a drop cannot be deleted: shoppers took part in it,
// its events are not all published yet, or its series would make it
// again. The concrete error is a *DetailError saying which.
var ErrDropInUse = errors.New("engine: drop in use")

// ErrDropDeleted means a drop under this id was deleted a moment ago and
// the id cannot be made again yet (every node must first see the old drop
// go); the API answers it as drop_exists, with a detail saying when.
var ErrDropDeleted = errors.New("engine: a drop with this id was deleted a moment ago")

// DropDeleter is a Store that deletes a drop nobody took part in.
type DropDeleter interface {
	// DeleteDrop deletes drop and every key of it in one atomic step
	// when nobody registered, reserved or waits for it, or it is a
	// rehearsal, and its outbox is empty, else answers DropInUse.
	// ErrNotFound if it does not exist.
	DeleteDrop(ctx context.Context, drop string) error
}

// DropUse is what keeps a drop from being deleted.
type DropUse struct {
	Registrants, Reservations, Waitlisted, Unpublished int64
}

// DropInUse is ErrDropInUse for drop with a sentence saying what uses it
// and what an operator can do instead.
func DropInUse(drop string, u DropUse) error {
	var what []string
	add := func(n int64, one, many string) {
		switch {
		case n == 1:
			what = append(what, "1 "+one)
		case n > 1:
			what = append(what, fmt.Sprintf("%d %s", n, many))
		}
	}
	add(u.Registrants, "shopper registered", "shoppers registered")
	add(u.Reservations, "reservation", "reservations")
	add(u.Waitlisted, "shopper waiting", "shoppers waiting")
	if len(what) > 0 {
		return &DetailError{Err: ErrDropInUse, Detail: fmt.Sprintf("drop %q has %s: only a drop nobody has taken part in can be deleted; pause its sale instead (POST /v1/admin/drops/%s/pause)",
			drop, strings.Join(what, ", "), drop)}
	}
	return &DetailError{Err: ErrDropInUse, Detail: fmt.Sprintf("drop %q has %d events not yet published; try again in a few seconds", drop, u.Unpublished)}
}

// DeleteDrop deletes a drop nobody has taken part in: no registration, no
// reservation, nobody waiting. A drop made with a mistake (a wrong stock
// or time) is then made again under the same id. A rehearsal is deleted
// whoever took part (its shoppers are a load test's), with everything of
// it: one per flashdrop load run would otherwise stay in Redis and on the
// ops page for good. A drop its weekly series
// made is refused while the series exists, which would make it again.
func (e *Engine) DeleteDrop(ctx context.Context, id string) error {
	if err := ValidateDropID(id); err != nil {
		return fmt.Errorf("%w: drop %q", ErrNotFound, id)
	}
	del, ok := e.store.(DropDeleter)
	if !ok {
		return errors.New("engine: this store cannot delete drops")
	}
	d, err := e.store.Drop(ctx, id)
	if errors.Is(err, ErrNotFound) {
		// Deleted a moment ago, perhaps by a call whose last step
		// failed: the store finishes it (or answers not found).
		return wrap("delete", id, del.DeleteDrop(ctx, id))
	}
	if err != nil {
		return wrap("delete", id, err)
	}
	if d.Series != "" {
		if ws, ok := e.store.(WeekStore); ok {
			if _, err := ws.Series(ctx, d.Series); err == nil {
				return &DetailError{Err: ErrDropInUse, Detail: fmt.Sprintf("drop %q belongs to the weekly series %q, which would make it again: delete the series first (DELETE /v1/admin/series/%s)", id, d.Series, d.Series)}
			} else if !errors.Is(err, ErrNotFound) {
				return wrap("delete", id, err)
			}
		}
	}
	return wrap("delete", id, del.DeleteDrop(ctx, id))
}
