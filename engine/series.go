package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
)

// Series is a weekly drop: a drop template and a schedule. The engine
// creates each week's drop ahead of time (Scheduler), with the id
// "<series>-<YYYY-MM-DD>" of its local sale date.
//
// Times of day are wall-clock times in TimeZone, so a sale at 20:00 stays
// at 20:00 local across daylight-saving changes; the registration window
// and the sale's length are durations around that instant (see LocalTime
// for wall times that do not exist or exist twice).
type Series struct {
	ID           string    `json:"id"`
	Name         string    `json:"name"`
	Product      string    `json:"product,omitempty"`
	Stock        int64     `json:"stock"`
	PerUserLimit int64     `json:"per_user_limit"`
	HoldSeconds  int64     `json:"hold_seconds"`
	Mode         Mode      `json:"mode"`
	DrawQuantity int64     `json:"draw_quantity,omitempty"`
	ConfirmBy    ConfirmBy `json:"confirm_by"`
	CheckoutURL  string    `json:"checkout_url,omitempty"`
	// Weekday of the sale, ISO 8601: 1 is Monday, 7 is Sunday.
	Weekday int `json:"weekday"`
	// SaleTime is the local time of day of the sale start, "HH:MM".
	SaleTime string `json:"sale_time"`
	// TimeZone is an IANA zone name, such as "Europe/Berlin".
	TimeZone string `json:"time_zone"`
	// RegistrationOpensBeforeSeconds is how long before the sale
	// registration opens (default 3 days).
	RegistrationOpensBeforeSeconds int64 `json:"registration_opens_before_seconds"`
	// RegistrationClosesBeforeSeconds is how long before the sale
	// registration closes (0: when the sale starts).
	RegistrationClosesBeforeSeconds int64 `json:"registration_closes_before_seconds"`
	// SaleSeconds is how long each sale lasts (default 1 hour).
	SaleSeconds int64 `json:"sale_seconds"`
	// ReminderSeconds is the reminder lead of each drop (default 15 min).
	ReminderSeconds int64     `json:"reminder_seconds"`
	CreatedAt       time.Time `json:"created_at,omitzero"`
}

// Series defaults and limits.
const (
	DefaultRegistrationOpensBefore = 3 * 24 * 3600
	DefaultSaleSeconds             = 3600
	week                           = 7 * 24 * 3600
	// MaxSeriesSaleSeconds bounds sale_seconds: a week's sale ends an
	// hour before the next week's would start at the earliest.
	MaxSeriesSaleSeconds = week - 3600
	// MaxSeriesIDLen leaves room for "-YYYY-MM-DD" in a drop id.
	MaxSeriesIDLen = MaxDropIDLen - len("-2006-01-02")
)

// ErrSeriesExists means a series with that id exists with another
// configuration.
var ErrSeriesExists = errors.New("engine: series already exists")

// Normalize fills in defaults.
func (s Series) Normalize() Series {
	if s.RegistrationOpensBeforeSeconds == 0 {
		s.RegistrationOpensBeforeSeconds = DefaultRegistrationOpensBefore
	}
	if s.SaleSeconds == 0 {
		s.SaleSeconds = DefaultSaleSeconds
	}
	s.CreatedAt = truncMS(s.CreatedAt)
	// The drop template's own defaults, so that a stored series shows
	// what its drops will be.
	d := Drop{PerUserLimit: s.PerUserLimit, HoldSeconds: s.HoldSeconds, Mode: s.Mode, ConfirmBy: s.ConfirmBy,
		Name: s.Name, Product: s.Product, ReminderSeconds: s.ReminderSeconds, DrawQuantity: s.DrawQuantity}.Normalize()
	s.PerUserLimit, s.HoldSeconds, s.Mode, s.ConfirmBy = d.PerUserLimit, d.HoldSeconds, d.Mode, d.ConfirmBy
	s.Product, s.ReminderSeconds, s.DrawQuantity = d.Product, d.ReminderSeconds, d.DrawQuantity
	return s
}

