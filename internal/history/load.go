package history

import (
	"encoding/json"
	"strings"
	"time"

	"github.com/flashdrop/flashdrop/loadtest"
)

// FromLoad turns the exchanges a load run traced (loadtest.WithTrace) on
// drop into operations: registrations, reserves (replays included),
// confirms, cancels and reservation reads; and, for every reservation a
// read found expired, an Expire from its deadline to that read (the
// sweeper's work, which no client sees happen). Other exchanges (views,
// stats) are left out. Client numbers are given per shopper.
func FromLoad(drop string, exchanges []loadtest.Exchange) []Op {
	clients := map[string]int{}
	client := func(u string) int {
		if n, ok := clients[u]; ok {
			return n
		}
		clients[u] = len(clients)
		return clients[u]
	}
	// Who owns each reservation, from the answers that show it (wins, and
	// the shopper's view, where waitlist promotions appear): the shop's
	// confirms carry no shopper, and the model must not guess among every
	// reservation it only knows by its place.
	owner := map[string]string{}
	for _, e := range exchanges {
		if e.User == "" || e.Status < 200 || e.Status >= 300 {
			continue
		}
		var b struct {
			Reservation *struct {
				ID string `json:"id"`
			} `json:"reservation"`
			Me *struct {
				Reservation *struct {
					ID string `json:"id"`
				} `json:"reservation"`
			} `json:"me"`
		}
		if json.Unmarshal(e.Response, &b) != nil {
			continue
		}
		if b.Reservation != nil && b.Reservation.ID != "" {
			owner[b.Reservation.ID] = e.User
		}
		if b.Me != nil && b.Me.Reservation != nil && b.Me.Reservation.ID != "" {
			owner[b.Me.Reservation.ID] = e.User
		}
	}
	var ops []Op
	for _, e := range exchanges {
		op := Op{Drop: drop, Client: client(e.User), Call: e.Sent, Return: e.Done}
		out, known := outputOf(e)
		if !known {
			op.Out, op.Return = Output{Unknown: true}, time.Time{}
		} else {
			op.Out = out
		}
		switch e.Endpoint {
		case loadtest.EndpointRegister:
			op.In = Input{Kind: Register, User: e.User}
		case loadtest.EndpointReserve, loadtest.EndpointReplay:
			var b struct {
				Quantity int64 `json:"quantity"`
				Waitlist bool  `json:"waitlist"`
			}
			_ = json.Unmarshal(e.Body, &b)
			op.In = Input{Kind: Reserve, User: e.User, Key: e.Key, Quantity: b.Quantity, Waitlist: b.Waitlist}
		case loadtest.EndpointConfirm, loadtest.EndpointCancel:
			kind := Confirm
			if e.Endpoint == loadtest.EndpointCancel {
				kind = Cancel
			}
			op.In = Input{Kind: kind, ID: pathID(e.Path), User: owner[pathID(e.Path)]}
			if !e.Admin {
				op.In.Actor = e.User
			}
		case loadtest.EndpointReservation:
			op.In = Input{Kind: Read, ID: pathID(e.Path), User: owner[pathID(e.Path)]}
			if known && op.Out.Status == "expired" {
				var b struct {
					Reservation struct {
						ExpiresAt time.Time `json:"expires_at"`
					} `json:"reservation"`
				}
				if json.Unmarshal(e.Response, &b) == nil && !b.Reservation.ExpiresAt.IsZero() {
					at := b.Reservation.ExpiresAt
					if at.After(e.Sent) {
						at = e.Sent // the server's clock a little ahead of ours
					}
					ops = append(ops, Op{Drop: drop, Client: client("sweeper"), In: Input{Kind: Expire, ID: op.In.ID, User: op.In.User},
						Out: Output{Code: "ok"}, Call: at, Return: e.Sent})
				}
			}
		default:
			continue
		}
		ops = append(ops, op)
	}
	return ops
}

// WithExpiredEvents narrows the Expire operations FromLoad made (each
// from a hold's deadline to the read that found it expired, often at the
// end of the run) to when the expiry really happened, from the drop's
// `expired` events: it took effect after the node read the clock it
// stamped the event with (the event's time) and before JetStream stored
// the event (its Stored time). A wide window lets an expiry fall anywhere
// among thousands of reserves, and the checker's search grows with every
// such choice; the narrow one is as sound and leaves it nearly none. An
// operation without a usable event keeps its window.
func WithExpiredEvents(ops []Op, events []loadtest.EventRecord) []Op {
	type window struct{ from, to time.Time }
	at := map[string]window{}
	for _, ev := range events {
		if ev.Type != "expired" || ev.Reservation == "" || ev.Stored.IsZero() || ev.Time.After(ev.Stored) {
			continue
		}
		at[ev.Reservation] = window{ev.Time, ev.Stored}
	}
	out := append([]Op(nil), ops...)
	for i, op := range out {
		w, ok := at[op.In.ID]
		if op.In.Kind != Expire || !ok {
			continue
		}
		call, ret := op.Call, op.Return
		if w.from.After(call) {
			call = w.from
		}
		if w.to.Before(ret) {
			ret = w.to
		}
		if !ret.Before(call) {
			out[i].Call, out[i].Return = call, ret
		}
	}
	return out
}

// pathID is the reservation id of /v1/reservations/{id}[/action].
func pathID(path string) string {
	rest := strings.TrimPrefix(path, "/v1/reservations/")
	id, _, _ := strings.Cut(rest, "/")
	return id
}

// outputOf reads an answer; false when there was none that tells what
// happened (no answer, 5xx, 429: the request may or may not have run).
func outputOf(e loadtest.Exchange) (Output, bool) {
	if e.Err != nil || e.Status == 0 || e.Status >= 500 || e.Status == 429 {
		return Output{}, false
	}
	var b struct {
		Code             string `json:"code"`
		WaitlistPosition int64  `json:"waitlist_position"`
		Reservation      struct {
			ID     string `json:"id"`
			Status string `json:"status"`
		} `json:"reservation"`
		ID     string `json:"id"`
		Status string `json:"status"`
	}
	_ = json.Unmarshal(e.Response, &b)
	switch {
	case e.Status == 201 && (e.Endpoint == loadtest.EndpointReserve || e.Endpoint == loadtest.EndpointReplay):
		return Output{Code: "won", ID: b.Reservation.ID}, true
	case e.Status >= 200 && e.Status < 300:
		st := b.Reservation.Status
		if st == "" {
			st = b.Status
		}
		return Output{Code: "ok", Status: st}, true
	case e.Status == 404 && e.Endpoint == loadtest.EndpointReservation:
		return Output{Code: "not_found"}, true
	case b.Code != "":
		return Output{Code: b.Code, Position: b.WaitlistPosition}, true
	}
	return Output{Code: e.Code}, true
}
