package loadtest

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// SchemaVersion names the JSON report's schema (README, "Rehearse release
// day"). A change that removes or renames a field bumps it.
const SchemaVersion = "flashdrop.load/v1"

// Verdicts, in the order they win: an audit failure is a failure whatever
// else happened; an invalid run cannot judge thresholds.
const (
	VerdictPass        = "pass"
	VerdictThreshold   = "threshold_crossed"
	VerdictAuditFailed = "audit_failed"
	VerdictInvalid     = "invalid"
)

// Exit codes of `flashdrop load`.
const (
	ExitPass        = 0
	ExitThreshold   = 1
	ExitAuditFailed = 2
	ExitInvalid     = 3
)

// Report is a rehearsal's result; its JSON form is the versioned schema.
type Report struct {
	Schema   string `json:"schema"`
	Verdict  string `json:"verdict"`
	ExitCode int    `json:"exit_code"`
	// Complete is false when the run stopped early (StoppedIn names the
	// phase): Ctrl-C, or an invalid run.
	Complete  bool     `json:"complete"`
	StoppedIn Phase    `json:"stopped_in,omitempty"`
	Invalid   []string `json:"invalid"`
	Notes     []string `json:"notes"`

	Run        RunInfo           `json:"run"`
	Drop       Drop              `json:"drop"`
	Audit      AuditReport       `json:"audit"`
	Thresholds []ThresholdResult `json:"thresholds"`
	Rush       RushReport        `json:"rush"`
	Phases     []PhaseReport     `json:"phases"`
	Series     []Series          `json:"series"`
	Timeline   []TimelineSecond  `json:"timeline"`
	Throughput Throughput        `json:"throughput"`
	Generator  GeneratorReport   `json:"generator"`
	Records    *Records          `json:"records"`
}

// RunInfo is how the run was set up.
type RunInfo struct {
	Targets     []string  `json:"targets"`
	StartedAt   time.Time `json:"started_at"`
	DropCreated bool      `json:"drop_created"`
	Seed        int64     `json:"seed"`
	Users       int       `json:"users"`
	Shoppers    int       `json:"shoppers"` // this generator's (all, once merged)
	Shard       int       `json:"shard"`
	Shards      int       `json:"shards"`
	Merged      int       `json:"merged,omitempty"` // reports merged into this one
	// ShardsMerged names the shards a merged report covers, so a merge of
	// merged reports still knows which shards it lacks or has twice.
	ShardsMerged []int   `json:"shards_merged,omitempty"`
	Arrival      Arrival `json:"arrival"`
	Rate         float64 `json:"rate,omitempty"`
	RampTo       float64 `json:"ramp_to,omitempty"`
	DurationS    float64 `json:"duration_s,omitempty"`
	Connections  int     `json:"connections"`
	Presses      int     `json:"presses"`
	ConfirmRatio float64 `json:"confirm_ratio"`
	CancelRatio  float64 `json:"cancel_ratio"`
	Waitlist     float64 `json:"waitlist_ratio"`
	Unregistered float64 `json:"unregistered_ratio"`
	Keyed        float64 `json:"keyed_ratio"`
	Events       bool    `json:"events"`
}

// RushReport is the rush in numbers.
type RushReport struct {
	Requests  int64   `json:"requests"`
	Errors    int64   `json:"errors"`
	ErrorRate float64 `json:"error_rate"`
	Seconds   float64 `json:"seconds"`
	RPS       float64 `json:"rps"`
	// Outcomes counts the final answers of reserve requests by outcome.
	Outcomes map[string]int64 `json:"outcomes"`
	// Reserve is the latency of every reserve request of the rush.
	Reserve Latency `json:"reserve"`
	// Times after T0 (seconds): the first sold_out answer, the last win
	// before the drop sold out, the last answer of the rush.
	FirstSoldOutS *float64 `json:"first_sold_out_s,omitempty"`
	SoldOutS      *float64 `json:"sold_out_s,omitempty"`
	DrainS        float64  `json:"drain_s"`
	// Corrected says latencies are from the intended send time (rate
	// modes), not from the actual send.
	Corrected bool `json:"corrected"`
}

// PhaseReport is one phase's wall time and requests.
type PhaseReport struct {
	Name     Phase   `json:"name"`
	Start    float64 `json:"start_s"`
	Seconds  float64 `json:"seconds"`
	Requests int64   `json:"requests"`
	Errors   int64   `json:"errors"`
	RPS      float64 `json:"rps"`
}

