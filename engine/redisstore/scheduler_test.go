package redisstore_test

import (
	"errors"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/flashdrop/flashdrop/engine"
	"github.com/flashdrop/flashdrop/engine/redisstore"
	"github.com/flashdrop/flashdrop/engine/redisstore/redistest"
	"github.com/flashdrop/flashdrop/internal/testkit"
)

// utc is a time in UTC.
func utc(y int, m time.Month, d, h, mi int) time.Time {
	return time.Date(y, m, d, h, mi, 0, 0, time.UTC)
}

// forEachIsolated runs fn on a Redis of the test's own: a fresh
// redis-server and a fresh miniredis. A scheduler works on every drop and
// series it can see, so it must not share a Redis with other tests. (The
// scripts it drives are the per-drop ones the suite runs on the cluster
// too.)
func forEachIsolated(t *testing.T, fn func(t *testing.T, f *fixture)) {
	t.Helper()
	t.Parallel()
	for _, name := range []string{"redis", "miniredis"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var rdb *redis.Client
			if name == "redis" {
				rdb = testkit.OwnRedis(t).Client()
			} else {
				rdb = redis.NewClient(&redis.Options{Addr: miniredis.RunT(t).Addr()})
			}
			t.Cleanup(func() { rdb.Close() })
			fn(t, newFixture(name, rdb))
		})
	}
}

// nodes returns n schedulers on f's store, each with an engine of its own
// (as on n serve nodes) on f's clock, with small steps so that fan-outs
// and draws take many batches.
func (f *fixture) nodes(n int) []*engine.Scheduler {
	out := make([]*engine.Scheduler, n)
	for i := range out {
		e := engine.New(f.store, engine.Options{Clock: f.clock})
		out[i] = engine.NewScheduler(e, engine.SchedulerOptions{Owner: "node-" + itoa(i), DrawStep: 11, FanOutStep: 16})
	}
	return out
}

// tickAll ticks every node at once and fails on any error.
func tickAll(t *testing.T, nodes []*engine.Scheduler) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make([]error, len(nodes))
	for i, n := range nodes {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = n.Tick(ctx(t)) }()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatalf("tick: %v", err)
		}
	}
}

func (f *fixture) dropIDs(t *testing.T) []string {
	t.Helper()
	ds, err := f.eng.Drops(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]string, len(ds))
	for i, d := range ds {
		ids[i] = d.ID
	}
	return ids
}

func (f *fixture) drop(t *testing.T, id string) engine.Drop {
	t.Helper()
	d, err := f.eng.Drop(ctx(t), id)
	if err != nil {
		t.Fatalf("drop %s: %v", id, err)
	}
	return d
}

// perUser counts one drop's events of a type per user.
func perUser(evs []engine.Event, typ engine.EventType) map[string]int {
	m := map[string]int{}
	for _, e := range evs {
		if e.Type == typ {
			m[e.User]++
		}
	}
	return m
}

