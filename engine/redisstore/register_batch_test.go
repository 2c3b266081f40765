package redisstore_test

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flashdrop/flashdrop/engine"
	"github.com/flashdrop/flashdrop/engine/redisstore/redistest"
)

// TestRegisterBatchRules: one batched call keeps every rule of a single
// registration, per request and in order: the window (refusing only the
// shoppers not yet registered), a repeat (in the same batch or a later
// one) returns the first registration and credits nothing, a referral is
// credited once per new registrant, and a missing drop answers not found.
func TestRegisterBatchRules(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f *fixture) {
		d := f.newDrop(t, 5, 1)
		rb := func(reqs ...engine.RegisterRequest) []engine.RegisterResult {
			t.Helper()
			res, err := f.store.RegisterBatch(ctx(t), d.ID, f.clock.Now(), reqs)
			if err != nil || len(res) != len(reqs) {
				t.Fatalf("register batch: %v (%d answers for %d)", err, len(res), len(reqs))
			}
			return res
		}
		f.clock.Set(d.RegistrationOpensAt.Add(-time.Millisecond))
		for _, r := range rb(engine.RegisterRequest{User: "early"}, engine.RegisterRequest{User: "early2", Ref: "codeA"}) {
			if !errors.Is(r.Err, engine.ErrRegistrationNotOpen) {
				t.Fatalf("before the window: %+v", r)
			}
		}
		f.clock.Set(d.RegistrationOpensAt)
		first := f.clock.Now()
		res := rb(
			engine.RegisterRequest{User: "alice"},
			engine.RegisterRequest{User: "bob", Ref: "codeA"},
			engine.RegisterRequest{User: "alice", Ref: "codeB"}, // the same shopper twice in one batch
			engine.RegisterRequest{User: "carol", Ref: "codeA"},
		)
		wantCreated := []bool{true, true, false, true}
		for i, r := range res {
			if r.Err != nil || r.Created != wantCreated[i] || !r.Registration.RegisteredAt.Equal(first) ||
				r.Registration.User == "" || r.Registration.Drop != d.ID {
				t.Fatalf("answer %d: %+v", i, r)
			}
		}
		f.clock.Advance(time.Minute)
		res = rb(engine.RegisterRequest{User: "bob", Ref: "codeB"}, engine.RegisterRequest{User: "dave"})
		if res[0].Err != nil || res[0].Created || !res[0].Registration.RegisteredAt.Equal(first) {
			t.Fatalf("a repeat in a later batch: %+v", res[0])
		}
		if res[1].Err != nil || !res[1].Created || !res[1].Registration.RegisteredAt.Equal(f.clock.Now()) {
			t.Fatalf("a new registrant in a later batch: %+v", res[1])
		}
		f.clock.Set(d.RegistrationClosesAt)
		res = rb(engine.RegisterRequest{User: "late"}, engine.RegisterRequest{User: "alice"})
		if !errors.Is(res[0].Err, engine.ErrRegistrationClosed) {
			t.Fatalf("after the window: %+v", res[0])
		}
		if res[1].Err != nil || res[1].Created || !res[1].Registration.RegisteredAt.Equal(first) {
			t.Fatalf("a registered shopper after close: %+v", res[1])
		}
		st := f.stats(t, d.ID)
		if st.Registered != 4 || st.Referrals != 2 {
			t.Fatalf("stats: %+v", st)
		}
		evs := f.events(t, d.ID)
		if countEvents(evs, engine.EventRegistered) != 4 || countEvents(evs, engine.EventReferral) != 2 {
			t.Fatalf("events: %+v", evs)
		}
		ids := map[string]bool{}
		for _, e := range evs {
			if ids[e.ID] {
				t.Fatalf("event id %s twice", e.ID)
			}
			ids[e.ID] = true
			if e.Type == engine.EventReferral && e.User != "" {
				t.Fatalf("a referral event names its registrant: %+v", e)
			}
		}
		// A winner asks again: in the older layouts her field holds her
		// sale state too ("at|units|id"); the answer is still her first
		// registration.
		f.clock.Set(d.SaleStartsAt)
		if won, err := f.eng.ReserveBatch(ctx(t), d.ID, []engine.ReserveRequest{{User: "alice", Quantity: 1}}); err != nil || won[0].Err != nil {
			t.Fatalf("alice's win: %+v %v", won, err)
		}
		res = rb(engine.RegisterRequest{User: "alice"})
		if res[0].Err != nil || res[0].Created || !res[0].Registration.RegisteredAt.Equal(first) {
			t.Fatalf("a winner's repeat: %+v", res[0])
		}
		res, err := f.store.RegisterBatch(ctx(t), uniqueID(t), f.clock.Now(), []engine.RegisterRequest{{User: "x"}})
		if err != nil || len(res) != 1 || !errors.Is(res[0].Err, engine.ErrNotFound) {
			t.Fatalf("missing drop: %+v %v", res, err)
		}
	})
}

