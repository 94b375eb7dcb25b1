package store

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// builtDir makes a closed store with 20 blocks (a few big enough for the
// value log) and returns its directory.
func builtDir(t *testing.T) string {
	t.Helper()
	f := newFixture(t)
	dir := t.TempDir()
	s := openT(t, dir, 0)
	f.genesisCommit(t, s)
	for i := range 20 {
		f.commitNext(t, s, 1+i%5)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return dir
}

func filesWithExt(t *testing.T, dir, ext string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "*"+ext))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestCorruptDirectoryGivesClearError(t *testing.T) {
	garble := func(path string) error {
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for i := len(b) / 4; i < len(b); i += 7 {
			b[i] ^= 0x5a
		}
		return os.WriteFile(path, b, 0o600)
	}
	truncate := func(path string) error {
		st, err := os.Stat(path)
		if err != nil {
			return err
		}
		return os.Truncate(path, st.Size()/2)
	}
	cases := []struct {
		name   string
		ext    string // which files to damage
		damage func(string) error
	}{
		{"truncated MANIFEST", "MANIFEST", truncate},
		{"garbled MANIFEST", "MANIFEST", garble},
		{"garbled sst", ".sst", garble},
		{"truncated sst", ".sst", truncate},
		{"truncated vlog", ".vlog", truncate},
		{"garbled vlog", ".vlog", garble},
		{"missing sst", ".sst", os.Remove},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := builtDir(t)
			files := filesWithExt(t, dir, tc.ext)
			if len(files) == 0 {
				t.Fatalf("no %s files in %s", tc.ext, dir)
			}
			for _, p := range files {
				if err := tc.damage(p); err != nil {
					t.Fatal(err)
				}
			}
			s, err := Open(dir, Options{})
			if err == nil {
				s.Close()
				t.Fatalf("opened a directory with %s", tc.name)
			}
			t.Logf("%s: %v", tc.name, err)
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error does not wrap ErrCorrupt: %v", err)
			}
			if msg := err.Error(); !strings.Contains(msg, dir) || !strings.Contains(msg, "re-sync") {
				t.Fatalf("error should name the directory and the fix: %v", err)
			}
		})
	}
}

func TestSecondOpenIsLocked(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, dir, 0)
	defer s.Close()
	if _, err := Open(dir, Options{}); !errors.Is(err, ErrLocked) || errors.Is(err, ErrCorrupt) {
		t.Fatalf("second open = %v, want ErrLocked", err)
	}
}

// A kill -9 between Badger creating a memtable file and sizing it leaves an
// empty *.mem file; the store must open with every committed block (Badger
// alone refuses: "while opening fid: N err: Create a new file").
func TestEmptyMemtableFileAfterCrashOpens(t *testing.T) {
	dir := builtDir(t)
	before := openT(t, dir, 0)
	head := before.Head()
	if err := before.Close(); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "99999.mem")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatalf("open with an empty memtable file: %v", err)
	}
	defer s.Close()
	if got := s.Head(); got != head {
		t.Fatalf("head after reopen %+v, want %+v", got, head)
	}
	for h := uint64(1); h <= head.Height; h++ {
		if _, err := s.Block(h); err != nil {
			t.Fatalf("block %d after reopen: %v", h, err)
		}
	}
	if _, err := os.Stat(empty); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("empty memtable file still there: %v", err)
	}
}
