package store

import (
	"crypto/sha256"
	"encoding/binary"
	"testing"
	"time"

	"github.com/dure-network/dure/chain"
)

// blobWrites is a commit callback writing a 256 KiB incompressible value
// per height and deleting the one of height h-4, as chain/state writes and
// later deletes its changesets.
func blobWrites(h uint64) func(w chain.KVWriter) error {
	return func(w chain.KVWriter) error {
		blob := make([]byte, 0, 256<<10)
		seed := sha256.Sum256(binary.BigEndian.AppendUint64(nil, h))
		for len(blob) < 256<<10 {
			seed = sha256.Sum256(seed[:])
			blob = append(blob, seed[:]...)
		}
		if err := w.Set(binary.BigEndian.AppendUint64([]byte("c/"), h), blob); err != nil {
			return err
		}
		if h > 4 {
			return w.Delete(binary.BigEndian.AppendUint64([]byte("c/"), h-4))
		}
		return nil
	}
}

// A pruning store gives the space of what it deleted back while it runs:
// after 160 heights of 256 KiB each (40 MiB written, 1 MiB of it live) the
// directory holds well under half of it, where an archive store holds it
// all. (Before pruning stores kept such values in the LSM, the value log
// held every byte until a GC that never came.)
func TestPruningReclaimsDisk(t *testing.T) {
	const heights = 160
	written := int64(heights * 256 << 10)
	for _, c := range []struct {
		name string
		keep uint64
	}{{"pruning", 4}, {"archive", 0}} {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t)
			f.changeAt = 1 << 62
			dir := t.TempDir()
			s := openT(t, dir, c.keep)
			defer s.Close()
			f.genesisCommit(t, s)
			for h := uint64(1); h <= heights; h++ {
				b, cm, rs := f.next(t, s, 2)
				if err := s.CommitBlock(b, cm, rs, f.setA, blobWrites(h)); err != nil {
					t.Fatal(err)
				}
			}
			got := dirBytesT(t, dir)
			// Compactions run on Badger's goroutines after the commits
			// return: a pruning store must get below half within a bound
			// (with the old options it never does).
			for deadline := time.Now().Add(30 * time.Second); c.keep > 0 && got > written/2 && time.Now().Before(deadline); {
				time.Sleep(100 * time.Millisecond)
				got = dirBytesT(t, dir)
			}
			t.Logf("%s: %d bytes on disk for %d written", c.name, got, written)
			switch {
			case c.keep > 0 && got > written/2:
				t.Fatalf("pruning store holds %d bytes of %d written: deleted values were not reclaimed", got, written)
			case c.keep == 0 && got < written:
				t.Fatalf("archive store holds %d bytes, less than the %d written", got, written)
			}
			checkStored(t, s)
		})
	}
}
