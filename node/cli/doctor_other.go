//go:build !unix

package cli

func fileLimit() (uint64, bool) { return 0, false }
