package store

import (
	"bytes"
	"errors"
	"reflect"
	"testing"

	"github.com/dure-network/dure/chain"
)

func openT(tb testing.TB, dir string, keep uint64) *Store {
	tb.Helper()
	s, err := Open(dir, Options{KeepRecent: keep})
	if err != nil {
		tb.Fatalf("open %s: %v", dir, err)
	}
	return s
}

// checkHeight asserts that everything stored for height h is there and
// consistent with the block the test committed.
func checkBlock(t *testing.T, f *fixture, s *Store, want *chain.Block) {
	t.Helper()
	h := want.Header.Height
	id := want.Header.ID(f.c)
	got, err := s.Block(h)
	if err != nil {
		t.Fatalf("block %d: %v", h, err)
	}
	wantRaw, _ := want.Encode(f.c)
	gotRaw, err := s.BlockRaw(h)
	if err != nil || !bytes.Equal(gotRaw, wantRaw) {
		t.Fatalf("block %d raw differs (err %v)", h, err)
	}
	if got.Header.ID(f.c) != id {
		t.Fatalf("block %d id differs", h)
	}
	if bid, err := s.BlockID(h); err != nil || bid != id {
		t.Fatalf("BlockID(%d) = %s, %v", h, bid, err)
	}
	if byID, err := s.BlockByID(id); err != nil || byID.Header.Height != h {
		t.Fatalf("BlockByID(%s): %v", id, err)
	}
	vs, err := s.ValidatorsAt(h)
	if err != nil {
		t.Fatalf("validators at %d: %v", h, err)
	}
	if vs.Hash(f.c) != want.Header.ValidatorsHash {
		t.Fatalf("validators at %d do not match the header", h)
	}
	cm, err := s.SeenCommit(h)
	if err != nil {
		t.Fatalf("seen commit %d: %v", h, err)
	}
	if err := chain.VerifyCommit(f.c, testChainID, vs, cm, h, id); err != nil {
		t.Fatalf("seen commit %d does not verify: %v", h, err)
	}
	rs, err := s.Results(h)
	if err != nil || len(rs) != len(want.Txs) || chain.ResultsRoot(f.c, rs) != want.Header.ResultsRoot {
		t.Fatalf("results %d: %d results, err %v", h, len(rs), err)
	}
	for i, tx := range want.Txs {
		th, ti, err := s.TxLocation(chain.IDOf(tx))
		if err != nil || th != h || ti != uint32(i) {
			t.Fatalf("tx %d of block %d located at %d/%d, %v", i, h, th, ti, err)
		}
	}
}

