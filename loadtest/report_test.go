package loadtest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flashdrop/flashdrop/loadtest"
	"github.com/flashdrop/flashdrop/loadtest/fakeserver"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// t0 of the reproducible runs: the generator's and the fake's clock.
var epoch = time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)

// latencyOf gives every answer a fixed latency by endpoint and outcome:
// with one connection and a manual clock that the fake moves, a whole run
// (and its report) is reproducible.
func latencyOf(endpoint, outcome string) time.Duration {
	switch endpoint + "/" + outcome {
	case "reserve/won":
		return 2100 * time.Microsecond
	case "reserve/sold_out":
		return 450 * time.Microsecond
	case "reserve/limit_reached":
		return 700 * time.Microsecond
	case "reserve/not_registered":
		return 300 * time.Microsecond
	case "register/ok":
		return 900 * time.Microsecond
	case "confirm/ok":
		return 1500 * time.Microsecond
	case "cancel/ok":
		return 1200 * time.Microsecond
	}
	return 250 * time.Microsecond
}

// reproducible runs a rehearsal on a manual clock against a fake whose
// answers take fixed times.
func reproducible(t *testing.T, f *fakeserver.Server, clock *loadtest.ManualClock, o loadtest.Options) *loadtest.Report {
	t.Helper()
	rep, err := loadtest.Run(context.Background(), o, loadtest.WithClock(clock),
		loadtest.WithCPUMeter(func() time.Duration { return 0 }), loadtest.WithCores(2), noMachineMeter)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// noMachineMeter keeps the machine's real load out of a reproducible
// report.
var noMachineMeter = loadtest.WithMachineMeter(func() (time.Duration, time.Duration, bool) { return 0, 0, false })

func newReproducibleFake(t *testing.T, clock *loadtest.ManualClock, winIf func(string) bool) *fakeserver.Server {
	return startFake(t, fakeserver.Options{Now: clock.Now, WinIf: winIf,
		Delay: func(endpoint, outcome string) { clock.Advance(latencyOf(endpoint, outcome)) }})
}

func goldenOptions(target string) loadtest.Options {
	o := baseOptions(target)
	o.Users, o.Stock, o.Presses, o.Connections, o.Lead, o.Seed = 60, 6, 2, 1, 2*time.Second, 42
	_ = o.SetRatio("waitlist-ratio", 0.5)
	return o
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (go test ./loadtest -run %s -update to accept):\n%s", name, t.Name(), got)
	}
}

// TestGoldenReports: the text and JSON reports of a reproducible run
// (fixed clock, seed and latencies) match the golden files byte for byte.
func TestGoldenReports(t *testing.T) {
	clock := loadtest.NewManualClock(epoch)
	f := newReproducibleFake(t, clock, nil)
	rep := reproducible(t, f, clock, goldenOptions(f.URL))
	var text, js bytes.Buffer
	if err := rep.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	if err := rep.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	// The target's port is the one thing a run cannot fix.
	port := strings.TrimPrefix(f.URL, "http://127.0.0.1:")
	golden(t, "report.txt", bytes.ReplaceAll(text.Bytes(), []byte(port), []byte("PORT")))
	golden(t, "report.json", bytes.ReplaceAll(js.Bytes(), []byte(port), []byte("PORT")))
	if rep.ExitCode != 0 || rep.Audit.Verdict != loadtest.AuditPass {
		t.Fatalf("the golden run must pass:\n%s", text.String())
	}
	// The JSON reads back and renders the same text.
	back, err := loadtest.ReadJSON(&js)
	if err != nil {
		t.Fatal(err)
	}
	var text2 bytes.Buffer
	_ = back.WriteText(&text2)
	if text2.String() != text.String() {
		t.Errorf("the JSON report does not render the same text:\n%s", text2.String())
	}
}