// Latency is a histogram's summary, in milliseconds.
type Latency struct {
	Count int64   `json:"count"`
	Mean  float64 `json:"mean_ms"`
	P50   float64 `json:"p50_ms"`
	P90   float64 `json:"p90_ms"`
	P99   float64 `json:"p99_ms"`
	P999  float64 `json:"p999_ms"`
	Max   float64 `json:"max_ms"`
}

// Series is the latency of one phase, endpoint and outcome. Histogram is
// the HDR histogram (microseconds) in its compressed V2 encoding, base64:
// lossless, so reports merge exactly. Service, in the rate modes, is the
// same requests timed from their actual send.
type Series struct {
	Phase     Phase   `json:"phase"`
	Endpoint  string  `json:"endpoint"`
	Outcome   string  `json:"outcome"`
	Latency   Latency `json:"latency"`
	Histogram string  `json:"histogram"`
	Service   string  `json:"service_histogram,omitempty"`
}

// TimelineSecond counts the answers of one second of the rush after T0,
// by endpoint:outcome. Seconds is the part of that second the rush
// lasted: 1 but for the last second (0 in reports from before it was
// recorded). The answers per second are Requests / Seconds.
type TimelineSecond struct {
	Second   int              `json:"second"`
	Seconds  float64          `json:"seconds"`
	Requests int64            `json:"requests"`
	Errors   int64            `json:"errors"`
	Outcomes map[string]int64 `json:"outcomes"`
}

// GeneratorReport is the generator's own health: if it was the
// bottleneck, the run says so and is invalid.
type GeneratorReport struct {
	CPUSeconds  float64 `json:"cpu_s"`
	WallSeconds float64 `json:"wall_s"`
	Cores       int     `json:"cores"`
	CPUShare    float64 `json:"cpu_share"` // of all cores, during the rush
	Judged      bool    `json:"cpu_judged"`
	SendLag     Latency `json:"send_lag"`  // actual send - intended (rate modes)
	PacerLag    Latency `json:"pacer_lag"` // the pacer's own lateness
	SendLagHist string  `json:"send_lag_histogram"`
	PacerHist   string  `json:"pacer_lag_histogram"`
	Saturated   bool    `json:"saturated"`
	// MachineBusy is the share of the machine's CPU time that was busy
	// during the rush, whatever process used it (absent where unknown).
	MachineBusy *float64 `json:"machine_busy,omitempty"`
}

// ThresholdResult is one threshold and what the run measured.
type ThresholdResult struct {
	Name    string  `json:"name"`
	Limit   float64 `json:"limit"`
	Value   float64 `json:"value"`
	Crossed bool    `json:"crossed"`
}

func encodeHist(h *hdrhistogram.Histogram) string {
	b, err := h.Encode(hdrhistogram.V2CompressedEncodingCookieBase)
	if err != nil {
		return ""
	}
	return string(b) // already base64
}

func decodeHist(s string) (*hdrhistogram.Histogram, error) {
	if s == "" {
		return newHist(), nil
	}
	if _, err := base64.StdEncoding.DecodeString(s); err != nil {
		return nil, err
	}
	return hdrhistogram.Decode([]byte(s))
}

func ms(us int64) float64 { return float64(us) / 1000 }

func summarize(h *hdrhistogram.Histogram) Latency {
	if h.TotalCount() == 0 {
		return Latency{}
	}
	return Latency{Count: h.TotalCount(), Mean: round3(h.Mean() / 1000), P50: ms(h.ValueAtQuantile(50)),
		P90: ms(h.ValueAtQuantile(90)), P99: ms(h.ValueAtQuantile(99)), P999: ms(h.ValueAtQuantile(99.9)), Max: ms(h.Max())}
}

func round3(f float64) float64 { return float64(int64(f*1000+0.5)) / 1000 }

