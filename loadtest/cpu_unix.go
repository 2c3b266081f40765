//go:build unix

package loadtest

import (
	"bytes"
	"os"
	"strconv"
	"syscall"
	"time"
)

// processCPU is the CPU time (user + system) this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// machineCPU is the CPU time of every core of the machine since boot,
// busy and in all, from /proc/stat's first line (Linux; ok is false
// elsewhere): what says, when the generator itself was idle, whether
// other processes held the cores.
func machineCPU() (busy, total time.Duration, ok bool) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0, false
	}
	line, _, _ := bytes.Cut(b, []byte("\n"))
	f := bytes.Fields(line)
	if len(f) < 5 || string(f[0]) != "cpu" {
		return 0, 0, false
	}
	// user nice system idle iowait irq softirq steal (guest time is
	// counted in user already).
	var sum, idle int64
	for i, x := range f[1:min(len(f), 9)] {
		v, err := strconv.ParseInt(string(x), 10, 64)
		if err != nil {
			return 0, 0, false
		}
		sum += v
		if i == 3 || i == 4 {
			idle += v
		}
	}
	// USER_HZ is 100 on every Linux the generator runs on.
	const tick = 10 * time.Millisecond
	return time.Duration(sum-idle) * tick, time.Duration(sum) * tick, true
}