// TestSchedulerOneDropPerWeekAcrossDST runs three nodes' schedulers on a
// manual clock through four weeks of three series, across daylight-saving
// changes in both directions and on both hemispheres: one drop per series
// week, at its local time, with one drop_created each.
func TestSchedulerOneDropPerWeekAcrossDST(t *testing.T) {
	forEachIsolated(t, func(t *testing.T, f *fixture) {
		base := engine.Series{Name: "Sneaker", Stock: 10, RegistrationOpensBeforeSeconds: 3 * 24 * 3600,
			RegistrationClosesBeforeSeconds: 600}
		mk := func(id string, weekday int, at, zone string) {
			s := base
			s.ID, s.Weekday, s.SaleTime, s.TimeZone = id, weekday, at, zone
			if _, created, err := f.eng.CreateSeries(ctx(t), s); err != nil || !created {
				t.Fatalf("create series %s: %v", id, err)
			}
		}
		f.clock.Set(time.Date(2027, 3, 10, 12, 0, 0, 0, time.UTC))
		mk("ber-tue", 2, "20:00", "Europe/Berlin")    // spring forward on 28 March
		mk("ber-sun", 7, "02:30", "Europe/Berlin")    // 02:30 on 28 March does not exist
		mk("syd-sun", 7, "02:30", "Australia/Sydney") // 02:30 on 4 April happens twice
		want := map[string]time.Time{
			"ber-tue-2027-03-16": utc(2027, 3, 16, 19, 0), "ber-tue-2027-03-23": utc(2027, 3, 23, 19, 0),
			"ber-tue-2027-03-30": utc(2027, 3, 30, 18, 0), "ber-tue-2027-04-06": utc(2027, 4, 6, 18, 0),
			"ber-sun-2027-03-14": utc(2027, 3, 14, 1, 30), "ber-sun-2027-03-21": utc(2027, 3, 21, 1, 30),
			"ber-sun-2027-03-28": utc(2027, 3, 28, 1, 30), // 03:30 CEST
			"ber-sun-2027-04-04": utc(2027, 4, 4, 0, 30),
			"syd-sun-2027-03-14": utc(2027, 3, 13, 15, 30), "syd-sun-2027-03-21": utc(2027, 3, 20, 15, 30),
			"syd-sun-2027-03-28": utc(2027, 3, 27, 15, 30),
			"syd-sun-2027-04-04": utc(2027, 4, 3, 15, 30), // the first 02:30, still AEDT
			"syd-sun-2027-04-11": utc(2027, 4, 10, 16, 30),
			// Made when the last sales before 7 April ended.
			"ber-tue-2027-04-13": utc(2027, 4, 13, 18, 0), "ber-sun-2027-04-11": utc(2027, 4, 11, 0, 30),
			"syd-sun-2027-04-18": utc(2027, 4, 17, 16, 30),
		}
		nodes := f.nodes(3)
		// Hop from sale end to sale end: each end makes the next drop.
		for f.clock.Now().Before(utc(2027, 4, 7, 0, 0)) {
			tickAll(t, nodes)
			f.clock.Set(nextSaleEnd(t, f))
		}
		tickAll(t, nodes)
		checkWeekDrops(t, f, want)
	})
}

// nextSaleEnd is the earliest sale end of f's drops after the clock's now:
// when the drop of the following week is the series' next.
func nextSaleEnd(t *testing.T, f *fixture) time.Time {
	t.Helper()
	return nextMoment(t, f, func(d engine.Drop) time.Time { return d.SaleEndsAt })
}

// nextRegistrationClose is the earliest registration close of f's drops
// after the clock's now: when the drop of the week after is made.
func nextRegistrationClose(t *testing.T, f *fixture) time.Time {
	t.Helper()
	return nextMoment(t, f, func(d engine.Drop) time.Time { return d.RegistrationClosesAt })
}

// nextMoment is the earliest of f's drops' moments after the clock's now.
func nextMoment(t *testing.T, f *fixture, moment func(engine.Drop) time.Time) time.Time {
	t.Helper()
	next := utc(2100, 1, 1, 0, 0)
	for _, id := range f.dropIDs(t) {
		if m := moment(f.drop(t, id)); m.After(f.clock.Now()) && m.Before(next) {
			next = m
		}
	}
	return next
}

// checkWeekDrops checks that f's drops are exactly want's ids, each an
// hour's sale of its series starting at want's time, announced by one
// drop_created.
func checkWeekDrops(t *testing.T, f *fixture, want map[string]time.Time) {
	t.Helper()
	got := f.dropIDs(t)
	var wantIDs []string
	for id := range want {
		wantIDs = append(wantIDs, id)
	}
	sort.Strings(wantIDs)
	if !slices.Equal(got, wantIDs) {
		t.Fatalf("drops:\n got %v\nwant %v", got, wantIDs)
	}
	for id, start := range want {
		d := f.drop(t, id)
		if !d.SaleStartsAt.Equal(start) || d.SaleEndsAt.Sub(d.SaleStartsAt) != time.Hour || d.Series == "" {
			t.Errorf("%s: sale %v–%v (series %q), want start %v", id, d.SaleStartsAt, d.SaleEndsAt, d.Series, start)
		}
		if n := countEvents(f.events(t, id), engine.EventDropCreated); n != 1 {
			t.Errorf("%s: %d drop_created events", id, n)
		}
	}
}

// skewed is a node's clock: the test's manual clock plus a fixed offset.
type skewed struct {
	base *engine.ManualClock
	by   time.Duration
}

func (c skewed) Now() time.Time { return c.base.Now().Add(c.by) }