// report assembles the run's report.
func (r *runner) report(stopped Phase) *Report {
	tot := r.m.total()
	rep := &Report{
		Schema: SchemaVersion, Complete: stopped == "", StoppedIn: stopped,
		Invalid: r.invalid, Notes: r.notes, Drop: r.drop, Records: &r.rec,
		Run: RunInfo{
			Targets: redactURLs(r.o.Targets), StartedAt: r.start.UTC(), DropCreated: r.created, Seed: r.o.Seed, Users: r.o.Users,
			Shoppers: len(r.shoppers), Shard: r.o.Shard, Shards: r.o.Shards, Arrival: r.o.Arrival, Rate: r.o.Rate,
			RampTo: r.o.RampTo, DurationS: r.o.Duration.Seconds(), Connections: r.o.Connections, Presses: r.o.Presses,
			ConfirmRatio: r.o.ConfirmRatio, CancelRatio: r.o.CancelRatio, Waitlist: r.o.WaitlistRatio,
			Unregistered: r.o.UnregisteredRatio, Keyed: r.o.KeyedRatio, Events: r.o.NATSURL != "",
		},
	}
	if stopped != "" && len(r.invalid) == 0 {
		rep.Invalid = append(rep.Invalid, fmt.Sprintf("interrupted during the %s phase: the numbers are what was measured until then", stopped))
	}
	for _, k := range sortedKeys(tot.latency, seriesLess) {
		s := Series{Phase: k.Phase, Endpoint: k.Endpoint, Outcome: k.Outcome, Latency: summarize(tot.latency[k]), Histogram: encodeHist(tot.latency[k])}
		if h := tot.service[k]; h != nil && r.o.Arrival != ArrivalBurst {
			s.Service = encodeHist(h)
		}
		rep.Series = append(rep.Series, s)
	}
	rep.Timeline, rep.Throughput = timelines(tot, r.rush.lastAnswer)
	rep.Phases = r.phases
	rep.Rush.Corrected = r.o.Arrival != ArrivalBurst
	if r.rush.soldOut {
		f := round3(r.rush.firstSoldOut.Seconds())
		rep.Rush.FirstSoldOutS = &f
		s := round3(r.rush.lastWon.Seconds())
		rep.Rush.SoldOutS = &s
	}
	rep.Rush.DrainS = round3(r.rush.lastAnswer.Seconds())
	cores := r.o.cores
	if cores == 0 {
		cores = numCPU()
	}
	g := GeneratorReport{CPUSeconds: round3(r.cpuRush.Seconds()), WallSeconds: round3(r.wallRush.Seconds()), Cores: cores,
		SendLag: summarize(tot.sendLag), PacerLag: summarize(tot.pacerLag), SendLagHist: encodeHist(tot.sendLag), PacerHist: encodeHist(tot.pacerLag)}
	if r.wallRush > 0 {
		g.CPUShare = round3(r.cpuRush.Seconds() / (r.wallRush.Seconds() * float64(cores)))
	}
	g.Judged = !r.o.embedded && r.o.MaxGeneratorCPU > 0
	if g.Judged && g.CPUShare > r.o.MaxGeneratorCPU && r.wallRush >= 200*time.Millisecond {
		g.Saturated = true
		rep.Invalid = append(rep.Invalid, fmt.Sprintf("the generator used %.0f%% of %d cores during the rush (limit %.0f%%): it may have been the bottleneck; run it on its own machine or use --shard",
			100*g.CPUShare, cores, 100*r.o.MaxGeneratorCPU))
	}
	if r.machineBusy >= 0 {
		b := round3(r.machineBusy)
		g.MachineBusy = &b
	}
	if r.o.Arrival != ArrivalBurst && tot.pacerLag.TotalCount() > 0 && time.Duration(tot.pacerLag.ValueAtQuantile(99))*time.Microsecond > r.o.MaxPacerLag {
		lag := fmt.Sprintf("the pacer fell behind its schedule (p99 %.1f ms > %s)", ms(tot.pacerLag.ValueAtQuantile(99)), r.o.MaxPacerLag)
		switch {
		case g.Judged && g.MachineBusy != nil && *g.MachineBusy >= 0.75 && g.CPUShare < *g.MachineBusy/2:
			// The machine was busy and the generator used less than half
			// of that: other processes held the cores (a server on the
			// same machine restarting, a browser). The arrivals still left
			// late, and their latencies count from the intended time, so
			// the run stays invalid, but it names the cause (it said "the
			// generator could not keep the rate" with the generator at
			// 3 %).
			rep.Invalid = append(rep.Invalid, fmt.Sprintf("%s with the generator at %.0f%% of %d cores, the machine's cores %.0f%% busy: other processes held the cores (the server, if it runs on this machine); arrivals left late and their latencies are not the server's alone: run the generator where nothing else competes for its cores",
				lag, 100*g.CPUShare, cores, 100**g.MachineBusy))
		case g.Judged && g.MachineBusy != nil && g.CPUShare < r.o.MaxGeneratorCPU/2:
			// Neither the generator nor the machine busy (the generator's
			// one pacer goroutine is a few percent of many cores): the
			// cause is not in what was measured. Said, not guessed.
			rep.Invalid = append(rep.Invalid, fmt.Sprintf("%s with the generator at %.0f%% of %d cores and the machine's cores %.0f%% busy: the cause is not in the CPU figures (one busy goroutine of the generator, a paused process, a virtual machine's stolen time?)",
				lag, 100*g.CPUShare, cores, 100**g.MachineBusy))
		default:
			g.Saturated = true
			rep.Invalid = append(rep.Invalid, lag+": the generator could not keep the rate")
		}
	}
	rep.Generator = g
	if rep.Complete && !r.invalidBeforeAudit() {
		rep.Audit = audit(auditInput{drop: r.drop, created: r.created, partial: r.o.Shards > 1, rec: &r.rec})
	} else {
		rep.Audit = AuditReport{Verdict: AuditNotRun}
	}
	r.rec.normalize()
	if n := rep.expiredConfirmsNote(); n != "" {
		rep.Notes = append(rep.Notes, n)
	}
	if n := rep.unansweredNote(); n != "" {
		rep.Notes = append(rep.Notes, n)
	}
	rep.finish(r.o.Thresholds)
	return rep
}

