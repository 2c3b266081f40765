package engine_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flashdrop/flashdrop/engine"
)

// laneStore knows one drop, "stub", whose reserve batches can be held in
// the store, and counts its calls.
type laneStore struct {
	engine.Store
	block   chan struct{} // ReserveBatch waits on it when set
	entered chan int      // ReserveBatch reports each batch size here
	calls   atomic.Int64
}

var stubDrop = engine.Drop{ID: "stub", Name: "Stub", Stock: 10, PerUserLimit: 1, HoldSeconds: 600,
	Mode: engine.ModeFCFS, RegistrationOpensAt: time.Unix(1e9, 0), RegistrationClosesAt: time.Unix(2e9, 0),
	SaleStartsAt: time.Unix(2e9, 0)}

func (s *laneStore) Drop(_ context.Context, id string) (engine.Drop, error) {
	s.calls.Add(1)
	if id == stubDrop.ID {
		return stubDrop, nil
	}
	return engine.Drop{}, engine.ErrNotFound
}

func (s *laneStore) Stats(context.Context, string) (engine.Stats, error) {
	s.calls.Add(1)
	return engine.Stats{Stock: 10, Available: 10}, nil
}

func (s *laneStore) ReserveBatch(_ context.Context, _ string, _ time.Time, reqs []engine.ReserveRequest) ([]engine.ReserveResult, error) {
	s.calls.Add(1)
	if s.entered != nil {
		s.entered <- len(reqs)
	}
	if s.block != nil {
		<-s.block
	}
	out := make([]engine.ReserveResult, len(reqs))
	for i := range out {
		out[i].Err = engine.ErrSaleNotOpen
	}
	return out, nil
}

