package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/flashdrop/flashdrop/loadtest"
)

// loadEnv are the load flags that also read a FLASHDROP_* variable: the
// ones serve shares (secrets, NATS) and the target. The scenario's knobs
// come from the command line only, so a stray variable cannot change a
// rehearsal silently.
var loadEnv = map[string]bool{"target": true, "admin-token": true, "jwt-secret": true, "jwt-issuer": true,
	"jwt-audience": true, "nats-url": true, "tokens-file": true}

// loadCmd is `flashdrop load`: flags only, then loadtest.Run. Tests set
// Extra (hooks, clocks) and Lookup.
type loadCmd struct {
	Stdout, Stderr io.Writer
	Lookup         func(string) (string, bool)
	Extra          []loadtest.Option
	// Serve is the in-process serve of --embedded, once running (tests).
	Serve *Main
}

// embeddedHold is --embedded's default --hold: a demo's holds expire
// within seconds (a created drop's default is loadtest's, 5 s).
const embeddedHold = 3 * time.Second

type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

// reportFlags are --report and --out in the order given, so that an
// --out can name the file of the --report right before it
// (--report json --out r.json --report html --out r.html) as well as of
// the --report in its position (--report text --report json --out - --out
// r.json).
type reportFlags struct{ seq []reportArg }

type reportArg struct {
	out bool
	v   string
}

type reportKindFlag struct{ f *reportFlags }
type reportOutFlag struct{ f *reportFlags }

func (k reportKindFlag) String() string { return "" }
func (k reportKindFlag) Set(v string) error {
	k.f.seq = append(k.f.seq, reportArg{v: v})
	return nil
}
func (o reportOutFlag) String() string { return "" }
func (o reportOutFlag) Set(v string) error {
	o.f.seq = append(o.f.seq, reportArg{out: true, v: v})
	return nil
}

// register adds --report and --out to fs.
func (f *reportFlags) register(fs *flag.FlagSet) {
	fs.Var(reportKindFlag{f}, "report", "report `format`: text, json or html; repeatable (default text)")
	fs.Var(reportOutFlag{f}, "out", "`file` of the --report right before it (- or none: stdout, for one report at most), or one per --report after them all, by position; repeatable")
}

// resolve returns the reports (default text) and their files, outs[i]
// for reports[i] ("-" or missing: stdout). An --out right after a
// --report names its file, and a --report with none goes to stdout; as
// many --out as --report, every --out after every --report, pair by
// position. What fits neither (an --out after no --report) is an error
// rather than a report silently written to another's file, and so are two
// reports on stdout or in one file, which would interleave.
func (f *reportFlags) resolve() (reports, outs listFlag, err error) {
	lastReport, firstOut, nOut := -1, -1, 0
	for i, a := range f.seq {
		if !a.out {
			lastReport = i
			reports = append(reports, a.v)
			continue
		}
		if firstOut < 0 {
			firstOut = i
		}
		nOut++
	}
	switch {
	case len(reports) == 0:
		// The default text report: an --out names its file.
		if nOut > 1 {
			return nil, nil, fmt.Errorf("%d --out for 1 --report: give each --out its --report", nOut)
		}
		reports = listFlag{"text"}
		if nOut == 1 {
			outs = listFlag{f.seq[0].v}
		}
	case nOut == len(reports) && firstOut > lastReport:
		for _, a := range f.seq[firstOut:] {
			outs = append(outs, a.v)
		}
	default:
		outs = make(listFlag, len(reports))
		r := -1
		for i, a := range f.seq {
			if !a.out {
				r++
				outs[r] = "-"
				continue
			}
			if i == 0 || f.seq[i-1].out {
				return nil, nil, fmt.Errorf("--out %s follows no --report: put each --out right after its --report, or one --out per --report after them all (they pair by position)", a.v)
			}
			outs[r] = a.v
		}
	}
	var stdout []string
	files := map[string]string{}
	for i, kind := range reports {
		if i >= len(outs) || outs[i] == "-" {
			stdout = append(stdout, "--report "+kind)
			continue
		}
		name := filepath.Clean(outs[i])
		if other, ok := files[name]; ok {
			return nil, nil, fmt.Errorf("--report %s and --report %s both go to %s: give each its own --out", other, kind, outs[i])
		}
		files[name] = kind
	}
	if len(stdout) > 1 {
		return nil, nil, fmt.Errorf("%s all go to stdout: give all but one of them an --out right after it", strings.Join(stdout, ", "))
	}
	for len(outs) > 0 && outs[len(outs)-1] == "-" {
		outs = outs[:len(outs)-1]
	}
	return reports, outs, nil
}