// Validate reports the first problem with a (normalized) series, naming
// the field as the API does.
func (s Series) Validate() error {
	if s.ID == "" || len(s.ID) > MaxSeriesIDLen {
		return invalid("id", "must be 1 to %d characters (the drop ids add the date)", MaxSeriesIDLen)
	}
	if err := ValidateDropID(s.ID); err != nil {
		return err
	}
	if s.Weekday < 1 || s.Weekday > 7 {
		return invalid("weekday", "must be 1 (Monday) to 7 (Sunday)")
	}
	if _, _, err := parseClock(s.SaleTime); err != nil {
		return err
	}
	if _, err := s.Location(); err != nil {
		return err
	}
	switch {
	case s.SaleSeconds < 60 || s.SaleSeconds > MaxSeriesSaleSeconds:
		return invalid("sale_seconds", "must be between 60 and %d", MaxSeriesSaleSeconds)
	case s.RegistrationClosesBeforeSeconds < 0:
		return invalid("registration_closes_before_seconds", "must not be negative: registration would close after the sale starts")
	case s.RegistrationOpensBeforeSeconds <= s.RegistrationClosesBeforeSeconds:
		return invalid("registration_opens_before_seconds", "must be more than registration_closes_before_seconds: registration would open after it closes")
	case s.RegistrationOpensBeforeSeconds+s.SaleSeconds > week:
		// The next drop is created when a sale ends: its registration
		// must not open before that.
		return invalid("registration_opens_before_seconds", "plus sale_seconds must be at most one week (%d)", week)
	}
	// Everything else is the drop template's: validate a sample drop, so
	// the rules and the field names are the drops'.
	return s.DropFor(s.OccurrenceOn(2030, time.January, 1)).Validate()
}

// Location is the series' time zone. "Local" is refused: nodes in
// different zones would disagree about it.
func (s Series) Location() (*time.Location, error) {
	if s.TimeZone == "" || s.TimeZone == "Local" || len(s.TimeZone) > 64 {
		return nil, invalid("time_zone", "must be an IANA time zone name such as Europe/Berlin")
	}
	if l, ok := locations.Load(s.TimeZone); ok {
		return l.(*time.Location), nil
	}
	l, err := time.LoadLocation(s.TimeZone)
	if err != nil {
		return nil, invalid("time_zone", "must be an IANA time zone name such as Europe/Berlin; %q is not one this server knows", s.TimeZone)
	}
	locations.Store(s.TimeZone, l)
	return l, nil
}

// locations caches loaded zones: the scheduler asks every second.
var locations sync.Map

func parseClock(hm string) (int, int, error) {
	var h, m int
	if len(hm) != 5 || hm[2] != ':' {
		return 0, 0, invalid("sale_time", `must be "HH:MM" (24-hour clock)`)
	}
	if _, err := fmt.Sscanf(hm, "%02d:%02d", &h, &m); err != nil || h > 23 || m > 59 || h < 0 || m < 0 {
		return 0, 0, invalid("sale_time", `must be "HH:MM" (24-hour clock)`)
	}
	return h, m, nil
}

// Occurrence is one week of a series: its local sale date and times.
type Occurrence struct {
	// Date is the local sale date, "YYYY-MM-DD".
	Date                 string
	RegistrationOpensAt  time.Time
	RegistrationClosesAt time.Time
	SaleStartsAt         time.Time
	SaleEndsAt           time.Time
}

// OccurrenceOn is the series' sale on a local date (whatever its weekday).
// The series must be valid.
func (s Series) OccurrenceOn(y int, m time.Month, d int) Occurrence {
	loc, err := s.Location()
	if err != nil {
		loc = time.UTC
	}
	h, mi, _ := parseClock(s.SaleTime)
	start := LocalTime(y, m, d, h, mi, loc)
	sec := func(n int64) time.Duration { return time.Duration(n) * time.Second }
	return Occurrence{
		Date:                 time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Format(time.DateOnly),
		RegistrationOpensAt:  start.Add(-sec(s.RegistrationOpensBeforeSeconds)),
		RegistrationClosesAt: start.Add(-sec(s.RegistrationClosesBeforeSeconds)),
		SaleStartsAt:         start,
		SaleEndsAt:           start.Add(sec(s.SaleSeconds)),
	}
}