// TestHTMLReportIsSelfContained: the HTML page parses, holds its charts as
// inline SVG, and references no other host: no script, stylesheet, font
// or image from anywhere.
func TestHTMLReportIsSelfContained(t *testing.T) {
	clock := loadtest.NewManualClock(epoch)
	f := newReproducibleFake(t, clock, nil)
	rep := reproducible(t, f, clock, goldenOptions(f.URL))
	var page bytes.Buffer
	if err := rep.WriteHTML(&page); err != nil {
		t.Fatal(err)
	}
	d := xml.NewDecoder(bytes.NewReader(page.Bytes()))
	d.Strict, d.AutoClose, d.Entity = false, xml.HTMLAutoClose, xml.HTMLEntity
	svgs, paths := 0, 0
	var inStyle bool
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("the page does not parse: %v", err)
		}
		switch tk := tok.(type) {
		case xml.StartElement:
			switch strings.ToLower(tk.Name.Local) {
			case "svg":
				svgs++
			case "path", "line", "polyline", "rect":
				paths++
			case "script", "link", "img", "iframe", "object", "embed":
				t.Errorf("the page has a <%s> element", tk.Name.Local)
			case "style":
				inStyle = true
			}
			for _, a := range tk.Attr {
				if tk.Name.Local == "svg" && (a.Name.Local == "xmlns" || a.Name.Space == "xmlns") {
					continue // a namespace name, never fetched
				}
				v := strings.ToLower(a.Value)
				if strings.Contains(v, "://") || strings.Contains(v, "url(") && !strings.Contains(v, "url(#") || strings.HasPrefix(v, "//") {
					t.Errorf("<%s %s=%q> references something outside the page", tk.Name.Local, a.Name.Local, a.Value)
				}
			}
		case xml.CharData:
			if inStyle {
				css := strings.ToLower(string(tk))
				if strings.Contains(css, "@import") || strings.Contains(css, "url(") {
					t.Errorf("the stylesheet loads something: %s", css)
				}
			}
		case xml.EndElement:
			if tk.Name.Local == "style" {
				inStyle = false
			}
		}
	}
	if svgs < 2 || paths < 10 {
		t.Errorf("want two inline SVG charts with drawing in them, got %d svg and %d shapes", svgs, paths)
	}
	for _, want := range []string{"Audit: pass", "I4", "Rush: answers per second after T0", "Latency percentiles per endpoint"} {
		if !strings.Contains(page.String(), want) {
			t.Errorf("the page lacks %q", want)
		}
	}
}

// TestHTMLReportReads: the charts are in a sans-serif face, as the page
// is (they were in Liberation Serif); their legends say outcomes in words
// (sold out, not sold_out); every table scrolls inside a wrapper of its
// own and every chart shrinks to the page, so that a phone's page is no
// wider than the phone (at 375 px it was 794 px wide).
func TestHTMLReportReads(t *testing.T) {
	clock := loadtest.NewManualClock(epoch)
	f := newReproducibleFake(t, clock, nil)
	rep := reproducible(t, f, clock, goldenOptions(f.URL))
	var b bytes.Buffer
	if err := rep.WriteHTML(&b); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	if strings.Contains(page, "Serif") || !strings.Contains(page, "font-family:'Liberation Sans',Arial,Helvetica,sans-serif;") {
		t.Errorf("the charts' text is not in a sans-serif face")
	}
	charts := page[strings.Index(page, "<svg"):strings.LastIndex(page, "</svg>")]
	for _, want := range []string{">sold out<", ">not registered<", ">limit reached<", ">won<", ">all requests<"} {
		if !strings.Contains(charts, want) {
			t.Errorf("the charts' legends lack %q", want)
		}
	}
	if strings.Contains(charts, "_") && regexp.MustCompile(`>[a-z]+_[a-z_]+<`).MatchString(charts) {
		t.Errorf("a chart says an outcome in snake_case: %s", regexp.MustCompile(`>[a-z]+_[a-z_]+<`).FindString(charts))
	}
	if n, wrapped := strings.Count(page, "<table"), strings.Count(page, `<div class="scroll"><table`); n == 0 || n != wrapped {
		t.Errorf("%d tables, %d of them in a scrolling wrapper", n, wrapped)
	}
	if !strings.Contains(page, "svg,img{display:block;max-width:100%;height:auto") {
		t.Errorf("the charts do not shrink to the page")
	}
}

