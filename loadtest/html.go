package loadtest

import (
	"bytes"
	"fmt"
	"html/template"
	"image/color"
	"io"
	"sort"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

// WriteHTML writes a self-contained page: inline CSS, inline SVG charts
// (rendered by gonum/plot), no script, and nothing fetched from any host,
// so it opens offline and can be attached to a ticket.
func (rep *Report) WriteHTML(w io.Writer) error {
	var text bytes.Buffer
	if err := rep.WriteText(&text); err != nil {
		return err
	}
	data := struct {
		R          *Report
		Throughput template.HTML
		Latency    template.HTML
		Text       string
		Status     map[string]string
		Drained    string
	}{R: rep, Text: text.String(), Drained: upperFirst(rep.drained()), Status: map[string]string{CheckPass: "pass", CheckFail: "fail", CheckSkipped: "skipped", CheckDeferred: "deferred"}}
	var err error
	if data.Throughput, err = throughputChart(rep); err != nil {
		return err
	}
	if data.Latency, err = latencyChart(rep); err != nil {
		return err
	}
	return htmlPage.Execute(w, data)
}

// Colours: one colour, one meaning, across the page. Outcomes of the
// reserve endpoint keep theirs in every report (won is the verdict's
// green, an error red); all requests is the dark line they sum to; the
// latency percentiles are shades of one hue no outcome uses, darker for
// a higher percentile.
var (
	colourAll      = color.RGBA{0x26, 0x32, 0x38, 0xff}
	outcomeColours = map[string]color.RGBA{
		"won":            {0x1b, 0x7f, 0x3b, 0xff},
		"sold_out":       {0x15, 0x65, 0xc0, 0xff},
		"not_registered": {0xef, 0x6c, 0x00, 0xff},
		"limit_reached":  {0x8d, 0x6e, 0x63, 0xff},
	}
	errorColour = color.RGBA{0xc6, 0x28, 0x28, 0xff}
	// otherColours go, in turn, to outcomes without a colour of their own.
	otherColours     = []color.RGBA{{0x00, 0x83, 0x8f, 0xff}, {0xad, 0x14, 0x57, 0xff}, {0x9e, 0x9d, 0x24, 0xff}, {0x78, 0x90, 0x9c, 0xff}}
	percentileShades = []color.RGBA{{0xc5, 0xb8, 0xe6, 0xff}, {0x95, 0x75, 0xcd, 0xff}, {0x5e, 0x35, 0xb1, 0xff}, {0x31, 0x1b, 0x92, 0xff}}
)

// outcomeColour is an outcome's colour; other counts the outcomes that
// took one of otherColours so far.
func outcomeColour(outcome string, other *int) color.RGBA {
	if c, ok := outcomeColours[outcome]; ok {
		return c
	}
	switch outcome {
	case OutcomeTransport, OutcomeTimeout, "overloaded", "unavailable", "internal", "rate_limited":
		return errorColour
	}
	if strings.HasPrefix(outcome, "http_5") {
		return errorColour
	}
	c := otherColours[*other%len(otherColours)]
	*other++
	return c
}

// upperFirst starts s with a capital, as a sentence of the page does.
func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// words is an outcome as a legend shows it: sold_out is "sold out".
func words(outcome string) string { return strings.ReplaceAll(outcome, "_", " ") }

// chartFont is the charts' typeface: Liberation Sans, whose metrics are
// Arial's and Helvetica's, so the page's sans-serif fallbacks lay out as
// gonum/plot measured (svgOf names them; no font is embedded or fetched).
var chartFont = font.Font{Typeface: "Liberation", Variant: "Sans"}

// plainTicks are gonum/plot's default ticks labelled with as few digits
// as each needs: 2500, not 2500.00.
type plainTicks struct{}

func (plainTicks) Ticks(min, max float64) []plot.Tick {
	ts := plot.DefaultTicks{}.Ticks(min, max)
	for i := range ts {
		if l := ts[i].Label; strings.Contains(l, ".") && !strings.ContainsAny(l, "eE") {
			ts[i].Label = strings.TrimSuffix(strings.TrimRight(l, "0"), ".")
		}
	}
	return ts
}

// newPlot is a plot whose every text is in chartFont.
func newPlot() *plot.Plot {
	p := plot.New()
	p.X.Tick.Marker, p.Y.Tick.Marker = plainTicks{}, plainTicks{}
	sans := func(f font.Font) font.Font {
		g := chartFont
		g.Size, g.Style, g.Weight = f.Size, f.Style, f.Weight
		return g
	}
	p.Title.TextStyle.Font = sans(p.Title.TextStyle.Font)
	p.Legend.TextStyle.Font = sans(p.Legend.TextStyle.Font)
	for _, a := range []*plot.Axis{&p.X, &p.Y} {
		a.Label.TextStyle.Font = sans(a.Label.TextStyle.Font)
		a.Tick.Label.Font = sans(a.Tick.Label.Font)
	}
	return p
}

// sansFamily is the font-family the SVG's text asks for: Liberation Sans
// where installed, else a metric-compatible or any sans-serif face.
const sansFamily = "font-family:'Liberation Sans',Arial,Helvetica,sans-serif;"

// chartWidth and chartHeight are a chart's size: at this size its text
// stays legible when the page shrinks it to a phone's width.
const (
	chartWidth  = 14 * vg.Centimeter
	chartHeight = 8 * vg.Centimeter
)

// svgOf renders a plot as an inline <svg> element (the XML prolog dropped).
func svgOf(p *plot.Plot, w, h vg.Length) (template.HTML, error) {
	wt, err := p.WriterTo(w, h, "svg")
	if err != nil {
		return "", err
	}
	var b bytes.Buffer
	if _, err := wt.WriteTo(&b); err != nil {
		return "", err
	}
	s := b.String()
	if i := strings.Index(s, "<svg"); i >= 0 {
		s = s[i:]
	}
	s = strings.ReplaceAll(s, "font-family:Liberation Sans;", sansFamily)
	return template.HTML(s), nil // generated by gonum/plot from numbers, not from input text
}

// throughputChart plots the rush's answers per second after T0, one line
// per outcome of the reserve endpoint, and all requests: each bucket's
// count over the time it covers (rateLines), as a step as wide as the
// bucket.
func throughputChart(rep *Report) (template.HTML, error) {
	width, lines := rateLines(rep.throughput())
	p := newPlot()
	p.Title.Text = "Rush: answers per second after T0"
	p.X.Label.Text = "seconds after T0"
	p.Y.Label.Text = fmt.Sprintf("requests / s, in %s buckets", width)
	p.Legend.Top = true
	other := 0
	for _, rl := range lines {
		xys := make(plotter.XYs, 0, len(rl.points)+1)
		for _, pt := range rl.points {
			xys = append(xys, plotter.XY{X: pt.x, Y: pt.y})
		}
		// The last step ends where its bucket's time does.
		last := rl.points[len(rl.points)-1]
		xys = append(xys, plotter.XY{X: last.x + last.seconds, Y: last.y})
		l, err := plotter.NewLine(xys)
		if err != nil {
			return "", err
		}
		l.StepStyle = plotter.PostStep
		outcome := strings.TrimPrefix(rl.name, "reserve:")
		l.Width = vg.Points(1.5)
		if rl.name == "all requests" {
			l.Color, l.Width = colourAll, vg.Points(2)
		} else {
			l.Color = outcomeColour(outcome, &other)
		}
		p.Add(l)
		p.Legend.Add(words(outcome), l)
	}
	p.Add(plotter.NewGrid())
	headroom(p)
	return svgOf(p, chartWidth, chartHeight)
}

// headroom leaves the top third of a chart to its legend.
func headroom(p *plot.Plot) {
	p.Y.Min = 0
	if p.Y.Max > 0 {
		p.Y.Max *= 1.45
	}
}

// latencyChart plots p50/p90/p99/p99.9 per endpoint of the rush,
// checkout and refill phases (all outcomes together).
func latencyChart(rep *Report) (template.HTML, error) {
	merged := map[string]*latAcc{}
	for _, s := range rep.Series {
		if s.Phase != PhaseRush && s.Phase != PhaseCheckout && s.Phase != PhaseRefill {
			continue
		}
		name := string(s.Phase) + " " + s.Endpoint
		if merged[name] == nil {
			merged[name] = &latAcc{}
		}
		merged[name].add(s.Histogram)
	}
	names := sortedKeys(merged, func(a, b string) bool { return a < b })
	sort.SliceStable(names, func(i, j int) bool {
		return phaseOrder(Phase(strings.Fields(names[i])[0])) < phaseOrder(Phase(strings.Fields(names[j])[0]))
	})
	p := newPlot()
	p.Title.Text = "Latency percentiles per endpoint (ms)"
	p.Y.Label.Text = "ms"
	p.Legend.Top = true
	quantiles := []struct {
		label string
		q     float64
	}{{"p50", 50}, {"p90", 90}, {"p99", 99}, {"p99.9", 99.9}}
	width := vg.Points(10)
	for qi, q := range quantiles {
		vals := make(plotter.Values, len(names))
		for i, n := range names {
			if h := merged[n].h; h != nil && h.TotalCount() > 0 {
				vals[i] = ms(h.ValueAtQuantile(q.q))
			}
		}
		if len(vals) == 0 {
			break
		}
		bars, err := plotter.NewBarChart(vals, width)
		if err != nil {
			return "", err
		}
		bars.Color = percentileShades[qi%len(percentileShades)]
		bars.LineStyle.Width = 0
		// The group of bars centred on its endpoint's tick.
		bars.Offset = (vg.Length(qi) - vg.Length(len(quantiles)-1)/2) * width
		p.Add(bars)
		p.Legend.Add(q.label, bars)
	}
	if len(names) > 0 {
		// Phase over endpoint, so that neighbours' labels do not meet.
		labels := make([]string, len(names))
		for i, n := range names {
			labels[i] = strings.Replace(n, " ", "\n", 1)
		}
		p.NominalX(labels...)
		// Room for the outer bars of the first and last groups.
		p.X.Min, p.X.Max = -0.5, float64(len(names))-0.5
	}
	p.Add(plotter.NewGrid())
	headroom(p)
	return svgOf(p, chartWidth, chartHeight)
}

var htmlPage = template.Must(template.New("report").Funcs(template.FuncMap{
	"pct":   func(f float64) string { return fmt.Sprintf("%.2f%%", 100*f) },
	"deref": func(f *float64) float64 { return *f },
	"ms":    func(f float64) string { return fmt.Sprintf("%.3f", f) },
	"f3":    func(f *float64) string { return fmt.Sprintf("%.3f", *f) },
	"plain": plain,
	"count": func(n int, noun string) string { return count(n, noun) },
}).Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>flashdrop load: {{.R.Drop.ID}} — {{.R.Verdict}}</title>
<style>
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:2em auto;max-width:70em;padding:0 1em;color:#1d2327}
h1{font-size:1.5em;margin:.2em 0}h2{font-size:1.15em;margin-top:1.6em;border-bottom:1px solid #ddd}
.verdict{display:inline-block;padding:.2em .7em;border-radius:.3em;color:#fff;font-weight:600}
.pass{background:#1b7f3b}.audit_failed,.fail{background:#c62828}.threshold_crossed{background:#ef6c00}.invalid{background:#455a64}
.skipped,.deferred{background:#90a4ae}
table{border-collapse:collapse;margin:.5em 0}td,th{padding:.25em .7em;border-bottom:1px solid #eee;text-align:left;vertical-align:top}
td.n{text-align:right;font-variant-numeric:tabular-nums}
.culprit{font-family:ui-monospace,monospace;font-size:.9em;color:#c62828}
svg,img{display:block;max-width:100%;height:auto;margin:.5em 0}pre{background:#f6f8fa;padding:1em;overflow:auto;font-size:12px}
.scroll{overflow-x:auto;-webkit-overflow-scrolling:touch}.scroll table{margin:0}
.culprit{overflow-wrap:anywhere}
@media (max-width:40em){body{margin:1em auto;padding:0 .75em}td,th{padding:.25em .45em}h1{font-size:1.25em}}
</style></head><body>
<h1>flashdrop load — drop {{.R.Drop.ID}}{{if .R.Drop.Rehearsal}} (a rehearsal){{end}}</h1>
<p><span class="verdict {{.R.Verdict}}">{{.R.Verdict}}</span> exit code {{.R.ExitCode}}{{.R.Unchecked}}{{.R.FailedShare}}
{{if not .R.Complete}} — <strong>incomplete</strong>, stopped in the {{.R.StoppedIn}} phase{{end}}</p>
<p>{{.R.Drop.Stock}} units, limit {{.R.Drop.PerUserLimit}} per shopper, hold {{.R.Drop.HoldSeconds}} s, mode {{.R.Drop.Mode}};
{{.R.Run.Shoppers}} of {{count .R.Run.Users "shopper"}}, {{.R.Run.Arrival}} arrival, {{count .R.Run.Connections "connection"}}, seed {{.R.Run.Seed}}{{if .R.Run.Merged}}, {{count .R.Run.Merged "generator report"}} merged{{end}}.</p>
{{range .R.Invalid}}<p><strong>invalid:</strong> {{.}}</p>{{end}}
{{range .R.Notes}}<p>note: {{.}}</p>{{end}}

<h2>Audit: {{.R.Audit.Verdict}}</h2>
<div class="scroll"><table><tr><th>check</th><th>rule</th><th>result</th><th>detail</th></tr>
{{range .R.Audit.Checks}}<tr><td>{{.ID}}</td><td>{{.Name}}</td><td><span class="verdict {{index $.Status .Status}}">{{.Status}}</span></td>
<td>{{.Detail}}{{range .Culprits}}<div class="culprit">{{.}}</div>{{end}}</td></tr>
{{end}}</table></div>
{{if .R.Thresholds}}<h2>Thresholds</h2><div class="scroll"><table><tr><th>threshold</th><th>limit</th><th>measured</th><th></th></tr>
{{range .R.Thresholds}}<tr><td>{{.Name}}</td><td class="n">{{plain .Limit}}</td><td class="n">{{plain .Value}}</td><td>{{if .Crossed}}<span class="verdict fail">crossed</span>{{else}}ok{{end}}</td></tr>{{end}}
</table></div>{{end}}

<h2>Rush</h2>
<p>{{.R.Rush.Requests}} requests in {{printf "%.3f" .R.Rush.Seconds}} s = {{printf "%.1f" .R.Rush.RPS}} req/s, errors {{pct .R.Rush.ErrorRate}};
reserve p50 {{ms .R.Rush.Reserve.P50}} ms, p99 {{ms .R.Rush.Reserve.P99}} ms, max {{ms .R.Rush.Reserve.Max}} ms
({{if .R.Rush.Corrected}}from the intended send time{{else}}from the actual send{{end}}).
{{with .R.Rush.FirstSoldOutS}}First “sold out” answer at {{f3 .}} s after T0. {{end}}{{.Drained}} {{printf "%.3f" .R.Rush.DrainS}} s.</p>
{{.Throughput}}
{{.Latency}}

<h2>Latency by phase, endpoint and outcome (ms)</h2>
<div class="scroll"><table><tr><th>phase</th><th>endpoint</th><th>outcome</th><th>count</th><th>p50</th><th>p90</th><th>p99</th><th>p99.9</th><th>max</th></tr>
{{range .R.Series}}<tr><td>{{.Phase}}</td><td>{{.Endpoint}}</td><td>{{.Outcome}}</td><td class="n">{{.Latency.Count}}</td><td class="n">{{ms .Latency.P50}}</td><td class="n">{{ms .Latency.P90}}</td><td class="n">{{ms .Latency.P99}}</td><td class="n">{{ms .Latency.P999}}</td><td class="n">{{ms .Latency.Max}}</td></tr>
{{end}}</table></div>

<h2>Phases</h2>
<div class="scroll"><table><tr><th>phase</th><th>seconds</th><th>requests</th><th>errors</th><th>req/s</th></tr>
{{range .R.Phases}}<tr><td>{{.Name}}</td><td class="n">{{printf "%.3f" .Seconds}}</td><td class="n">{{.Requests}}</td><td class="n">{{.Errors}}</td><td class="n">{{printf "%.1f" .RPS}}</td></tr>{{end}}
</table></div>

<h2>Generator</h2>
<p>{{printf "%.3f" .R.Generator.CPUSeconds}} s CPU over {{printf "%.3f" .R.Generator.WallSeconds}} s of rush on {{count .R.Generator.Cores "core"}} ({{pct .R.Generator.CPUShare}}){{if not .R.Generator.Judged}}, not judged{{end}}{{if .R.Generator.Saturated}}, <strong>saturated</strong>{{end}}{{with .R.Generator.MachineBusy}}; the machine's cores {{pct (deref .)}} busy{{end}}.</p>

<h2>As text</h2>
<pre>{{.Text}}</pre>
</body></html>
`))
