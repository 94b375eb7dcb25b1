package node

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/dure-network/dure/chain"
	"github.com/dure-network/dure/consensus/wal"
)

// The block stash keeps, durably, every block this validator proposed or
// found valid at the height being decided, written before its proposal or
// votes leave. After a crash the WAL replay may decide one of them at
// once; without the block on disk a lone validator (or a network whose
// members all crashed) could never apply it. Files: cs.blocks/<height>-<id>.blk,
// checksummed and written atomically; pruned once the height commits.

func (n *Node) stashDir() string { return filepath.Join(n.cfg.DataPath(), "cs.blocks") }

func (n *Node) stashBlock(c *candidate) error {
	if err := n.disk.check(); err != nil {
		return fmt.Errorf("block stash: %w", err)
	}
	dir := n.stashDir()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("block stash: %w", err)
	}
	name := fmt.Sprintf("%020d-%s.blk", c.block.Header.Height, chain.Sum256([]byte(c.id)).String()[:16])
	if err := wal.WriteFileAtomic(filepath.Join(dir, name), c.raw); err != nil {
		return fmt.Errorf("block stash: %w", err)
	}
	return nil
}

// stashed returns the stashed blocks of height (unreadable files are
// skipped: a block is only a candidate, peers can serve it again).
func (n *Node) stashed(height uint64) []*candidate {
	ents, err := os.ReadDir(n.stashDir())
	if err != nil {
		return nil
	}
	prefix := fmt.Sprintf("%020d-", height)
	var out []*candidate
	for _, e := range ents {
		if !strings.HasPrefix(e.Name(), prefix) {
			continue
		}
		raw, err := wal.ReadFileChecked(filepath.Join(n.stashDir(), e.Name()))
		if err != nil {
			n.log.Warn("block stash: unreadable file skipped", "file", e.Name(), "err", err)
			continue
		}
		b, err := chain.DecodeBlock(n.codec, raw)
		if err != nil || b.Header.Height != height {
			n.log.Warn("block stash: bad block skipped", "file", e.Name(), "err", err)
			continue
		}
		out = append(out, &candidate{id: b.Header.ID(n.codec), block: b, raw: raw})
	}
	return out
}

// pruneStash removes stashed blocks at or below height.
func (n *Node) pruneStash(height uint64) {
	ents, err := os.ReadDir(n.stashDir())
	if err != nil {
		return
	}
	for _, e := range ents {
		h, _, ok := strings.Cut(e.Name(), "-")
		if !ok {
			continue
		}
		if v, err := strconv.ParseUint(h, 10, 64); err == nil && v <= height {
			_ = os.Remove(filepath.Join(n.stashDir(), e.Name()))
		}
	}
}
