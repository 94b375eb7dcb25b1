package state

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"math/rand"
	"slices"
	"testing"

	"github.com/pokt-network/smt"
	"github.com/pokt-network/smt/kvstore/simplemap"

	"github.com/dure-network/dure/chain"
)

// The differential tests of the batched updater (batch.go) against
// pokt-network/smt's own Update/Delete/Commit, which Stage used before.

// mapStore is a node store as a plain map (digest → encoding).
type mapStore map[digest][]byte

func (m mapStore) Get(d []byte) ([]byte, error) {
	if v, ok := m[digest(d)]; ok {
		return v, nil
	}
	return nil, fmt.Errorf("%w: %x", ErrMissingNode, d)
}

// smtRef is the reference: smt over its own map store, updated one key
// at a time in the batch's key order, as Stage did.
type smtRef struct {
	m    map[string][]byte
	root []byte
}

func newSMTRef() *smtRef { return &smtRef{m: map[string][]byte{}, root: make([]byte, hashLen)} }

func (r *smtRef) trie() *smt.SMT {
	return smt.ImportSparseMerkleTrie(simplemap.NewSimpleMapWithMap(r.m), sha256.New(), r.root)
}

func (r *smtRef) apply(t testing.TB, cs []change) {
	t.Helper()
	tr := r.trie()
	for _, c := range cs {
		var err error
		if c.val == nil {
			err = tr.Delete([]byte(c.key))
		} else {
			err = tr.Update([]byte(c.key), c.val)
		}
		if err != nil {
			t.Fatalf("smt %q: %v", c.key, err)
		}
	}
	if err := tr.Commit(); err != nil {
		t.Fatal(err)
	}
	r.root = tr.Root()
}

// store is the reference's nodes as a mapStore (a copy).
func (r *smtRef) store() mapStore {
	out := mapStore{}
	for k, v := range r.m {
		out[digest([]byte(k))] = v
	}
	return out
}

// reachable lists every node digest of the trie at root in m, failing on
// a missing or undecodable node.
func reachable(t testing.TB, m mapStore, root digest) map[digest]bool {
	t.Helper()
	out := map[digest]bool{}
	var walk func(d digest)
	walk = func(d digest) {
		if d == (digest{}) {
			return
		}
		if out[d] {
			t.Fatalf("node %x reached twice", d)
		}
		out[d] = true
		enc, err := m.Get(d[:])
		if err != nil {
			t.Fatal(err)
		}
		f, err := decodeNode(enc)
		if err != nil {
			t.Fatalf("node %x: %v", d, err)
		}
		switch f.kind {
		case kInner:
			walk(f.a)
			walk(f.b)
		case kExt:
			walk(f.b)
		}
	}
	walk(root)
	return out
}

// applyToStore applies a batch's node changes to m, checking that they
// are exactly the difference between the old and the new trie.
func applyToStore(t testing.TB, m mapStore, oldRoot, newRoot digest, nodes []nodeChange) {
	t.Helper()
	before := reachable(t, m, oldRoot)
	if len(before) != len(m) {
		t.Fatalf("store holds %d nodes, trie %d", len(m), len(before))
	}
	seen := map[digest]bool{}
	for _, c := range nodes {
		if seen[c.digest] {
			t.Fatalf("node %x changed twice", c.digest)
		}
		seen[c.digest] = true
		if c.enc == nil {
			if !before[c.digest] {
				t.Fatalf("deletes node %x the trie does not hold", c.digest)
			}
			delete(m, c.digest)
			continue
		}
		if before[c.digest] {
			t.Fatalf("writes node %x the trie already holds", c.digest)
		}
		if c.digest != nodeDigest(t, c.enc) {
			t.Fatalf("node %x: encoding hashes to %x", c.digest, nodeDigest(t, c.enc))
		}
		m[c.digest] = c.enc
	}
	after := reachable(t, m, newRoot)
	if len(after) != len(m) {
		t.Fatalf("store holds %d nodes after the batch, the new trie %d: a node was left or not deleted", len(m), len(after))
	}
}

// nodeDigest is an encoding's digest as smt defines it.
func nodeDigest(t testing.TB, enc []byte) digest {
	f, err := decodeNode(enc)
	if err != nil {
		t.Fatal(err)
	}
	if f.kind != kExt {
		return sha256.Sum256(enc)
	}
	h := f.b
	for i := int(f.hi) - 1; i >= int(f.lo); i-- {
		var b [innerLen]byte
		b[0] = innerTag
		if bit(&f.a, i) == 0 {
			copy(b[1:], h[:])
		} else {
			copy(b[1+hashLen:], h[:])
		}
		h = sha256.Sum256(b[:])
	}
	return h
}

