package loadtest_test

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/flashdrop/flashdrop/loadtest"
	"github.com/flashdrop/flashdrop/loadtest/fakeserver"
)

// TestRunDeletesTheRehearsalItMade: a run that passes deletes the drop it
// created (every run makes one with thousands of shoppers, and kept they
// pile up in the target's Redis and on its ops page); --keep-drop keeps
// it, a drop the run did not create is never touched, and a run that did
// not pass keeps its drop for a look and says how to delete it.
func TestRunDeletesTheRehearsalItMade(t *testing.T) {
	run := func(t *testing.T, f *fakeserver.Server, o loadtest.Options, extra ...loadtest.Option) (*loadtest.Report, string) {
		t.Helper()
		var log bytes.Buffer
		o.Log = &log
		rep, err := loadtest.Run(context.Background(), o, extra...)
		if err != nil {
			t.Fatal(err)
		}
		return rep, log.String()
	}
	t.Run("passed", func(t *testing.T) {
		f, hook := startTimedFake(t, fakeserver.Options{})
		rep, log := run(t, f, baseOptions(f.URL), hook)
		if rep.ExitCode != loadtest.ExitPass || !slices.Equal(f.Deleted(), []string{rep.Drop.ID}) ||
			!strings.Contains(log, "deleted drop "+rep.Drop.ID) || len(rep.Notes) != 0 {
			t.Fatalf("exit %d, deleted %q, notes %q\n%s", rep.ExitCode, f.Deleted(), rep.Notes, log)
		}
	})
	t.Run("kept on request", func(t *testing.T) {
		f, hook := startTimedFake(t, fakeserver.Options{})
		o := baseOptions(f.URL)
		o.KeepDrop = true
		rep, log := run(t, f, o, hook)
		if rep.ExitCode != loadtest.ExitPass || len(f.Deleted()) != 0 || strings.Contains(log, "deleted drop") {
			t.Fatalf("exit %d, deleted %q\n%s", rep.ExitCode, f.Deleted(), log)
		}
	})
	t.Run("not its own", func(t *testing.T) {
		f, hook := startTimedFake(t, fakeserver.Options{})
		existingDrop(t, f, "given", time.Now())
		o := baseOptions(f.URL)
		o.DropID, o.Stock, o.HoldSeconds = "given", 0, 0
		rep, _ := run(t, f, o, hook)
		if rep.ExitCode != loadtest.ExitPass || len(f.Deleted()) != 0 {
			t.Fatalf("exit %d, deleted %q", rep.ExitCode, f.Deleted())
		}
	})
	t.Run("did not pass", func(t *testing.T) {
		clock := loadtest.NewManualClock(time.Now())
		f := startFake(t, fakeserver.Options{Now: clock.Now})
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		var log bytes.Buffer
		o := baseOptions(f.URL)
		o.Log = &log
		rep, err := loadtest.Run(ctx, o, loadtest.WithPhaseHook(func(p loadtest.Phase) {
			switch p {
			case loadtest.PhaseWait:
				clock.Advance(2 * time.Minute)
			case loadtest.PhaseRush:
				cancel() // Ctrl-C in the rush
			}
		}))
		if err != nil {
			t.Fatal(err)
		}
		text := invalidText(t, rep)
		want := "drop " + rep.Drop.ID + " is kept for a look, as the run did not pass: delete it on the ops page or with DELETE /v1/admin/drops/" + rep.Drop.ID
		if rep.ExitCode != loadtest.ExitInvalid || len(f.Deleted()) != 0 || !strings.Contains(text, want) || !strings.Contains(log.String(), want) {
			t.Fatalf("exit %d, deleted %q\n%s\n%s", rep.ExitCode, f.Deleted(), text, log.String())
		}
	})
}