// reportDest is where one report goes: stdout, or a file opened before
// the run, so that a path that cannot be written is refused before any
// request is sent rather than found after a long rehearsal.
type reportDest struct {
	kind, name string // name "-": stdout
	f          *os.File
	created    bool // by this run: removed when no report is written to it
}

type reportDests []*reportDest

// open resolves the flags, checks the report kinds, and opens every --out
// for writing. A file is created if missing, but an existing one is not
// truncated: its old report stays until the new one replaces it.
func (f *reportFlags) open() (reportDests, error) {
	reports, outs, err := f.resolve()
	if err != nil {
		return nil, err
	}
	for _, r := range reports {
		if r != "text" && r != "json" && r != "html" {
			return nil, fmt.Errorf("--report %q: want text, json or html", r)
		}
	}
	ds := make(reportDests, 0, len(reports))
	for i, kind := range reports {
		d := &reportDest{kind: kind, name: "-"}
		ds = append(ds, d)
		if i >= len(outs) || outs[i] == "-" {
			continue
		}
		d.name = outs[i]
		d.f, err = os.OpenFile(d.name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		d.created = err == nil
		if errors.Is(err, os.ErrExist) {
			d.f, err = os.OpenFile(d.name, os.O_WRONLY, 0)
		}
		if err != nil {
			ds.discard()
			var pe *os.PathError
			if errors.As(err, &pe) {
				err = pe.Err // the path is named already
			}
			return nil, fmt.Errorf("--out %s: cannot write the %s report there: %v", d.name, kind, err)
		}
	}
	return ds, nil
}

// discard closes the files no report was written to, and removes those
// this run created.
func (ds reportDests) discard() {
	for _, d := range ds {
		if d.f == nil {
			continue
		}
		_ = d.f.Close()
		if d.created {
			_ = os.Remove(d.name)
		}
		d.f = nil
	}
}

// write writes every report, each whatever happened to the others, and
// returns the exit code: the report's, or 3 when a report could not be
// written (CI would read nothing), unless the audit failed, which wins.
// The verdict reaches the terminal when the reports go elsewhere or one
// is missing.
func (ds reportDests) write(rep *loadtest.Report, stdout, stderr io.Writer, cmd string) int {
	failed := 0
	for _, d := range ds {
		if err := d.write(rep, stdout); err != nil {
			where := d.name
			if where == "-" {
				where = "stdout"
			}
			fmt.Fprintf(stderr, "%s: writing the %s report to %s: %v\n", cmd, d.kind, where, err)
			failed++
		}
	}
	code := rep.ExitCode
	switch {
	case failed > 0:
		if code != loadtest.ExitAuditFailed {
			code = loadtest.ExitInvalid
		}
		fmt.Fprintf(stderr, "%s: %s, but %d of %d reports not written (exit %d)\n", cmd, rep.Verdict, failed, len(ds), code)
	case code != 0 && (len(ds) > 1 || ds[0].kind != "text" || ds[0].name != "-"):
		fmt.Fprintf(stderr, "%s: %s (exit %d)\n", cmd, rep.Verdict, code)
	}
	return code
}

func (d *reportDest) write(rep *loadtest.Report, stdout io.Writer) (err error) {
	w := stdout
	if f := d.f; f != nil {
		d.f = nil // whatever happens now, not discarded later
		defer func() {
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil && d.created {
				// Half a report is worse than none for whatever reads it.
				_ = os.Remove(d.name)
			}
		}()
		if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() {
			if err := f.Truncate(0); err != nil {
				return err
			}
		}
		w = f
	}
	switch d.kind {
	case "text":
		return rep.WriteText(w)
	case "json":
		return rep.WriteJSON(w)
	default:
		return rep.WriteHTML(w)
	}
}

type ratioFlag struct {
	o    *loadtest.Options
	name string
	v    float64
}

func (r *ratioFlag) String() string { return strconv.FormatFloat(r.v, 'g', -1, 64) }
func (r *ratioFlag) Set(s string) error {
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return errors.New("want a number between 0 and 1")
	}
	r.v = v
	return r.o.SetRatio(r.name, v)
}

