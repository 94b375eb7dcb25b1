//go:build unix

package node

import "syscall"

// raiseFileLimit sets the soft RLIMIT_NOFILE to the hard limit and returns
// the limits in effect and the soft limit before.
func raiseFileLimit() (soft, hard, was uint64, err error) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, 0, 0, err
	}
	if lim.Cur >= lim.Max {
		return uint64(lim.Cur), uint64(lim.Max), uint64(lim.Cur), nil
	}
	want := lim
	want.Cur = want.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &want); err != nil {
		return uint64(lim.Cur), uint64(lim.Max), uint64(lim.Cur), err
	}
	return uint64(want.Cur), uint64(want.Max), uint64(lim.Cur), nil
}