// TestSchedulerOneDropPerWeekWithClockSkew: three nodes whose clocks
// disagree (one 90 s behind, one 2 min ahead) tick around every moment the
// schedule turns on (a registration's close, when the drop of the week
// after is made), each at
// its own idea of the time: still exactly one drop per week, at its local
// time, each announced once. The create is idempotent in Redis, so the
// node that is ahead makes the drop and the others find it.
func TestSchedulerOneDropPerWeekWithClockSkew(t *testing.T) {
	forEachIsolated(t, func(t *testing.T, f *fixture) {
		s := engine.Series{ID: "skew", Name: "Skew", Stock: 10, Weekday: 4, SaleTime: "19:00", TimeZone: "Europe/Berlin",
			RegistrationOpensBeforeSeconds: 3 * 24 * 3600, RegistrationClosesBeforeSeconds: 600}
		f.clock.Set(time.Date(2027, 10, 18, 12, 0, 0, 0, time.UTC))
		if _, created, err := f.eng.CreateSeries(ctx(t), s); err != nil || !created {
			t.Fatalf("create series: %v", err)
		}
		var nodes []*engine.Scheduler
		for i, by := range []time.Duration{-90 * time.Second, 0, 2 * time.Minute} {
			e := engine.New(f.store, engine.Options{Clock: skewed{f.clock, by}})
			nodes = append(nodes, engine.NewScheduler(e, engine.SchedulerOptions{Owner: "node-" + itoa(i), DrawStep: 11, FanOutStep: 16}))
		}
		// Around each registration close: before any node sees it, when
		// only the node ahead does, at the true time, and when all do.
		for range 4 {
			tickAll(t, nodes)
			next := nextRegistrationClose(t, f)
			before := len(f.dropIDs(t))
			for _, at := range []time.Duration{-3 * time.Minute, -time.Minute, 0, 2 * time.Minute} {
				f.clock.Set(next.Add(at))
				tickAll(t, nodes)
				// The skew is really in play: a minute before the close only
				// the node 2 min ahead has seen it, and it made the drop.
				if n := len(f.dropIDs(t)); at < 0 && n != before+map[bool]int{true: 1}[at == -time.Minute] {
					t.Fatalf("%v before the registration close: %d drops, had %d", -at, n, before)
				}
			}
		}
		want := map[string]time.Time{
			// 19:00 in Berlin: CEST until 31 October 2027, then CET.
			"skew-2027-10-21": utc(2027, 10, 21, 17, 0), "skew-2027-10-28": utc(2027, 10, 28, 17, 0),
			"skew-2027-11-04": utc(2027, 11, 4, 18, 0), "skew-2027-11-11": utc(2027, 11, 11, 18, 0),
			"skew-2027-11-18": utc(2027, 11, 18, 18, 0),
		}
		checkWeekDrops(t, f, want)
	})
}

// TestSeriesDeleteStopsFutureDrops: a deleted series makes no more drops
// and leaves its drops as they are.
func TestSeriesDeleteStopsFutureDrops(t *testing.T) {
	forEachIsolated(t, func(t *testing.T, f *fixture) {
		f.clock.Set(utc(2027, 3, 10, 12, 0))
		s := engine.Series{ID: "weekly", Name: "Sneaker", Stock: 10, Weekday: 3, SaleTime: "18:00", TimeZone: "UTC"}
		if _, _, err := f.eng.CreateSeries(ctx(t), s); err != nil {
			t.Fatal(err)
		}
		again, created, err := f.eng.CreateSeries(ctx(t), s)
		if err != nil || created || again.ID != "weekly" {
			t.Fatalf("the same series again: %+v %v %v", again, created, err)
		}
		s2 := s
		s2.Stock = 11
		if _, _, err := f.eng.CreateSeries(ctx(t), s2); !errors.Is(err, engine.ErrSeriesExists) {
			t.Fatalf("another config under the same id: %v", err)
		}
		nodes := f.nodes(1)
		tickAll(t, nodes)
		if ids := f.dropIDs(t); !slices.Equal(ids, []string{"weekly-2027-03-10"}) {
			t.Fatalf("drops %v", ids)
		}
		if err := f.eng.DeleteSeries(ctx(t), "weekly"); err != nil {
			t.Fatal(err)
		}
		if err := f.eng.DeleteSeries(ctx(t), "weekly"); !errors.Is(err, engine.ErrNotFound) {
			t.Fatalf("deleting twice: %v", err)
		}
		f.clock.Set(utc(2027, 3, 10, 19, 0)) // the sale ended: the next week would come now
		tickAll(t, nodes)
		if ids := f.dropIDs(t); !slices.Equal(ids, []string{"weekly-2027-03-10"}) {
			t.Fatalf("drops after the delete: %v", ids)
		}
		if d := f.drop(t, "weekly-2027-03-10"); d.Series != "weekly" || d.Stock != 10 {
			t.Fatalf("the existing drop changed: %+v", d)
		}
	})
}