func TestAdmissionFailsFastWhenQueueIsFull(t *testing.T) {
	st := &laneStore{block: make(chan struct{}), entered: make(chan int, 10)}
	a := engine.NewAdmission(engine.New(st, engine.Options{}),
		engine.AdmissionOptions{Batch: engine.BatchOptions{MaxSize: 2, QueueSize: 2, Workers: 1}})
	req := engine.ReserveRequest{User: "u", Quantity: 1}
	var wg sync.WaitGroup
	results := make(chan error, 5)
	send := func() {
		defer wg.Done()
		res, err := a.Reserve(context.Background(), "stub", req)
		if err == nil {
			err = res.Err
		}
		results <- err
	}
	wg.Add(1)
	go send()
	<-st.entered // the first batch (of one) is now blocked in the store
	// Two more fill the queue; the next is refused at once.
	wg.Add(2)
	go send()
	go send()
	wait(t, "two queued requests", func() bool { return a.Queued("stub") == 2 })
	start := time.Now()
	if _, err := a.Reserve(context.Background(), "stub", req); !errors.Is(err, engine.ErrOverloaded) {
		t.Fatalf("want ErrOverloaded with a full queue, got %v", err)
	}
	if took := time.Since(start); took > time.Second {
		t.Fatalf("refusal took %v, want it immediate", took)
	}
	close(st.block)
	wg.Wait()
	close(results)
	for err := range results {
		// The store's answer, with the time a countdown needs.
		var we *engine.WindowError
		if !errors.As(err, &we) || !errors.Is(err, engine.ErrSaleNotOpen) || !we.At.Equal(stubDrop.SaleStartsAt) {
			t.Fatalf("a queued request's answer: %v", err)
		}
	}
	if n := <-st.entered; n != 2 {
		t.Fatalf("the two queued requests should form one batch, got %d", n)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Reserve(context.Background(), "stub", req); !errors.Is(err, engine.ErrUnavailable) {
		t.Fatalf("after Close: %v", err)
	}
	_ = a.Close() // twice is fine
}

type soldOut bool

func (s soldOut) SoldOut(string) bool { return bool(s) }

// TestAdmissionSoldOutFromMemory: with the flag set, a plain reserve is
// answered without the store; keyed and waitlist requests still reach it.
func TestAdmissionSoldOutFromMemory(t *testing.T) {
	st := &laneStore{}
	var fromMemory atomic.Int64
	a := engine.NewAdmission(engine.New(st, engine.Options{}), engine.AdmissionOptions{
		SoldOut: soldOut(true), OnSoldOutFromMemory: func() { fromMemory.Add(1) }})
	defer a.Close()
	res, err := a.Reserve(context.Background(), "stub", engine.ReserveRequest{User: "u", Quantity: 1})
	if err != nil || !errors.Is(res.Err, engine.ErrSoldOut) || st.calls.Load() != 0 || fromMemory.Load() != 1 {
		t.Fatalf("from memory: %+v %v, %d store calls", res, err, st.calls.Load())
	}
	for _, req := range []engine.ReserveRequest{
		{User: "u", Quantity: 1, IdempotencyKey: "k"}, {User: "u", Quantity: 1, Waitlist: true},
	} {
		before := st.calls.Load()
		if _, err := a.Reserve(context.Background(), "stub", req); err != nil {
			t.Fatal(err)
		}
		if st.calls.Load() == before {
			t.Fatalf("%+v was answered from memory", req)
		}
	}
	if _, err := a.Reserve(context.Background(), "no such", engine.ReserveRequest{User: "u", Quantity: 1}); !errors.Is(err, engine.ErrNotFound) {
		t.Fatalf("a malformed drop id: %v", err)
	}
}

// sellOutStore answers every reserve sold_out, as a call that left the
// drop without stock, with the news of version.
type sellOutStore struct {
	laneStore
	version int64
}

func (s *sellOutStore) ReserveBatch(_ context.Context, _ string, _ time.Time, reqs []engine.ReserveRequest) ([]engine.ReserveResult, error) {
	s.calls.Add(1)
	out := make([]engine.ReserveResult, len(reqs))
	for i := range out {
		out[i] = engine.ReserveResult{Err: engine.ErrSoldOut, SoldOutVersion: s.version}
	}
	return out, nil
}

// learningFlag is a sold-out flag that records what it is taught.
type learningFlag struct {
	mu      sync.Mutex
	learned map[string]int64
}

func (f *learningFlag) SoldOut(drop string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.learned[drop] > 0
}

func (f *learningFlag) LearnSoldOut(drop string, version int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.learned[drop] = version
}

// TestAdmissionLearnsItsOwnSellOut: when a batch's results report that the
// call left the drop without stock, the node's flag learns it (with the
// news's version), and the next plain press is answered from memory; a
// batch that reports nothing teaches nothing.
func TestAdmissionLearnsItsOwnSellOut(t *testing.T) {
	for _, version := range []int64{0, 7} {
		st := &sellOutStore{version: version}
		flag := &learningFlag{learned: map[string]int64{}}
		a := engine.NewAdmission(engine.New(st, engine.Options{}), engine.AdmissionOptions{SoldOut: flag})
		req := engine.ReserveRequest{User: "u", Quantity: 1}
		if res, err := a.Reserve(context.Background(), "stub", req); err != nil || !errors.Is(res.Err, engine.ErrSoldOut) {
			t.Fatalf("first press: %+v %v", res, err)
		}
		if got := flag.learned["stub"]; got != version {
			t.Fatalf("version %d: the flag learned %d", version, got)
		}
		before := st.calls.Load()
		if _, err := a.Reserve(context.Background(), "stub", req); err != nil {
			t.Fatal(err)
		}
		if fromStore := st.calls.Load() > before; fromStore != (version == 0) {
			t.Fatalf("version %d: the second press went to the store: %v", version, fromStore)
		}
		a.Close()
	}
}

// decliningSellOutStore is sellOutStore whose cheap sold-out answer always
// declines, so keyed presses on a flagged drop go on to ReserveBatch.
type decliningSellOutStore struct{ sellOutStore }

func (s *decliningSellOutStore) AnswerSoldOut(context.Context, string, time.Time, []engine.ReserveRequest) ([]engine.ReserveResult, bool, error) {
	return nil, false, nil
}

// TestAdmissionLearnsFromAKeyedPress: a keyed press on a flagged drop whose
// cheap answer declined is decided by ReserveBatch, and the sell-out that
// call reports reaches the flag too.
func TestAdmissionLearnsFromAKeyedPress(t *testing.T) {
	st := &decliningSellOutStore{sellOutStore{version: 7}}
	flag := &learningFlag{learned: map[string]int64{"stub": 1}}
	a := engine.NewAdmission(engine.New(st, engine.Options{}), engine.AdmissionOptions{SoldOut: flag})
	defer a.Close()
	res, err := a.Reserve(context.Background(), "stub", engine.ReserveRequest{User: "u", Quantity: 1, IdempotencyKey: "k"})
	if err != nil || !errors.Is(res.Err, engine.ErrSoldOut) {
		t.Fatalf("keyed press: %+v %v", res, err)
	}
	if got := flag.learned["stub"]; got != 7 {
		t.Fatalf("the flag learned %d, want 7", got)
	}
}

// soldOutLaneStore is laneStore with the cheap sold-out answer, which
// agrees the drop is sold out while declines is false.
type soldOutLaneStore struct {
	laneStore
	declines     atomic.Bool
	soldOutCalls atomic.Int64
	batchCalls   atomic.Int64
}

func (s *soldOutLaneStore) ReserveBatch(ctx context.Context, drop string, now time.Time, reqs []engine.ReserveRequest) ([]engine.ReserveResult, error) {
	s.batchCalls.Add(1)
	return s.laneStore.ReserveBatch(ctx, drop, now, reqs)
}

func (s *soldOutLaneStore) AnswerSoldOut(_ context.Context, _ string, _ time.Time, reqs []engine.ReserveRequest) ([]engine.ReserveResult, bool, error) {
	s.soldOutCalls.Add(1)
	if s.declines.Load() {
		return nil, false, nil
	}
	out := make([]engine.ReserveResult, len(reqs))
	for i := range out {
		out[i].Err = engine.ErrSoldOut
	}
	return out, true, nil
}

// TestAdmissionKeyedPressAfterSellOut: with the flag set, a keyed press
// goes to the store's cheap sold-out answer, and to ReserveBatch when the
// store declines (it has stock after all); a waitlist press, or any press
// without the flag, goes to ReserveBatch.
func TestAdmissionKeyedPressAfterSellOut(t *testing.T) {
	for _, tc := range []struct {
		name           string
		flag, declines bool
		req            engine.ReserveRequest
		soldOut, batch int64
	}{
		{"keyed", true, false, engine.ReserveRequest{User: "u", Quantity: 1, IdempotencyKey: "k"}, 1, 0},
		{"keyed, store has stock", true, true, engine.ReserveRequest{User: "u", Quantity: 1, IdempotencyKey: "k"}, 1, 1},
		{"keyed waitlist", true, false, engine.ReserveRequest{User: "u", Quantity: 1, IdempotencyKey: "k", Waitlist: true}, 0, 1},
		{"keyed, no flag", false, false, engine.ReserveRequest{User: "u", Quantity: 1, IdempotencyKey: "k"}, 0, 1},
		{"invalid key", true, false, engine.ReserveRequest{User: "u", Quantity: 1, IdempotencyKey: "bad key\x00"}, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := &soldOutLaneStore{}
			st.declines.Store(tc.declines)
			var cheap atomic.Int64
			a := engine.NewAdmission(engine.New(st, engine.Options{}), engine.AdmissionOptions{SoldOut: soldOut(tc.flag),
				OnSoldOutKeyed: func(n int) { cheap.Add(int64(n)) }})
			defer a.Close()
			res, err := a.Reserve(context.Background(), "stub", tc.req)
			if err != nil {
				t.Fatal(err)
			}
			if tc.name == "invalid key" {
				var ve *engine.ValidationError
				if !errors.As(res.Err, &ve) {
					t.Fatalf("an invalid key: %+v, want a validation error", res)
				}
			}
			if want := tc.soldOut - tc.batch; cheap.Load() != max(want, 0) {
				t.Fatalf("%d presses counted as answered by the sold-out call, want %d", cheap.Load(), max(want, 0))
			}
			if st.soldOutCalls.Load() != tc.soldOut || st.batchCalls.Load() != tc.batch {
				t.Fatalf("%d sold-out calls, %d reserve batches; want %d, %d", st.soldOutCalls.Load(), st.batchCalls.Load(), tc.soldOut, tc.batch)
			}
		})
	}
}

