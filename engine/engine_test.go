package engine_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/flashdrop/flashdrop/engine"
)

// refusingStore fails the test if any call reaches it: bad input must be
// answered by the engine without touching storage.
type refusingStore struct {
	engine.Store
	t *testing.T
}

func (s refusingStore) fail() { s.t.Helper(); s.t.Fatalf("bad input reached the store") }

func (s refusingStore) CreateDrop(context.Context, engine.Drop) (bool, error) {
	s.fail()
	return false, nil
}
func (s refusingStore) Register(context.Context, string, string, string, time.Time) (engine.Registration, bool, error) {
	s.fail()
	return engine.Registration{}, false, nil
}
func (s refusingStore) ReserveBatch(context.Context, string, time.Time, []engine.ReserveRequest) ([]engine.ReserveResult, error) {
	s.fail()
	return nil, nil
}
func (s refusingStore) Confirm(context.Context, string, string, time.Time) (engine.Reservation, error) {
	s.fail()
	return engine.Reservation{}, nil
}
func (s refusingStore) Cancel(context.Context, string, string, time.Time) (engine.Reservation, error) {
	s.fail()
	return engine.Reservation{}, nil
}
func (s refusingStore) SetPaused(context.Context, string, bool, time.Time) (engine.Drop, error) {
	s.fail()
	return engine.Drop{}, nil
}

func TestBadInputNeverReachesStore(t *testing.T) {
	e := engine.New(refusingStore{t: t}, engine.Options{Clock: engine.NewManualClock(t0)})
	ctx := context.Background()
	long := strings.Repeat("x", 300)

	bad := validDrop()
	bad.Stock = 0
	if _, err := e.CreateDrop(ctx, bad); !errors.Is(err, engine.ErrInvalid) {
		t.Errorf("create: %v", err)
	}
	for _, c := range []struct{ drop, user, ref string }{
		{"bad id", "u", ""}, {"d", "", ""}, {"d", "ctl\n", ""}, {"d", long, ""}, {"d", "u", "bad ref"}, {"d", "u", long},
	} {
		_, _, err := e.Register(ctx, c.drop, c.user, c.ref)
		if !errors.Is(err, engine.ErrInvalid) && !errors.Is(err, engine.ErrNotFound) {
			t.Errorf("register %+v: %v", c, err)
		}
	}
	reqs := []engine.ReserveRequest{
		{User: "", Quantity: 1}, {User: "u", Quantity: 0}, {User: "u", Quantity: -1},
		{User: "u", Quantity: engine.MaxPerUserLimit + 1}, {User: "u", Quantity: 1, IdempotencyKey: "has space"},
		{User: "u", Quantity: 1, IdempotencyKey: long},
	}
	res, err := e.ReserveBatch(ctx, "d", reqs)
	if err != nil {
		t.Fatalf("batch: %v", err)
	}
	for i, r := range res {
		if !errors.Is(r.Err, engine.ErrInvalid) {
			t.Errorf("reserve %+v: got %v", reqs[i], r.Err)
		}
	}
	if _, err := e.ReserveBatch(ctx, "bad id", reqs[:1]); !errors.Is(err, engine.ErrNotFound) {
		t.Errorf("reserve on a malformed drop id: %v", err)
	}
	for _, id := range []string{"", "nodot", "bad id.x"} {
		if _, err := e.Confirm(ctx, id, "u"); !errors.Is(err, engine.ErrNotFound) {
			t.Errorf("confirm %q: %v", id, err)
		}
		if _, err := e.Cancel(ctx, id, ""); !errors.Is(err, engine.ErrNotFound) {
			t.Errorf("cancel %q: %v", id, err)
		}
	}
	if _, err := e.Confirm(ctx, "d.x", "ctl\x00"); !errors.Is(err, engine.ErrInvalid) {
		t.Errorf("confirm with bad actor: %v", err)
	}
	if _, err := e.Pause(ctx, "bad id"); !errors.Is(err, engine.ErrNotFound) {
		t.Errorf("pause: %v", err)
	}
}

func TestManualClock(t *testing.T) {
	c := engine.NewManualClock(t0)
	if got := c.Advance(time.Minute); !got.Equal(t0.Add(time.Minute)) || !c.Now().Equal(got) {
		t.Fatalf("advance: %v", got)
	}
}

// userEchoStore answers each reserve request it is given with a
// reservation of that request's shopper, and keeps the batches it saw.
type userEchoStore struct {
	engine.Store
	seen [][]string
}

func (s *userEchoStore) ReserveBatch(_ context.Context, drop string, _ time.Time, reqs []engine.ReserveRequest) ([]engine.ReserveResult, error) {
	users := make([]string, len(reqs))
	out := make([]engine.ReserveResult, len(reqs))
	for i, r := range reqs {
		users[i] = r.User
		out[i].Reservation = engine.Reservation{Drop: drop, User: r.User, Quantity: r.Quantity}
	}
	s.seen = append(s.seen, users)
	return out, nil
}

// TestReserveBatchMixesValidAndInvalid: a batch goes to the store without
// its invalid requests, and every request is answered in its own place:
// the valid ones with the store's answer for them, the invalid ones with
// ErrInvalid, wherever they stand in the batch (a batch of valid requests
// alone goes to the store as it is).
func TestReserveBatchMixesValidAndInvalid(t *testing.T) {
	ok := func(u string) engine.ReserveRequest { return engine.ReserveRequest{User: u, Quantity: 1} }
	bad := engine.ReserveRequest{User: "", Quantity: 1}
	for _, c := range []struct {
		name string
		reqs []engine.ReserveRequest
	}{
		{"all valid", []engine.ReserveRequest{ok("a"), ok("b"), ok("c")}},
		{"invalid first", []engine.ReserveRequest{bad, ok("a"), ok("b")}},
		{"invalid between", []engine.ReserveRequest{ok("a"), ok("b"), bad, ok("c"), bad, ok("d")}},
		{"invalid last", []engine.ReserveRequest{ok("a"), bad}},
		{"all invalid", []engine.ReserveRequest{bad, bad}},
	} {
		st := &userEchoStore{}
		e := engine.New(st, engine.Options{Clock: engine.NewManualClock(t0)})
		res, err := e.ReserveBatch(context.Background(), "d", c.reqs)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if len(res) != len(c.reqs) {
			t.Fatalf("%s: %d answers for %d requests", c.name, len(res), len(c.reqs))
		}
		var sent []string
		for i, r := range c.reqs {
			if r.User == "" {
				if !errors.Is(res[i].Err, engine.ErrInvalid) {
					t.Errorf("%s: request %d (invalid) answered %+v", c.name, i, res[i])
				}
				continue
			}
			sent = append(sent, r.User)
			if res[i].Err != nil || res[i].Reservation.User != r.User {
				t.Errorf("%s: request %d of %s answered %+v", c.name, i, r.User, res[i])
			}
		}
		switch {
		case len(sent) == 0 && len(st.seen) != 0:
			t.Errorf("%s: the store was called with %v", c.name, st.seen)
		case len(sent) > 0 && (len(st.seen) != 1 || strings.Join(st.seen[0], ",") != strings.Join(sent, ",")):
			t.Errorf("%s: the store saw %v, want one batch %v", c.name, st.seen, sent)
		}
	}
}