// sameReads checks that smt reading m at root answers every key of keys
// (present or not) as the reference does: value hash and proof.
func sameReads(t testing.TB, ref *smtRef, m mapStore, root digest, keys []string) {
	t.Helper()
	raw := map[string][]byte{}
	for d, v := range m {
		raw[string(d[:])] = v
	}
	got := smt.ImportSparseMerkleTrie(simplemap.NewSimpleMapWithMap(raw), sha256.New(), root[:])
	want := ref.trie()
	for _, k := range keys {
		gv, err1 := got.Get([]byte(k))
		wv, err2 := want.Get([]byte(k))
		if err1 != nil || err2 != nil || !bytes.Equal(gv, wv) {
			t.Fatalf("Get %q: %x %v, smt %x %v", k, gv, err1, wv, err2)
		}
		gp, err1 := got.Prove([]byte(k))
		wp, err2 := want.Prove([]byte(k))
		if err1 != nil || err2 != nil {
			t.Fatalf("Prove %q: %v / %v", k, err1, err2)
		}
		if !slices.EqualFunc(gp.SideNodes, wp.SideNodes, bytes.Equal) || !bytes.Equal(gp.NonMembershipLeafData, wp.NonMembershipLeafData) {
			t.Fatalf("Prove %q differs from smt's", k)
		}
	}
}

// clusteredKeys returns n keys whose trie paths all start with the same
// bits bits (long shared prefixes: extension nodes, deep splits).
func clusteredKeys(prefix string, n, bits int) []string {
	var out []string
	for i := 0; len(out) < n; i++ {
		k := fmt.Sprintf("%s/%d", prefix, i)
		p := sha256.Sum256([]byte(k))
		if binary.BigEndian.Uint32(p[:4])>>(32-bits) == 0 {
			out = append(out, k)
		}
	}
	return out
}

// randomBatch is a batch of distinct keys from pool: creations, updates
// (some to the same value), deletions of live keys, in ascending key
// order, as Stage passes them.
func randomBatch(rng *rand.Rand, pool []string, live map[string][]byte, n int) []change {
	picked := map[string]change{}
	for len(picked) < n && len(picked) < len(pool) {
		k := pool[rng.Intn(len(pool))]
		if _, ok := picked[k]; ok {
			continue
		}
		old, isLive := live[k]
		switch r := rng.Intn(10); {
		case isLive && r < 3:
			picked[k] = change{key: k} // delete
		case isLive && r < 4:
			picked[k] = change{key: k, val: old} // same value
		default:
			picked[k] = change{key: k, val: fmt.Appendf(nil, "v%d", rng.Int63())}
		}
	}
	out := slices.Collect(maps.Values(picked))
	slices.SortFunc(out, func(a, b change) int { return cmpStr(a.key, b.key) })
	for _, c := range out {
		if c.val == nil {
			delete(live, c.key)
		} else {
			live[c.key] = c.val
		}
	}
	return out
}

