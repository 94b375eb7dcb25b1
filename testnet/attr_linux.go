package testnet

import "syscall"

// childAttr: own process group, and SIGKILL when the harness dies.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
}