// TestMergedShardsEqualTheSingleRun: two generators (--shard 0/2, 1/2)
// against one drop, merged, report what one generator with the same seed
// reports: the same requests with the same latencies per phase, endpoint
// and outcome, the same rush timeline and outcomes, and the same audit.
// The fake decides each shopper's outcome by her id, so arrival order
// (which differs between one and two generators) cannot matter; phase
// durations legitimately differ (generators run side by side) and are
// not compared.
func TestMergedShardsEqualTheSingleRun(t *testing.T) {
	winIf := func(user string) bool {
		n, _ := strconv.Atoi(strings.TrimPrefix(user, "load-"))
		return n%7 == 0
	}
	run := func(f *fakeserver.Server, clock *loadtest.ManualClock, shard, shards int) *loadtest.Report {
		clock.Set(epoch) // every generator starts at the same moment
		o := baseOptions(f.URL)
		o.Users, o.Connections, o.Seed, o.Presses, o.ReplaySample = 140, 1, 9, 2, 1000
		o.Stock, o.HoldSeconds = 0, 0
		o.DropID, o.Shard, o.Shards = "shared", shard, shards
		_ = o.SetRatio("waitlist-ratio", 0)
		return reproducible(t, f, clock, o)
	}
	setup := func() (*fakeserver.Server, *loadtest.ManualClock) {
		clock := loadtest.NewManualClock(epoch)
		f := newReproducibleFake(t, clock, winIf)
		body := fmt.Sprintf(`{"id":"shared","stock":20,"hold_seconds":1,"registration_opens_at":%q,"registration_closes_at":%q,"sale_starts_at":%q}`,
			epoch.Add(-time.Hour).Format(time.RFC3339), epoch.Add(2*time.Second).Format(time.RFC3339), epoch.Add(2*time.Second).Format(time.RFC3339))
		postAdmin(t, f.URL+"/v1/admin/drops", body)
		return f, clock
	}
	fa, ca := setup()
	single := run(fa, ca, 0, 1)
	fb, cb := setup()
	s0, s1 := run(fb, cb, 0, 2), run(fb, cb, 1, 2)
	if s0.Audit.Verdict != loadtest.AuditPartial || s1.Audit.Verdict != loadtest.AuditPartial {
		t.Errorf("a shard's audit is partial: %s, %s", s0.Audit.Verdict, s1.Audit.Verdict)
	}
	merged, err := loadtest.Merge(loadtest.Thresholds{}, s0, s1)
	if err != nil {
		t.Fatal(err)
	}
	if single.Audit.Verdict != loadtest.AuditPass || single.Rush.Outcomes["won"] == 0 {
		t.Fatalf("the single run: audit %s, outcomes %v", single.Audit.Verdict, single.Rush.Outcomes)
	}
	pick := func(r *loadtest.Report) string {
		var series []loadtest.Series
		for _, s := range r.Series {
			if s.Phase == loadtest.PhaseRegister || s.Phase == loadtest.PhaseRush || s.Phase == loadtest.PhaseCheckout {
				series = append(series, s)
			}
		}
		// How much of its last second the rush lasted is a duration
		// too: one generator's, not two side by side.
		timeline := append([]loadtest.TimelineSecond(nil), r.Timeline...)
		for i := range timeline {
			timeline[i].Seconds = 0
		}
		b, _ := json.MarshalIndent(struct {
			Series   []loadtest.Series
			Timeline []loadtest.TimelineSecond
			Outcomes map[string]int64
			Requests int64
			Audit    loadtest.AuditReport
			Told     int
			Shoppers int
		}{series, timeline, r.Rush.Outcomes, r.Rush.Requests, r.Audit, len(r.Records.Told), r.Run.Shoppers}, "", " ")
		return string(b)
	}
	if a, b := pick(single), pick(merged); a != b {
		t.Fatalf("merged shards differ from the single run\nsingle:\n%s\nmerged:\n%s", a, b)
	}

	// A merged report names its shards, so merging it again still finds
	// a missing shard or one given twice.
	incomplete := func(r *loadtest.Report) bool {
		for _, s := range r.Invalid {
			if strings.Contains(s, "incomplete merge") {
				return true
			}
		}
		return false
	}
	half, err := loadtest.Merge(loadtest.Thresholds{}, s0)
	if err != nil {
		t.Fatal(err)
	}
	if !incomplete(half) || fmt.Sprint(half.Run.ShardsMerged) != "[0]" {
		t.Fatalf("a merge of shard 0 of 2: shards %v, invalid %q", half.Run.ShardsMerged, half.Invalid)
	}
	again, err := loadtest.Merge(loadtest.Thresholds{}, half)
	if err != nil {
		t.Fatal(err)
	}
	if !incomplete(again) {
		t.Fatalf("a merged report of shard 0 alone, merged again, passed as complete: invalid %q", again.Invalid)
	}
	whole, err := loadtest.Merge(loadtest.Thresholds{}, half, s1)
	if err != nil {
		t.Fatal(err)
	}
	if incomplete(whole) || fmt.Sprint(whole.Run.ShardsMerged) != "[0 1]" {
		t.Fatalf("shard 0's merge with shard 1: shards %v, invalid %q", whole.Run.ShardsMerged, whole.Invalid)
	}
	// A merged report of a version that did not name its shards keeps
	// its own verdict, and the merge names no shards.
	old := *half
	old.Run.ShardsMerged = nil
	kept, err := loadtest.Merge(loadtest.Thresholds{}, &old, s1)
	if err != nil {
		t.Fatal(err)
	}
	if !incomplete(kept) || kept.Run.ShardsMerged != nil {
		t.Fatalf("an older merged report merged again: shards %v, invalid %q", kept.Run.ShardsMerged, kept.Invalid)
	}
	if _, err := loadtest.Merge(loadtest.Thresholds{}, merged, s1); err == nil || !strings.Contains(err.Error(), "appears twice") {
		t.Fatalf("a merged report with one of its shards again: %v, want \"appears twice\"", err)
	}
}