// TestSeriesMadeAgainSaysWhatItsMadeDropKeeps: a series deleted and made
// again with another stock (the only way to edit one) applies from its
// next drop not yet made; the drop already made keeps its stock, and the
// series' next drop says so, naming the field, where the shop used to be
// answered 201 with no sign of it.
func TestSeriesMadeAgainSaysWhatItsMadeDropKeeps(t *testing.T) {
	forEachIsolated(t, func(t *testing.T, f *fixture) {
		f.clock.Set(utc(2027, 3, 8, 12, 0))
		s := engine.Series{ID: "weekly", Name: "Sneaker", Stock: 500, Weekday: 3, SaleTime: "18:00", TimeZone: "UTC"}
		if _, _, err := f.eng.CreateSeries(ctx(t), s); err != nil {
			t.Fatal(err)
		}
		tickAll(t, f.nodes(1))
		if _, next, err := f.eng.NextSeriesDrop(ctx(t), "weekly"); err != nil || !next.Created || len(next.Differs) != 0 {
			t.Fatalf("the series' own drop: %+v %v", next, err)
		}
		if err := f.eng.DeleteSeries(ctx(t), "weekly"); err != nil {
			t.Fatal(err)
		}
		s.Stock = 300
		if _, created, err := f.eng.CreateSeries(ctx(t), s); err != nil || !created {
			t.Fatalf("made again: %v %v", created, err)
		}
		_, next, err := f.eng.NextSeriesDrop(ctx(t), "weekly")
		if err != nil || next.ID != "weekly-2027-03-10" || !slices.Equal(next.Differs, []string{"stock"}) {
			t.Fatalf("the drop made before keeps its stock, unsaid: %+v %v", next, err)
		}
		if d := f.drop(t, "weekly-2027-03-10"); d.Stock != 500 {
			t.Fatalf("stock %d", d.Stock)
		}
	})
}

// TestSeriesNextDropThatIsARehearsalIsSaid: a rehearsal made by hand under
// the id of a series' next drop, with the series' every other value, takes
// that drop's place; the admin view says it differs in "rehearsal" (its
// invitations would reach no webhook that did not ask for rehearsals).
func TestSeriesNextDropThatIsARehearsalIsSaid(t *testing.T) {
	forEachIsolated(t, func(t *testing.T, f *fixture) {
		f.clock.Set(utc(2027, 3, 8, 12, 0))
		s := engine.Series{ID: "weekly", Name: "Sneaker", Stock: 500, Weekday: 3, SaleTime: "18:00", TimeZone: "UTC"}
		made, _, err := f.eng.CreateSeries(ctx(t), s)
		if err != nil {
			t.Fatal(err)
		}
		d := made.DropFor(made.Upcoming(f.clock.Now()))
		d.Rehearsal = true
		if _, err := f.eng.CreateDrop(ctx(t), d); err != nil {
			t.Fatal(err)
		}
		_, next, err := f.eng.NextSeriesDrop(ctx(t), "weekly")
		if err != nil || next.ID != d.ID || !slices.Equal(next.Differs, []string{"rehearsal"}) {
			t.Fatalf("a rehearsal as the series' next drop, unsaid: %+v %v", next, err)
		}
	})
}

