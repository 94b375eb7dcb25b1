//go:build !linux && !windows

package testnet

import "syscall"

// childAttr: own process group. Without Pdeathsig (Linux only), children
// outlive a harness that is killed with SIGKILL; Stop and Ctrl-C still end them.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