// regLaneStore is laneStore that also registers in batches, reporting each
// batch's size.
type regLaneStore struct {
	laneStore
	regSizes  chan int
	viewSizes chan int
}

// ShopperViews answers every shopper as not registered, echoing her id
// nowhere: the test counts calls.
func (s *regLaneStore) ShopperViews(_ context.Context, _ string, users []string) ([]engine.ShopperView, error) {
	s.viewSizes <- len(users)
	return make([]engine.ShopperView, len(users)), nil
}

func (s *regLaneStore) RegisterBatch(_ context.Context, drop string, now time.Time, reqs []engine.RegisterRequest) ([]engine.RegisterResult, error) {
	s.regSizes <- len(reqs)
	out := make([]engine.RegisterResult, len(reqs))
	for i, r := range reqs {
		out[i] = engine.RegisterResult{Registration: engine.Registration{Drop: drop, User: r.User, RegisteredAt: now}, Created: true}
	}
	return out, nil
}

// TestBatchesFormOnABusyNode: requests that arrive together are decided
// together, not one store call each. On one P (a node whose cores are all
// busy), a send to the waiting lane worker makes it the next goroutine to
// run; unless it yields before cutting its batch, it takes the first
// request alone, and every other one after it in turn (64 store calls for
// 64 requests, as measured before the yield). Every lane: reservations,
// registrations and shoppers' views.
func TestBatchesFormOnABusyNode(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	const n = 64
	st := &regLaneStore{laneStore: laneStore{entered: make(chan int, n)}, regSizes: make(chan int, n), viewSizes: make(chan int, n)}
	// Registration of the stub drop is open at this time (the real
	// clock would leave its window one day).
	clock := engine.NewManualClock(time.Unix(1.5e9, 0))
	a := engine.NewAdmission(engine.New(st, engine.Options{Clock: clock}), engine.AdmissionOptions{Batch: engine.BatchOptions{Workers: 1}})
	defer a.Close()
	// The drop's view is cached first, so the requests below go straight
	// to the lanes.
	if _, _, err := a.View(context.Background(), "stub"); err != nil {
		t.Fatal(err)
	}
	for _, lane := range []struct {
		name  string
		send  func(i int) error
		sizes chan int
	}{
		{"reserve", func(i int) error {
			_, err := a.Reserve(context.Background(), "stub", engine.ReserveRequest{User: fmt.Sprint("u", i), Quantity: 1})
			return err
		}, st.entered},
		{"register", func(i int) error {
			_, _, err := a.Register(context.Background(), "stub", fmt.Sprint("u", i), "")
			return err
		}, st.regSizes},
		{"view", func(i int) error {
			_, err := a.ShopperView(context.Background(), "stub", fmt.Sprint("u", i))
			return err
		}, st.viewSizes},
	} {
		gate := make(chan struct{})
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-gate
				if err := lane.send(i); err != nil {
					errs <- err
				}
			}()
		}
		close(gate)
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatalf("%s: %v", lane.name, err)
		}
		calls, total := 0, 0
		for total < n {
			total += <-lane.sizes
			calls++
		}
		if calls > n/4 {
			t.Errorf("%s: %d requests that arrived together took %d store calls, want at most %d", lane.name, n, calls, n/4)
		}
		t.Logf("%s: %d requests in %d store calls", lane.name, n, calls)
	}
}