// TestSchedulerInvitesEachPersonOnce: when a series' next drop opens for
// registration, three nodes invite every registrant of the previous drop
// exactly once, also after a node stopped half-way through.
func TestSchedulerInvitesEachPersonOnce(t *testing.T) {
	forEachIsolated(t, func(t *testing.T, f *fixture) {
		f.clock.Set(utc(2027, 3, 1, 12, 0))
		s := engine.Series{ID: "weekly", Name: "Sneaker", Stock: 10, Weekday: 3, SaleTime: "18:00", TimeZone: "UTC"}
		if _, _, err := f.eng.CreateSeries(ctx(t), s); err != nil {
			t.Fatal(err)
		}
		nodes := f.nodes(3)
		tickAll(t, nodes)
		first := "weekly-2027-03-03"
		d1 := f.drop(t, first)
		f.clock.Set(d1.RegistrationOpensAt)
		people := users("p", 300)
		f.register(t, first, people...)
		f.register(t, first, people[:10]...) // registering twice is one registration
		tickAll(t, nodes)
		if n := countEvents(f.events(t, first), engine.EventInvited); n != 0 {
			t.Fatalf("the series' first drop invited %d", n)
		}

		f.clock.Set(d1.SaleEndsAt)
		tickAll(t, nodes)
		second := "weekly-2027-03-10"
		d2 := f.drop(t, second)
		f.clock.Set(d2.RegistrationOpensAt)
		// One node sends one batch and dies.
		users0, next, err := f.store.Registrants(ctx(t), first, "", 16)
		if err != nil {
			t.Fatal(err)
		}
		st, err := f.store.FanOut(ctx(t), second, engine.EventInvited, f.clock.Now(),
			engine.FanOutStep{Next: next, Last: next == "", Final: true, Users: users0})
		if err != nil || (!st.InPass && !st.Done) {
			t.Fatalf("first batch: %+v %v", st, err)
		}
		tickAll(t, nodes)
		tickAll(t, nodes)
		evs := f.events(t, second)
		got := perUser(evs, engine.EventInvited)
		for _, p := range people {
			if got[p] != 1 {
				t.Errorf("%s got %d invitations", p, got[p])
			}
		}
		if len(got) != len(people) {
			t.Errorf("%d people invited, want %d", len(got), len(people))
		}
		if st, _ := f.store.FanOutState(ctx(t), second, engine.EventInvited); !st.Done {
			t.Errorf("invitations not done: %+v", st)
		}
	})
}

// TestSchedulerRemindsEachRegistrantOnce: the reminder lead comes while
// registration is still open; registrants reminded in the first pass are
// not reminded again in the final pass after registration closes, and
// late registrants are reminded then.
func TestSchedulerRemindsEachRegistrantOnce(t *testing.T) {
	forEachIsolated(t, func(t *testing.T, f *fixture) {
		d := f.newDrop(t, 10, 1, func(d *engine.Drop) {
			d.RegistrationClosesAt = t0.Add(-5 * time.Minute)
			d.ReminderSeconds = 15 * 60
		})
		early, late := users("early", 200), users("late", 150)
		f.register(t, d.ID, early...)
		nodes := f.nodes(3)
		f.clock.Set(t0.Add(-16 * time.Minute))
		tickAll(t, nodes)
		if n := countEvents(f.events(t, d.ID), engine.EventReminder); n != 0 {
			t.Fatalf("%d reminders before the lead", n)
		}
		f.clock.Set(t0.Add(-15 * time.Minute))
		tickAll(t, nodes)
		if got := perUser(f.events(t, d.ID), engine.EventReminder); len(got) != len(early) {
			t.Fatalf("first pass reminded %d, want %d", len(got), len(early))
		}
		f.clock.Set(t0.Add(-10 * time.Minute))
		f.register(t, d.ID, late...)
		tickAll(t, nodes)
		f.clock.Set(d.RegistrationClosesAt)
		tickAll(t, nodes)
		tickAll(t, nodes)
		got := perUser(f.events(t, d.ID), engine.EventReminder)
		for _, u := range append(early, late...) {
			if got[u] != 1 {
				t.Errorf("%s got %d reminders", u, got[u])
			}
		}
		if st, _ := f.store.FanOutState(ctx(t), d.ID, engine.EventReminder); !st.Done {
			t.Errorf("reminders not done: %+v", st)
		}
	})
}

