package engine

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Scheduler does the clock-driven work of every series and drop: it keeps
// each series' next drop created, announces drop_created, sale_opened and
// sale_closed once each, invites the previous drop's registrants when a
// series drop opens for registration, reminds registrants before a sale,
// and runs draws. Every serve node runs one, except those started with
// --role api: all of it is idempotent in
// the store, so the number of nodes, restarts and clock skew between them
// change nothing but which node does a piece of work.
type Scheduler struct {
	eng *Engine
	o   SchedulerOptions

	tickMu sync.Mutex
	memo   map[string]*dropMemo // what this node knows is done, per drop
	made   map[string]bool      // series drops this node made sure of

	mu     sync.Mutex
	cancel context.CancelFunc
	done   chan struct{}
}

// SchedulerOptions configure a Scheduler. The zero value means the
// defaults.
type SchedulerOptions struct {
	// Interval between ticks (default DefaultScheduleInterval).
	Interval time.Duration
	// Owner names this node in draw leases (default: random).
	Owner string
	// DrawStep and FanOutStep bound one store call of a draw and of an
	// invitation or reminder batch (default 500 each).
	DrawStep, FanOutStep int
	// LeaseTTL is how long a draw is left to a node that stopped
	// renewing its lease (default 30s).
	LeaseTTL time.Duration
	// Grace is how late a moment may still be announced (default 24h);
	// older ones (drops from before announcements existed, or a cluster
	// down for a day) are skipped.
	Grace time.Duration
	// OnError is told about failed work; the scheduler keeps going.
	OnError func(error)
	// Drops lists the drops to work on; default the Engine (the store,
	// on every tick). A node passes its shared DropList, which the
	// scheduler refreshes after making a series' drop.
	Drops DropLister
}

// dropMemo is one drop's work this node saw finished; it only saves
// store calls, the store decides everything.
type dropMemo struct {
	created, opened, closed, drawn, invited, reminded bool
}

// DefaultScheduleInterval is how often a Scheduler ticks by default.
const DefaultScheduleInterval = time.Second

// NewScheduler returns a stopped Scheduler for e.
func NewScheduler(e *Engine, o SchedulerOptions) *Scheduler {
	if o.Interval <= 0 {
		o.Interval = DefaultScheduleInterval
	}
	if o.Owner == "" {
		var b [8]byte
		_, _ = rand.Read(b[:])
		o.Owner = "sched-" + hex.EncodeToString(b[:])
	}
	if o.DrawStep <= 0 {
		o.DrawStep = 500
	}
	if o.FanOutStep <= 0 {
		o.FanOutStep = 500
	}
	if o.LeaseTTL <= 0 {
		o.LeaseTTL = 30 * time.Second
	}
	if o.Grace <= 0 {
		o.Grace = 24 * time.Hour
	}
	if o.OnError == nil {
		o.OnError = func(error) {}
	}
	if o.Drops == nil {
		o.Drops = e
	}
	return &Scheduler{eng: e, o: o, memo: map[string]*dropMemo{}, made: map[string]bool{}}
}

// Start ticks in the background until ctx ends or Close is called; the
// first tick comes at once. Starting a started scheduler does nothing.
func (s *Scheduler) Start(ctx context.Context) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done != nil {
		return
	}
	ctx, s.cancel = context.WithCancel(ctx)
	s.done = make(chan struct{})
	go s.loop(ctx, s.done)
}

func (s *Scheduler) loop(ctx context.Context, done chan struct{}) {
	defer close(done)
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := s.Tick(ctx); err != nil && ctx.Err() == nil {
			s.o.OnError(err)
		}
		t.Reset(s.o.Interval)
	}
}

// Close stops the scheduler and waits for a tick in progress. Safe to
// call more than once, and on a scheduler never started.
func (s *Scheduler) Close() error {
	s.mu.Lock()
	cancel, done := s.cancel, s.done
	s.mu.Unlock()
	if cancel == nil {
		return nil
	}
	cancel()
	<-done
	return nil
}

