//go:build unix

package node

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
)

// freeBytes is the space available to this (unprivileged) process on
// dir's filesystem.
func freeBytes(dir string) (uint64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, &os.PathError{Op: "statfs", Path: dir, Err: err}
	}
	return uint64(st.Bavail) * uint64(st.Bsize), nil
}

// mountPoint is the top directory of dir's filesystem: the last ancestor
// on the same device.
func mountPoint(dir string) string {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return dir
	}
	dev := func(p string) (uint64, bool) {
		fi, err := os.Stat(p)
		if err != nil {
			return 0, false
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		if !ok {
			return 0, false
		}
		return uint64(st.Dev), true
	}
	d, ok := dev(abs)
	if !ok {
		return abs
	}
	for {
		p := filepath.Dir(abs)
		if p == abs {
			return abs
		}
		if pd, ok := dev(p); !ok || pd != d {
			return abs
		}
		abs = p
	}
}

func isENOSPC(err error) bool { return errors.Is(err, syscall.ENOSPC) }