// TestSchedulerSkipsAFinalReminderPassAtTheSale: when registration
// closes as the sale starts, the final pass would start with the rush:
// late registrants get no reminder (sale_opened announces the sale), and
// no walk over the registrants runs at T0. The first pass, before the
// sale, is unchanged.
func TestSchedulerSkipsAFinalReminderPassAtTheSale(t *testing.T) {
	forEachIsolated(t, func(t *testing.T, f *fixture) {
		d := f.newDrop(t, 10, 1, func(d *engine.Drop) {
			d.RegistrationClosesAt = d.SaleStartsAt
			d.ReminderSeconds = 15 * 60
		})
		early, late := users("early", 50), users("late", 30)
		f.register(t, d.ID, early...)
		nodes := f.nodes(2)
		f.clock.Set(d.SaleStartsAt.Add(-15 * time.Minute))
		tickAll(t, nodes)
		f.clock.Set(d.SaleStartsAt.Add(-time.Minute))
		f.register(t, d.ID, late...)
		tickAll(t, nodes)
		before, err := f.store.FanOutState(ctx(t), d.ID, engine.EventReminder)
		if err != nil || before.Passes < 1 || before.InPass {
			t.Fatalf("reminders before the sale: %+v %v, want the first pass over", before, err)
		}
		for _, at := range []time.Time{d.SaleStartsAt, d.SaleStartsAt.Add(time.Second)} {
			f.clock.Set(at)
			tickAll(t, nodes)
		}
		got := perUser(f.events(t, d.ID), engine.EventReminder)
		for _, u := range early {
			if got[u] != 1 {
				t.Errorf("%s (registered before the lead) got %d reminders, want 1", u, got[u])
			}
		}
		for _, u := range late {
			if got[u] != 0 {
				t.Errorf("%s (registered after the first pass) got %d reminders at the sale, want none", u, got[u])
			}
		}
		// No pass began at the sale, and the fan-out ended: its set of who
		// was reminded is gone (else it would stay in Redis for ever).
		st, err := f.store.FanOutState(ctx(t), d.ID, engine.EventReminder)
		if err != nil || st.InPass || st.Passes != before.Passes || !st.Done {
			t.Errorf("reminder fan-out after the sale: %+v %v, before it %+v: want no pass at the sale and the fan-out done", st, err, before)
		}
		if n, err := f.rdb.Exists(ctx(t), "fd:{"+d.ID+"}:fan:reminder").Result(); err != nil || n != 0 {
			t.Errorf("the reminder fan set is still there after the sale (%d, %v)", n, err)
		}
	})
}

// TestSchedulerAnnouncesAndDrawsOnce: three nodes reach sale_starts_at and
// sale_ends_at together: one sale_opened, one draw, one sale_closed; a drop
// whose moments are older than the grace gets none.
func TestSchedulerAnnouncesAndDrawsOnce(t *testing.T) {
	forEachIsolated(t, func(t *testing.T, f *fixture) {
		d, us := f.newDraw(t, 20, 150)
		old := f.newDrop(t, 5, 1, func(o *engine.Drop) {
			o.RegistrationOpensAt, o.RegistrationClosesAt = t0.Add(-72*time.Hour), t0.Add(-50*time.Hour)
			o.SaleStartsAt, o.SaleEndsAt = t0.Add(-49*time.Hour), t0.Add(-48*time.Hour)
		})
		nodes := f.nodes(3)
		f.clock.Set(d.RegistrationClosesAt)
		tickAll(t, nodes)
		if st, _ := f.eng.DrawState(ctx(t), d.ID); st.Phase != engine.DrawFrozen {
			t.Fatalf("at registration close: %+v", st)
		}
		f.clock.Set(t0)
		tickAll(t, nodes)
		// The lease holder finishes in its tick; the others skip the draw.
		if st, _ := f.eng.DrawState(ctx(t), d.ID); st.Phase != engine.DrawDrawn {
			t.Fatalf("after the ticks at the sale start: %+v", st)
		}
		f.clock.Set(d.SaleEndsAt)
		tickAll(t, nodes)
		tickAll(t, nodes)
		evs := f.events(t, d.ID)
		for typ, want := range map[engine.EventType]int{engine.EventSaleOpened: 1, engine.EventSaleClosed: 1,
			engine.EventDrawn: 1, engine.EventDropCreated: 0} {
			if n := countEvents(evs, typ); n != want {
				t.Errorf("%s: %d events, want %d", typ, n, want)
			}
		}
		checkDrawOnce(t, f, d, us)
		if evs := f.events(t, old.ID); countEvents(evs, engine.EventSaleOpened)+countEvents(evs, engine.EventSaleClosed) != 0 {
			t.Errorf("a drop two days past its sale was announced: %+v", evs)
		}
	})
}

