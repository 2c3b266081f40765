//go:build !unix

package loadtest

import "time"

// processCPU is unknown here; the CPU check then never fires.
func processCPU() time.Duration { return 0 }

// machineCPU is unknown here.
func machineCPU() (busy, total time.Duration, ok bool) { return 0, 0, false }
