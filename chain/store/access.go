package store

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// ErrAccess: the data directory, or something in it, cannot be read or
// written by this process (permissions, ownership, a read-only mount). The
// data may well be intact, so this is never reported as ErrCorrupt, whose
// advice (restore or re-sync) would make an operator delete healthy data.
var ErrAccess = errors.New("store: data directory is not accessible")

// checkAccess walks dir before Badger opens it: every directory must be
// listable and writable, every file openable for reading and writing.
// Badger's own errors for these cases are strings that lose the errno.
func checkAccess(dir string) error {
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		return nil // created by Open; MkdirAll reports its own failure
	}
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return accessErr(p, err)
		}
		switch {
		case d.IsDir():
			probe := filepath.Join(p, ".dure-access-probe")
			f, err := os.OpenFile(probe, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
			if err != nil {
				return accessErr(p, err)
			}
			f.Close()
			if err := os.Remove(probe); err != nil {
				return accessErr(p, err)
			}
		case d.Type().IsRegular():
			f, err := os.OpenFile(p, os.O_RDWR, 0)
			if err != nil {
				return accessErr(p, err)
			}
			f.Close()
		}
		return nil
	})
}

// accessErr wraps err in ErrAccess when it is a permission or read-only
// error (and returns it unchanged otherwise).
func accessErr(path string, err error) error {
	if !IsAccessError(err) {
		return err
	}
	return fmt.Errorf("%w: %s: %w; this is an access problem, not damage (do not delete the directory): "+
		"give the node's user read and write access (ownership, mode) or mount the disk read-write, then start again",
		ErrAccess, path, err)
}

// IsAccessError reports whether err is EACCES, EPERM or EROFS, also when a
// library flattened it into a message.
func IsAccessError(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, syscall.EACCES) || errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EROFS) || errors.Is(err, fs.ErrPermission) {
		return true
	}
	msg := err.Error()
	return strings.Contains(msg, syscall.EACCES.Error()) || strings.Contains(msg, syscall.EROFS.Error()) ||
		strings.Contains(msg, syscall.EPERM.Error())
}