// printFlags prints a flag set's flags as serve --help does (usageWithEnv):
// --name, the usage, and the environment variable of the flags in env.
func printFlags(fs *flag.FlagSet, env map[string]bool) {
	out := fs.Output()
	fs.VisitAll(func(f *flag.Flag) {
		name, usage := flag.UnquoteUsage(f)
		if name != "" {
			name = " " + name
		}
		var extra []string
		if env[f.Name] {
			extra = append(extra, "env "+envName(f.Name))
		}
		if f.DefValue != "" && f.DefValue != "0" && f.DefValue != "false" && f.DefValue != "0s" {
			extra = append(extra, "default "+f.DefValue)
		}
		fmt.Fprintf(out, "  --%s%s\n    \t%s", f.Name, name, usage)
		if len(extra) > 0 {
			fmt.Fprintf(out, " (%s)", strings.Join(extra, ", "))
		}
		fmt.Fprintln(out)
	})
}

// parseFlags parses args into fs. --help prints the help (exit 0); a bad
// flag prints its error, the flag it may have meant, and where the help
// is, but not the help itself: `flashdrop load --user 50` printed one
// line of error and then some 80 of help, which scrolled it away. stop
// says the command ends here, with code.
func parseFlags(fs *flag.FlagSet, args []string, cmd string) (code int, stop bool) {
	out, usage := fs.Output(), fs.Usage
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	err := fs.Parse(args)
	fs.SetOutput(out)
	fs.Usage = usage
	switch {
	case err == nil:
		return 0, false
	case errors.Is(err, flag.ErrHelp):
		usage()
		return 0, true
	}
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, "flag provided but not defined: -"); ok {
		name = strings.TrimLeft(name, "-")
		msg = "unknown flag --" + name
		if near := nearFlags(fs, name); len(near) > 0 {
			msg += ": did you mean --" + strings.Join(near, " or --") + "?"
		}
	} else if !strings.Contains(msg, "flag --") {
		msg = strings.Replace(msg, "flag -", "flag --", 1)
	}
	fmt.Fprintf(out, "%s: %s\nrun `%s --help` for every flag\n", cmd, msg, cmd)
	return loadtest.ExitInvalid, true
}

