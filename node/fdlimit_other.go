//go:build !unix

package node

// raiseFileLimit: no RLIMIT_NOFILE on this OS; 0 means not checked.
func raiseFileLimit() (soft, hard, was uint64, err error) { return 0, 0, 0, nil }