// Next is the occurrence the scheduler keeps created at now: the earliest
// whose sale has not ended, skipping any whose registration had already
// closed when the series was created (a drop nobody could register for).
func (s Series) Next(now time.Time) Occurrence {
	loc, err := s.Location()
	if err != nil {
		loc = time.UTC
	}
	l := now.In(loc)
	// Dates are counted on UTC noons, which no zone rule moves.
	day := time.Date(l.Year(), l.Month(), l.Day()-8, 12, 0, 0, 0, time.UTC)
	for day.Weekday() != time.Weekday(s.Weekday%7) {
		day = day.AddDate(0, 0, 1)
	}
	for i := 0; ; i++ {
		o := s.OccurrenceOn(day.Year(), day.Month(), day.Day())
		if o.SaleEndsAt.After(now) && (s.CreatedAt.IsZero() || o.RegistrationClosesAt.After(s.CreatedAt)) {
			return o
		}
		day = day.AddDate(0, 0, 7)
		if i > 600 { // cannot happen for a valid series; stay total anyway
			return o
		}
	}
}

// Upcoming is the occurrence shoppers can still register for at now:
// Next, or once Next's registration has closed (its sale about to run, or
// running), the week after's. It is the series' next drop as the API and
// the share cards name it; the scheduler keeps both Next's and this one
// created.
func (s Series) Upcoming(now time.Time) Occurrence {
	o := s.Next(now)
	if now.Before(o.RegistrationClosesAt) {
		return o
	}
	return s.Next(o.SaleEndsAt)
}

// DropID is the id of the series' drop on a local date.
func (s Series) DropID(o Occurrence) string { return s.ID + "-" + o.Date }

// DropFor is the drop of one occurrence.
func (s Series) DropFor(o Occurrence) Drop {
	return Drop{
		ID: s.DropID(o), Name: s.Name, Product: s.Product, Stock: s.Stock, PerUserLimit: s.PerUserLimit,
		HoldSeconds: s.HoldSeconds, Mode: s.Mode, DrawQuantity: s.DrawQuantity, ConfirmBy: s.ConfirmBy,
		CheckoutURL: s.CheckoutURL, ReminderSeconds: s.ReminderSeconds, Series: s.ID,
		RegistrationOpensAt: o.RegistrationOpensAt, RegistrationClosesAt: o.RegistrationClosesAt,
		SaleStartsAt: o.SaleStartsAt, SaleEndsAt: o.SaleEndsAt,
	}.Normalize()
}

// fieldDiff collects the names of the fields that differ.
type fieldDiff []string

func (f *fieldDiff) add(name string, differ bool) {
	if differ {
		*f = append(*f, name)
	}
}

// Diff names the configuration fields (API names) in which two series
// differ; the creation time is not configuration.
func (s Series) Diff(o Series) []string {
	var out fieldDiff
	add := out.add
	add("name", s.Name != o.Name)
	add("product", s.Product != o.Product)
	add("stock", s.Stock != o.Stock)
	add("per_user_limit", s.PerUserLimit != o.PerUserLimit)
	add("hold_seconds", s.HoldSeconds != o.HoldSeconds)
	add("mode", s.Mode != o.Mode)
	add("draw_quantity", s.DrawQuantity != o.DrawQuantity)
	add("confirm_by", s.ConfirmBy != o.ConfirmBy)
	add("checkout_url", s.CheckoutURL != o.CheckoutURL)
	add("weekday", s.Weekday != o.Weekday)
	add("sale_time", s.SaleTime != o.SaleTime)
	add("time_zone", s.TimeZone != o.TimeZone)
	add("registration_opens_before_seconds", s.RegistrationOpensBeforeSeconds != o.RegistrationOpensBeforeSeconds)
	add("registration_closes_before_seconds", s.RegistrationClosesBeforeSeconds != o.RegistrationClosesBeforeSeconds)
	add("sale_seconds", s.SaleSeconds != o.SaleSeconds)
	add("reminder_seconds", s.ReminderSeconds != o.ReminderSeconds)
	return out
}