// nearFlags are the flags of fs a mistyped name may have meant: the
// closest of those it begins (--rep for --report, --user for --users),
// or else the closest within an edit distance of 2 (--sed for --seed).
func nearFlags(fs *flag.FlagSet, name string) []string {
	closest := func(keep func(f *flag.Flag, d int) bool) []string {
		best, near := -1, []string(nil)
		fs.VisitAll(func(f *flag.Flag) {
			d := editDistance(name, f.Name)
			switch {
			case !keep(f, d):
			case best < 0 || d < best:
				best, near = d, []string{f.Name}
			case d == best:
				near = append(near, f.Name)
			}
		})
		return near
	}
	near := closest(func(f *flag.Flag, _ int) bool { return len(name) >= 2 && strings.HasPrefix(f.Name, name) })
	if len(near) == 0 {
		near = closest(func(_ *flag.Flag, d int) bool { return d <= 2 })
	}
	if len(near) > 3 {
		near = near[:3]
	}
	return near
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// Run runs the command and returns its exit code (loadtest.Exit*).
func (c *loadCmd) Run(ctx context.Context, args []string) int {
	if len(args) > 0 && args[0] == "report" {
		return c.report(args[1:])
	}
	var o loadtest.Options
	fs := flag.NewFlagSet("load", flag.ContinueOnError)
	fs.SetOutput(c.Stderr)
	targets := fs.String("target", "", "base `URL` of the serve node(s), comma-separated; requests spread across them")
	fs.StringVar(&o.AdminToken, "admin-token", "", "the shop backend's admin token (create the drop, stats, confirm after payment, audit)")
	secret := fs.String("jwt-secret", "", "HS256 secret to pre-sign shopper tokens (or --tokens-file)")
	fs.StringVar(&o.JWTIssuer, "jwt-issuer", "", "iss claim of the shopper tokens, if serve checks one")
	fs.StringVar(&o.JWTAudience, "jwt-audience", "", "aud claim of the shopper tokens, if serve checks one")
	tokensFile := fs.String("tokens-file", "", "`file` of shopper tokens, one \"user<TAB>token\" per line, instead of --jwt-secret")
	fs.IntVar(&o.Users, "users", 0, "shoppers (default 1000, or the tokens file's count)")
	fs.Int64Var(&o.Stock, "stock", 0, "units of the created drop (default users/10)")
	fs.Int64Var(&o.PerUserLimit, "per-user-limit", 0, "per-shopper limit of the created drop (default 1)")
	hold := fs.Duration("hold", 0, fmt.Sprintf("hold (checkout window) of the created drop, whole seconds (default 5s; %s with --embedded)", embeddedHold))
	fs.StringVar(&o.Mode, "mode", "", "mode of the created drop: fcfs or draw (default fcfs)")
	fs.StringVar(&o.DropID, "drop", "", "`id` of an existing drop to rehearse against, instead of creating one")
	fs.BoolVar(&o.KeepDrop, "keep-drop", false, "keep the rehearsal drop this run creates; by default it is deleted after a valid run's audit (a stopped or invalid run keeps it for a look)")
	fs.DurationVar(&o.Lead, "lead", 0, "time from creating the drop to its sale (default 3s + 1ms per shopper)")
	fs.StringVar(&o.UserPrefix, "user-prefix", "", "prefix of the shopper ids (default load-); shards of one run share it")
	arrival := fs.String("arrival", "burst", "burst (all buyers at T0), rate (constant) or ramp (rate to ramp-to)")
	fs.Float64Var(&o.Rate, "rate", 0, "arrivals per second (rate, ramp)")
	fs.Float64Var(&o.RampTo, "ramp-to", 0, "arrivals per second at the end of the ramp")
	fs.DurationVar(&o.Duration, "duration", 0, "length of the rate or ramp arrival")
	fs.IntVar(&o.Connections, "connections", 64, "concurrent connections")
	fs.IntVar(&o.Presses, "presses", 1, "times each buyer presses Buy (each retried like an app on 429, 503 and transport errors)")
	for _, r := range []struct{ name, usage string }{
		{"confirm-ratio", "`share` of the winners who pay and are confirmed (default 0.5)"},
		{"cancel-ratio", "`share` of the winners who cancel (default 0.2); the rest let the hold expire"},
		{"waitlist-ratio", "`share` of the buyers who join the waitlist when sold out (default 0.3)"},
		{"unregistered-ratio", "`share` of the shoppers who never register and must be refused (default 0.05)"},
		{"keyed-ratio", "`share` of the presses that carry an Idempotency-Key (default 1)"},
	} {
		fs.Var(&ratioFlag{o: &o, name: r.name}, r.name, r.usage)
	}
	fs.StringVar(&o.NATSURL, "nats-url", "", "`URL` of the NATS with the FLASHDROP stream, where the audit's I4 reads the events (without it, I4 is skipped)")
	var rf reportFlags
	rf.register(fs)
	quiet := fs.Bool("quiet", false, "no progress bars and no phase lines")
	fs.DurationVar(&o.Thresholds.MaxP99, "max-p99", 0, "exit 1 if the rush's reserve p99 is above this")
	fs.Float64Var(&o.Thresholds.MinRPS, "min-rps", 0, "exit 1 if the rush's requests per second are below this")
	maxErr := fs.String("max-error-rate", "", "exit 1 if the rush's error rate is above this `fraction` (0 allows none)")
	shard := fs.String("shard", "", "this generator's slice `i/n` of the shoppers, such as 0/4 (with --drop)")
	fs.Int64Var(&o.Seed, "seed", 0, "seed of the shoppers' roles and order (default random, reported)")
	embedded := fs.Bool("embedded", false, "start an in-process serve (embedded Redis and NATS) and rehearse against it")
	fs.Float64Var(&o.MaxGeneratorCPU, "max-generator-cpu", 0, "share of the cores the generator may use before the run is invalid (default 0.9; negative: not judged)")
	fs.DurationVar(&o.SettleTimeout, "settle-timeout", 0, "how long to wait for holds to expire and refills (default hold + 15s)")
	fs.DurationVar(&o.EventsWait, "events-wait", 0, "how long to wait for the events of every win (default 15s)")
	fs.DurationVar(&o.RequestTimeout, "request-timeout", 0, "timeout of each request (default 10s)")
	fs.IntVar(&o.ReplaySample, "replay-sample", 0, "keyed wins the audit replays (default 20)")
	fs.Usage = func() {
		fmt.Fprint(c.Stderr, `usage: flashdrop load --target URL --admin-token T --jwt-secret S [flags]
       flashdrop load --embedded [flags]
       flashdrop load report a.json b.json … [--allow-partial] [--report text|json|html] [--out FILE]

Rehearses release day: creates a drop (or uses --drop), registers the shoppers,
waits for T0 on the server's clock, sends the rush, checks out, follows the
waitlist refills, and audits the run from its own records, the API and the
events (README, "Rehearse release day", says how each check is made):
  I1       no oversell: never more units won at once than the stock
  I2       no shopper over the per-user limit
  I3       every unregistered shopper refused
  I4       every win announced by exactly one won event (needs --nats-url)
  I5       a replayed press gets the same reservation; another body is refused
  I6       available + owed + held + confirmed = stock, and the counters equal
           the sums over the reservations
  I7       a confirmed unit stays sold; no hold expires before its deadline
  answers  every answer a shopper saw agrees with the reservation's final state

Exit codes: 0 pass; 1 threshold crossed; 2 audit failed (wins over the others);
3 invalid run: a bad flag (refused before any request), an unreachable target or
one that stopped answering, the generator saturated, nobody could buy (every
press refused: the drop paused or not open, no win), interrupted, or a report
could not be written.

flags (those marked env are also read from that environment variable):
`)
		printFlags(fs, loadEnv)
	}
	bad := func(format string, a ...any) int {
		fmt.Fprintf(c.Stderr, "flashdrop load: "+format+"\n", a...)
		return loadtest.ExitInvalid
	}
	if code, stop := parseFlags(fs, args, "flashdrop load"); stop {
		return code
	}
	if fs.NArg() > 0 {
		return bad("unexpected argument %q (flags come before nothing; see --help)", fs.Arg(0))
	}
	lookup := c.Lookup
	if lookup == nil {
		lookup = os.LookupEnv
	}
	if err := applyEnv(fs, func(k string) (string, bool) {
		for name := range loadEnv {
			if envName(name) == k {
				return lookup(k)
			}
		}
		return "", false
	}); err != nil {
		return bad("%v", err)
	}
	o.JWTSecret = []byte(*secret)
	o.Arrival = loadtest.Arrival(*arrival)
	if *targets != "" {
		for _, t := range strings.Split(*targets, ",") {
			if t = strings.TrimSpace(t); t != "" {
				o.Targets = append(o.Targets, t)
			}
		}
	}
	// loadtest reads a zero count as "the default"; given on the command
	// line, 0 is a mistake (--users 0 ran 1000 shoppers), refused with
	// the words loadtest uses for a negative one.
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	for _, n := range []struct {
		name string
		v    int64
		max  string
	}{
		{"users", int64(o.Users), "10000000"}, {"stock", o.Stock, "1000000000"}, {"per-user-limit", o.PerUserLimit, "--stock"},
		{"connections", int64(o.Connections), "10000"}, {"presses", int64(o.Presses), "100"},
	} {
		if given[n.name] && n.v == 0 {
			return bad("--%s must be between 1 and %s, got 0", n.name, n.max)
		}
	}
	if *hold != 0 || given["hold"] {
		if *hold < time.Second || *hold%time.Second != 0 {
			return bad("--hold must be whole seconds, at least 1s")
		}
		o.HoldSeconds = int64(*hold / time.Second)
	}
	if *maxErr != "" {
		v, err := strconv.ParseFloat(*maxErr, 64)
		if err != nil {
			return bad("--max-error-rate %q: want a fraction such as 0.01", *maxErr)
		}
		o.Thresholds.MaxErrorRate, o.Thresholds.MaxErrorRateSet = v, true
	}
	if *shard != "" {
		i, n, ok := strings.Cut(*shard, "/")
		si, err1 := strconv.Atoi(i)
		sn, err2 := strconv.Atoi(n)
		if !ok || err1 != nil || err2 != nil {
			return bad("--shard %q: want i/n, such as 0/4", *shard)
		}
		// Checked here, not only by loadtest, where 0 shards means "not
		// sharded": --shard 0/0 is a typo, not a request to run unsharded.
		if sn < 1 || si < 0 || si >= sn {
			return bad("--shard %d/%d: want i/n with 0 <= i < n", si, sn)
		}
		o.Shard, o.Shards = si, sn
	}
	if *tokensFile != "" {
		toks, err := readTokens(*tokensFile)
		if err != nil {
			return bad("--tokens-file: %v", err)
		}
		o.Tokens = toks
	}
	dests, err := rf.open()
	if err != nil {
		return bad("%v", err)
	}
	// A run refused from here on (bad options, an unreachable target)
	// writes no report, and leaves no empty file behind.
	defer dests.discard()
	extra := append([]loadtest.Option(nil), c.Extra...)
	if *embedded {
		if len(o.Targets) > 0 || o.AdminToken != "" || len(o.JWTSecret) > 0 || o.NATSURL != "" || o.DropID != "" {
			return bad("--embedded starts its own serve: it takes no --target, --admin-token, --jwt-secret, --nats-url or --drop")
		}
		// A quick demo: holds expire within seconds and the sweeper
		// releases them promptly.
		if o.HoldSeconds == 0 {
			o.HoldSeconds = int64(embeddedHold / time.Second)
		}
		m := NewMain(io.Discard, c.Stderr)
		m.Lookup = func(string) (string, bool) { return "", false }
		if err := m.ParseFlags([]string{"--listen", "127.0.0.1:0", "--no-demo", "--log-level", "error", "--sweep-every", "100ms"}); err != nil {
			return bad("%v", err)
		}
		if err := m.Run(ctx); err != nil {
			return bad("starting the embedded serve: %v", err)
		}
		c.Serve = m
		defer func() { _ = m.Close() }()
		o.Targets = []string{"http://" + m.Addr}
		o.AdminToken, o.JWTSecret = m.Config.AdminToken, []byte(m.Config.JWTSecret)
		o.NATSURL = m.natsURL
		extra = append(extra, loadtest.WithSharedProcess())
		if !*quiet {
			fmt.Fprintf(c.Stderr, "embedded serve on %s (in-process Redis and NATS, not durable)\n", m.Addr)
		}
	}
	if !*quiet {
		o.Log = c.Stderr
		if f, ok := c.Stderr.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
			o.Progress = c.Stderr
		}
	}
	rep, err := loadtest.Run(ctx, o, extra...)
	if err != nil {
		return bad("%v", err)
	}
	return dests.write(rep, c.Stdout, c.Stderr, "flashdrop load")
}

