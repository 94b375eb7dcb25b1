package testnet

import "syscall"

// Windows has no process groups to set here and no parent-death signal:
// children outlive a harness killed hard; Stop and Ctrl-C still end them.
func childAttr() *syscall.SysProcAttr { return nil }

// Windows has no stop/continue signals; Pause and Resume return the os
// package's "not supported by windows" error.
const (
	sigStop = syscall.Signal(0x13)
	sigCont = syscall.Signal(0x12)
)