// TestAdmissionRegistersInBatches: concurrent registrations through
// Admission take fewer script calls than requests, each shopper is
// created exactly once however often she asks, and a referral through a
// real share code is credited once per new registrant.
func TestAdmissionRegistersInBatches(t *testing.T) {
	t.Parallel()
	var scripts atomic.Int64
	f, _ := proxied(t, func(req []byte) redistest.Fault {
		if redistest.IsScript(req) {
			scripts.Add(1)
		}
		return redistest.Pass
	}, nil)
	first := f.newDrop(t, 5, 1)
	code := f.win(t, first, "alice", time.Second).ShareCode
	next := f.newDrop(t, 5, 1, func(d *engine.Drop) {
		d.RegistrationOpensAt, d.RegistrationClosesAt = t0.Add(time.Hour), t0.Add(2*time.Hour)
		d.SaleStartsAt = t0.Add(3 * time.Hour)
	})
	f.clock.Set(next.RegistrationOpensAt)
	// A short wait makes the batches form deterministically enough to
	// count; without it they form while the previous call is in Redis.
	adm := engine.NewAdmission(f.eng, engine.AdmissionOptions{Batch: engine.BatchOptions{MaxWait: 20 * time.Millisecond}})
	defer adm.Close()

	const shoppers, presses = 100, 3
	before := scripts.Load()
	var created atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, shoppers*presses)
	for i := range shoppers * presses {
		wg.Add(1)
		go func() {
			defer wg.Done()
			user := "u-" + itoa(i%shoppers)
			ref := ""
			if i%shoppers < 10 {
				ref = code // the first ten shoppers came through alice's card
			}
			reg, c, err := adm.Register(ctx(t), next.ID, user, ref)
			if err != nil || reg.User != user || !reg.RegisteredAt.Equal(next.RegistrationOpensAt) {
				errs <- errors.Join(err, errors.New("register "+user+": wrong answer"))
				return
			}
			if c {
				created.Add(1)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	calls := scripts.Load() - before
	if created.Load() != shoppers {
		t.Fatalf("%d registrations created, want %d", created.Load(), shoppers)
	}
	if calls >= shoppers*presses {
		t.Fatalf("%d script calls for %d registrations: nothing was batched", calls, shoppers*presses)
	}
	st := f.stats(t, next.ID)
	if st.Registered != shoppers || st.Referrals != 10 {
		t.Fatalf("stats: %+v", st)
	}
	evs := f.events(t, next.ID)
	if countEvents(evs, engine.EventRegistered) != shoppers || countEvents(evs, engine.EventReferral) != 10 {
		t.Fatalf("events: %d registered, %d referral", countEvents(evs, engine.EventRegistered), countEvents(evs, engine.EventReferral))
	}
	t.Logf("%d registrations in %d script calls", shoppers*presses, calls)
}

// TestRegisterBatchLostReplies: Redis runs a batched registration and the
// reply is lost; go-redis sends the same call again. The repeat answers
// what the first run answered ("created" included) and changes nothing;
// then through Admission with the first and every third script reply
// dropped, each
// shopper is still created exactly once, with one event each.
func TestRegisterBatchLostReplies(t *testing.T) {
	t.Parallel()
	var armed atomic.Bool
	var every3 atomic.Bool
	var n atomic.Int64
	f, p := proxied(t, func(req []byte) redistest.Fault {
		if !redistest.IsScript(req) {
			return redistest.Pass
		}
		if armed.CompareAndSwap(true, false) {
			return redistest.DropReply
		}
		if every3.Load() && n.Add(1)%3 == 0 {
			return redistest.DropReply
		}
		return redistest.Pass
	}, nil)
	d := f.newDrop(t, 5, 1)
	now := f.clock.Now()
	armed.Store(true)
	res, err := f.store.RegisterBatch(ctx(t), d.ID, now, []engine.RegisterRequest{
		{User: "alice"}, {User: "bob", Ref: "codeA"}, {User: "alice"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if !res[0].Created || !res[1].Created || res[2].Created || res[0].Err != nil || res[1].Err != nil || res[2].Err != nil {
		t.Fatalf("answers after a lost reply: %+v", res)
	}
	if p.Faults() != 1 {
		t.Fatalf("the proxy dropped %d replies, want 1", p.Faults())
	}
	if st := f.stats(t, d.ID); st.Registered != 2 || st.Referrals != 1 {
		t.Fatalf("stats after a lost reply: %+v", st)
	}

	// The rush's first script call loses its reply for sure (however few
	// batches the rush forms), and every third after it.
	every3.Store(true)
	armed.Store(true)
	adm := engine.NewAdmission(f.eng, engine.AdmissionOptions{})
	defer adm.Close()
	const shoppers = 120
	var wg sync.WaitGroup
	var created atomic.Int64
	errs := make(chan error, shoppers)
	for i := range shoppers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, c, err := adm.Register(ctx(t), d.ID, "r-"+itoa(i), "")
			if err != nil {
				errs <- err
				return
			}
			if c {
				created.Add(1)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("register through lost replies: %v", err)
	}
	if created.Load() != shoppers {
		t.Fatalf("%d created, want %d", created.Load(), shoppers)
	}
	if p.Faults() < 2 {
		t.Fatalf("only %d replies dropped: the rush did not meet a fault", p.Faults())
	}
	if st := f.stats(t, d.ID); st.Registered != shoppers+2 {
		t.Fatalf("stats: %+v", st)
	}
	if n := countEvents(f.events(t, d.ID), engine.EventRegistered); n != shoppers+2 {
		t.Fatalf("registered events: %d, want %d", n, shoppers+2)
	}
}