// report is `flashdrop load report a.json b.json …`: it merges the JSON
// reports of several generators and re-runs the audit on the merged
// records.
func (c *loadCmd) report(args []string) int {
	fs := flag.NewFlagSet("load report", flag.ContinueOnError)
	fs.SetOutput(c.Stderr)
	var rf reportFlags
	rf.register(fs)
	var th loadtest.Thresholds
	fs.DurationVar(&th.MaxP99, "max-p99", 0, "exit 1 if the merged rush's reserve p99 is above this")
	fs.Float64Var(&th.MinRPS, "min-rps", 0, "exit 1 if the merged rush's requests per second are below this")
	maxErr := fs.String("max-error-rate", "", "exit 1 if the merged rush's error rate is above this `fraction` (0 allows none)")
	allowPartial := fs.Bool("allow-partial", false, "judge a merge that lacks some of the run's shards on those given (default: such a merge is incomplete, exit 3)")
	fs.Usage = func() {
		fmt.Fprint(c.Stderr, `usage: flashdrop load report a.json b.json … [flags]

Merges the JSON reports of the generators of one run (--shard i/n) and audits
the merged records. Exit codes as flashdrop load's: 0 pass, 1 threshold crossed,
2 audit failed, 3 invalid (a shard's report missing, without --allow-partial;
a shard's run invalid; a report could not be written).

flags:
`)
		printFlags(fs, nil)
	}
	// Flags may come before or after the files.
	var files []string
	rest := args
	for len(rest) > 0 {
		if code, stop := parseFlags(fs, rest, "flashdrop load report"); stop {
			return code
		}
		if fs.NArg() == 0 {
			break
		}
		files = append(files, fs.Arg(0))
		rest = fs.Args()[1:]
	}
	if len(files) == 0 {
		fmt.Fprintln(c.Stderr, "flashdrop load report: give the JSON reports to merge")
		return loadtest.ExitInvalid
	}
	if *maxErr != "" {
		v, err := strconv.ParseFloat(*maxErr, 64)
		if err != nil {
			fmt.Fprintf(c.Stderr, "flashdrop load report: --max-error-rate %q: want a fraction\n", *maxErr)
			return loadtest.ExitInvalid
		}
		th.MaxErrorRate, th.MaxErrorRateSet = v, true
	}
	dests, err := rf.open()
	if err != nil {
		fmt.Fprintf(c.Stderr, "flashdrop load report: %v\n", err)
		return loadtest.ExitInvalid
	}
	defer dests.discard()
	var reps []*loadtest.Report
	for _, name := range files {
		f, err := os.Open(name)
		if err != nil {
			fmt.Fprintf(c.Stderr, "flashdrop load report: %v\n", err)
			return loadtest.ExitInvalid
		}
		rep, err := loadtest.ReadJSON(bufio.NewReader(f))
		f.Close()
		if err != nil {
			fmt.Fprintf(c.Stderr, "flashdrop load report: %s: %v\n", name, err)
			return loadtest.ExitInvalid
		}
		reps = append(reps, rep)
	}
	merged, err := loadtest.MergeWith(loadtest.MergeOptions{Thresholds: th, AllowPartial: *allowPartial}, reps...)
	if err != nil {
		fmt.Fprintf(c.Stderr, "flashdrop load report: %v\n", err)
		return loadtest.ExitInvalid
	}
	return dests.write(merged, c.Stdout, c.Stderr, "flashdrop load report")
}

// readTokens reads "user<TAB>token" lines; blank lines and # comments are
// skipped.
func readTokens(name string) ([]loadtest.UserToken, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []loadtest.UserToken
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		user, tok, ok := strings.Cut(line, "\t")
		if !ok || user == "" || strings.TrimSpace(tok) == "" {
			return nil, fmt.Errorf("line %d: want user<TAB>token", n)
		}
		out = append(out, loadtest.UserToken{User: user, Token: strings.TrimSpace(tok)})
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, errors.New("no tokens")
	}
	return out, nil
}