func TestCommitReopenLoadsEverything(t *testing.T) {
	f := newFixture(t)
	dir := t.TempDir()
	s := openT(t, dir, 0)
	if s.Initialized() || s.Head() != (Head{}) {
		t.Fatal("fresh store has a head")
	}
	if s.ReadTS() != 0 {
		t.Fatalf("fresh ReadTS = %d", s.ReadTS())
	}
	f.genesisCommit(t, s)
	var blocks []*chain.Block
	for i := range 20 {
		blocks = append(blocks, f.commitNext(t, s, i%4))
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = openT(t, dir, 0)
	defer s.Close()
	head, ok := s.Head(), s.Initialized()
	last := blocks[len(blocks)-1]
	if !ok || head.Height != 20 || head.BlockID != last.Header.ID(f.c) || head.StateRoot != stateRootAt(20) ||
		head.GenesisHash != f.genesis || head.Time != last.Header.Time {
		t.Fatalf("head after reopen = %+v", head)
	}
	if s.ReadTS() != TS(20) || stateHeight(t, s) != 20 {
		t.Fatalf("ReadTS %d, state written at height %d", s.ReadTS(), stateHeight(t, s))
	}
	for _, b := range blocks {
		checkBlock(t, f, s, b)
	}
	// The set for the next block is known; the change at f.changeAt shows.
	for h, want := range map[uint64]*chain.ValidatorSet{1: f.setA, f.changeAt: f.setA, f.changeAt + 1: f.setB, 21: f.setB} {
		vs, err := s.ValidatorsAt(h)
		if err != nil || vs.Hash(f.c) != want.Hash(f.c) {
			t.Fatalf("ValidatorsAt(%d): %v", h, err)
		}
	}
	for _, h := range []uint64{0, 21, 1000} {
		if _, err := s.Block(h); !errors.Is(err, ErrNotFound) || !errors.Is(err, chain.ErrNotFound) {
			t.Fatalf("Block(%d) = %v, want ErrNotFound", h, err)
		}
	}
	if _, err := s.ValidatorsAt(22); !errors.Is(err, ErrNotFound) {
		t.Fatalf("ValidatorsAt(22) = %v", err)
	}
	if _, _, err := s.TxLocation(chain.IDOf([]byte("never"))); !errors.Is(err, ErrNotFound) {
		t.Fatalf("TxLocation(unknown) = %v", err)
	}
	if _, err := s.BlockByID(chain.IDOf([]byte("never"))); !errors.Is(err, ErrNotFound) {
		t.Fatalf("BlockByID(unknown) = %v", err)
	}
	// The chain continues after a reopen.
	f.commitNext(t, s, 2)
	if h := s.Head(); h.Height != 21 {
		t.Fatalf("head %d after continuing", h.Height)
	}
}

func TestCrashBetweenBatchAndHead(t *testing.T) {
	f := newFixture(t)
	dir := t.TempDir()
	s := openT(t, dir, 0)
	f.genesisCommit(t, s)
	for range 5 {
		f.commitNext(t, s, 3)
	}
	b, cm, rs := f.next(t, s, 3)
	// First half of CommitBlock only: the batch is durable, the head is not.
	if _, err := s.writeBlock(b, cm, rs, f.valsFor(7), stateWrite(6)); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = openT(t, dir, 0)
	defer s.Close()
	if h := s.Head(); h.Height != 5 {
		t.Fatalf("head after crash = %d, want 5", h.Height)
	}
	if got := stateHeight(t, s); got != 5 {
		t.Fatalf("state visible after crash is from height %d, want 5", got)
	}
	if _, err := s.Block(6); !errors.Is(err, ErrNotFound) {
		t.Fatalf("half-written block 6 is visible: %v", err)
	}
	if _, _, err := s.TxLocation(chain.IDOf(b.Txs[0])); !errors.Is(err, ErrNotFound) {
		t.Fatalf("half-written tx index is visible: %v", err)
	}
	if _, err := s.HeightOf(b.Header.ID(f.c)); !errors.Is(err, ErrNotFound) {
		t.Fatalf("half-written block id index is visible: %v", err)
	}
	// Re-applying height 6 works and makes it visible.
	if err := s.CommitBlock(b, cm, rs, f.valsFor(7), stateWrite(6)); err != nil {
		t.Fatalf("re-commit 6: %v", err)
	}
	checkBlock(t, f, s, b)
	if got := stateHeight(t, s); got != 6 {
		t.Fatalf("state after re-commit from height %d", got)
	}
}

func TestGenesisChecks(t *testing.T) {
	f := newFixture(t)
	dir := t.TempDir()
	s := openT(t, dir, 0)
	if err := s.CheckGenesis(f.genesis); !errors.Is(err, ErrNotInitialized) {
		t.Fatalf("CheckGenesis on empty store = %v", err)
	}
	b, cm, rs := f.block(1, "", nil, nil)
	if err := s.CommitBlock(b, cm, rs, f.setA, nil); !errors.Is(err, ErrNotInitialized) {
		t.Fatalf("CommitBlock before genesis = %v", err)
	}
	f.genesisCommit(t, s)
	if h, ok := s.Head(), s.Initialized(); !ok || h.Height != 0 || s.ReadTS() != TS(0) || stateHeight(t, s) != 0 {
		t.Fatalf("head after genesis = %+v", h)
	}
	s.Close()

	s = openT(t, dir, 0)
	defer s.Close()
	other := chain.Sum256([]byte("another chain"))
	if err := s.CheckGenesis(f.genesis); err != nil {
		t.Fatalf("CheckGenesis(same) = %v", err)
	}
	if err := s.CheckGenesis(other); !errors.Is(err, ErrGenesisMismatch) {
		t.Fatalf("CheckGenesis(other) = %v", err)
	}
	if err := s.CommitGenesis(other, f.setA, chain.Hash{}, nil); !errors.Is(err, ErrGenesisMismatch) {
		t.Fatalf("CommitGenesis(other) = %v", err)
	}
	if err := s.CommitGenesis(f.genesis, f.setA, chain.Hash{}, nil); !errors.Is(err, ErrAlreadyInitialized) {
		t.Fatalf("CommitGenesis(same) again = %v", err)
	}
	if vs, err := s.ValidatorsAt(1); err != nil || vs.Hash(f.c) != f.setA.Hash(f.c) {
		t.Fatalf("ValidatorsAt(1) after genesis: %v", err)
	}
}

func TestCommitBlockRejects(t *testing.T) {
	f := newFixture(t)
	s := openT(t, t.TempDir(), 0)
	defer s.Close()
	f.genesisCommit(t, s)
	f.commitNext(t, s, 1)
	good := func() (*chain.Block, *chain.Commit, []chain.TxResult, *chain.ValidatorSet, func(chain.KVWriter) error) {
		b, cm, rs := f.next(t, s, 2)
		return b, cm, rs, f.valsFor(3), stateWrite(2)
	}
	cases := []struct {
		name   string
		mutate func(b *chain.Block, cm *chain.Commit, rs *[]chain.TxResult, nv **chain.ValidatorSet, ex *func(chain.KVWriter) error)
		want   error
	}{
		{"skips a height", func(b *chain.Block, cm *chain.Commit, _ *[]chain.TxResult, _ **chain.ValidatorSet, _ *func(chain.KVWriter) error) {
			b.Header.Height = 3
			*cm = *f.commitFor(3, b.Header.ID(f.c))
		}, ErrOutOfOrder},
		{"wrong parent", func(b *chain.Block, cm *chain.Commit, _ *[]chain.TxResult, _ **chain.ValidatorSet, _ *func(chain.KVWriter) error) {
			b.Header.Parent = chain.IDOf([]byte("elsewhere"))
			*cm = *f.commitFor(2, b.Header.ID(f.c))
		}, ErrOutOfOrder},
		{"commit for another block", func(_ *chain.Block, cm *chain.Commit, _ *[]chain.TxResult, _ **chain.ValidatorSet, _ *func(chain.KVWriter) error) {
			cm.BlockID = chain.IDOf([]byte("other"))
		}, ErrBadCommitInput},
		{"missing result", func(_ *chain.Block, _ *chain.Commit, rs *[]chain.TxResult, _ **chain.ValidatorSet, _ *func(chain.KVWriter) error) {
			*rs = (*rs)[:1]
		}, ErrBadCommitInput},
		{"next validators disagree with header", func(_ *chain.Block, _ *chain.Commit, _ *[]chain.TxResult, nv **chain.ValidatorSet, _ *func(chain.KVWriter) error) {
			*nv = f.setB
		}, ErrBadCommitInput},
		{"state write into block prefix", func(_ *chain.Block, _ *chain.Commit, _ *[]chain.TxResult, _ **chain.ValidatorSet, ex *func(chain.KVWriter) error) {
			*ex = func(w chain.KVWriter) error { return w.Set([]byte("m/head"), []byte("x")) }
		}, ErrReservedKey},
		{"state callback fails", func(_ *chain.Block, _ *chain.Commit, _ *[]chain.TxResult, _ **chain.ValidatorSet, ex *func(chain.KVWriter) error) {
			*ex = func(w chain.KVWriter) error { return chain.ErrInvalidMsg }
		}, chain.ErrInvalidMsg},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b, cm, rs, nv, ex := good()
			tc.mutate(b, cm, &rs, &nv, &ex)
			if err := s.CommitBlock(b, cm, rs, nv, ex); !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			if h := s.Head(); h.Height != 1 || stateHeight(t, s) != 1 {
				t.Fatalf("a rejected commit moved the head to %d", h.Height)
			}
		})
	}
	b := f.commitNext(t, s, 2) // the good block still commits after the failures
	checkBlock(t, f, s, b)
}

