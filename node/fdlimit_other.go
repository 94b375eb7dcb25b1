//go:build !unix

package node

// raiseFileLimit: no RLIMIT_NOFILE on this OS; 0 means not checked.
func raiseFileLimit() (soft, hard uint64, raised bool, err error) { return 0, 0, false, nil }