// LocalTime is the instant at which a wall clock in loc shows the date
// y-m-d and the time h:mi. Daylight-saving changes make some wall times
// special, and the rule is:
//
//   - a wall time that does not exist (clocks spring forward over it)
//     moves forward by the gap: 02:30 on a day that jumps from 02:00 to
//     03:00 is 03:30;
//   - a wall time that exists twice (clocks fall back over it) is its
//     first occurrence, the earlier instant, still on the old offset.
//
// time.Date leaves both cases unspecified, hence this function.
func LocalTime(y int, m time.Month, d, h, mi int, loc *time.Location) time.Time {
	wall := time.Date(y, m, d, h, mi, 0, 0, time.UTC)
	same := func(t time.Time) bool {
		l := t.In(loc)
		return l.Year() == wall.Year() && l.Month() == wall.Month() && l.Day() == wall.Day() &&
			l.Hour() == wall.Hour() && l.Minute() == wall.Minute()
	}
	// Every offset in effect within a day of the wall time: a transition
	// near it is between two of them.
	var offsets []int
	for _, probe := range []time.Duration{-26, -13, 0, 13, 26} {
		_, off := wall.Add(probe * time.Hour).In(loc).Zone()
		if !containsInt(offsets, off) {
			offsets = append(offsets, off)
		}
	}
	var exact, later []time.Time
	for _, off := range offsets {
		t := wall.Add(-time.Duration(off) * time.Second)
		switch {
		case same(t):
			exact = append(exact, t)
		case wallOf(t.In(loc)).After(wall):
			later = append(later, t)
		}
	}
	if len(exact) > 0 {
		return earliest(exact) // the first of an ambiguous wall time
	}
	if len(later) > 0 {
		// In a gap: on the offset before the jump, which shows the wall
		// time plus the gap.
		return earliest(later)
	}
	return time.Date(y, m, d, h, mi, 0, 0, loc) // no transition found; cannot happen
}

func wallOf(t time.Time) time.Time {
	return time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), 0, time.UTC)
}

func earliest(ts []time.Time) time.Time {
	min := ts[0]
	for _, t := range ts[1:] {
		if t.Before(min) {
			min = t
		}
	}
	return min.UTC()
}

func containsInt(xs []int, x int) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

// NextDrop is a series' next drop as anyone may see it: the drop if the
// scheduler created it already, else what it will create.
type NextDrop struct {
	ID                   string    `json:"id"`
	State                State     `json:"state"`
	Created              bool      `json:"created"`
	RegistrationOpensAt  time.Time `json:"registration_opens_at"`
	RegistrationClosesAt time.Time `json:"registration_closes_at"`
	SaleStartsAt         time.Time `json:"sale_starts_at"`
	SaleEndsAt           time.Time `json:"sale_ends_at,omitzero"`
	// Differs names the fields (API names) in which the drop already made
	// under this id differs from what the series would make now: made by
	// a series of this id deleted since and made again otherwise, or by
	// hand. That drop keeps them; the series' own apply from the next
	// drop not yet made.
	Differs []string `json:"differs,omitempty"`
}

// configDiff names the fields (API names) of a drop's configuration in
// which made differs from want.
func configDiff(made, want Drop) []string {
	var out fieldDiff
	add := out.add
	add("name", made.Name != want.Name)
	add("product", made.Product != want.Product)
	add("stock", made.Stock != want.Stock)
	add("per_user_limit", made.PerUserLimit != want.PerUserLimit)
	add("hold_seconds", made.HoldSeconds != want.HoldSeconds)
	add("mode", made.Mode != want.Mode)
	add("draw_quantity", made.DrawQuantity != want.DrawQuantity)
	add("confirm_by", made.ConfirmBy != want.ConfirmBy)
	add("checkout_url", made.CheckoutURL != want.CheckoutURL)
	add("reminder_seconds", made.ReminderSeconds != want.ReminderSeconds)
	add("registration_opens_at", !made.RegistrationOpensAt.Equal(want.RegistrationOpensAt))
	add("registration_closes_at", !made.RegistrationClosesAt.Equal(want.RegistrationClosesAt))
	add("sale_starts_at", !made.SaleStartsAt.Equal(want.SaleStartsAt))
	add("sale_ends_at", !made.SaleEndsAt.Equal(want.SaleEndsAt))
	add("series", made.Series != want.Series)
	add("rehearsal", made.Rehearsal != want.Rehearsal)
	return out
}

