package redistest

import "syscall"

// sysProcAttr asks the kernel to SIGKILL the server when the test binary
// dies, so a panic or `go test -timeout` cannot orphan it. (The signal is
// tied to the forking OS thread; Go retires a thread only when a goroutine
// exits while locked to it, which test code does not do in practice.)
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
