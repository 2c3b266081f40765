//go:build !linux

package redistest

import "syscall"

// sysProcAttr returns nil: parent-death signals are Linux-only, so elsewhere
// cleanup relies on Close and Main alone.
func sysProcAttr() *syscall.SysProcAttr { return nil }
