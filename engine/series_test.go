package engine_test

import (
	"errors"
	"testing"
	"time"

	"github.com/flashdrop/flashdrop/engine"
)

func validSeries() engine.Series {
	return engine.Series{
		ID: "tuesday", Name: "Sneaker", Stock: 100, Weekday: 2, SaleTime: "20:00", TimeZone: "Europe/Berlin",
		RegistrationOpensBeforeSeconds: 3 * 24 * 3600, RegistrationClosesBeforeSeconds: 600,
	}.Normalize()
}

func TestSeriesValidate(t *testing.T) {
	if err := validSeries().Validate(); err != nil {
		t.Fatalf("valid series rejected: %v", err)
	}
	cases := []struct {
		field string
		edit  func(*engine.Series)
	}{
		{"time_zone", func(s *engine.Series) { s.TimeZone = "Mars/Olympus_Mons" }},
		{"time_zone", func(s *engine.Series) { s.TimeZone = "" }},
		{"time_zone", func(s *engine.Series) { s.TimeZone = "Local" }},
		{"weekday", func(s *engine.Series) { s.Weekday = 0 }},
		{"weekday", func(s *engine.Series) { s.Weekday = 8 }},
		{"sale_time", func(s *engine.Series) { s.SaleTime = "24:00" }},
		{"sale_time", func(s *engine.Series) { s.SaleTime = "8pm" }},
		{"sale_time", func(s *engine.Series) { s.SaleTime = "20:60" }},
		// A lead that would put registration after the sale, or its
		// opening after its close.
		{"registration_closes_before_seconds", func(s *engine.Series) { s.RegistrationClosesBeforeSeconds = -60 }},
		{"registration_opens_before_seconds", func(s *engine.Series) { s.RegistrationOpensBeforeSeconds = 600 }},
		{"registration_opens_before_seconds", func(s *engine.Series) { s.RegistrationOpensBeforeSeconds = 7 * 24 * 3600 }},
		{"sale_seconds", func(s *engine.Series) { s.SaleSeconds = 10 }},
		{"id", func(s *engine.Series) { s.ID = "has space" }},
		{"id", func(s *engine.Series) { s.ID = "a-very-long-series-name-that-leaves-no-room-for-the-date-x" }},
		{"stock", func(s *engine.Series) { s.Stock = 0 }},
		{"mode", func(s *engine.Series) { s.Mode = "auction" }},
		{"draw_quantity", func(s *engine.Series) { s.DrawQuantity = 2 }},
	}
	for _, c := range cases {
		s := validSeries()
		c.edit(&s)
		var ve *engine.ValidationError
		if err := s.Validate(); !errors.As(err, &ve) || ve.Field != c.field {
			t.Errorf("%s: want a ValidationError on %s, got %v", c.field, c.field, err)
		}
	}
}

// utc is a time in UTC for the expectations below.
func utc(y int, m time.Month, d, h, mi int) time.Time {
	return time.Date(y, m, d, h, mi, 0, 0, time.UTC)
}

