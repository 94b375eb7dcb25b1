//go:build !unix

package node

func fileLimit() (uint64, bool) { return 0, false }