// expiredConfirmsPrefix begins the note of confirms answered expired, so
// that a merge says it once, of the merged records, not once per shard.
const expiredConfirmsPrefix = "confirms answered expired: "

// expiredConfirmsNote says how many of the checkout's confirms (not the
// refills') found
// their hold expired, and why: the generator confirms after the whole
// rush, so a rush longer than the hold lets holds run out first. With a
// 6-s ramp and the 5-s hold, 48 of 150 confirms were answered expired and
// no report said so. "" when none was.
func (rep *Report) expiredConfirmsNote() string {
	if rep.Records == nil {
		return ""
	}
	confirms, expired := 0, 0
	for _, t := range rep.Records.Told {
		// The checkout's: a refill is confirmed the moment it is found.
		if t.Action != "confirm" || t.Via != "reserve" {
			continue
		}
		confirms++
		if t.ActionCode == "expired" {
			expired++
		}
	}
	if expired == 0 {
		return ""
	}
	why := "it confirms after the whole rush"
	for _, p := range rep.Phases {
		if p.Name == PhaseRush {
			why = fmt.Sprintf("it confirms after the whole rush (%.1fs)", p.Seconds)
			if p.Seconds >= float64(rep.Drop.HoldSeconds) {
				why += ", which was longer than the hold"
			}
		}
	}
	longer := "give a longer --hold"
	if !rep.Run.DropCreated {
		longer = "rehearse a drop with a longer hold"
	}
	return fmt.Sprintf("%s%d of %d: their holds (%ds) ran out before the generator confirmed them: %s; %s, or a shorter rush, for payments that come in time",
		expiredConfirmsPrefix, expired, confirms, rep.Drop.HoldSeconds, why, longer)
}

// unansweredInfix is in the note of presses with no answer, so that a
// merge says it once, of the merged records, not once per shard.
const unansweredInfix = " with no answer (none, or a 5xx, when the generator stopped resending)"

// unansweredNote says how many presses the generator never learned the
// outcome of, and what the audit found of them (I4): the wins among
// them are announced and exist, the others won nothing. "" when every
// press was answered.
func (rep *Report) unansweredNote() string {
	if rep.Records == nil || len(rep.Records.Unanswered) == 0 {
		return ""
	}
	n := len(rep.Records.Unanswered)
	what := count(n, "press") + unansweredInfix
	switch {
	case rep.Audit.judged && rep.Audit.resolved > 0:
		return fmt.Sprintf("%s: %d turned out to be %s (their won events and reservations exist; I4), the others won nothing",
			what, rep.Audit.resolved, map[bool]string{true: "a win", false: "wins"}[rep.Audit.resolved == 1])
	case rep.Audit.judged:
		return what + ": none of them won (no won event names a reservation no client was told about; I4)"
	case rep.Audit.Verdict == AuditNotRun || rep.Audit.Verdict == AuditFail:
		return what + ": their outcomes are unknown to the shoppers"
	case !rep.Records.EventsRead:
		return what + ": whether they won is unknown without --nats-url, whose won events I4 would match with them"
	}
	return what + ": the merged report's I4 finds which of them won"
}

