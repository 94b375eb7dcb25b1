//go:build !unix

package node

import "errors"

// Free space is not measured on this OS: min_free_disk is not enforced.
func freeBytes(string) (uint64, error) { return 0, errors.New("free space not measured on this OS") }

func mountPoint(dir string) string { return dir }

func isENOSPC(error) bool { return false }