// errNoWeekStore answers series and draw calls on a store that keeps
// neither (test stubs): nothing of the kind exists there.
var errNoWeekStore = &DetailError{Err: ErrNotFound, Detail: "this store keeps no series or draws"}

func (e *Engine) weekStore() (WeekStore, error) {
	ws, ok := e.store.(WeekStore)
	if !ok {
		return nil, errNoWeekStore
	}
	return ws, nil
}

// CreateSeries validates and stores a new series, safe to retry: the same
// configuration again returns the stored series with created=false;
// another one under the same id is ErrSeriesExists naming what differs.
func (e *Engine) CreateSeries(ctx context.Context, s Series) (Series, bool, error) {
	s.CreatedAt = e.clock.Now()
	s = s.Normalize()
	if err := s.Validate(); err != nil {
		return Series{}, false, err
	}
	ws, err := e.weekStore()
	if err != nil {
		return Series{}, false, err
	}
	created, err := ws.CreateSeries(ctx, s)
	if err != nil {
		return Series{}, false, fmt.Errorf("create series=%s: %w", s.ID, err)
	}
	if created {
		return s, true, nil
	}
	stored, err := ws.Series(ctx, s.ID)
	if err != nil {
		return Series{}, false, err
	}
	if diff := stored.Diff(s); len(diff) > 0 {
		return Series{}, false, &DetailError{Err: ErrSeriesExists,
			Detail: "a series with this id exists with a different " + strings.Join(diff, ", ")}
	}
	return stored, false, nil
}

// Series returns one series.
func (e *Engine) Series(ctx context.Context, id string) (Series, error) {
	if err := ValidateDropID(id); err != nil || len(id) > MaxSeriesIDLen {
		return Series{}, fmt.Errorf("%w: series %q", ErrNotFound, id)
	}
	ws, err := e.weekStore()
	if err != nil {
		return Series{}, err
	}
	return ws.Series(ctx, id)
}

// SeriesList lists every series, ordered by id.
func (e *Engine) SeriesList(ctx context.Context) ([]Series, error) {
	ws, err := e.weekStore()
	if err != nil {
		return nil, err
	}
	return ws.SeriesList(ctx)
}

// DeleteSeries stops a series: no drop is created for it from now on.
// Drops it created already are left as they are.
func (e *Engine) DeleteSeries(ctx context.Context, id string) error {
	if err := ValidateDropID(id); err != nil || len(id) > MaxSeriesIDLen {
		return fmt.Errorf("%w: series %q", ErrNotFound, id)
	}
	ws, err := e.weekStore()
	if err != nil {
		return err
	}
	return ws.DeleteSeries(ctx, id)
}

// NextSeriesDrop returns a series and its next drop as of now: the one
// shoppers can still register for (Series.Upcoming).
func (e *Engine) NextSeriesDrop(ctx context.Context, id string) (Series, NextDrop, error) {
	s, err := e.Series(ctx, id)
	if err != nil {
		return Series{}, NextDrop{}, err
	}
	now := e.clock.Now()
	o := s.Upcoming(now)
	want := s.DropFor(o)
	next := NextDrop{ID: want.ID, RegistrationOpensAt: want.RegistrationOpensAt,
		RegistrationClosesAt: want.RegistrationClosesAt, SaleStartsAt: want.SaleStartsAt, SaleEndsAt: want.SaleEndsAt,
		State: want.State(now, want.Stock)}
	d, err := e.store.Drop(ctx, want.ID)
	switch {
	case errors.Is(err, ErrNotFound):
		return s, next, nil
	case err != nil:
		return Series{}, NextDrop{}, err
	}
	st, err := e.store.Stats(ctx, d.ID)
	if err != nil {
		return Series{}, NextDrop{}, err
	}
	next = NextDrop{ID: d.ID, Created: true, State: d.State(now, st.Available),
		RegistrationOpensAt: d.RegistrationOpensAt, RegistrationClosesAt: d.RegistrationClosesAt,
		SaleStartsAt: d.SaleStartsAt, SaleEndsAt: d.SaleEndsAt, Differs: configDiff(d, want)}
	return s, next, nil
}
