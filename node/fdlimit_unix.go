//go:build unix

package node

import "syscall"

// raiseFileLimit sets the soft RLIMIT_NOFILE to the hard limit and returns
// the limits in effect. (The Go runtime already does so on Linux and
// macOS; this makes it explicit and reports it.)
func raiseFileLimit() (soft, hard uint64, raised bool, err error) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, 0, false, err
	}
	if lim.Cur >= lim.Max {
		return uint64(lim.Cur), uint64(lim.Max), false, nil
	}
	want := lim
	want.Cur = want.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &want); err != nil {
		return uint64(lim.Cur), uint64(lim.Max), false, err
	}
	return uint64(want.Cur), uint64(want.Max), true, nil
}