func TestPruning(t *testing.T) {
	f := newFixture(t)
	dir := t.TempDir()
	s := openT(t, dir, 5)
	f.genesisCommit(t, s)
	var blocks []*chain.Block
	for range 20 {
		blocks = append(blocks, f.commitNext(t, s, 2))
	}
	check := func(s *Store) {
		t.Helper()
		if s.Base() != 15 {
			t.Fatalf("base = %d, want 15 (head 20 - keep 5)", s.Base())
		}
		for _, b := range blocks {
			h := b.Header.Height
			if h >= 15 {
				checkBlock(t, f, s, b)
				continue
			}
			if _, err := s.Block(h); !errors.Is(err, ErrPruned) || !errors.Is(err, ErrNotFound) {
				t.Fatalf("Block(%d) = %v, want ErrPruned", h, err)
			}
			if _, err := s.SeenCommit(h); !errors.Is(err, ErrPruned) {
				t.Fatalf("SeenCommit(%d) = %v, want ErrPruned", h, err)
			}
			if _, _, err := s.TxLocation(chain.IDOf(b.Txs[0])); !errors.Is(err, ErrNotFound) {
				t.Fatalf("tx of pruned block %d still indexed: %v", h, err)
			}
			if _, err := s.HeightOf(b.Header.ID(f.c)); !errors.Is(err, ErrNotFound) {
				t.Fatalf("id of pruned block %d still indexed: %v", h, err)
			}
		}
	}
	check(s)
	s.Close()
	s = openT(t, dir, 5)
	defer s.Close()
	check(s)
}

