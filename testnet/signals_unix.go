//go:build !windows

package testnet

import "syscall"

// Pause and Resume freeze and thaw a node with these.
const (
	sigStop = syscall.SIGSTOP
	sigCont = syscall.SIGCONT
)
