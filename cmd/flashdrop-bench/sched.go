package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// schedMark is what the kernel's scheduler says of redis-server's main
// thread at one moment (its pid is the thread's id): the time it ran and
// the time it waited, runnable, for a core (/proc/<pid>/schedstat, in
// ns), and how often it was switched out while it could still run
// (nonvoluntary_ctxt_switches in /proc/<pid>/status). Two of them bracket
// a run. The script time INFO commandstats reports is wall time inside
// the script: a script the kernel switches out to run serve, on the core
// the two share, counts serve's turn as its own. These say how much of
// that there could be.
type schedMark struct {
	runNs, waitNs, preempted int64
}

// sub is the change from m0 to m.
func (m schedMark) sub(m0 schedMark) schedMark {
	return schedMark{m.runNs - m0.runNs, m.waitNs - m0.waitNs, m.preempted - m0.preempted}
}

// readSchedMark reads pid's marks from root (normally "/proc").
func readSchedMark(root string, pid int) (schedMark, error) {
	var m schedMark
	raw, err := os.ReadFile(fmt.Sprintf("%s/%d/schedstat", root, pid))
	if err != nil {
		return m, err
	}
	// "<ns on a core> <ns waiting on a run queue> <timeslices>"
	f := strings.Fields(string(raw))
	if len(f) < 2 {
		return m, fmt.Errorf("schedstat of %d: %q", pid, raw)
	}
	if m.runNs, err = strconv.ParseInt(f[0], 10, 64); err != nil {
		return m, err
	}
	if m.waitNs, err = strconv.ParseInt(f[1], 10, 64); err != nil {
		return m, err
	}
	raw, err = os.ReadFile(fmt.Sprintf("%s/%d/status", root, pid))
	if err != nil {
		return m, err
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, "nonvoluntary_ctxt_switches:"); ok {
			m.preempted, err = strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			return m, err
		}
	}
	return m, fmt.Errorf("no nonvoluntary_ctxt_switches in /proc/%d/status", pid)
}

// redisSched reads redis-server's marks (its pid is the process the
// driver started: taskset execs it in place).
func (b *bench) redisSched() (schedMark, error) {
	return readSchedMark("/proc", b.redisPid)
}

// perWin is d per win and per script call, as the JSON keeps it.
func (d schedMark) perWin(wins float64, calls int64) map[string]float64 {
	return map[string]float64{"wait_us_per_win": float64(d.waitNs) / 1e3 / wins, "run_us_per_win": float64(d.runNs) / 1e3 / wins,
		"preempted_per_call": float64(d.preempted) / float64(max(calls, 1))}
}

// schedNote words a bracketed run's scheduler marks for wins wins and
// calls script calls.
func schedNote(d schedMark, wins float64, calls int64) string {
	m := d.perWin(wins, calls)
	return fmt.Sprintf("redis-server's main thread waited %.1f µs per win for its core while it could run and was switched out %.2f times per script call while it could run (/proc schedstat and status; %.1f µs per win on the core)",
		m["wait_us_per_win"], m["preempted_per_call"], m["run_us_per_win"])
}