// TestLocalTimeAcrossDST checks the README's rule in zones on both
// hemispheres: a wall time in a spring-forward gap moves forward by the
// gap; one that a fall-back repeats is its first occurrence.
func TestLocalTimeAcrossDST(t *testing.T) {
	load := func(name string) *time.Location {
		l, err := time.LoadLocation(name)
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	berlin, sydney, santiago := load("Europe/Berlin"), load("Australia/Sydney"), load("America/Santiago")
	cases := []struct {
		name string
		got  time.Time
		want time.Time
	}{
		{"berlin ordinary winter", engine.LocalTime(2027, 3, 23, 20, 0, berlin), utc(2027, 3, 23, 19, 0)},
		{"berlin ordinary summer", engine.LocalTime(2027, 3, 30, 20, 0, berlin), utc(2027, 3, 30, 18, 0)},
		{"berlin gap 02:30 is 03:30 CEST", engine.LocalTime(2027, 3, 28, 2, 30, berlin), utc(2027, 3, 28, 1, 30)},
		{"berlin gap edge 02:00 is 03:00 CEST", engine.LocalTime(2027, 3, 28, 2, 0, berlin), utc(2027, 3, 28, 1, 0)},
		{"berlin after gap 03:00", engine.LocalTime(2027, 3, 28, 3, 0, berlin), utc(2027, 3, 28, 1, 0)},
		{"berlin repeated 02:30 is the first (CEST)", engine.LocalTime(2026, 10, 25, 2, 30, berlin), utc(2026, 10, 25, 0, 30)},
		{"berlin 03:00 after fall-back", engine.LocalTime(2026, 10, 25, 3, 0, berlin), utc(2026, 10, 25, 2, 0)},
		{"sydney gap 02:30 is 03:30 AEDT", engine.LocalTime(2026, 10, 4, 2, 30, sydney), utc(2026, 10, 3, 16, 30)},
		{"sydney repeated 02:30 is the first (AEDT)", engine.LocalTime(2027, 4, 4, 2, 30, sydney), utc(2027, 4, 3, 15, 30)},
		{"sydney 20:00 before spring", engine.LocalTime(2026, 10, 3, 20, 0, sydney), utc(2026, 10, 3, 10, 0)},
		{"sydney 20:00 after spring", engine.LocalTime(2026, 10, 4, 20, 0, sydney), utc(2026, 10, 4, 9, 0)},
		{"santiago gap at midnight 00:30 is 01:30", engine.LocalTime(2026, 9, 6, 0, 30, santiago), utc(2026, 9, 6, 4, 30)},
		{"santiago repeated 23:30 is the first (-03)", engine.LocalTime(2027, 4, 3, 23, 30, santiago), utc(2027, 4, 4, 2, 30)},
	}
	for _, c := range cases {
		if !c.got.Equal(c.want) {
			t.Errorf("%s: got %v, want %v", c.name, c.got.UTC(), c.want)
		}
	}
}

// TestSeriesNextAcrossDST walks a Tuesday 20:00 Berlin series and a Sunday
// 02:30 Sydney series week by week across both changes: the sale stays at
// its local time, ids carry the local date, and the next occurrence
// arrives when a sale ends.
func TestSeriesNextAcrossDST(t *testing.T) {
	s := validSeries()
	now := utc(2027, 3, 20, 12, 0)
	want := []struct {
		id    string
		start time.Time
	}{
		{"tuesday-2027-03-23", utc(2027, 3, 23, 19, 0)},
		{"tuesday-2027-03-30", utc(2027, 3, 30, 18, 0)}, // CEST from 28 March
		{"tuesday-2027-04-06", utc(2027, 4, 6, 18, 0)},
	}
	for _, w := range want {
		o := s.Next(now)
		if s.DropID(o) != w.id || !o.SaleStartsAt.Equal(w.start) {
			t.Fatalf("at %v: next %s at %v, want %s at %v", now, s.DropID(o), o.SaleStartsAt, w.id, w.start)
		}
		if o.SaleStartsAt.In(mustLoad(t, "Europe/Berlin")).Hour() != 20 {
			t.Fatalf("%s starts at %v local", w.id, o.SaleStartsAt.In(mustLoad(t, "Europe/Berlin")))
		}
		if got := o.RegistrationClosesAt; !got.Equal(o.SaleStartsAt.Add(-10 * time.Minute)) {
			t.Fatalf("registration closes at %v", got)
		}
		// Still the same drop until its sale ends; the next one after.
		if s.DropID(s.Next(o.SaleEndsAt.Add(-time.Millisecond))) != w.id {
			t.Fatalf("the next drop moved on before %s's sale ended", w.id)
		}
		now = o.SaleEndsAt
	}

	syd := validSeries()
	syd.ID, syd.Weekday, syd.SaleTime, syd.TimeZone = "sunday", 7, "02:30", "Australia/Sydney"
	now = utc(2026, 9, 30, 0, 0)
	for _, w := range []struct {
		id    string
		start time.Time
	}{
		{"sunday-2026-10-04", utc(2026, 10, 3, 16, 30)}, // 02:30 does not exist: 03:30 AEDT
		{"sunday-2026-10-11", utc(2026, 10, 10, 15, 30)},
	} {
		o := syd.Next(now)
		if syd.DropID(o) != w.id || !o.SaleStartsAt.Equal(w.start) {
			t.Fatalf("sydney at %v: next %s at %v, want %s at %v", now, syd.DropID(o), o.SaleStartsAt, w.id, w.start)
		}
		now = o.SaleEndsAt
	}
}

func mustLoad(t *testing.T, name string) *time.Location {
	t.Helper()
	l, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// TestSeriesSkipsAClosedFirstWeek: a series created after this week's
// registration closed starts with next week's drop, not one nobody can
// register for.
func TestSeriesSkipsAClosedFirstWeek(t *testing.T) {
	s := validSeries()
	s.CreatedAt = utc(2027, 3, 23, 18, 55) // 19:55 CET, registration closed at 19:50
	if id := s.DropID(s.Next(s.CreatedAt)); id != "tuesday-2027-03-30" {
		t.Fatalf("first drop %s", id)
	}
	s.CreatedAt = utc(2027, 3, 23, 18, 45)
	if id := s.DropID(s.Next(s.CreatedAt)); id != "tuesday-2027-03-23" {
		t.Fatalf("first drop %s", id)
	}
}

func TestSeriesDropFor(t *testing.T) {
	s := validSeries()
	s.Mode, s.DrawQuantity = engine.ModeDraw, 0
	s = s.Normalize()
	d := s.DropFor(s.OccurrenceOn(2027, 3, 23))
	if d.ID != "tuesday-2027-03-23" || d.Series != "tuesday" || d.Mode != engine.ModeDraw || d.DrawQuantity != 1 ||
		d.ReminderSeconds != engine.DefaultReminderSeconds || d.SaleEndsAt.Sub(d.SaleStartsAt) != time.Hour ||
		d.SaleStartsAt.Sub(d.RegistrationOpensAt) != 72*time.Hour {
		t.Fatalf("drop: %+v", d)
	}
	if err := d.Validate(); err != nil {
		t.Fatalf("a series drop must be valid: %v", err)
	}
	if diff := s.Diff(s); len(diff) != 0 {
		t.Fatalf("diff with itself: %v", diff)
	}
	o := s
	o.Stock, o.TimeZone, o.CreatedAt = 5, "UTC", utc(2020, 1, 1, 0, 0)
	if diff := s.Diff(o); len(diff) != 2 || diff[0] != "stock" || diff[1] != "time_zone" {
		t.Fatalf("diff: %v", diff)
	}
}

// TestDrawAlgorithm pins the published algorithm to fixed vectors, so that
// an outside verifier written from the README stays in agreement.
func TestDrawAlgorithm(t *testing.T) {
	seed := make([]byte, 32)
	for i := range seed {
		seed[i] = byte(i)
	}
	if got := engine.SeedHash(seed); got != "630dcd2966c4336691125448bbb25b4ff412a49c732db2c8abc1b8581bd710dd" {
		t.Fatalf("seed hash %s", got)
	}
	tk := engine.Ticket([]byte("key"), "alice")
	if len(tk) != 32 || tk != engine.Ticket([]byte("key"), "alice") || tk == engine.Ticket([]byte("key"), "bob") {
		t.Fatalf("ticket %s", tk)
	}
	if engine.FrozenDigest([]string{"b", "a"}) != engine.FrozenDigest([]string{"a", "b"}) {
		t.Fatal("the digest must not depend on the order given")
	}
	// sha256("a\nb\n")
	if got := engine.FrozenDigest([]string{"b", "a"}); got != "911169ddaaf146aff539f58c26c489af3b892dff0fe283c1c264c65ae5aa59a2" {
		t.Fatalf("digest %s, want sha256(\"a\\nb\\n\")", got)
	}
	entries := []engine.DrawEntry{{"t1", "a"}, {"t2", "b"}, {"t3", "c"}, {"t4", "d"}}
	a := engine.DrawOrderOf(seed, append([]engine.DrawEntry(nil), entries...))
	b := engine.DrawOrderOf(seed, []engine.DrawEntry{entries[3], entries[1], entries[0], entries[2]})
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("the order must depend on the seed and the tickets only: %v vs %v", a, b)
		}
	}
	if engine.DrawWinners(300, 30, 1) != 30 || engine.DrawWinners(10, 30, 1) != 10 || engine.DrawWinners(300, 31, 2) != 15 {
		t.Fatal("winners")
	}
}
