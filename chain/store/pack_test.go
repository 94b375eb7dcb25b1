package store

import (
	"bytes"
	"errors"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/dure-network/dure/chain"
)

// copyMainFormat copies testdata/mainformat (a store written by main before
// packing: genesis and 12 blocks of the fixture's chain) into a temp dir.
func copyMainFormat(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	ents, err := os.ReadDir("testdata/mainformat")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if e.Name() == "README" {
			continue
		}
		b, err := os.ReadFile(filepath.Join("testdata/mainformat", e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, e.Name()), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// rawValue is the value as Badger holds it (packed or not), newest version.
func rawValue(t *testing.T, s *Store, key []byte) []byte {
	t.Helper()
	txn := s.DB().NewTransactionAt(math.MaxUint64, false)
	defer txn.Discard()
	v, err := get(txn, key)
	if err != nil {
		t.Fatalf("raw %q: %v", key, err)
	}
	return v
}

// checkStored checks every kept height the way a reader would: the block
// decodes and has its height and ID, its txs hash to the tx root and are
// found by ID, its results hash to the results root, its commit is for it.
func checkStored(t *testing.T, s *Store) {
	t.Helper()
	head := s.Head()
	for h := s.Base(); h <= head.Height; h++ {
		b, err := s.Block(h)
		if err != nil {
			t.Fatalf("block %d: %v", h, err)
		}
		id, err := s.BlockID(h)
		if err != nil || b.Header.Height != h || b.Header.ID(s.codec) != id {
			t.Fatalf("block %d: height %d, id %s, stored id %s (%v)", h, b.Header.Height, b.Header.ID(s.codec), id, err)
		}
		raw, err := s.BlockRaw(h)
		if err != nil {
			t.Fatal(err)
		}
		if again, _ := b.Encode(s.codec); !bytes.Equal(raw, again) {
			t.Fatalf("BlockRaw(%d) is not the canonical encoding", h)
		}
		if chain.TxRoot(b.Txs) != b.Header.TxRoot {
			t.Fatalf("block %d: tx root mismatch", h)
		}
		rs, err := s.Results(h)
		if err != nil || len(rs) != len(b.Txs) || chain.ResultsRoot(s.codec, rs) != b.Header.ResultsRoot {
			t.Fatalf("results %d: %d for %d txs, %v", h, len(rs), len(b.Txs), err)
		}
		cm, err := s.SeenCommit(h)
		if err != nil || cm.BlockID != id {
			t.Fatalf("commit %d: %v", h, err)
		}
		for i, tx := range b.Txs {
			th, ti, err := s.TxLocation(chain.IDOf(tx))
			if err != nil || th != h || ti != uint32(i) {
				t.Fatalf("tx %d of %d at %d/%d, %v", i, h, th, ti, err)
			}
		}
	}
}

// A database written by main (blocks and results stored plain) opens, reads
// back byte for byte, continues with packed values, reopens, and prunes
// its old plain blocks.
func TestMainFormatStillReads(t *testing.T) {
	f := newFixture(t)
	dir := copyMainFormat(t)
	s := openT(t, dir, 0)
	if s.Head().Height != 12 {
		t.Fatalf("main's store opened at height %d, want 12", s.Head().Height)
	}
	if v := rawValue(t, s, heightKey(pfxBlock, 12)); v[0] == packMarker {
		t.Fatal("testdata is not main's format: block 12 is packed")
	}
	checkStored(t, s)
	for i := range 6 {
		f.commitNext(t, s, 10+i)
	}
	for _, k := range [][]byte{heightKey(pfxBlock, 18), heightKey(pfxResults, 18)} {
		if v := rawValue(t, s, k); v[0] != packMarker {
			t.Fatalf("%q stored plain (%d bytes), want packed", k, len(v))
		}
	}
	checkStored(t, s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// Reopen as a pruning node: the old plain blocks are read and deleted.
	s = openT(t, dir, 4)
	defer s.Close()
	checkStored(t, s)
	for range 8 {
		f.commitNext(t, s, 2)
	}
	if s.Base() <= 12 {
		t.Fatalf("base %d: main's blocks were not pruned", s.Base())
	}
	if _, err := s.Block(5); !errors.Is(err, ErrPruned) {
		t.Fatalf("Block(5) after pruning = %v", err)
	}
	checkStored(t, s)
}

func TestPackRoundTripAndShrinks(t *testing.T) {
	f := newFixture(t)
	s := openT(t, t.TempDir(), 0)
	defer s.Close()
	f.genesisCommit(t, s)
	b, _, rs := f.next(t, s, 40)
	braw, _ := b.Encode(f.c)
	rraw, _ := f.c.Marshal(rs)
	for _, c := range []struct {
		name   string
		raw    []byte
		packed bool
	}{
		{"block of 40 txs", braw, true},
		{"results", rraw, true},
		{"empty results", []byte{0x80}, false},
		{"small", bytes.Repeat([]byte{0x83}, packMin-1), false},
		{"hash-sized", bytes.Repeat([]byte{0x58}, 32), false},
		{"starts with the marker", []byte{0x00, 0x01, 0x02}, true},
		{"empty", nil, false},
	} {
		v := pack(c.raw)
		if got := len(v) > 0 && v[0] == packMarker; got != c.packed {
			t.Errorf("%s: packed = %v, want %v", c.name, got, c.packed)
		}
		if c.packed && c.raw[0] != packMarker && len(v) >= len(c.raw) {
			t.Errorf("%s: packed %d bytes into %d", c.name, len(c.raw), len(v))
		}
		back, err := unpack(v)
		if err != nil || !bytes.Equal(back, c.raw) {
			t.Errorf("%s: unpack = %d bytes, %v", c.name, len(back), err)
		}
	}
	if len(pack(rraw))*3 > len(rraw) {
		t.Errorf("results packed to %d of %d bytes, want under a third", len(pack(rraw)), len(rraw))
	}
}

// A damaged packed block is reported as corruption naming the height, not
// returned as garbage.
func TestDamagedPackedBlockIsCorrupt(t *testing.T) {
	f := newFixture(t)
	s := openT(t, t.TempDir(), 0)
	defer s.Close()
	f.genesisCommit(t, s)
	f.commitNext(t, s, 30)
	f.commitNext(t, s, 1)
	v := rawValue(t, s, heightKey(pfxBlock, 1))
	if v[0] != packMarker {
		t.Fatal("block 1 not packed")
	}
	bad := bytes.Clone(v)
	bad[len(bad)/2] ^= 0x40
	wb := s.DB().NewWriteBatchAt(TS(1))
	if err := wb.Set(heightKey(pfxBlock, 1), bad); err != nil {
		t.Fatal(err)
	}
	if err := wb.Flush(); err != nil {
		t.Fatal(err)
	}
	_, err := s.Block(1)
	if !errors.Is(err, ErrCorrupt) || !bytes.Contains([]byte(err.Error()), []byte("block at height 1")) {
		t.Fatalf("Block(1) of a damaged packed value = %v, want ErrCorrupt naming height 1", err)
	}
}
