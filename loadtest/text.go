package loadtest

import (
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
)

// WriteText writes the report for a terminal: the verdict and the audit
// first, then the numbers.
func (rep *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	verdict := map[string]string{VerdictPass: "PASS", VerdictThreshold: "FAIL (threshold crossed)",
		VerdictAuditFailed: "FAIL (audit failed)", VerdictInvalid: "INVALID RUN"}[rep.Verdict]
	fmt.Fprintf(&b, "flashdrop load: %s (exit %d)%s%s\n", verdict, rep.ExitCode, rep.Unchecked(), rep.FailedShare())
	rehearsal := ""
	if rep.Drop.Rehearsal {
		rehearsal = " (a rehearsal: not shown to shoppers)"
	}
	fmt.Fprintf(&b, "drop %s%s: %d units, limit %d per shopper, hold %ds, mode %s, confirm by %s\n",
		rep.Drop.ID, rehearsal, rep.Drop.Stock, rep.Drop.PerUserLimit, rep.Drop.HoldSeconds, rep.Drop.Mode, confirmBy(rep.Drop))
	shards := ""
	if rep.Run.Merged > 0 {
		shards = ", " + count(rep.Run.Merged, "generator report") + " merged"
	} else if rep.Run.Shards > 1 {
		shards = fmt.Sprintf(", shard %d/%d", rep.Run.Shard, rep.Run.Shards)
	}
	fmt.Fprintf(&b, "%d of %s, %s arrival, %s, %s each, seed %d%s\n",
		rep.Run.Shoppers, count(rep.Run.Users, "shopper"), rep.Run.Arrival, count(rep.Run.Connections, "connection"),
		count(rep.Run.Presses, "press"), rep.Run.Seed, shards)
	if !rep.Complete {
		fmt.Fprintf(&b, "INCOMPLETE: stopped in the %s phase\n", rep.StoppedIn)
	}
	for _, s := range rep.Invalid {
		fmt.Fprintf(&b, "invalid: %s\n", s)
	}
	for _, s := range rep.Notes {
		fmt.Fprintf(&b, "note: %s\n", s)
	}

	fmt.Fprintf(&b, "\naudit: %s\n", strings.ToUpper(strings.ReplaceAll(rep.Audit.Verdict, "_", " ")))
	for _, c := range rep.Audit.Checks {
		fmt.Fprintf(&b, "  %-4s %-8s %s: %s\n", map[string]string{CheckPass: "ok", CheckFail: "FAIL", CheckSkipped: "-", CheckDeferred: "..."}[c.Status], c.ID, c.Name, c.Detail)
		for _, cu := range c.Culprits {
			fmt.Fprintf(&b, "                %s\n", cu)
		}
		if c.Violations > len(c.Culprits) {
			fmt.Fprintf(&b, "                … and %d more\n", c.Violations-len(c.Culprits))
		}
	}
	if len(rep.Thresholds) > 0 {
		b.WriteString("\nthresholds:\n")
		for _, t := range rep.Thresholds {
			mark := "ok"
			if t.Crossed {
				mark = "CROSSED"
			}
			fmt.Fprintf(&b, "  %-7s %s: %s (limit %s)\n", mark, t.Name, plain(t.Value), plain(t.Limit))
		}
	}

	r := rep.Rush
	corrected := "from the actual send (closed model)"
	if r.Corrected {
		corrected = "from the intended send (corrected for coordinated omission)"
	}
	fmt.Fprintf(&b, "\nrush: %d requests in %.3fs = %.1f req/s, %d errors (%.2f%%)\n", r.Requests, r.Seconds, r.RPS, r.Errors, 100*r.ErrorRate)
	fmt.Fprintf(&b, "  reserve latency %s: p50 %s  p90 %s  p99 %s  p99.9 %s  max %s\n", corrected,
		fmtMS(r.Reserve.P50), fmtMS(r.Reserve.P90), fmtMS(r.Reserve.P99), fmtMS(r.Reserve.P999), fmtMS(r.Reserve.Max))
	var outs []string
	for _, k := range sortedKeys(r.Outcomes, func(a, b string) bool {
		return r.Outcomes[a] > r.Outcomes[b] || r.Outcomes[a] == r.Outcomes[b] && a < b
	}) {
		outs = append(outs, fmt.Sprintf("%s %d", k, r.Outcomes[k]))
	}
	fmt.Fprintf(&b, "  outcomes: %s\n", strings.Join(outs, ", "))
	if r.FirstSoldOutS != nil {
		fmt.Fprintf(&b, "  first sold_out %.3fs after T0, sold out (last win) at %.3fs, %s %.3fs\n", *r.FirstSoldOutS, *r.SoldOutS, rep.drained(), r.DrainS)
	} else {
		fmt.Fprintf(&b, "  not sold out; %s %.3fs\n", rep.drained(), r.DrainS)
	}

	b.WriteString("\nphases:\n")
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "  phase\tseconds\trequests\terrors\treq/s\t")
	for _, p := range rep.Phases {
		fmt.Fprintf(tw, "  %s\t%.3f\t%d\t%d\t%.1f\t\n", p.Name, p.Seconds, p.Requests, p.Errors, p.RPS)
	}
	_ = tw.Flush()

	b.WriteString("\nlatency by phase, endpoint and outcome (ms):\n")
	tw = tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "  phase\tendpoint\toutcome\tcount\tp50\tp90\tp99\tp99.9\tmax\t")
	for _, s := range rep.Series {
		l := s.Latency
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\t\n", s.Phase, s.Endpoint, s.Outcome, l.Count, num(l.P50), num(l.P90), num(l.P99), num(l.P999), num(l.Max))
	}
	_ = tw.Flush()

	if len(rep.Timeline) > 0 {
		b.WriteString("\nrush timeline (answers in each second after T0; \"lasted\" is cut short in the second the rush ended):\n")
		tw = tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "  second\tlasted\trequests\treq/s\terrors\toutcomes\t")
		for _, t := range rep.Timeline {
			var parts []string
			for _, k := range sortedKeys(t.Outcomes, func(a, b string) bool { return a < b }) {
				parts = append(parts, fmt.Sprintf("%s %d", k, t.Outcomes[k]))
			}
			sort.Strings(parts)
			of, rate := "-", "-"
			if t.Seconds > 0 {
				of, rate = fmt.Sprintf("%.3fs", t.Seconds), fmt.Sprintf("%.1f", float64(t.Requests)/t.Seconds)
			}
			fmt.Fprintf(tw, "  %d\t%s\t%d\t%s\t%d\t%s\t\n", t.Second, of, t.Requests, rate, t.Errors, strings.Join(parts, ", "))
		}
		_ = tw.Flush()
	}

	g := rep.Generator
	fmt.Fprintf(&b, "\ngenerator: %.3fs CPU over %.3fs of rush on %s (%.0f%%)", g.CPUSeconds, g.WallSeconds, count(g.Cores, "core"), 100*g.CPUShare)
	if !g.Judged {
		b.WriteString(", not judged")
	}
	if g.Saturated {
		b.WriteString(", SATURATED")
	}
	if g.MachineBusy != nil {
		fmt.Fprintf(&b, "; the machine's cores %.0f%% busy", 100**g.MachineBusy)
	}
	b.WriteString("\n")
	if rep.Rush.Corrected {
		fmt.Fprintf(&b, "  send lag p99 %s, pacer lag p99 %s\n", fmtMS(g.SendLag.P99), fmtMS(g.PacerLag.P99))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// drained words the rush's last answer for its arrival model: a burst
// drains; rate and ramp arrivals come until the schedule ends ("burst
// drained" was said of a ramp too).
// Unchecked is ", not checked: I4" when a pass left audit checks out
// (I4 without --nats-url), so the verdict line does not read as if every
// invariant was checked; empty otherwise.
func (rep *Report) Unchecked() string {
	if rep.Verdict != VerdictPass {
		return ""
	}
	var ids []string
	for _, c := range rep.Audit.Checks {
		if c.Status == CheckSkipped {
			ids = append(ids, c.ID)
		}
	}
	if len(ids) == 0 {
		return ""
	}
	return ", not checked: " + strings.Join(ids, ", ")
}

// failedShareNotable is the share of the rush's requests failed in
// transport or with a 5xx from which the first line says so. A healthy
// run has none (the audit's invariants hold whatever the failures), so a
// percent is not noise: one shopper in a hundred saw the sale fail, as
// when a node was restarted mid-rush, and a team reading only the
// verdict should know it.
const failedShareNotable = 0.01

// FailedShare is what the first line adds when a notable share of the
// rush's requests failed in transport (no answer, a timeout) or with a
// 5xx: the verdict (about the invariants) and the exit code do not change,
// and --max-error-rate is the way to fail a run on it.
func (rep *Report) FailedShare() string {
	var transport, server int64
	for _, s := range rep.Series {
		if s.Phase != PhaseRush {
			continue
		}
		switch o := s.Outcome; {
		case o == OutcomeTransport || o == OutcomeTimeout || o == "http_0":
			transport += s.Latency.Count
		case o == "internal" || o == "unavailable" || strings.HasPrefix(o, "http_5"):
			server += s.Latency.Count
		}
	}
	if rep.Rush.Requests == 0 || float64(transport+server) < failedShareNotable*float64(rep.Rush.Requests) {
		return ""
	}
	lead := "; "
	if rep.Verdict == VerdictPass {
		lead = ", but "
	}
	limit := "; --max-error-rate fails a run on it"
	for _, t := range rep.Thresholds {
		if t.Name == "max-error-rate" {
			limit = fmt.Sprintf("; --max-error-rate %s", plain(t.Limit))
		}
	}
	return fmt.Sprintf("%s%.1f %% of the rush's requests failed (transport errors %d, 5xx %d%s)", lead,
		100*float64(transport+server)/float64(rep.Rush.Requests), transport, server, limit)
}

func (rep *Report) drained() string {
	switch rep.Run.Arrival {
	case ArrivalBurst, "":
		return "burst drained at"
	}
	return fmt.Sprintf("last %s arrival answered at", rep.Run.Arrival)
}

func confirmBy(d Drop) string {
	if d.ConfirmBy == "" {
		return "backend"
	}
	return d.ConfirmBy
}

// count is n and the noun, singular for one: "1 press", "2 presses".
func count[N int | int64](n N, noun string) string {
	if n == 1 {
		return fmt.Sprintf("1 %s", noun)
	}
	if strings.HasSuffix(noun, "s") || strings.HasSuffix(noun, "sh") || strings.HasSuffix(noun, "ch") || strings.HasSuffix(noun, "x") {
		return fmt.Sprintf("%d %ses", n, noun)
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// plain is a number as a person writes it: 1000000, not 1e+06 (a
// --min-rps of a million read "limit 1e+06").
func plain(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

func fmtMS(v float64) string { return num(v) + "ms" }

func num(v float64) string { return fmt.Sprintf("%.3f", v) }