func TestPruningCatchesUpInBoundedSteps(t *testing.T) {
	f := newFixture(t)
	dir := t.TempDir()
	s := openT(t, dir, 0) // archive first
	f.genesisCommit(t, s)
	for range 20 {
		f.commitNext(t, s, 1)
	}
	s.Close()
	s = openT(t, dir, 2) // then switch pruning on
	defer s.Close()
	f.commitNext(t, s, 1) // head 21: target base 19, one commit prunes at most maxPrunePerCommit
	if s.Base() != 1+maxPrunePerCommit {
		t.Fatalf("base after one pruning commit = %d, want %d", s.Base(), 1+maxPrunePerCommit)
	}
	for range 5 {
		f.commitNext(t, s, 1)
	}
	if h := s.Head(); s.Base() != h.Height-2 {
		t.Fatalf("base %d did not catch up with head %d", s.Base(), h.Height)
	}
}

func TestHeadRecordRoundTrip(t *testing.T) {
	c := chain.MustCodec()
	want := Head{Height: 7, BlockID: chain.IDOf([]byte("b")), StateRoot: chain.Sum256([]byte("s")), Time: 9, GenesisHash: chain.Sum256([]byte("g"))}
	raw, err := c.Marshal(&want)
	if err != nil {
		t.Fatal(err)
	}
	got, err := decodeHead(c, raw)
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("decodeHead = %+v, %v", got, err)
	}
	for name, bad := range map[string][]byte{
		"empty":     nil,
		"truncated": raw[:len(raw)-1],
		"trailing":  append(append([]byte{}, raw...), 0),
		"huge":      make([]byte, maxHeadBytes+1),
	} {
		if _, err := decodeHead(c, bad); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: decodeHead = %v, want ErrCorrupt", name, err)
		}
	}
}

func TestUnfinishedGenesisIsCleared(t *testing.T) {
	f := newFixture(t)
	dir := t.TempDir()
	s := openT(t, dir, 0)
	// A genesis write that crashed before its head: it left a state key.
	stale := func(w chain.KVWriter) error { return w.Set([]byte("s/stale"), []byte("x")) }
	if err := s.writeGenesis(chain.Sum256([]byte("first try")), f.setA, stale); err != nil {
		t.Fatal(err)
	}
	s.Close()

	s = openT(t, dir, 0)
	defer s.Close()
	if s.Initialized() {
		t.Fatal("an unfinished genesis counts as initialised")
	}
	f.genesisCommit(t, s)
	txn := s.DB().NewTransactionAt(s.ReadTS(), false)
	defer txn.Discard()
	if _, err := get(txn, []byte("s/stale")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("state from the unfinished genesis is visible: %v", err)
	}
	if err := s.CheckGenesis(f.genesis); err != nil {
		t.Fatal(err)
	}
}
