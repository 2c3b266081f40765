package main

import (
	"errors"
	"fmt"
	"image/color"
	"slices"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// writeChart draws reserve throughput per 100 ms through the release-day
// burst (all answers, and the wins among them) beside /healthz's, each
// from the server's own counters.
func writeChart(path string, series map[string][]point, dur time.Duration) error {
	p := plot.New()
	p.Title.Text = "Release-day burst: throughput per 100 ms"
	p.X.Label.Text = "seconds since the run's first answer"
	p.Y.Label.Text = "requests/s"
	p.Add(plotter.NewGrid())
	ymax := 0.0
	add := func(name, label string, pick func(point) float64, c color.Color, dashed bool) error {
		pts := series[name]
		if len(pts) == 0 {
			return nil
		}
		xy := make(plotter.XYs, len(pts))
		for i, q := range pts {
			xy[i].X, xy[i].Y = q.t, pick(q)
			ymax = max(ymax, xy[i].Y)
		}
		l, err := plotter.NewLine(xy)
		if err != nil {
			return err
		}
		l.Color = c
		l.Width = vg.Points(1.5)
		if dashed {
			l.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
		}
		p.Add(l)
		p.Legend.Add(label, l)
		return nil
	}
	if err := add("healthz", "GET /healthz (same connections)", func(q point) float64 { return q.total }, color.RGBA{R: 120, G: 120, B: 120, A: 255}, true); err != nil {
		return err
	}
	if err := add("release-day", "POST reservations, all answers", func(q point) float64 { return q.total }, color.RGBA{R: 30, G: 90, B: 200, A: 255}, false); err != nil {
		return err
	}
	if err := add("release-day", "of which wins (201)", func(q point) float64 { return q.won }, color.RGBA{R: 220, G: 60, B: 40, A: 255}, false); err != nil {
		return err
	}
	p.Legend.Top = true
	p.Y.Min = 0
	// Headroom above the highest line, so the legend in the top corner
	// covers no data.
	if ymax > 0 {
		p.Y.Max = ymax * 1.3
	}
	p.X.Min, p.X.Max = 0, dur.Seconds()
	return p.Save(8*vg.Inch, 4*vg.Inch, path)
}

// budgetBar is what one kind of request costs serve's core: serve's CPU
// and, where redis-server shares that core, Redis's; and what the
// target's ratio allows (the /healthz runs' cost over the target), 0 for
// /healthz itself.
type budgetBar struct {
	label        string
	serve, redis float64 // µs of CPU per request
	allows       float64 // µs per request the target allows
	target       float64 // the target's ratio
}

// writeBudgetChart draws each request's cost to the core as a bar, serve's
// part under Redis's, with the target's budget as a dashed line across it:
// where the bar stands above its line, the core cannot reach the target's
// ratio on this placement, and by how much is the bar's height over the
// line's.
func writeBudgetChart(path string, bars []budgetBar) error {
	if len(bars) == 0 {
		return errors.New("no measures for the budget chart")
	}
	p := plot.New()
	p.Title.Text = "What one request costs serve's core, against each target's budget"
	p.Y.Label.Text = "µs of CPU per request (the rounds' median)"
	p.Add(plotter.NewGrid())
	serve, redis := make(plotter.Values, len(bars)), make(plotter.Values, len(bars))
	names := make([]string, len(bars))
	ymax := 0.0
	for i, b := range bars {
		serve[i], redis[i], names[i] = b.serve, max(b.redis, 0), b.label
		ymax = max(ymax, b.serve+redis[i], b.allows)
	}
	// bar adds one part of each bar, stacked on the part below it.
	bar := func(vals plotter.Values, c color.Color, label string, on *plotter.BarChart) (*plotter.BarChart, error) {
		b, err := plotter.NewBarChart(vals, vg.Points(40))
		if err != nil {
			return nil, err
		}
		b.Color, b.LineStyle.Width = c, 0
		if on != nil {
			b.StackOn(on)
		}
		p.Add(b)
		p.Legend.Add(label, b)
		return b, nil
	}
	sb, err := bar(serve, color.RGBA{R: 30, G: 90, B: 200, A: 255}, "flashdrop serve's CPU", nil)
	if err != nil {
		return err
	}
	if slices.ContainsFunc(bars, func(b budgetBar) bool { return b.redis > 0 }) {
		if _, err := bar(redis, color.RGBA{R: 220, G: 60, B: 40, A: 255}, "redis-server's CPU (on the same core)", sb); err != nil {
			return err
		}
	}
	// Totals above each bar (and above its budget line, which would cross
	// them where the two are close); budgets to the left of their line.
	var totals, budgets plotter.XYLabels
	for i, b := range bars {
		total := b.serve + max(b.redis, 0)
		totals.XYs = append(totals.XYs, plotter.XY{X: float64(i), Y: max(total, b.allows)})
		totals.Labels = append(totals.Labels, fmt.Sprintf("%.1f µs", total))
		if b.allows <= 0 {
			continue
		}
		l, err := plotter.NewLine(plotter.XYs{{X: float64(i) - 0.25, Y: b.allows}, {X: float64(i) + 0.25, Y: b.allows}})
		if err != nil {
			return err
		}
		l.Width = vg.Points(2)
		l.Dashes = []vg.Length{vg.Points(5), vg.Points(3)}
		p.Add(l)
		if len(budgets.Labels) == 0 {
			p.Legend.Add("the target's budget: its rounds' /healthz cost over the target's ratio", l)
		}
		budgets.XYs = append(budgets.XYs, plotter.XY{X: float64(i) - 0.27, Y: b.allows})
		budgets.Labels = append(budgets.Labels, fmt.Sprintf("%.1f at %.1fx", b.allows, b.target))
	}
	for _, l := range []struct {
		xy         plotter.XYLabels
		xa         draw.XAlignment
		ya         draw.YAlignment
		offX, offY vg.Length
	}{{totals, draw.XCenter, draw.YBottom, 0, vg.Points(4)}, {budgets, draw.XRight, draw.YCenter, 0, 0}} {
		if len(l.xy.Labels) == 0 {
			continue
		}
		labels, err := plotter.NewLabels(l.xy)
		if err != nil {
			return err
		}
		for i := range labels.TextStyle {
			labels.TextStyle[i].XAlign, labels.TextStyle[i].YAlign = l.xa, l.ya
		}
		labels.Offset = vg.Point{X: l.offX, Y: l.offY}
		p.Add(labels)
	}
	p.NominalX(names...)
	// The legend over the first bar, /healthz's, the shortest.
	p.Legend.Top, p.Legend.Left = true, true
	p.Legend.XOffs = vg.Points(10)
	p.Y.Min = 0
	p.Y.Max = ymax * 1.15
	p.X.Min, p.X.Max = -0.5, float64(len(bars))-0.5
	return p.Save(8*vg.Inch, 4.5*vg.Inch, path)
}
