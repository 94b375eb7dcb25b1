package nattest

import "syscall"

// childAttr: SIGKILL when the test process dies, so nothing outlives it.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