// echoStore answers every reserve and registration with the asking
// shopper's own id, so a caller can tell whether the answer it got was
// its own, and fails every failEvery-th store call of each kind as a
// whole (a batch answered with an error).
type echoStore struct {
	laneStore
	failEvery    int64
	reserves     atomic.Int64
	registers    atomic.Int64
	views        atomic.Int64
	holdRegister chan struct{} // RegisterBatch waits on it when set
}

var errEchoDown = errors.New("echo store down")

func (s *echoStore) ReserveBatch(_ context.Context, drop string, _ time.Time, reqs []engine.ReserveRequest) ([]engine.ReserveResult, error) {
	if n := s.reserves.Add(1); s.failEvery > 0 && n%s.failEvery == 0 {
		return nil, errEchoDown
	}
	out := make([]engine.ReserveResult, len(reqs))
	for i, r := range reqs {
		out[i].Reservation = engine.Reservation{ID: drop + "." + r.User, Drop: drop, User: r.User, Quantity: r.Quantity}
	}
	return out, nil
}

func (s *echoStore) RegisterBatch(_ context.Context, drop string, now time.Time, reqs []engine.RegisterRequest) ([]engine.RegisterResult, error) {
	if s.holdRegister != nil {
		<-s.holdRegister
	}
	if n := s.registers.Add(1); s.failEvery > 0 && n%s.failEvery == 0 {
		return nil, errEchoDown
	}
	out := make([]engine.RegisterResult, len(reqs))
	for i, r := range reqs {
		out[i] = engine.RegisterResult{Registration: engine.Registration{Drop: drop, User: r.User, RegisteredAt: now}, Created: true}
	}
	return out, nil
}

