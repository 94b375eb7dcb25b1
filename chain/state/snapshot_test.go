package state

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math/rand/v2"
	"testing"

	"github.com/dgraph-io/badger/v4"

	"github.com/dure-network/dure/chain"
)

// randomBlock writes n random sets and deletes over a space of keys keys.
// Values repeat often, so nodes are orphaned and recreated identically.
func randomBlock(rng *rand.Rand, st *State, keys, n int) *Branch {
	b := st.Branch()
	for i := 0; i < n; i++ {
		k := []byte(fmt.Sprintf("acct/%04d", rng.IntN(keys)))
		if rng.IntN(5) == 0 {
			_ = b.Delete(k)
			continue
		}
		_ = b.Set(k, []byte(fmt.Sprintf("v%d", rng.IntN(4))))
	}
	return b
}

// replay of the same ops must give the same roots whatever the snapshot
// interval, and a State reopened at any height (snapshot + changesets)
// must continue exactly like the one that never stopped, with every
// proof in the window verifying.
func TestSnapshotAndReplayMatchEveryCommitSnapshots(t *testing.T) {
	ref, refSt := newStateOpts(t, Options{SnapshotEvery: 1, ProofWindow: 1})
	dir := t.TempDir()
	db := openDB(t, dir)
	defer func() { db.Close() }()
	opts := Options{SnapshotEvery: 5, ProofWindow: 3}
	st, err := Open(db, 0, chain.Hash{}, opts)
	must(t, err)
	rng := rand.New(rand.NewPCG(1, 2))
	roots := map[uint64]chain.Hash{}
	for v := uint64(1); v <= 40; v++ {
		seed := rng.Uint64()
		pr, err := refSt.Stage(randomBlock(rand.New(rand.NewPCG(seed, 0)), refSt, 60, 25))
		must(t, err)
		commit(t, ref, refSt, pr, v)
		p, err := st.Stage(randomBlock(rand.New(rand.NewPCG(seed, 0)), st, 60, 25))
		must(t, err)
		if p.Root() != pr.Root() {
			t.Fatalf("version %d: root %s, every-commit snapshots give %s", v, p.Root(), pr.Root())
		}
		if p.Snapshot() != (v == 1 || (v-1)%5 == 0) {
			t.Fatalf("version %d: snapshot = %v", v, p.Snapshot())
		}
		commit(t, db, st, p, v)
		roots[v] = p.Root()

		// Proofs at every version in the window.
		// (after a restart, from the snapshot the restart loaded on).
		for pv := max(v-min(v-1, 3), st.minProof); pv <= v; pv++ {
			checkProofs(t, st, pv, roots[pv], 60)
		}
		if v%3 == 0 { // restart: reopen the directory, replaying changesets
			must(t, db.Close())
			db = openDB(t, dir)
			st, err = Open(db, v, p.Root(), opts)
			must(t, err)
			checkProofs(t, st, v, roots[v], 60)
		}
	}
	if _, err := st.Prove(40-4, []byte("acct/0001")); !errors.Is(err, ErrProofPruned) || !errors.Is(err, ErrVersion) {
		t.Fatalf("proof outside the window: %v", err)
	}
	// Garbage stays bounded: Badger holds the snapshot's live nodes plus
	// those that died within the window, not every node ever written.
	if live, stored := countNodes(t, ref), countNodes(t, db); stored > 3*live {
		t.Fatalf("%d nodes in Badger for a trie of about %d", stored, live)
	}
}

func checkProofs(t *testing.T, st *State, v uint64, root chain.Hash, keys int) {
	t.Helper()
	r := st.Reader(v)
	for i := 0; i < keys; i += 7 {
		k := []byte(fmt.Sprintf("acct/%04d", i))
		val, err := r.Get(k)
		must(t, err)
		p, err := st.Prove(v, k)
		if err != nil {
			t.Fatalf("prove %s at %d: %v", k, v, err)
		}
		if err := VerifyProof(root, k, val, p); err != nil {
			t.Fatalf("proof of %s at %d: %v", k, v, err)
		}
	}
}

