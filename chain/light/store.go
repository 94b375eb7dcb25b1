package light

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math/bits"
	"os"
	"path/filepath"
)

// FileStore keeps the trusted state as JSON in one file, replaced
// atomically (write, fsync, rename) so a crash leaves the old or the new.
type FileStore struct{ path string }

// NewFileStore stores the trusted state at path.
func NewFileStore(path string) *FileStore { return &FileStore{path: path} }

// Load reads the trusted state; ErrNoTrust when there is none.
func (s *FileStore) Load() (TrustedState, error) {
	b, err := os.ReadFile(s.path)
	if errors.Is(err, fs.ErrNotExist) {
		return TrustedState{}, ErrNoTrust
	}
	if err != nil {
		return TrustedState{}, fmt.Errorf("light: read %s: %w", s.path, err)
	}
	var st TrustedState
	if err := json.Unmarshal(b, &st); err != nil {
		return TrustedState{}, fmt.Errorf("light: %s is damaged (%v): remove it and trust again: %w", s.path, err, ErrNoTrust)
	}
	return st, nil
}

// Save replaces the trusted state.
func (s *FileStore) Save(st TrustedState) error {
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(s.path), 0o700); err != nil {
		return err
	}
	tmp := s.path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, s.path)
}

func mul64(a, b uint64) (hi, lo uint64) { return bits.Mul64(a, b) }