// ShopperViews echoes each shopper's id in her view's reservation.
func (s *echoStore) ShopperViews(_ context.Context, drop string, users []string) ([]engine.ShopperView, error) {
	if n := s.views.Add(1); s.failEvery > 0 && n%s.failEvery == 0 {
		return nil, errEchoDown
	}
	out := make([]engine.ShopperView, len(users))
	for i, u := range users {
		out[i].Reservation = &engine.Reservation{Drop: drop, User: u}
	}
	return out, nil
}

// TestLanesAnswerEachCallerItsOwn: the lanes recycle their calls and
// answer channels, so an answer sent twice, or a call touched after its
// answer, would reach the next shopper who got that call. Many shoppers
// press, register and read their views at once, over and over, on lanes
// of two workers whose store fails every seventh batch; each must get her
// own answer every time, or the batch's failure (run with -race, it also
// checks that a recycled call is not read by a worker any more).
func TestLanesAnswerEachCallerItsOwn(t *testing.T) {
	st := &echoStore{failEvery: 7}
	clock := engine.NewManualClock(time.Unix(1.5e9, 0)) // registration open, as in TestBatchesFormOnABusyNode
	a := engine.NewAdmission(engine.New(st, engine.Options{Clock: clock}), engine.AdmissionOptions{Batch: engine.BatchOptions{Workers: 2}})
	const shoppers, presses = 64, 300
	var wg sync.WaitGroup
	errs := make(chan error, 2*shoppers)
	var failed atomic.Int64
	for s := range shoppers {
		user := fmt.Sprint("shopper-", s)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for p := range presses {
				if p%3 == 2 {
					v, err := a.ShopperView(context.Background(), "stub", user)
					if errors.Is(err, errEchoDown) && errors.Is(err, engine.ErrUnavailable) {
						failed.Add(1)
						continue
					}
					if err != nil || v.Reservation == nil || v.Reservation.User != user {
						errs <- fmt.Errorf("%s's view %d answered %+v, %v", user, p, v.Reservation, err)
						return
					}
					continue
				}
				if p%3 == 0 {
					res, err := a.Reserve(context.Background(), "stub", engine.ReserveRequest{User: user, Quantity: 1})
					if errors.Is(err, errEchoDown) && errors.Is(err, engine.ErrUnavailable) {
						failed.Add(1)
						continue
					}
					if err != nil || res.Reservation.User != user {
						errs <- fmt.Errorf("%s's press %d answered %+v, %v", user, p, res.Reservation, err)
						return
					}
					continue
				}
				reg, _, err := a.Register(context.Background(), "stub", user, "")
				if errors.Is(err, errEchoDown) && errors.Is(err, engine.ErrUnavailable) {
					failed.Add(1)
					continue
				}
				if err != nil || reg.User != user {
					errs <- fmt.Errorf("%s's registration %d answered %+v, %v", user, p, reg, err)
					return
				}
			}
		}()
	}
	// A stray answer in a recycled channel also blocks the worker's next
	// send to it for good: a lane that stops answering fails the test
	// rather than hanging it (Close would wait on that worker too). The
	// wrong answers seen by then are reported first: they name the cause.
	finished := make(chan struct{})
	go func() { wg.Wait(); close(finished) }()
	select {
	case <-finished:
	case <-time.After(20 * time.Second):
		for len(errs) > 0 {
			t.Error(<-errs)
		}
		t.Fatal("the lanes stopped answering: a worker is stuck sending an answer")
	}
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if failed.Load() == 0 {
		t.Error("no batch failed: the failure path went untested")
	}
	if err := a.Close(); err != nil {
		t.Error(err)
	}
}