func (r *runner) invalidBeforeAudit() bool { return len(r.invalid) > 0 }

func seriesLess(a, b seriesKey) bool {
	if a.Phase != b.Phase {
		return phaseOrder(a.Phase) < phaseOrder(b.Phase)
	}
	if a.Endpoint != b.Endpoint {
		return a.Endpoint < b.Endpoint
	}
	return a.Outcome < b.Outcome
}

func phaseOrder(p Phase) int {
	for i, q := range []Phase{PhaseSetup, PhaseRegister, PhaseWait, PhaseRush, PhaseCheckout, PhaseRefill, PhaseAudit} {
		if p == q {
			return i
		}
	}
	return 99
}

// finish derives the per-phase and rush numbers from the series, checks
// the thresholds and sets the verdict; Merge calls it again on the sums.
func (rep *Report) finish(th Thresholds) {
	reqs, errs := map[Phase]int64{}, map[Phase]int64{}
	reserve := newHist()
	rep.Rush.Outcomes = map[string]int64{}
	for _, s := range rep.Series {
		reqs[s.Phase] += s.Latency.Count
		if failedCode(s.Outcome) {
			errs[s.Phase] += s.Latency.Count
		}
		if s.Phase == PhaseRush && s.Endpoint == EndpointReserve {
			rep.Rush.Outcomes[s.Outcome] += s.Latency.Count
			if h, err := decodeHist(s.Histogram); err == nil {
				reserve.Merge(h)
			}
		}
	}
	for i := range rep.Phases {
		p := &rep.Phases[i]
		p.Requests, p.Errors = reqs[p.Name], errs[p.Name]
		p.RPS = round3(ratio(float64(p.Requests), p.Seconds))
		if p.Name == PhaseRush {
			rep.Rush.Seconds = p.Seconds
		}
	}
	rep.Rush.Requests, rep.Rush.Errors = reqs[PhaseRush], errs[PhaseRush]
	rep.Rush.ErrorRate = round3(ratio(float64(rep.Rush.Errors), float64(rep.Rush.Requests))*1000) / 1000
	rep.Rush.RPS = round3(ratio(float64(rep.Rush.Requests), rep.Rush.Seconds))
	rep.Rush.Reserve = summarize(reserve)

	rep.Thresholds = nil
	if th.MaxP99 > 0 {
		v := rep.Rush.Reserve.P99
		rep.Thresholds = append(rep.Thresholds, ThresholdResult{Name: "max-p99 (ms)", Limit: float64(th.MaxP99) / 1e6, Value: v, Crossed: v > float64(th.MaxP99)/1e6})
	}
	if th.MinRPS > 0 {
		rep.Thresholds = append(rep.Thresholds, ThresholdResult{Name: "min-rps", Limit: th.MinRPS, Value: rep.Rush.RPS, Crossed: rep.Rush.RPS < th.MinRPS})
	}
	if th.MaxErrorRate > 0 || th.MaxErrorRateSet {
		rep.Thresholds = append(rep.Thresholds, ThresholdResult{Name: "max-error-rate", Limit: th.MaxErrorRate, Value: rep.Rush.ErrorRate, Crossed: rep.Rush.ErrorRate > th.MaxErrorRate})
	}
	crossed := false
	for _, t := range rep.Thresholds {
		crossed = crossed || t.Crossed
	}
	switch {
	case rep.Audit.Verdict == AuditFail:
		rep.Verdict, rep.ExitCode = VerdictAuditFailed, ExitAuditFailed
	case len(rep.Invalid) > 0 || !rep.Complete:
		rep.Verdict, rep.ExitCode = VerdictInvalid, ExitInvalid
	case crossed:
		rep.Verdict, rep.ExitCode = VerdictThreshold, ExitThreshold
	default:
		rep.Verdict, rep.ExitCode = VerdictPass, ExitPass
	}
}

