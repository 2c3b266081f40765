package main

import (
	"image/color"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
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