// TestFullRegistrationLaneRecyclesItsRefusals: a registration the full
// lane refuses (ErrOverloaded) was never queued, and its recycled call
// must carry no answer: once the lane drains, every later registration
// gets its own answer at once.
func TestFullRegistrationLaneRecyclesItsRefusals(t *testing.T) {
	st := &echoStore{holdRegister: make(chan struct{})}
	clock := engine.NewManualClock(time.Unix(1.5e9, 0))
	a := engine.NewAdmission(engine.New(st, engine.Options{Clock: clock}),
		engine.AdmissionOptions{Batch: engine.BatchOptions{MaxSize: 1, QueueSize: 1, Workers: 1}})
	// Fill the lane: one registration in the store (held), one queued;
	// the rest are refused.
	type answer struct {
		user string
		reg  engine.Registration
		err  error
	}
	answers := make(chan answer, 64)
	for i := range 64 {
		user := fmt.Sprint("early-", i)
		go func() {
			reg, _, err := a.Register(context.Background(), "stub", user, "")
			answers <- answer{user, reg, err}
		}()
	}
	refused := 0
	for refused < 62 {
		select {
		case ans := <-answers:
			if !errors.Is(ans.err, engine.ErrOverloaded) {
				t.Fatalf("%s answered %+v, %v while the lane was held, want ErrOverloaded", ans.user, ans.reg, ans.err)
			}
			refused++
		case <-time.After(20 * time.Second):
			t.Fatalf("%d registrations refused of the 62 a lane of one in the store and one queued must refuse", refused)
		}
	}
	close(st.holdRegister)
	// The last two: the held one and the queued one, or (when the worker
	// had not taken the first yet) a late refusal.
	registered := 0
	for range 2 {
		ans := <-answers
		switch {
		case errors.Is(ans.err, engine.ErrOverloaded):
		case ans.err != nil || ans.reg.User != ans.user:
			t.Fatalf("%s answered %+v, %v", ans.user, ans.reg, ans.err)
		default:
			registered++
		}
	}
	if registered == 0 {
		t.Fatal("the lane took no registration")
	}
	for i := range 200 {
		user := fmt.Sprint("later-", i)
		reg, _, err := a.Register(context.Background(), "stub", user, "")
		if err != nil || reg.User != user {
			t.Fatalf("%s answered %+v, %v after the lane drained", user, reg, err)
		}
	}
	if err := a.Close(); err != nil {
		t.Error(err)
	}
}

// listStore knows the drops of its list and counts the listings.
type listStore struct {
	engine.Store
	mu       sync.Mutex
	drops    []engine.Drop
	listings atomic.Int64
	fail     bool
}