func postAdmin(t *testing.T, url, body string) {
	t.Helper()
	req, _ := http.NewRequest("POST", url, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+adminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 201 {
		t.Fatalf("POST %s: %d", url, resp.StatusCode)
	}
}

// TestJSONListsAreArrays: every list the README names with [] is a JSON
// array in the report, [] when empty: never null or missing, so `jq
// '.thresholds[]'` works on a run without thresholds (it failed on null),
// as do .invalid[] and .notes[] on a passing run (they were left out).
func TestJSONListsAreArrays(t *testing.T) {
	clock := loadtest.NewManualClock(epoch)
	f := newReproducibleFake(t, clock, nil)
	for name, rep := range map[string]*loadtest.Report{
		"a passing run without thresholds": reproducible(t, f, clock, goldenOptions(f.URL)),
		"an empty report":                  {},
	} {
		var js bytes.Buffer
		if err := rep.WriteJSON(&js); err != nil {
			t.Fatal(err)
		}
		var doc map[string]any
		if err := json.Unmarshal(js.Bytes(), &doc); err != nil {
			t.Fatal(err)
		}
		get := func(path ...string) any {
			var v any = doc
			for _, p := range path {
				m, ok := v.(map[string]any)
				if !ok {
					return nil
				}
				v = m[p]
			}
			return v
		}
		for _, path := range [][]string{
			{"invalid"}, {"notes"}, {"thresholds"}, {"phases"}, {"series"}, {"timeline"}, {"throughput", "buckets"},
			{"audit", "checks"}, {"run", "targets"},
			{"records", "unregistered"}, {"records", "told"}, {"records", "replays"}, {"records", "events"},
		} {
			if _, ok := get(path...).([]any); !ok {
				t.Errorf("%s: .%s is %v, want an array", name, strings.Join(path, "."), get(path...))
			}
		}
		checks, _ := get("audit", "checks").([]any)
		for _, c := range checks {
			if _, ok := c.(map[string]any)["culprits"].([]any); !ok {
				t.Errorf("%s: check %v has no culprits array", name, c.(map[string]any)["id"])
			}
		}
		if name == "a passing run without thresholds" && (len(checks) == 0 || rep.ExitCode != 0) {
			t.Errorf("the run must pass with its checks: exit %d, %d checks", rep.ExitCode, len(checks))
		}
	}
}

// TestI3CountsTheUnregisteredWhoPressed: I3's detail counts the
// unregistered shoppers who pressed Buy, not every unregistered one. In a
// rate run whose --duration leaves most buyers out, it said "all 37
// unregistered shoppers refused" when 6 had pressed.
func TestI3CountsTheUnregisteredWhoPressed(t *testing.T) {
	clock := loadtest.NewManualClock(epoch)
	f := newReproducibleFake(t, clock, nil)
	o := goldenOptions(f.URL)
	o.Users, o.Stock, o.Presses = 200, 20, 1
	o.Arrival, o.Rate, o.Duration = loadtest.ArrivalRate, 100, 500*time.Millisecond
	_ = o.SetRatio("unregistered-ratio", 0.2)
	var mu sync.Mutex
	pressed := map[string]bool{}
	rep, err := loadtest.Run(context.Background(), o, loadtest.WithClock(clock),
		loadtest.WithCPUMeter(func() time.Duration { return 0 }), loadtest.WithCores(2), noMachineMeter,
		loadtest.WithTrace(func(e loadtest.Exchange) {
			if e.Endpoint == loadtest.EndpointReserve {
				mu.Lock()
				pressed[e.User] = true
				mu.Unlock()
			}
		}))
	if err != nil {
		t.Fatal(err)
	}
	unreg := rep.Records.Unregistered
	n := 0
	for _, u := range unreg {
		if pressed[u] {
			n++
		}
	}
	if n == 0 || n == len(unreg) {
		t.Fatalf("the run must leave some unregistered shoppers out: %d of %d pressed", n, len(unreg))
	}
	var i3 *loadtest.Check
	for i, c := range rep.Audit.Checks {
		if c.ID == "I3" {
			i3 = &rep.Audit.Checks[i]
		}
	}
	want := fmt.Sprintf("all %d unregistered shoppers who pressed Buy refused (%d more never pressed)", n, len(unreg)-n)
	if i3 == nil || i3.Status != loadtest.CheckPass || i3.Detail != want {
		t.Fatalf("I3: %+v, want passed with %q", i3, want)
	}
}

// TestRampThatRunsOutOfShoppersIsNoted: a ramp whose shoppers have all
// arrived before --duration ends says so in every report, with when, the
// rate reached against the one asked, and how many --users would last;
// one whose schedule ends with --duration says nothing of it. A ramp from
// 500/s to 2000/s over 4 s with 4000 shoppers stopped at 3.47 s, short of
// 2000/s, and no report said so.
func TestRampThatRunsOutOfShoppersIsNoted(t *testing.T) {
	for _, c := range []struct {
		users int
		want  string
	}{
		// N(t) = 100t + 50t², so the 200th shopper arrives at 1.23 s,
		// at 223/s; the 2 s ramp to 300/s asks for 400.
		{200, "every shopper had arrived: the ramp's arrivals stopped 1.23s after T0, short of --duration 2s: it reached 223/s of the 300/s asked (--ramp-to); give --users 400 or more to keep the schedule for the whole duration"},
		{400, ""},
		{500, ""},
	} {
		clock := loadtest.NewManualClock(epoch)
		f := newReproducibleFake(t, clock, nil)
		o := goldenOptions(f.URL)
		o.Users, o.Stock, o.Presses, o.Connections = c.users, 10, 1, 4
		o.Arrival, o.Rate, o.RampTo, o.Duration = loadtest.ArrivalRamp, 100, 300, 2*time.Second
		rep := reproducible(t, f, clock, o)
		var text, js, page bytes.Buffer
		_ = rep.WriteText(&text)
		_ = rep.WriteJSON(&js)
		_ = rep.WriteHTML(&page)
		notes := strings.Join(rep.Notes, "\n")
		if c.want == "" {
			if strings.Contains(notes, "every shopper had arrived") {
				t.Errorf("%d users: a ramp that lasted is noted as cut short: %q", c.users, rep.Notes)
			}
			continue
		}
		if !strings.Contains(notes, c.want) {
			t.Errorf("%d users: notes %q, want %q", c.users, rep.Notes, c.want)
		}
		for name, b := range map[string]string{"text": text.String(), "json": js.String(), "html": page.String()} {
			if !strings.Contains(b, "every shopper had arrived: the ramp") {
				t.Errorf("%d users: the %s report does not say the ramp ran out of shoppers", c.users, name)
			}
		}
	}
}

// TestConfirmsAnsweredExpiredAreNoted: when holds run out before the
// checkout confirms them (here the clock passes every hold as the checkout
// starts), every report says how many confirms were answered expired and
// why, and a merge says it once, of the merged records; a run whose
// confirms came in time says nothing of it. With a 6-s ramp and the 5-s
// hold, 48 of 150 confirms were answered expired and no report said so.
// The rush's last answer is worded for its arrival model: a ramp's is no
// "burst drained".
func TestConfirmsAnsweredExpiredAreNoted(t *testing.T) {
	run := func(late bool, o func(*loadtest.Options)) *loadtest.Report {
		clock := loadtest.NewManualClock(epoch)
		f := newReproducibleFake(t, clock, nil)
		opts := goldenOptions(f.URL)
		if o != nil {
			o(&opts)
		}
		rep, err := loadtest.Run(context.Background(), opts, loadtest.WithClock(clock),
			loadtest.WithCPUMeter(func() time.Duration { return 0 }), loadtest.WithCores(2), noMachineMeter,
			loadtest.WithPhaseHook(func(p loadtest.Phase) {
				if late && p == loadtest.PhaseCheckout {
					clock.Advance(2 * time.Second) // past every 1-s hold
				}
			}))
		if err != nil {
			t.Fatal(err)
		}
		return rep
	}
	rep := run(true, nil)
	confirms, expired := 0, 0
	for _, tl := range rep.Records.Told {
		if tl.Action == "confirm" && tl.Via == "reserve" {
			confirms++
			if tl.ActionCode == "expired" {
				expired++
			}
		}
	}
	if expired == 0 {
		t.Fatalf("no confirm was answered expired: %+v", rep.Records.Told)
	}
	want := fmt.Sprintf("confirms answered expired: %d of %d: their holds (1s) ran out before the generator confirmed them: it confirms after the whole rush (", expired, confirms)
	var text, js, page bytes.Buffer
	_ = rep.WriteText(&text)
	_ = rep.WriteJSON(&js)
	_ = rep.WriteHTML(&page)
	for name, b := range map[string]string{"text": text.String(), "json": js.String(), "html": page.String()} {
		if !strings.Contains(b, want) || !strings.Contains(b, "give a longer --hold, or a shorter rush") {
			t.Errorf("the %s report does not say %q:\n%s", name, want, b)
		}
	}
	// Once in a merge, of its records.
	back, err := loadtest.ReadJSON(&js)
	if err != nil {
		t.Fatal(err)
	}
	merged, err := loadtest.Merge(loadtest.Thresholds{}, back)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(strings.Join(merged.Notes, "\n"), "confirms answered expired"); n != 1 || !strings.Contains(strings.Join(merged.Notes, "\n"), want) {
		t.Errorf("the merge's notes %q: want the note once", merged.Notes)
	}
	if in := run(false, nil); strings.Contains(strings.Join(in.Notes, "\n"), "expired") {
		t.Errorf("a run whose confirms came in time: notes %q", in.Notes)
	}
	// "burst drained" for a burst; the ramp's last arrival for a ramp.
	if !strings.Contains(text.String(), ", burst drained at ") {
		t.Errorf("a burst's text lacks \"burst drained at\":\n%s", text.String())
	}
	ramp := run(false, func(o *loadtest.Options) {
		o.Arrival, o.Rate, o.RampTo, o.Duration, o.Presses = loadtest.ArrivalRamp, 20, 100, time.Second, 1
	})
	text.Reset()
	page.Reset()
	_ = ramp.WriteText(&text)
	_ = ramp.WriteHTML(&page)
	if strings.Contains(text.String(), "burst") || !strings.Contains(text.String(), "last ramp arrival answered at ") ||
		!strings.Contains(page.String(), "Last ramp arrival answered at ") {
		t.Errorf("a ramp's reports word its last answer as a burst's:\n%s", text.String())
	}
}

// TestReportNumbersReadPlainly: a threshold of a million reads 1000000,
// not 1e+06, in the text and the HTML; one merged report is "1 generator
// report merged", not "reports".
func TestReportNumbersReadPlainly(t *testing.T) {
	clock := loadtest.NewManualClock(epoch)
	f := newReproducibleFake(t, clock, nil)
	o := goldenOptions(f.URL)
	o.Thresholds.MinRPS = 1_000_000
	rep := reproducible(t, f, clock, o)
	var text, page bytes.Buffer
	_ = rep.WriteText(&text)
	_ = rep.WriteHTML(&page)
	if !strings.Contains(text.String(), "CROSSED min-rps: 1860.465 (limit 1000000)\n") || strings.Contains(text.String(), "e+") {
		t.Errorf("text thresholds:\n%s", text.String())
	}
	if !strings.Contains(page.String(), `<td class="n">1000000</td><td class="n">1860.465</td>`) || strings.Contains(page.String(), "e+06") {
		t.Errorf("the page's thresholds do not read 1000000")
	}
	merged, err := loadtest.Merge(loadtest.Thresholds{}, rep)
	if err != nil {
		t.Fatal(err)
	}
	text.Reset()
	page.Reset()
	_ = merged.WriteText(&text)
	_ = merged.WriteHTML(&page)
	if !strings.Contains(text.String(), ", 1 generator report merged\n") || !strings.Contains(page.String(), ", 1 generator report merged.</p>") ||
		!strings.Contains(page.String(), "60 of 60 shoppers, burst arrival, 1 connection, seed 42") {
		t.Errorf("one merged report:\n%s", text.String())
	}
}