// failedCode mirrors answer.failed for a recorded outcome.
func failedCode(code string) bool {
	switch code {
	case OutcomeTransport, OutcomeTimeout, "internal", "invalid", "unauthorized", "forbidden", "rate_limited", "unavailable":
		return true
	}
	return strings.HasPrefix(code, "http_5") || code == "http_429" || code == "http_0"
}

// WriteJSON writes the report as indented JSON. Every list is an array,
// [] when empty, never null or missing, as the README lists them (jq
// '.thresholds[]' failed on a run without thresholds).
func (rep *Report) WriteJSON(w io.Writer) error {
	rep.arrays()
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false) // "<=" reads better than "\u003c="
	return enc.Encode(rep)
}

// arrays makes every nil list of the report an empty one.
func (rep *Report) arrays() {
	orEmpty(&rep.Invalid)
	orEmpty(&rep.Notes)
	orEmpty(&rep.Run.Targets)
	orEmpty(&rep.Thresholds)
	orEmpty(&rep.Phases)
	orEmpty(&rep.Series)
	orEmpty(&rep.Timeline)
	orEmpty(&rep.Throughput.Buckets)
	orEmpty(&rep.Audit.Checks)
	for i := range rep.Audit.Checks {
		orEmpty(&rep.Audit.Checks[i].Culprits)
	}
	if rep.Records == nil {
		rep.Records = &Records{}
	}
	r := rep.Records
	orEmpty(&r.Unregistered)
	orEmpty(&r.UnregisteredPressed)
	orEmpty(&r.Told)
	orEmpty(&r.Replays)
	orEmpty(&r.Unanswered)
	orEmpty(&r.Events)
	if r.Observed == nil {
		r.Observed = map[string]Observed{}
	}
}

// orEmpty makes a nil list an empty one, [] in JSON.
func orEmpty[T any](p *[]T) {
	if *p == nil {
		*p = []T{}
	}
}

// ReadJSON reads a report written by WriteJSON, refusing another schema.
func ReadJSON(rd io.Reader) (*Report, error) {
	var rep Report
	if err := json.NewDecoder(rd).Decode(&rep); err != nil {
		return nil, fmt.Errorf("not a load report: %w", err)
	}
	if rep.Schema != SchemaVersion {
		return nil, fmt.Errorf("report schema %q, want %q", rep.Schema, SchemaVersion)
	}
	return &rep, nil
}

// Merge combines the reports of several generators that rehearsed one
// drop (--shard i/n) into the report one big run would have printed:
// histograms and timelines are summed exactly, phases take the longest
// generator's time, and the audit runs once on the merged records. A
// merge that lacks some of the run's shards is invalid (MergeWith can
// allow it).
func Merge(th Thresholds, reps ...*Report) (*Report, error) {
	return MergeWith(MergeOptions{Thresholds: th}, reps...)
}

// MergeOptions are MergeWith's.
type MergeOptions struct {
	// Thresholds judge the merged rush.
	Thresholds Thresholds
	// AllowPartial lets a merge that lacks some of the run's shards pass
	// on those it has, with a note and the audit partial. Without it such
	// a merge is invalid (exit 3): a CI gate went green with a shard's
	// report missing.
	AllowPartial bool
}