// Tick does all work that is due now, once; ticks of one Scheduler never
// overlap. Work that fails is left for the next tick; the errors are
// joined. Another node's draw lease is not an error.
func (s *Scheduler) Tick(ctx context.Context) error {
	s.tickMu.Lock()
	defer s.tickMu.Unlock()
	ws, err := s.eng.weekStore()
	if err != nil {
		return nil // a store without series or draws: nothing to do
	}
	var errs []error
	series, err := ws.SeriesList(ctx)
	if err != nil {
		errs = append(errs, fmt.Errorf("list series: %w", err))
	}
	for _, sr := range series {
		if err := s.ensureNext(ctx, ws, sr); err != nil {
			errs = append(errs, fmt.Errorf("series %s: %w", sr.ID, err))
		}
	}
	drops, err := s.o.Drops.Drops(ctx)
	if err != nil {
		return errors.Join(append(errs, fmt.Errorf("list drops: %w", err))...)
	}
	// What this node remembers of a drop that left the list (deleted,
	// DeleteDrop) goes with it: a drop made again under its id starts
	// afresh, and a series made again makes it again.
	listed := make(map[string]bool, len(drops))
	for _, d := range drops {
		listed[d.ID] = true
	}
	for id := range s.memo {
		if !listed[id] {
			delete(s.memo, id)
		}
	}
	for id := range s.made {
		if !listed[id] {
			delete(s.made, id)
		}
	}
	for _, d := range drops {
		if ctx.Err() != nil {
			break
		}
		if err := s.dropWork(ctx, ws, d); err != nil {
			errs = append(errs, fmt.Errorf("drop %s: %w", d.ID, err))
		}
	}
	return errors.Join(errs...)
}

// ensureNext makes sure the series' next drop exists and is recorded as
// the series', and, once that drop's registration has closed, the one
// after it too: winners share their win during the sale, and a social
// network reads the card's page once, when it is posted, so the card's
// "register for the next drop" must have that drop to link to by then
// (it had none until the sale ended).
func (s *Scheduler) ensureNext(ctx context.Context, ws WeekStore, sr Series) error {
	now := s.eng.clock.Now()
	o, up := sr.Next(now), sr.Upcoming(now)
	if err := s.ensureDrop(ctx, ws, sr, o); err != nil {
		return err
	}
	if up.Date == o.Date {
		return nil
	}
	return s.ensureDrop(ctx, ws, sr, up)
}

// ensureDrop makes sure the series' drop of occurrence o exists and is
// recorded as the series'. The create is idempotent: every node creates
// the same drop under the same id, and the store keeps the first.
func (s *Scheduler) ensureDrop(ctx context.Context, ws WeekStore, sr Series, o Occurrence) error {
	d := sr.DropFor(o)
	if s.made[d.ID] {
		return nil
	}
	if _, _, err := s.eng.CreateDropOnce(ctx, d); err != nil {
		if errors.Is(err, ErrDropDeleted) {
			// Deleted a moment ago (DeleteDrop): made on a tick after its
			// tombstone, with the series' values as they are then.
			return nil
		}
		if errors.Is(err, ErrDropExists) {
			// Another drop holds the id (made by hand, or by a series of
			// that name deleted and made again otherwise): it stays as it
			// is, and this node says so once.
			s.made[d.ID] = true
		}
		return err
	}
	if err := ws.AddSeriesDrop(ctx, sr.ID, d.ID, d.SaleStartsAt); err != nil {
		return err
	}
	s.made[d.ID] = true
	if l, ok := s.o.Drops.(interface{ Invalidate() }); ok {
		l.Invalidate() // the new drop is worked on in this tick
	}
	return nil
}

// dropWork does what is due for one drop, in the order a shopper would
// expect the events: created, invited, reminder, sale_opened, the draw,
// sale_closed.
func (s *Scheduler) dropWork(ctx context.Context, ws WeekStore, d Drop) error {
	m := s.memo[d.ID]
	if m == nil {
		m = &dropMemo{}
		s.memo[d.ID] = m
	}
	now := s.eng.clock.Now()
	announce := func(done *bool, moment Moment) error {
		if _, err := ws.Announce(ctx, d.ID, moment, now, s.o.Grace); err != nil {
			return fmt.Errorf("announce %s: %w", moment, err)
		}
		*done = true
		return nil
	}
	if d.Series != "" && !m.created {
		if err := announce(&m.created, MomentCreated); err != nil {
			return err
		}
	}
	if d.Series != "" && !m.invited && !now.Before(d.RegistrationOpensAt) {
		if err := s.invite(ctx, ws, d, m, now); err != nil {
			return fmt.Errorf("invitations: %w", err)
		}
	}
	if !m.reminded && !now.Before(d.SaleStartsAt.Add(-time.Duration(d.ReminderSeconds)*time.Second)) {
		if err := s.remind(ctx, ws, d, m, now); err != nil {
			return fmt.Errorf("reminders: %w", err)
		}
	}
	if !m.opened && !now.Before(d.SaleStartsAt) {
		if err := announce(&m.opened, MomentOpened); err != nil {
			return err
		}
	}
	if d.Mode == ModeDraw && !m.drawn && !now.Before(d.RegistrationClosesAt) {
		st, err := s.eng.RunDraw(ctx, d.ID, DrawOptions{Owner: s.o.Owner, Step: s.o.DrawStep, LeaseTTL: s.o.LeaseTTL})
		switch {
		case errors.Is(err, ErrBusy):
			// Another node draws; if it dies, its lease runs out and
			// this node resumes where it stopped.
		case err != nil:
			return fmt.Errorf("draw: %w", err)
		case st.Phase == DrawDrawn:
			m.drawn = true
		}
	}
	if !m.closed && d.SaleEnded(now) {
		if err := announce(&m.closed, MomentClosed); err != nil {
			return err
		}
	}
	return nil
}

