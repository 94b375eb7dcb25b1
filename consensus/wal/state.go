package wal

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// SaveLastSigned replaces the last-signed record atomically: write a temp
// file, fsync it, rename it over the old one, fsync the directory. After a
// crash the file holds either the old or the new record, never a mix.
func (w *WAL) SaveLastSigned(data []byte) error {
	if w.dir == "" {
		return ErrClosed
	}
	return WriteFileAtomic(filepath.Join(w.dir, lastSignedName), data)
}

// LoadLastSigned returns the saved last-signed record, or nil if none was
// ever saved.
func (w *WAL) LoadLastSigned() ([]byte, error) {
	if w.dir == "" {
		return nil, ErrClosed
	}
	b, err := ReadFileChecked(filepath.Join(w.dir, lastSignedName))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	return b, err
}

// WriteFileAtomic writes data, framed with a checksum, to path atomically.
func WriteFileAtomic(path string, data []byte) error {
	if len(data) == 0 || len(data) > MaxRecord {
		return fmt.Errorf("%w: %d bytes", ErrTooLarge, len(data))
	}
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("wal: create %s: %w", tmp, err)
	}
	if _, err := f.Write(frame(data)); err != nil {
		f.Close()
		return fmt.Errorf("wal: write %s: %w", tmp, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("wal: sync %s: %w", tmp, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("wal: close %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("wal: rename %s: %w", tmp, err)
	}
	return syncDir(filepath.Dir(path))
}

// ReadFileChecked reads a file written by WriteFileAtomic and checks it.
func ReadFileChecked(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("wal: read %s: %w", path, err)
	}
	recs, _, err := DecodeRecords(b)
	if err != nil || len(recs) != 1 {
		return nil, fmt.Errorf("wal: %s: %w", path, errors.Join(ErrCorrupt, err))
	}
	return recs[0], nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("wal: open dir %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("wal: sync dir %s: %w", dir, err)
	}
	return nil
}