// MergeWith is Merge with options.
func MergeWith(o MergeOptions, reps ...*Report) (*Report, error) {
	th := o.Thresholds
	if len(reps) == 0 {
		return nil, errors.New("no reports to merge")
	}
	first := reps[0]
	out := &Report{Schema: SchemaVersion, Complete: true, Run: first.Run, Drop: first.Drop}
	out.Run.Merged, out.Run.Shoppers, out.Run.Shard = len(reps), 0, 0
	out.Run.Targets = nil
	seenShard, unknownShards := map[int]bool{}, false
	series := map[seriesKey]*[2]*hdrhistogram.Histogram{}
	timeline := map[int]*TimelineSecond{}
	var spans []span
	var widths []time.Duration
	phases := map[Phase]*PhaseReport{}
	var recs []*Records
	sendLag, pacerLag := newHist(), newHist()
	var rush RushReport
	for i, rep := range reps {
		if rep.Drop.ID != first.Drop.ID || rep.Run.Seed != first.Run.Seed || rep.Run.Shards != first.Run.Shards || rep.Run.Users != first.Run.Users {
			return nil, fmt.Errorf("report %d rehearsed drop %s (seed %d, %d shards, %d users), not drop %s (seed %d, %d shards, %d users): only shards of one run merge",
				i+1, rep.Drop.ID, rep.Run.Seed, rep.Run.Shards, rep.Run.Users, first.Drop.ID, first.Run.Seed, first.Run.Shards, first.Run.Users)
		}
		covers := []int{rep.Run.Shard}
		if rep.Run.Merged > 0 {
			// A merged report of a version that did not name its shards
			// cannot be checked for completeness.
			covers, unknownShards = rep.Run.ShardsMerged, unknownShards || len(rep.Run.ShardsMerged) == 0
		}
		for _, sh := range covers {
			if seenShard[sh] {
				return nil, fmt.Errorf("shard %d/%d appears twice", sh, rep.Run.Shards)
			}
			seenShard[sh] = true
		}
		out.Run.Shoppers += rep.Run.Shoppers
		// A report of an older version may hold a target's password.
		out.Run.Targets = appendNew(out.Run.Targets, redactURLs(rep.Run.Targets)...)
		out.Run.Events = out.Run.Events && rep.Run.Events
		if rep.Run.StartedAt.Before(out.Run.StartedAt) {
			out.Run.StartedAt = rep.Run.StartedAt
		}
		out.Complete = out.Complete && rep.Complete
		if out.StoppedIn == "" {
			out.StoppedIn = rep.StoppedIn
		}
		for _, s := range rep.Invalid {
			switch {
			case rep.Run.Merged == 0:
				out.Invalid = append(out.Invalid, fmt.Sprintf("shard %d: %s", rep.Run.Shard, s))
			case len(rep.Run.ShardsMerged) == 0 || !strings.HasPrefix(s, incompleteMerge):
				// Already named by shard. Completeness is judged anew
				// where the report names its shards; a report that does
				// not (an older version's) keeps its verdict.
				out.Invalid = append(out.Invalid, s)
			}
		}
		for _, n := range rep.Notes {
			if strings.HasPrefix(n, expiredConfirmsPrefix) || strings.Contains(n, unansweredInfix) {
				continue // said anew of the merged records
			}
			if rep.Run.Merged == 0 || len(rep.Run.ShardsMerged) == 0 || !strings.Contains(n, partialNote) {
				out.Notes = appendNew(out.Notes, n)
			}
		}
		for _, s := range rep.Series {
			k := seriesKey{s.Phase, s.Endpoint, s.Outcome}
			hs := series[k]
			if hs == nil {
				hs = &[2]*hdrhistogram.Histogram{newHist(), nil}
				series[k] = hs
			}
			h, err := decodeHist(s.Histogram)
			if err != nil {
				return nil, fmt.Errorf("report %d: series %s/%s/%s: %w", i+1, s.Phase, s.Endpoint, s.Outcome, err)
			}
			hs[0].Merge(h)
			if s.Service != "" {
				if hs[1] == nil {
					hs[1] = newHist()
				}
				if h, err := decodeHist(s.Service); err == nil {
					hs[1].Merge(h)
				}
			}
		}
		for _, t := range rep.Timeline {
			ot := timeline[t.Second]
			if ot == nil {
				ot = &TimelineSecond{Second: t.Second, Outcomes: map[string]int64{}}
				timeline[t.Second] = ot
			}
			ot.Requests += t.Requests
			ot.Errors += t.Errors
			ot.Seconds = max(ot.Seconds, t.Seconds)
			for k, n := range t.Outcomes {
				ot.Outcomes[k] += n
			}
		}
		sp, w := rep.spans()
		spans, widths = append(spans, sp...), append(widths, w)
		// Generators run side by side: a phase lasts as long as its
		// slowest generator.
		for _, p := range rep.Phases {
			op := phases[p.Name]
			if op == nil {
				cp := p
				phases[p.Name] = &cp
				continue
			}
			op.Start = min(op.Start, p.Start)
			op.Seconds = max(op.Seconds, p.Seconds)
		}
		if h, err := decodeHist(rep.Generator.SendLagHist); err == nil {
			sendLag.Merge(h)
		}
		if h, err := decodeHist(rep.Generator.PacerHist); err == nil {
			pacerLag.Merge(h)
		}
		out.Generator.CPUSeconds += rep.Generator.CPUSeconds
		out.Generator.WallSeconds = max(out.Generator.WallSeconds, rep.Generator.WallSeconds)
		out.Generator.Cores += rep.Generator.Cores
		out.Generator.CPUShare = max(out.Generator.CPUShare, rep.Generator.CPUShare)
		out.Generator.Judged = out.Generator.Judged || rep.Generator.Judged
		out.Generator.Saturated = out.Generator.Saturated || rep.Generator.Saturated
		if b := rep.Generator.MachineBusy; b != nil && (out.Generator.MachineBusy == nil || *b > *out.Generator.MachineBusy) {
			// The busiest of the shards' machines.
			v := *b
			out.Generator.MachineBusy = &v
		}
		rush.Corrected = rep.Rush.Corrected
		if rep.Rush.FirstSoldOutS != nil && (rush.FirstSoldOutS == nil || *rep.Rush.FirstSoldOutS < *rush.FirstSoldOutS) {
			v := *rep.Rush.FirstSoldOutS
			rush.FirstSoldOutS = &v
		}
		if rep.Rush.SoldOutS != nil && (rush.SoldOutS == nil || *rep.Rush.SoldOutS > *rush.SoldOutS) {
			v := *rep.Rush.SoldOutS
			rush.SoldOutS = &v
		}
		rush.DrainS = max(rush.DrainS, rep.Rush.DrainS)
		recs = append(recs, rep.Records)
	}
	partial := !unknownShards && len(seenShard) != first.Run.Shards
	if partial {
		var missing []string
		for i := range first.Run.Shards {
			if !seenShard[i] {
				missing = append(missing, fmt.Sprintf("%d/%d", i, first.Run.Shards))
			}
		}
		what := fmt.Sprintf("only %d of %d shards merged (missing %s)", len(seenShard), first.Run.Shards, strings.Join(missing, ", "))
		if o.AllowPartial {
			out.Notes = append(out.Notes, what+partialNote)
		} else {
			out.Invalid = append(out.Invalid, incompleteMerge+what+"; merge every shard's report, or pass --allow-partial to judge these alone")
		}
	}
	for _, k := range sortedKeys(series, seriesLess) {
		hs := series[k]
		s := Series{Phase: k.Phase, Endpoint: k.Endpoint, Outcome: k.Outcome, Latency: summarize(hs[0]), Histogram: encodeHist(hs[0])}
		if hs[1] != nil {
			s.Service = encodeHist(hs[1])
		}
		out.Series = append(out.Series, s)
	}
	for _, sec := range sortedKeys(timeline, func(a, b int) bool { return a < b }) {
		out.Timeline = append(out.Timeline, *timeline[sec])
	}
	for _, name := range sortedKeys(phases, func(a, b Phase) bool { return phaseOrder(a) < phaseOrder(b) }) {
		out.Phases = append(out.Phases, *phases[name])
	}
	out.Generator.SendLag, out.Generator.PacerLag = summarize(sendLag), summarize(pacerLag)
	out.Generator.SendLagHist, out.Generator.PacerHist = encodeHist(sendLag), encodeHist(pacerLag)
	out.Rush = rush
	out.Throughput = bucketize(spans, widths, seconds(rush.DrainS))
	out.Records = mergeRecords(recs)
	out.Run.Shard, out.Run.Shards = 0, first.Run.Shards
	out.Run.ShardsMerged = nil
	if !unknownShards {
		out.Run.ShardsMerged = sortedKeys(seenShard, func(a, b int) bool { return a < b })
	}
	if out.Complete {
		out.Audit = audit(auditInput{drop: out.Drop, created: first.Run.DropCreated, partial: partial, rec: out.Records})
	} else {
		out.Audit = AuditReport{Verdict: AuditNotRun}
	}
	if n := out.expiredConfirmsNote(); n != "" {
		out.Notes = append(out.Notes, n)
	}
	if n := out.unansweredNote(); n != "" {
		out.Notes = append(out.Notes, n)
	}
	out.finish(th)
	return out, nil
}

// incompleteMerge and partialNote begin and end what a merge lacking
// shards says, so that merging its report again judges that anew.
const (
	incompleteMerge = "incomplete merge: "
	partialNote     = ": the numbers and the audit cover those given (--allow-partial)"
)

func appendNew(dst []string, src ...string) []string {
	for _, s := range src {
		found := false
		for _, d := range dst {
			found = found || d == s
		}
		if !found {
			dst = append(dst, s)
		}
	}
	sort.Strings(dst)
	return dst
}
