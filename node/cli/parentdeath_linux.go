package cli

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// exitWithParent asks the kernel to send SIGTERM when the parent process
// dies, so `dure testnet` (and with it every node it started) stops even if
// a supervisor kills only its parent, e.g. `go run`.
func exitWithParent() {
	_ = unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(syscall.SIGTERM), 0, 0, 0)
}