func countNodes(t *testing.T, db *badger.DB) int {
	t.Helper()
	txn := db.NewTransactionAt(^uint64(0), false)
	defer txn.Discard()
	opts := badger.DefaultIteratorOptions
	opts.Prefix = []byte(nodePrefix)
	opts.PrefetchValues = false
	it := txn.NewIterator(opts)
	defer it.Close()
	n := 0
	for it.Rewind(); it.Valid(); it.Next() {
		n++
	}
	return n
}

// A crash after a block's writes reached Badger but before its head did
// leaves the state at the previous version, and re-applying the block
// gives the same root.
func TestCrashBeforeHeadRecoversPreviousVersion(t *testing.T) {
	dir := t.TempDir()
	db := openDB(t, dir)
	opts := Options{SnapshotEvery: 4, ProofWindow: 2}
	st, err := Open(db, 0, chain.Hash{}, opts)
	must(t, err)
	rng := rand.New(rand.NewPCG(3, 4))
	for v := uint64(1); v <= 10; v++ {
		p, err := st.Stage(randomBlock(rng, st, 40, 20))
		must(t, err)
		commit(t, db, st, p, v)
	}
	_, head := st.Head()
	for _, v := range []uint64{11, 12, 13} { // 13 is a snapshot
		b := randomBlock(rng, st, 40, 20)
		p, err := st.Stage(b)
		must(t, err)
		wb := db.NewWriteBatchAt(v)
		must(t, p.WriteTo(batchWriter{wb}))
		must(t, wb.Flush()) // written, head not moved: the "crash"
		must(t, db.Close())
		db = openDB(t, dir)
		st, err = Open(db, v-1, head, opts)
		must(t, err)
		p2, err := st.Stage(randomBlockFrom(st, p))
		must(t, err)
		if p2.Root() != p.Root() || p2.Snapshot() != p.Snapshot() {
			t.Fatalf("version %d re-applied: root %s snapshot %v, first attempt %s %v", v, p2.Root(), p2.Snapshot(), p.Root(), p.Snapshot())
		}
		commit(t, db, st, p2, v)
		head = p2.Root()
	}
	must(t, db.Close())
	db = openDB(t, dir)
	defer db.Close()
	st, err = Open(db, 13, head, opts)
	must(t, err)
	checkProofs(t, st, 13, head, 40)
}

// randomBlockFrom rebuilds a branch with the changes staged in p.
func randomBlockFrom(st *State, p *Pending) *Branch {
	b := st.Branch()
	for _, c := range p.changes {
		if c.val == nil {
			_ = b.Delete([]byte(c.key))
		} else {
			_ = b.Set([]byte(c.key), c.val)
		}
	}
	return b
}