func cmpStr(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// TestBatchMatchesSMT: on random and adversarial key sets (a single key,
// keys sharing 10 and 16 leading path bits, deletions down to the empty
// trie), every batch gives smt's root; its node changes are exactly the
// difference between the tries; smt reading the result answers every key
// (value and proof) as smt's own trie does; and the batch applied to the
// trie smt wrote (with smt's shapes) gives the same root too.
func TestBatchMatchesSMT(t *testing.T) {
	pools := map[string][]string{
		"single": {"only"},
		"pair":   {"a", "b"},
		"random": func() []string {
			var p []string
			for i := 0; i < 400; i++ {
				p = append(p, fmt.Sprintf("k/%d", i))
			}
			return p
		}(),
		"prefix10": clusteredKeys("c10", 60, 10),
		"prefix16": clusteredKeys("c16", 12, 16),
		"mixed":    append(append(clusteredKeys("m", 30, 12), clusteredKeys("n", 8, 16)...), "x", "y", "z"),
	}
	for name, pool := range pools {
		t.Run(name, func(t *testing.T) {
			rng := rand.New(rand.NewSource(int64(len(name))))
			ref := newSMTRef()
			mine := mapStore{}
			var root digest
			var tree *tnode
			live := map[string][]byte{}
			for round := 0; round < 60; round++ {
				n := 1 + rng.Intn(len(pool))
				if round%7 == 6 { // delete everything
					var cs []change
					for k := range live {
						cs = append(cs, change{key: k})
					}
					slices.SortFunc(cs, func(a, b change) int { return cmpStr(a.key, b.key) })
					clear(live)
					if len(cs) == 0 {
						continue
					}
					checkBatch(t, ref, mine, &root, &tree, cs, pool)
					if root != (digest{}) {
						t.Fatalf("deleting every key leaves root %x", root)
					}
					continue
				}
				checkBatch(t, ref, mine, &root, &tree, randomBatch(rng, pool, live, n), pool)
			}
		})
	}
}

func checkBatch(t *testing.T, ref *smtRef, mine mapStore, root *digest, tree **tnode, cs []change, pool []string) {
	t.Helper()
	// The batch on the trie smt wrote, with smt's shapes.
	refStore, refRoot := ref.store(), digest(ref.root)
	onRef, _, refNodes, err := applyBatch(refStore, chain.Hash(refRoot), nil, cs)
	if err != nil {
		t.Fatal(err)
	}
	ref.apply(t, cs)
	if onRef != chain.Hash(ref.root) {
		t.Fatalf("batch on smt's trie: root %v, smt %x", onRef, ref.root)
	}
	applyToStore(t, refStore, refRoot, digest(onRef), refNodes)

	// The batch on the trie it wrote itself.
	// The batch on the trie it wrote itself, from its resident tree.
	got, next, nodes, err := applyBatchResident(mine, chain.Hash(*root), *tree, cs, testResident)
	if err != nil {
		t.Fatal(err)
	}
	if got != chain.Hash(ref.root) {
		t.Fatalf("root %v, smt %x", got, ref.root)
	}
	applyToStore(t, mine, *root, digest(got), nodes)
	*root, *tree = digest(got), next
	checkResident(t, next, 0)
	sameReads(t, ref, mine, *root, append(slices.Clip(pool), "absent", "absent/2"))
}

// testResident: the resident depth of the tests' own tries (small, so
// their tries are cut).
const testResident = 3

// checkResident checks that the resident tree is trimmed below
// residentDepth, finished, and left by its batch.
func checkResident(t testing.TB, n *tnode, depth int) {
	t.Helper()
	if n.kind == kRef || n.kind == kEmpty {
		return
	}
	if n.own || !n.hashed {
		t.Fatalf("resident node at depth %d: own %v hashed %v", depth, n.own, n.hashed)
	}
	var kids []*tnode
	next := depth + 1
	switch n.kind {
	case kInner:
		kids = []*tnode{n.left, n.right}
	case kExt:
		kids, next = []*tnode{n.left}, int(n.hi)
	}
	for _, c := range kids {
		if depth >= testResident && c.kind != kRef && c.kind != kEmpty {
			t.Fatalf("node at depth %d keeps a decoded child", depth)
		}
		checkResident(t, c, next)
	}
}

// TestBatchRefusesAbsentDelete: deleting a key the trie does not hold is
// smt's ErrKeyNotFound, as Stage got before (on an empty trie, beside a
// leaf and inside an extension).
func TestBatchRefusesAbsentDelete(t *testing.T) {
	keys := clusteredKeys("d", 3, 12)
	for _, start := range [][]string{nil, keys[:1], keys[:2]} {
		m, root := mapStore{}, digest{}
		if len(start) > 0 {
			var cs []change
			for _, k := range start {
				cs = append(cs, change{key: k, val: []byte("v")})
			}
			r, _, nodes, err := applyBatch(m, chain.Hash{}, nil, cs)
			must(t, err)
			applyToStore(t, m, root, digest(r), nodes)
			root = digest(r)
		}
		_, _, _, err := applyBatch(m, chain.Hash(root), nil, []change{{key: keys[2]}})
		if !errors.Is(err, smt.ErrKeyNotFound) {
			t.Fatalf("delete of an absent key on %d keys: %v", len(start), err)
		}
	}
}

// TestBatchNamesCorruptNodes: a damaged stored node is ErrCorruptNode,
// never a panic.
func TestBatchNamesCorruptNodes(t *testing.T) {
	keys := clusteredKeys("e", 4, 10)
	var cs []change
	for _, k := range keys {
		cs = append(cs, change{key: k, val: []byte("v")})
	}
	m := mapStore{}
	r, _, nodes, err := applyBatch(m, chain.Hash{}, nil, cs)
	must(t, err)
	applyToStore(t, m, digest{}, digest(r), nodes)
	for d, enc := range m {
		for _, bad := range [][]byte{nil, {9}, enc[:len(enc)-1], append(bytes.Clone(enc), 0)} {
			damaged := maps.Clone(m)
			damaged[d] = bad
			_, _, _, err := applyBatch(damaged, r, nil, []change{{key: keys[0], val: []byte("w")}, {key: keys[3]}, {key: "new", val: []byte("x")}})
			if err != nil && !errors.Is(err, ErrCorruptNode) {
				t.Fatalf("damaged node %x (%x): %v", d, bad, err)
			}
		}
	}
}

// FuzzBatchMatchesSMT: any sequence of batches over a small clustered key
// set gives smt's roots and exact node changes.
func FuzzBatchMatchesSMT(f *testing.F) {
	f.Add([]byte{0x01, 0x12, 0x23, 0xff, 0x80, 0x81})
	f.Add([]byte{0x00, 0x10, 0x20, 0x30, 0x40, 0xc0, 0xd0, 0xe0, 0xf0})
	pool := append(clusteredKeys("f", 6, 12), "a", "b", "c")
	f.Fuzz(func(t *testing.T, prog []byte) {
		ref, mine, root := newSMTRef(), mapStore{}, digest{}
		var tree *tnode
		live := map[string][]byte{}
		var batch map[string]change
		flush := func() {
			if len(batch) == 0 {
				return
			}
			cs := slices.Collect(maps.Values(batch))
			slices.SortFunc(cs, func(a, b change) int { return cmpStr(a.key, b.key) })
			checkBatch(t, ref, mine, &root, &tree, cs, pool)
			batch = nil
		}
		for _, b := range prog {
			if b == 0xff {
				flush()
				continue
			}
			if batch == nil {
				batch = map[string]change{}
			}
			k := pool[int(b&0x0f)%len(pool)]
			if _, ok := batch[k]; ok {
				continue
			}
			if _, isLive := live[k]; isLive && b&0x80 != 0 {
				batch[k] = change{key: k}
				delete(live, k)
				continue
			}
			v := []byte{b >> 4}
			batch[k] = change{key: k, val: v}
			live[k] = v
		}
		flush()
	})
}

// FuzzDecodeNode: the node decoder never panics, and what it accepts has
// the shape smt writes.
func FuzzDecodeNode(f *testing.F) {
	var leaf, inner, ext [extLen]byte
	inner[0], inner[5] = innerTag, 1
	ext[0], ext[1], ext[2], ext[40] = extTag, 3, 9, 1
	f.Add(leaf[:innerLen])
	f.Add(inner[:innerLen])
	f.Add(ext[:])
	f.Fuzz(func(t *testing.T, enc []byte) {
		n, err := decodeNode(enc)
		if err != nil {
			return
		}
		switch n.kind {
		case kLeaf, kInner:
			if len(enc) != innerLen {
				t.Fatalf("accepted %d bytes", len(enc))
			}
		case kExt:
			if len(enc) != extLen || n.lo >= n.hi {
				t.Fatalf("accepted extension %x", enc)
			}
		default:
			t.Fatalf("kind %d", n.kind)
		}
	})
}

// referenceRoot is the root smt computes, from nothing, for the state
// committed at the head: every flat pair and, on an indexed state, the
// next-key records the flat key order implies (the trie as README and
// index.go define it, built one Update at a time as Stage did before).
func referenceRoot(t testing.TB, st *State) (chain.Hash, *smtRef) {
	t.Helper()
	head, _ := st.Head()
	var cs []change
	var keys []string
	err := st.Reader(head).Iterate(nil, func(k, v []byte) (bool, error) {
		cs = append(cs, change{key: string(k), val: v})
		keys = append(keys, string(k))
		return false, nil
	})
	must(t, err)
	if st.Indexed() {
		next := append(slices.Clone(keys[min(1, len(keys)):]), "")
		first := ""
		if len(keys) > 0 {
			first = keys[0]
		}
		cs = append(cs, change{key: string(LinkKey(nil)), val: LinkValue([]byte(first))})
		for i, k := range keys {
			cs = append(cs, change{key: string(LinkKey([]byte(k))), val: LinkValue([]byte(next[i]))})
		}
	}
	ref := newSMTRef()
	if len(cs) > 0 {
		ref.apply(t, cs)
	}
	return chain.Hash(ref.root), ref
}

// TestStageMatchesSMTOnBadger: on real Badger, blocks of creations,
// updates and deletions (some of every key, down to the empty state),
// with snapshots every 3 commits, each staged after a decoy candidate from
// the same head that is dropped: every committed root is the root smt
// builds from nothing for the committed state (with and without the
// key-order index); every proof is smt's; a State reopened from the
// snapshot and changesets continues with the same roots.
func TestStageMatchesSMTOnBadger(t *testing.T) {
	for _, indexed := range []bool{false, true} {
		t.Run(fmt.Sprintf("range_proofs=%v", indexed), func(t *testing.T) {
			dir := t.TempDir()
			db := openDB(t, dir)
			defer func() { db.Close() }()
			opts := Options{RangeProofs: indexed, SnapshotEvery: 3}
			st, err := Open(db, 0, chain.Hash{}, opts)
			must(t, err)
			rng := rand.New(rand.NewSource(7))
			block := func(st *State, n int) *Branch {
				b := st.Branch()
				for i := 0; i < n; i++ {
					k := []byte(fmt.Sprintf("acct/%03d", rng.Intn(300)))
					if rng.Intn(4) == 0 {
						must(t, b.Delete(k))
						continue
					}
					must(t, b.Set(k, fmt.Appendf(nil, "v%d", rng.Intn(3))))
				}
				return b
			}
			for v := uint64(1); v <= 40; v++ {
				if v == 25 { // a restart: replay the changesets after the snapshot
					head, root := st.Head()
					db.Close()
					db = openDB(t, dir)
					st, err = Open(db, head, root, opts)
					must(t, err)
				}
				decoy, err := st.Stage(block(st, 50))
				must(t, err)
				n := 1 + rng.Intn(120)
				if v%10 == 0 { // delete every key
					b := st.Branch()
					head, _ := st.Head()
					must(t, st.Reader(head).Iterate(nil, func(k, _ []byte) (bool, error) { return false, b.Delete(k) }))
					p, err := st.Stage(b)
					must(t, err)
					commit(t, db, st, p, v)
				} else {
					p, err := st.Stage(block(st, n))
					must(t, err)
					commit(t, db, st, p, v)
				}
				if err := st.Committed(decoy, v+1); !errors.Is(err, ErrStaleBranch) {
					t.Fatalf("decoy committed: %v", err)
				}
				_, root := st.Head()
				want, ref := referenceRoot(t, st)
				if root != want {
					t.Fatalf("version %d: root %v, smt from nothing %v", v, root, want)
				}
				for i := 0; i < 300; i += 13 {
					k := []byte(fmt.Sprintf("acct/%03d", i))
					got, err := st.Prove(v, k)
					must(t, err)
					wp, err := ref.trie().Prove(k)
					must(t, err)
					if !slices.EqualFunc(got.SideNodes, wp.SideNodes, bytes.Equal) || !bytes.Equal(got.OtherLeaf, wp.NonMembershipLeafData) {
						t.Fatalf("version %d: proof of %s is not smt's", v, k)
					}
					val, err := st.Reader(v).Get(k)
					must(t, err)
					must(t, VerifyProof(root, k, val, got))
				}
			}
		})
	}
}

// TestConcurrentStagesShareTheTree: candidates staged at once from one
// head (sharing its resident trie) get the roots they get alone, and the
// head's trie is unchanged by them (run with -race).
func TestConcurrentStagesShareTheTree(t *testing.T) {
	db, st := newState(t)
	b := st.Branch()
	for i := 0; i < 3000; i++ {
		must(t, b.Set(benchKey(i), benchVal(i, 0)))
	}
	p, err := st.Stage(b)
	must(t, err)
	commit(t, db, st, p, 1)
	cand := func(round int) *Branch {
		b := st.Branch()
		for i := 0; i < 500; i++ {
			k := (i*7 + round) % 4000 // updates and creations
			must(t, b.Set(benchKey(k), benchVal(k, round)))
		}
		must(t, b.Delete(benchKey(round)))
		return b
	}
	var alone [4]chain.Hash
	for r := range alone {
		p, err := st.Stage(cand(r + 1))
		must(t, err)
		alone[r] = p.Root()
	}
	var got [4]*Pending
	errs := make(chan error, len(got))
	for r := range got {
		go func() {
			var err error
			got[r], err = st.Stage(cand(r + 1))
			errs <- err
		}()
	}
	for range got {
		must(t, <-errs)
	}
	for r := range got {
		if got[r].Root() != alone[r] {
			t.Fatalf("candidate %d: root %v staged concurrently, %v alone", r, got[r].Root(), alone[r])
		}
	}
	commit(t, db, st, got[2], 2)
	if want, _ := referenceRoot(t, st); got[2].Root() != want {
		t.Fatalf("committed root %v, smt from nothing %v", got[2].Root(), want)
	}
}
