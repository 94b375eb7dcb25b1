package store

import (
	"errors"
	"testing"
)

// A store installed from a snapshot at H (state sync) reopens at H with
// base H: block H, its commit and the sets for H and H+1 are there,
// nothing below, and the next block commits on top as usual.
func TestCommitSnapshotThenExtend(t *testing.T) {
	f := newFixture(t)
	src := openT(t, t.TempDir(), 0)
	f.genesisCommit(t, src)
	for range 12 {
		f.commitNext(t, src, 1)
	}
	b, _ := src.Block(12)
	cm, _ := src.SeenCommit(12)
	src.Close()

	dir := t.TempDir()
	s := openT(t, dir, 0)
	if err := s.CommitSnapshot(f.genesis, b, cm, f.valsFor(12), f.setA, stateWrite(12)); !errors.Is(err, ErrBadCommitInput) {
		t.Fatalf("wrong next set: %v, want ErrBadCommitInput", err) // the set changed to setB at 11
	}
	if err := s.CommitSnapshot(f.genesis, b, cm, f.valsFor(12), f.valsFor(13), stateWrite(12)); err != nil {
		t.Fatal(err)
	}
	if err := s.CommitSnapshot(f.genesis, b, cm, f.valsFor(12), f.valsFor(13), nil); !errors.Is(err, ErrAlreadyInitialized) {
		t.Fatalf("second snapshot: %v", err)
	}
	s.Close()
	s = openT(t, dir, 0)
	defer s.Close()
	if h := s.Head(); h.Height != 12 || h.BlockID != b.Header.ID(f.c) || s.Base() != 12 {
		t.Fatalf("head %+v base %d", h, s.Base())
	}
	if err := s.CheckGenesis(f.genesis); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Block(11); !errors.Is(err, ErrPruned) {
		t.Fatalf("block 11: %v, want ErrPruned", err)
	}
	if stateHeight(t, s) != 12 {
		t.Fatal("snapshot state not at H")
	}
	next := f.commitNext(t, s, 2)
	checkBlock(t, f, s, next)
	if vs, err := s.ValidatorsAt(12); err != nil || vs.Hash(f.c) != b.Header.ValidatorsHash {
		t.Fatalf("validators at 12: %v", err)
	}
}
