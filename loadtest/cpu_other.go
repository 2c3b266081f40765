//go:build !unix

package loadtest

import "time"

// processCPU is unknown here; the CPU check then never fires.
func processCPU() time.Duration { return 0 }