func (s *listStore) Drops(context.Context) ([]engine.Drop, error) {
	s.listings.Add(1)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail {
		return nil, errors.New("connection refused")
	}
	return append([]engine.Drop(nil), s.drops...), nil
}

func (s *listStore) add(d engine.Drop) {
	s.mu.Lock()
	s.drops = append(s.drops, d)
	s.mu.Unlock()
}

// TestAdmissionListsDropsOncePerTTL: the front page's list of drops is
// read from the store once per ViewTTL however many pages ask for it; a
// drop this node creates (Invalidate) shows at once; a failed listing is
// not remembered and says the store is unavailable.
func TestAdmissionListsDropsOncePerTTL(t *testing.T) {
	st := &listStore{}
	a := stubDrop
	a.ID = "a"
	st.add(a)
	adm := engine.NewAdmission(engine.New(st, engine.Options{}), engine.AdmissionOptions{ViewTTL: time.Hour})
	t.Cleanup(func() { _ = adm.Close() })
	ids := func() string {
		t.Helper()
		ds, err := adm.Drops(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		s := ""
		for _, d := range ds {
			s += d.ID
		}
		return s
	}
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			if got := ids(); got != "a" {
				t.Errorf("listed %q, want a", got)
			}
		})
	}
	wg.Wait()
	if n := st.listings.Load(); n != 1 {
		t.Fatalf("50 pages listed the drops %d times within the TTL, want 1", n)
	}
	b := stubDrop
	b.ID = "b"
	st.add(b)
	if got := ids(); got != "a" {
		t.Fatalf("within the TTL the list is the cached one: %q", got)
	}
	adm.Invalidate("b")
	if got := ids(); got != "ab" {
		t.Fatalf("after Invalidate: %q, want ab", got)
	}
	if n := st.listings.Load(); n != 2 {
		t.Fatalf("%d listings, want 2", n)
	}
	st.mu.Lock()
	st.fail = true
	st.mu.Unlock()
	adm.Invalidate("b")
	if _, err := adm.Drops(context.Background()); !errors.Is(err, engine.ErrUnavailable) {
		t.Fatalf("a failed listing: %v, want ErrUnavailable", err)
	}
	st.mu.Lock()
	st.fail = false
	st.mu.Unlock()
	if got := ids(); got != "ab" {
		t.Fatalf("after a failed listing the next asks again: %q", got)
	}
}

// sweptStore is a listStore whose expiry steps find nothing (and no hold).
type sweptStore struct{ listStore }

func (s *sweptStore) ExpireDue(context.Context, string, time.Time, int) (int, time.Time, error) {
	return 0, time.Time{}, nil
}

// TestDropListSharedByTheNodesWorkers: a node's sweeper and front page
// read one list of drops per TTL between them, and a drop the node makes
// (Admission.Invalidate) reaches the sweeper's next pass too.
func TestDropListSharedByTheNodesWorkers(t *testing.T) {
	st := &sweptStore{}
	a := stubDrop
	a.ID = "a"
	st.add(a)
	e := engine.New(st, engine.Options{})
	list := engine.NewDropList(e, time.Hour)
	adm := engine.NewAdmission(e, engine.AdmissionOptions{Drops: list})
	t.Cleanup(func() { _ = adm.Close() })
	sw := engine.NewSweeper(e, engine.SweeperOptions{Drops: list})
	for range 3 {
		if _, _, err := sw.SweepOnce(context.Background()); err != nil {
			t.Fatal(err)
		}
		if _, err := adm.Drops(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if n := st.listings.Load(); n != 1 {
		t.Fatalf("three sweeps and three pages listed the drops %d times within the TTL, want 1", n)
	}
	adm.Invalidate("b")
	if _, _, err := sw.SweepOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := st.listings.Load(); n != 2 {
		t.Fatalf("%d listings after Invalidate and a sweep, want 2", n)
	}
}