// Damage to a changeset or a snapshot node is detected at open and named.
func TestDamagedChangesetOrSnapshotIsNamed(t *testing.T) {
	setup := func(t *testing.T) (string, chain.Hash) {
		dir := t.TempDir()
		db := openDB(t, dir)
		defer db.Close()
		st, err := Open(db, 0, chain.Hash{}, Options{SnapshotEvery: 10})
		must(t, err)
		rng := rand.New(rand.NewPCG(5, 6))
		for v := uint64(1); v <= 4; v++ {
			p, err := st.Stage(randomBlock(rng, st, 40, 30))
			must(t, err)
			commit(t, db, st, p, v)
		}
		_, root := st.Head()
		return dir, root
	}
	damage := func(t *testing.T, dir string, key []byte, edit func([]byte) []byte) {
		db := openDB(t, dir)
		defer db.Close()
		txn := db.NewTransactionAt(4, false)
		item, err := txn.Get(key)
		must(t, err)
		v, _ := item.ValueCopy(nil)
		ver := item.Version()
		txn.Discard()
		wb := db.NewWriteBatchAt(ver)
		if nv := edit(v); nv == nil {
			must(t, wb.Delete(key))
		} else {
			must(t, wb.Set(key, nv))
		}
		must(t, wb.Flush())
	}
	reopen := func(t *testing.T, dir string, root chain.Hash) error {
		db := openDB(t, dir)
		defer db.Close()
		_, err := Open(db, 4, root, Options{SnapshotEvery: 10})
		return err
	}

	t.Run("flipped bit in changeset", func(t *testing.T) {
		dir, root := setup(t)
		damage(t, dir, changesetKey(2), func(v []byte) []byte { v[len(v)/2] ^= 1; return v })
		err := reopen(t, dir, root)
		if !errors.Is(err, ErrCorruptChangeset) || !bytes.Contains([]byte(err.Error()), []byte("version 3")) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("missing changeset", func(t *testing.T) {
		dir, root := setup(t)
		damage(t, dir, changesetKey(2), func([]byte) []byte { return nil })
		if err := reopen(t, dir, root); !errors.Is(err, ErrCorruptChangeset) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("valid changeset with other content", func(t *testing.T) {
		dir, root := setup(t)
		damage(t, dir, changesetKey(3), func([]byte) []byte {
			return encodeChangeset([]change{{key: "acct/0001", val: []byte("forged")}})
		})
		if err := reopen(t, dir, root); !errors.Is(err, ErrRootMismatch) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("damaged snapshot node", func(t *testing.T) {
		dir, root := setup(t)
		// The root node of the snapshot at version 1.
		db := openDB(t, dir)
		txn := db.NewTransactionAt(1, false)
		item, err := txn.Get([]byte(snapshotKey))
		must(t, err)
		snapRoot, _ := item.ValueCopy(nil)
		txn.Discard()
		must(t, db.Close())
		damage(t, dir, nodeKey(snapRoot), func(v []byte) []byte { v[len(v)-1] ^= 1; return v })
		if err := reopen(t, dir, root); !errors.Is(err, ErrCorruptNode) {
			t.Fatalf("got %v", err)
		}
	})
}

func TestChangesetRoundTripAndStrictness(t *testing.T) {
	cs := []change{{key: "a", val: []byte("1")}, {key: "b"}, {key: "c", val: bytes.Repeat([]byte{9}, 300)}}
	raw := encodeChangeset(cs)
	got, err := decodeChangeset(raw)
	must(t, err)
	if !bytes.Equal(encodeChangeset(got), raw) || len(got) != 3 || got[1].val != nil {
		t.Fatalf("round trip: %+v", got)
	}
	if _, err := decodeChangeset(encodeChangeset([]change{{key: "b", val: []byte("1")}, {key: "a", val: []byte("1")}})); !errors.Is(err, ErrCorruptChangeset) {
		t.Fatalf("unsorted keys accepted: %v", err)
	}
	if _, err := decodeChangeset(append(bytes.Clone(raw), 0)); !errors.Is(err, ErrCorruptChangeset) {
		t.Fatalf("trailing byte accepted: %v", err)
	}
	if _, err := decodeChangeset(encodeChangeset([]change{{key: "a", val: []byte{}}})); !errors.Is(err, ErrCorruptChangeset) {
		t.Fatalf("empty value accepted: %v", err)
	}
}

func FuzzDecodeChangeset(f *testing.F) {
	f.Add(encodeChangeset(nil))
	f.Add(encodeChangeset([]change{{key: "a", val: []byte("1")}, {key: "b"}}))
	f.Add([]byte("dcs1\x00\x00\x00\x01\x00\x01a\x01\x00\x00\x00\x01x"))
	check := func(t *testing.T, raw []byte) {
		cs, err := decodeChangeset(raw)
		if err != nil {
			if !errors.Is(err, ErrCorruptChangeset) {
				t.Fatalf("error does not wrap ErrCorruptChangeset: %v", err)
			}
			return
		}
		if !bytes.Equal(encodeChangeset(cs), raw) {
			t.Fatal("accepted a non-canonical changeset")
		}
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		check(t, raw)
		// The same bytes with a valid checksum, so the fuzzer gets past it.
		check(t, binary.BigEndian.AppendUint32(bytes.Clone(raw), crc32.Checksum(raw, castagnoli)))
	})
}

// Values served from the head's value cache are copies, follow commits,
// and never leak into views of other versions.
func TestValueCacheFollowsHead(t *testing.T) {
	db, st := newState(t)
	apply(t, db, st, op{"k", "one"}, op{"gone", "x"})
	v, err := st.Reader(1).Get([]byte("k"))
	must(t, err)
	v[0] = 'X' // a caller editing its copy
	if get(t, st.Reader(1), "k") != "one" {
		t.Fatal("editing a returned value changed the cache")
	}
	b := st.Branch()
	must(t, b.Set([]byte("k"), []byte("staged")))
	_, err = st.Stage(b)
	must(t, err)
	if get(t, st.Reader(1), "k") != "one" {
		t.Fatal("a staged candidate is visible")
	}
	apply(t, db, st, op{"k", "two"}, op{"gone", ""})
	if get(t, st.Reader(2), "k") != "two" || get(t, st.Reader(2), "gone") != "" || get(t, st.Branch(), "k") != "two" {
		t.Fatal("head values wrong after commit")
	}
	if get(t, st.Reader(1), "k") != "one" || get(t, st.Reader(1), "gone") != "x" {
		t.Fatal("old version read through the head cache")
	}
}

// Proofs and reads at the head race with commits and snapshots (the API
// serves them while the node commits); each must verify against the root
// of the version it asked for.
func TestProveWhileCommitting(t *testing.T) {
	db, st := newStateOpts(t, Options{SnapshotEvery: 2, ProofWindow: 4})
	rng := rand.New(rand.NewPCG(7, 8))
	roots := make(chan [2]any, 64)
	done := make(chan error, 1)
	go func() {
		var err error
		for r := range roots {
			v, root := r[0].(uint64), r[1].(chain.Hash)
			for i := 0; i < 60 && err == nil; i += 3 {
				k := []byte(fmt.Sprintf("acct/%04d", i))
				var p *Proof
				if p, err = st.Prove(v, k); err != nil {
					break
				}
				var val []byte
				if val, err = st.Reader(v).Get(k); err == nil {
					err = VerifyProof(root, k, val, p)
				}
			}
		}
		done <- err
	}()
	for v := uint64(1); v <= 30; v++ {
		p, err := st.Stage(randomBlock(rng, st, 60, 40))
		must(t, err)
		commit(t, db, st, p, v)
		roots <- [2]any{v, p.Root()}
	}
	close(roots)
	if err := <-done; err != nil && !errors.Is(err, ErrProofPruned) {
		t.Fatal(err)
	}
}

// A database written before snapshots existed (every commit persisted its
// trie nodes, no snapshot record) opens at its head, and its first commit
// is a snapshot, so a restart after it replays from there.
func TestOpenPreSnapshotDatabase(t *testing.T) {
	dir := t.TempDir()
	db := openDB(t, dir)
	st, err := Open(db, 0, chain.Hash{}, Options{SnapshotEvery: 1})
	must(t, err)
	rng := rand.New(rand.NewPCG(9, 9))
	for v := uint64(1); v <= 4; v++ {
		p, err := st.Stage(randomBlock(rng, st, 50, 30))
		must(t, err)
		commit(t, db, st, p, v)
	}
	// What the old format leaves: no snapshot record, no changesets.
	wb := db.NewWriteBatchAt(4)
	must(t, wb.Delete([]byte(snapshotKey)))
	must(t, wb.Flush())
	_, root := st.Head()
	st, err = Open(db, 4, root, Options{})
	must(t, err)
	for v := uint64(5); v <= 7; v++ {
		p, err := st.Stage(randomBlock(rng, st, 50, 30))
		must(t, err)
		if p.Snapshot() != (v == 5) {
			t.Fatalf("version %d: snapshot %v", v, p.Snapshot())
		}
		commit(t, db, st, p, v)
	}
	_, root = st.Head()
	must(t, db.Close())
	db = openDB(t, dir)
	defer db.Close()
	st, err = Open(db, 7, root, Options{})
	must(t, err)
	checkProofs(t, st, 7, root, 50)
}