// invite sends every registrant of the series' previous drop an invited
// event for d, while d's registration is open.
func (s *Scheduler) invite(ctx context.Context, ws WeekStore, d Drop, m *dropMemo, now time.Time) error {
	st, err := ws.FanOutState(ctx, d.ID, EventInvited)
	if err != nil {
		return err
	}
	started := st.InPass || st.Passes > 0
	if st.Done || (!started && !now.Before(d.RegistrationClosesAt)) {
		m.invited = true // done, or too late to start: registration closed
		return nil
	}
	prev, err := ws.PreviousSeriesDrop(ctx, d.Series, d.SaleStartsAt)
	if err != nil {
		return err
	}
	if prev == "" {
		m.invited = true // the series' first drop: nobody to invite
		return nil
	}
	// The previous drop's registration closed long ago: its registrants
	// are final, so the first pass is the final one.
	done, err := s.fanOut(ctx, ws, d.ID, prev, EventInvited, st, true, now)
	m.invited = done
	return err
}

// remind sends each registrant of d a reminder event, from the drop's
// reminder lead on. A pass that begins while registration is still open
// may miss late registrants, so then a final pass follows once it has
// closed, if that is before the sale; a registrant reminded already is
// skipped, so nobody gets two.
func (s *Scheduler) remind(ctx context.Context, ws WeekStore, d Drop, m *dropMemo, now time.Time) error {
	st, err := ws.FanOutState(ctx, d.ID, EventReminder)
	if err != nil {
		return err
	}
	started := st.InPass || st.Passes > 0
	closed := !now.Before(d.RegistrationClosesAt)
	switch {
	case st.Done:
		m.reminded = true
		return nil
	case !started && !now.Before(d.SaleStartsAt):
		m.reminded = true // too late to remind anyone
		return nil
	case !st.InPass && st.Passes > 0 && !closed:
		return nil // the final pass waits for registration to close
	case !st.InPass && st.Passes > 0 && !now.Before(d.SaleStartsAt):
		// Registration closed as the sale started (or the first pass
		// outlasted it), so the final pass would start with the sale: a
		// reminder then reminds of nothing (sale_opened tells everyone),
		// and a walk over every registrant, with an event for each late
		// one, would take the server from the rush at its worst moment (a
		// million reminders at T0 cut /healthz to a third in make bench).
		// Skipped, like a first pass not started before the sale: an
		// empty final step ends the fan-out, which deletes the set of who
		// was reminded. If another node has begun a pass meanwhile, the
		// step changes nothing and the next tick finishes that pass.
		done, err := ws.FanOut(ctx, d.ID, EventReminder, now, FanOutStep{Last: true, Final: true})
		m.reminded = done.Done
		return err
	}
	done, err := s.fanOut(ctx, ws, d.ID, d.ID, EventReminder, st, closed, now)
	m.reminded = done
	return err
}

// fanOut runs a fan-out of kind to drop from the registrants of source,
// batch by batch, until its pass ends; it reports whether the fan-out is
// done. Each batch applies only at the cursor it expects, so two nodes
// working on one fan-out, or a retried batch, never send anyone two.
func (s *Scheduler) fanOut(ctx context.Context, ws WeekStore, drop, source string, kind EventType, st FanOutState, final bool, now time.Time) (bool, error) {
	for !st.Done && ctx.Err() == nil {
		users, next, err := ws.Registrants(ctx, source, st.Cursor, s.o.FanOutStep)
		if err != nil {
			return false, err
		}
		was := st
		st, err = ws.FanOut(ctx, drop, kind, now, FanOutStep{
			Expect: st.Cursor, Next: next, Last: next == "", Final: final, Users: users})
		if err != nil {
			return false, err
		}
		if was.InPass && !st.InPass || !was.InPass && !st.InPass && st.Passes > was.Passes {
			break // a non-final pass ended
		}
	}
	return st.Done, ctx.Err()
}
