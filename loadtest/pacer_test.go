package loadtest_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/flashdrop/flashdrop/loadtest"
)

// lateClock is a manual clock whose sleeps wake late, as a pacer's do on
// cores other processes hold.
type lateClock struct {
	*loadtest.ManualClock
	late time.Duration
}

func (c lateClock) Sleep(ctx context.Context, d time.Duration) error {
	return c.ManualClock.Sleep(ctx, d+c.late)
}

// TestPacerLateNamesItsCause: a rate run whose pacer falls behind is
// invalid either way, but the report says why. With the generator busy it
// could not keep the rate (saturated); with the generator idle other
// processes held the cores, and the report says so with the machine's
// load, where it said "the generator could not keep the rate" with the
// generator at 3 % (a rehearsal with a node restarting on the same
// machine).
func TestPacerLateNamesItsCause(t *testing.T) {
	for _, c := range []struct {
		busy    bool // the generator itself
		machine int  // percent of the machine busy
	}{{false, 95}, {true, 95}, {false, 10}} {
		busy := c.busy
		clock := loadtest.NewManualClock(epoch)
		f := newReproducibleFake(t, clock, nil)
		o := goldenOptions(f.URL)
		o.Users, o.Stock, o.Presses = 100, 10, 1
		o.Arrival, o.Rate, o.Duration = loadtest.ArrivalRate, 100, time.Second
		o.MaxGeneratorCPU = 0.9
		cpu := func() time.Duration { return 0 }
		if busy {
			// Both cores, all of the rush.
			cpu = func() time.Duration { return 2 * clock.Now().Sub(epoch) }
		}
		rep, err := loadtest.Run(context.Background(), o, loadtest.WithClock(lateClock{clock, 20 * time.Millisecond}),
			loadtest.WithCPUMeter(cpu), loadtest.WithCores(2),
			loadtest.WithMachineMeter(func() (time.Duration, time.Duration, bool) {
				el := clock.Now().Sub(epoch)
				return el * time.Duration(c.machine) / 100, el, true
			}))
		if err != nil {
			t.Fatal(err)
		}
		text := invalidText(t, rep)
		why := strings.Join(rep.Invalid, "\n")
		switch {
		case rep.ExitCode != loadtest.ExitInvalid || !strings.Contains(why, "the pacer fell behind its schedule (p99 "):
			t.Errorf("busy %v: exit %d, invalid %q\n%s", busy, rep.ExitCode, rep.Invalid, text)
		case busy && (!rep.Generator.Saturated || !strings.Contains(why, "the generator could not keep the rate")):
			t.Errorf("busy generator: saturated %v, invalid %q", rep.Generator.Saturated, rep.Invalid)
		case !busy && c.machine == 95 && (rep.Generator.Saturated || !strings.Contains(why, "with the generator at 0% of 2 cores, the machine's cores 95% busy: other processes held the cores") ||
			!strings.Contains(text, "the machine's cores 95% busy")):
			t.Errorf("idle generator on a busy machine: saturated %v, invalid %q\n%s", rep.Generator.Saturated, rep.Invalid, text)
		case !busy && c.machine == 10 && (rep.Generator.Saturated || strings.Contains(why, "other processes") ||
			!strings.Contains(why, "the machine's cores 10% busy: the cause is not in the CPU figures")):
			// Nothing was busy: no process is blamed.
			t.Errorf("idle generator on an idle machine: saturated %v, invalid %q", rep.Generator.Saturated, rep.Invalid)
		}
	}
}

// TestNoMachineLoadWithoutARush: a run stopped before its rush measured no
// machine load, and says none (it said "the machine's cores 0% busy").
func TestNoMachineLoadWithoutARush(t *testing.T) {
	clock := loadtest.NewManualClock(epoch)
	f := newReproducibleFake(t, clock, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rep, err := loadtest.Run(ctx, goldenOptions(f.URL), loadtest.WithClock(clock), loadtest.WithCores(2),
		loadtest.WithCPUMeter(func() time.Duration { return 0 }),
		loadtest.WithMachineMeter(func() (time.Duration, time.Duration, bool) {
			el := clock.Now().Sub(epoch)
			return 0, el, true
		}),
		loadtest.WithPhaseHook(func(p loadtest.Phase) {
			if p == loadtest.PhaseWait {
				cancel() // Ctrl-C before the sale opens
			}
		}))
	if err != nil {
		t.Fatal(err)
	}
	if text := invalidText(t, rep); rep.Generator.MachineBusy != nil || strings.Contains(text, "machine's cores") {
		t.Fatalf("machine busy %v on a run with no rush:\n%s", rep.Generator.MachineBusy, text)
	}
}