// TestSchedulerThroughLostReplies runs a week of a draw series (creation,
// invitations, reminders, announcements, the draw) while every third
// script reply is lost after Redis ran the call and go-redis sends it
// again: everything still happens exactly once.
func TestSchedulerThroughLostReplies(t *testing.T) {
	t.Parallel()
	srv := testkit.OwnRedis(t)
	var mu sync.Mutex
	faulted := map[string]bool{}
	var seen atomic.Int64
	p, err := redistest.NewProxy(srv.Addr, func(req []byte) redistest.Fault {
		if !redistest.IsScript(req) {
			return redistest.Pass
		}
		mu.Lock()
		defer mu.Unlock()
		if faulted[string(req)] || seen.Add(1)%3 != 0 {
			return redistest.Pass
		}
		faulted[string(req)] = true
		return redistest.DropReply
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	through := redis.NewClient(&redis.Options{Addr: p.Addr()})
	direct := srv.Client()
	t.Cleanup(func() { through.Close(); direct.Close() })
	f := newFixture("proxied", through)
	f.rdb = direct
	look := redisstore.New(direct, redisstore.Options{})

	f.clock.Set(utc(2027, 3, 1, 12, 0))
	s := engine.Series{ID: "weekly", Name: "Sneaker", Stock: 12, Weekday: 3, SaleTime: "18:00", TimeZone: "UTC",
		Mode: engine.ModeDraw, RegistrationClosesBeforeSeconds: 300}
	if _, created, err := f.eng.CreateSeries(ctx(t), s); err != nil || !created {
		t.Fatalf("create series through a lost reply: %v %v", created, err)
	}
	nodes := f.nodes(2)
	tickAll(t, nodes)
	first, second := "weekly-2027-03-03", "weekly-2027-03-10"
	d1 := f.drop(t, first)
	f.clock.Set(d1.RegistrationOpensAt)
	people := users("p", 120)
	f.register(t, first, people...)
	for _, at := range []time.Time{d1.SaleStartsAt.Add(-15 * time.Minute), d1.RegistrationClosesAt, d1.SaleStartsAt,
		d1.SaleStartsAt.Add(time.Minute), d1.SaleEndsAt} {
		f.clock.Set(at)
		tickAll(t, nodes)
		tickAll(t, nodes)
	}
	d2 := f.drop(t, second)
	f.clock.Set(d2.RegistrationOpensAt)
	tickAll(t, nodes)
	tickAll(t, nodes)
	if p.Faults() < 20 {
		t.Fatalf("only %d replies lost", p.Faults())
	}

	if ids := f.dropIDs(t); !slices.Equal(ids, []string{first, second}) {
		t.Fatalf("drops %v", ids)
	}
	ev1, err := look.OutboxEvents(ctx(t), first, 0)
	if err != nil {
		t.Fatal(err)
	}
	ev2, _ := look.OutboxEvents(ctx(t), second, 0)
	for _, c := range []struct {
		evs  []engine.Event
		typ  engine.EventType
		want int
	}{
		{ev1, engine.EventDropCreated, 1}, {ev1, engine.EventSaleOpened, 1}, {ev1, engine.EventSaleClosed, 1},
		{ev1, engine.EventDrawn, 1}, {ev1, engine.EventWon, 12}, {ev1, engine.EventWaitlisted, 108},
		{ev1, engine.EventReminder, 120}, {ev1, engine.EventRegistered, 120},
		{ev2, engine.EventDropCreated, 1}, {ev2, engine.EventInvited, 120},
	} {
		if n := countEvents(c.evs, c.typ); n != c.want {
			t.Errorf("%s: %d events, want %d", c.typ, n, c.want)
		}
	}
	for _, typ := range []engine.EventType{engine.EventReminder} {
		for u, n := range perUser(ev1, typ) {
			if n != 1 {
				t.Errorf("%s: %s has %d", typ, u, n)
			}
		}
	}
	for u, n := range perUser(ev2, engine.EventInvited) {
		if n != 1 {
			t.Errorf("invited: %s has %d", u, n)
		}
	}
	checkDrawOnce(t, f, d1, people)
}

// TestSchedulerLeavesAnotherDropAlone: when the id of a series' next drop
// is taken by a drop with another configuration, the scheduler leaves
// that drop as it is and reports it once, not every tick.
func TestSchedulerLeavesAnotherDropAlone(t *testing.T) {
	forEachIsolated(t, func(t *testing.T, f *fixture) {
		f.clock.Set(utc(2027, 3, 8, 12, 0))
		if _, err := f.eng.CreateDrop(ctx(t), engine.Drop{ID: "weekly-2027-03-10", Name: "By hand", Stock: 3,
			RegistrationOpensAt: utc(2027, 3, 8, 0, 0), RegistrationClosesAt: utc(2027, 3, 9, 0, 0),
			SaleStartsAt: utc(2027, 3, 9, 0, 0)}); err != nil {
			t.Fatal(err)
		}
		s := engine.Series{ID: "weekly", Name: "Sneaker", Stock: 10, Weekday: 3, SaleTime: "18:00", TimeZone: "UTC"}
		if _, _, err := f.eng.CreateSeries(ctx(t), s); err != nil {
			t.Fatal(err)
		}
		node := f.nodes(1)[0]
		if err := node.Tick(ctx(t)); !errors.Is(err, engine.ErrDropExists) {
			t.Fatalf("first tick: %v", err)
		}
		if err := node.Tick(ctx(t)); err != nil {
			t.Fatalf("second tick: %v", err)
		}
		if d := f.drop(t, "weekly-2027-03-10"); d.Name != "By hand" || d.Stock != 3 || d.Series != "" {
			t.Fatalf("the drop changed: %+v", d)
		}
	})
}

// TestShareCardLinksTheSeriesNextDrop: a win's card in a series drop links
// to the drop itself while no next drop exists, and to next week's drop
// once the scheduler created it (issue 13's link, on issue 12's series),
// which it does when registration closes: the card of a win shared during
// the sale already links to next week's drop (a social network reads it
// once, when it is posted).
func TestShareCardLinksTheSeriesNextDrop(t *testing.T) {
	forEachIsolated(t, func(t *testing.T, f *fixture) {
		f.clock.Set(utc(2027, 3, 8, 12, 0)) // Monday; the sale is Wednesday 18:00
		s := engine.Series{ID: "tee", Name: "Tee", Stock: 5, Weekday: 3, SaleTime: "18:00", TimeZone: "UTC",
			RegistrationOpensBeforeSeconds: 3 * 86400, SaleSeconds: 3600}
		if _, _, err := f.eng.CreateSeries(ctx(t), s); err != nil {
			t.Fatal(err)
		}
		nodes := f.nodes(1)
		tickAll(t, nodes)
		f.register(t, "tee-2027-03-10", "alice")
		f.clock.Set(utc(2027, 3, 10, 18, 0))
		res, err := f.eng.Reserve(ctx(t), "tee-2027-03-10", engine.ReserveRequest{User: "alice", Quantity: 1})
		if err != nil {
			t.Fatal(err)
		}
		card, err := f.eng.ShareCard(ctx(t), res.ShareCode)
		if err != nil || card.Next.ID != "tee-2027-03-10" {
			t.Fatalf("card before the scheduler saw registration close: next %q, %v", card.Next.ID, err)
		}
		tickAll(t, nodes) // registration has closed: next week's drop is made
		if n := len(f.dropIDs(t)); n != 2 {
			t.Fatalf("%d drops during the sale, want this week's and next", n)
		}
		card, err = f.eng.ShareCard(ctx(t), res.ShareCode)
		if err != nil || card.Next.ID != "tee-2027-03-17" || card.Next.Series != "tee" {
			t.Fatalf("card during the sale: next %+v, %v", card.Next, err)
		}
		// The series' next drop, as the API names it, is the card's.
		if _, next, err := f.eng.NextSeriesDrop(ctx(t), "tee"); err != nil || next.ID != "tee-2027-03-17" || !next.Created {
			t.Fatalf("the series' next drop during the sale: %+v %v", next, err)
		}
		f.clock.Set(utc(2027, 3, 10, 19, 0)) // the sale ended
		tickAll(t, nodes)
		card, err = f.eng.ShareCard(ctx(t), res.ShareCode)
		if err != nil || card.Next.ID != "tee-2027-03-17" || card.Next.Series != "tee" {
			t.Fatalf("card after the sale: next %+v, %v", card.Next, err)
		}
		if n := len(f.dropIDs(t)); n != 2 {
			t.Fatalf("%d drops after the sale: no third before next week's registration closes", n)
		}
	})
}
