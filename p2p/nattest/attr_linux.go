package nattest

import (
	"errors"
	"syscall"
)

// childAttr: SIGKILL when the test process dies, so nothing outlives it.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

func pidAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

func killPID(pid int) { _ = syscall.Kill(pid, syscall.SIGKILL) }
