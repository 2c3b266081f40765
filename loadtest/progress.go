package loadtest

import (
	"io"

	"github.com/schollz/progressbar/v3"
)

// bar is a phase's progress bar; a nil bar does nothing, which is what a
// run without a terminal (or with --quiet) gets, and so does a finished
// one, so that a phase can finish its bar before its closing line and
// still defer finish for its early returns.
type bar struct{ pb *progressbar.ProgressBar }

func newBar(w io.Writer, total int, what string) *bar {
	if w == nil {
		return nil
	}
	return &bar{pb: progressbar.NewOptions(total,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription(what),
		progressbar.OptionSetWidth(30),
		progressbar.OptionShowCount(),
		progressbar.OptionShowIts(),
		progressbar.OptionSetItsString("req"),
		progressbar.OptionThrottle(100e6), // redraw at most every 100 ms
		progressbar.OptionClearOnFinish(),
	)}
}

// spinner is a bar of unknown length (waiting for T0, for expiries).
func newSpinner(w io.Writer, what string) *bar { return newBar(w, -1, what) }

func (b *bar) add(n int) {
	if b != nil && b.pb != nil {
		_ = b.pb.Add(n)
	}
}

func (b *bar) describe(s string) {
	if b != nil && b.pb != nil {
		b.pb.Describe(s)
	}
}

func (b *bar) finish() {
	if b != nil && b.pb != nil {
		_ = b.pb.Finish()
		_ = b.pb.Close()
		b.pb = nil
	}
}
