package blockexec

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/dure-network/dure/chain"
)

// The block stash keeps, durably, every block this validator proposed or
// found valid at the height being decided, written before its proposal or
// votes leave. After a crash the WAL replay may decide one of them at
// once; without the block on disk a lone validator (or a network whose
// members all crashed) could never apply it. Files: cs.blocks/<height>-<id>.blk,
// checksummed and written atomically; pruned once the height commits.

// Files writes checksummed files atomically and reads them back checked
// (the node passes consensus/wal's, so stash files share the WAL's framing).
type Files interface {
	WriteFileAtomic(path string, data []byte) error
	ReadFileChecked(path string) ([]byte, error)
}

// Stash is the block stash in one directory.
type Stash struct {
	dir   string
	files Files
	codec *chain.Codec
	log   *slog.Logger
}

// NewStash keeps the stash in dir (created on first use); a nil log
// discards the notices about skipped files.
func NewStash(dir string, files Files, codec *chain.Codec, log *slog.Logger) *Stash {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Stash{dir: dir, files: files, codec: codec, log: log}
}

// Put stores a block's encoding (raw) under its height and ID, durably.
func (s *Stash) Put(height uint64, id chain.ID, raw []byte) error {
	if err := os.MkdirAll(s.dir, 0o700); err != nil {
		return fmt.Errorf("block stash: %w", err)
	}
	name := fmt.Sprintf("%020d-%s.blk", height, chain.Sum256([]byte(id)).String()[:16])
	if err := s.files.WriteFileAtomic(filepath.Join(s.dir, name), raw); err != nil {
		return fmt.Errorf("block stash: %w", err)
	}
	return nil
}

// Stashed is a block read back from the stash.
type Stashed struct {
	ID    chain.ID
	Block *chain.Block
	Raw   []byte
}

// Load returns the stashed blocks of height (unreadable files are
// skipped: a block is only a candidate, peers can serve it again).
func (s *Stash) Load(height uint64) []Stashed {
	ents, err := os.ReadDir(s.dir)
	if err != nil {
		return nil
	}
	prefix := fmt.Sprintf("%020d-", height)
	var out []Stashed
	for _, e := range ents {
		if !strings.HasPrefix(e.Name(), prefix) {
			continue
		}
		raw, err := s.files.ReadFileChecked(filepath.Join(s.dir, e.Name()))
		if err != nil {
			s.log.Warn("block stash: unreadable file skipped", "file", e.Name(), "err", err)
			continue
		}
		b, err := chain.DecodeBlock(s.codec, raw)
		if err != nil || b.Header.Height != height {
			s.log.Warn("block stash: bad block skipped", "file", e.Name(), "err", err)
			continue
		}
		out = append(out, Stashed{ID: b.Header.ID(s.codec), Block: b, Raw: raw})
	}
	return out
}

// Prune removes stashed blocks at or below height.
func (s *Stash) Prune(height uint64) {
	ents, err := os.ReadDir(s.dir)
	if err != nil {
		return
	}
	for _, e := range ents {
		h, _, ok := strings.Cut(e.Name(), "-")
		if !ok {
			continue
		}
		if v, err := strconv.ParseUint(h, 10, 64); err == nil && v <= height {
			_ = os.Remove(filepath.Join(s.dir, e.Name()))
		}
	}
}
