package state

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	"github.com/dgraph-io/badger/v4"

	"github.com/dure-network/dure/chain"
)

func openDB(t testing.TB, dir string) *badger.DB {
	t.Helper()
	db, err := badger.OpenManaged(badger.DefaultOptions(dir).WithLogger(nil))
	if err != nil {
		t.Fatal(err)
	}
	return db
}

func newState(t testing.TB) (*badger.DB, *State) {
	t.Helper()
	return newStateOpts(t, Options{})
}

func newStateOpts(t testing.TB, opts Options) (*badger.DB, *State) {
	t.Helper()
	db := openDB(t, t.TempDir())
	t.Cleanup(func() { db.Close() })
	st, err := Open(db, 0, chain.Hash{}, opts)
	if err != nil {
		t.Fatal(err)
	}
	return db, st
}

// batchWriter is the store's role in tests: one managed write batch per
// version.
type batchWriter struct{ wb *badger.WriteBatch }

func (w batchWriter) Set(k, v []byte) error { return w.wb.Set(bytes.Clone(k), bytes.Clone(v)) }
func (w batchWriter) Delete(k []byte) error { return w.wb.Delete(bytes.Clone(k)) }

func commit(t testing.TB, db *badger.DB, st *State, p *Pending, version uint64) {
	t.Helper()
	wb := db.NewWriteBatchAt(version)
	if err := p.WriteTo(batchWriter{wb}); err != nil {
		t.Fatal(err)
	}
	if err := wb.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := st.Committed(p, version); err != nil {
		t.Fatal(err)
	}
}

type op struct {
	key, val string // val "" deletes
}

// apply writes ops on a fresh branch, stages and commits at the next
// version, and returns the new root.
func apply(t testing.TB, db *badger.DB, st *State, ops ...op) chain.Hash {
	t.Helper()
	b := st.Branch()
	for _, o := range ops {
		var err error
		if o.val == "" {
			err = b.Delete([]byte(o.key))
		} else {
			err = b.Set([]byte(o.key), []byte(o.val))
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	p, err := st.Stage(b)
	if err != nil {
		t.Fatal(err)
	}
	v, _ := st.Head()
	commit(t, db, st, p, v+1)
	return p.Root()
}

func get(t testing.TB, r chain.KVReader, key string) string {
	t.Helper()
	v, err := r.Get([]byte(key))
	if err != nil {
		t.Fatal(err)
	}
	return string(v)
}

func TestRootIndependentOfWriteOrder(t *testing.T) {
	final := map[string]string{"alice": "10", "bob": "20", "carol": "30", "dave": "40", "erin": "50"}
	cases := []struct {
		name   string
		blocks [][]op
	}{
		{"one block sorted", [][]op{{{"alice", "10"}, {"bob", "20"}, {"carol", "30"}, {"dave", "40"}, {"erin", "50"}}}},
		{"one block reversed", [][]op{{{"erin", "50"}, {"dave", "40"}, {"carol", "30"}, {"bob", "20"}, {"alice", "10"}}}},
		{"overwrites within block", [][]op{{{"bob", "1"}, {"alice", "10"}, {"bob", "20"}, {"zed", "9"}, {"carol", "30"}, {"zed", ""}, {"dave", "40"}, {"erin", "50"}}}},
		{"three blocks", [][]op{{{"dave", "40"}, {"alice", "0"}}, {{"erin", "50"}, {"carol", "31"}}, {{"alice", "10"}, {"bob", "20"}, {"carol", "30"}}}},
		{"insert then delete extra", [][]op{{{"x", "1"}, {"y", "2"}, {"alice", "10"}}, {{"bob", "20"}, {"x", ""}, {"carol", "30"}}, {{"y", ""}, {"dave", "40"}, {"erin", "50"}}}},
	}
	var want chain.Hash
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			db, st := newState(t)
			var root chain.Hash
			for _, blk := range tc.blocks {
				root = apply(t, db, st, blk...)
			}
			if root.IsZero() {
				t.Fatal("zero root for non-empty state")
			}
			if i == 0 {
				want = root
			} else if root != want {
				t.Fatalf("root %s, want %s", root, want)
			}
			v, _ := st.Head()
			r := st.Reader(v)
			for k, val := range final {
				if got := get(t, r, k); got != val {
					t.Errorf("%s = %q, want %q", k, got, val)
				}
			}
		})
	}
}

func TestDeleteRestoresRoot(t *testing.T) {
	db, st := newState(t)
	base := apply(t, db, st, op{"a", "1"}, op{"b", "2"})
	withC := apply(t, db, st, op{"c", "3"})
	if withC == base {
		t.Fatal("adding a key did not change the root")
	}
	if got := apply(t, db, st, op{"c", ""}); got != base {
		t.Fatalf("after delete root %s, want %s", got, base)
	}
	if got := apply(t, db, st, op{"never-set", ""}); got != base {
		t.Fatalf("deleting an absent key changed the root: %s", got)
	}
	if got := apply(t, db, st, op{"a", ""}, op{"b", ""}); !got.IsZero() {
		t.Fatalf("empty state root %s, want zero", got)
	}
}

func TestBranchRevertSemantics(t *testing.T) {
	db, st := newState(t)
	apply(t, db, st, op{"k", "committed"}, op{"gone", "x"})

	b := st.Branch()
	must(t, b.Set([]byte("k"), []byte("top")))

	// A dropped child changes nothing.
	c := b.Branch()
	must(t, c.Set([]byte("k"), []byte("child")))
	must(t, c.Delete([]byte("gone")))
	must(t, c.Set([]byte("new"), []byte("n")))
	if got := get(t, c, "k"); got != "child" {
		t.Fatalf("child sees %q", got)
	}
	if got := get(t, c, "gone"); got != "" {
		t.Fatalf("child sees deleted key as %q", got)
	}
	if got := get(t, b, "k"); got != "top" {
		t.Fatalf("parent sees child's write before Write: %q", got)
	}
	if got := get(t, b, "gone"); got != "x" {
		t.Fatalf("parent lost committed key: %q", got)
	}

	// A written child (with its own grandchild written) lands in the parent.
	c2 := b.Branch()
	g := c2.Branch()
	must(t, g.Set([]byte("deep"), []byte("d")))
	must(t, g.Write())
	must(t, c2.Delete([]byte("k")))
	must(t, c2.Write())
	if got := get(t, b, "deep"); got != "d" {
		t.Fatalf("grandchild write lost: %q", got)
	}
	if got := get(t, b, "k"); got != "" {
		t.Fatalf("child delete lost: %q", got)
	}
	if err := c2.Set([]byte("x"), []byte("y")); !errors.Is(err, ErrClosed) {
		t.Fatalf("write to closed child: %v", err)
	}
	if err := c2.Write(); !errors.Is(err, ErrClosed) {
		t.Fatalf("second Write: %v", err)
	}
	if err := b.Write(); !errors.Is(err, ErrNotRoot) {
		t.Fatalf("Write on top-level branch: %v", err)
	}

	// Editing a returned value must not reach the stored one.
	v, _ := b.Get([]byte("deep"))
	v[0] = 'X'
	if got := get(t, b, "deep"); got != "d" {
		t.Fatalf("Get returned an alias: %q", got)
	}

	// Committed state stays untouched by any branch.
	r := st.Reader(1)
	if get(t, r, "k") != "committed" || get(t, r, "new") != "" || get(t, r, "deep") != "" {
		t.Fatal("branch writes leaked into committed state")
	}
}

func TestBranchRejectsBadInput(t *testing.T) {
	_, st := newState(t)
	b := st.Branch()
	cases := []struct {
		name string
		err  error
		want error
	}{
		{"empty key set", b.Set(nil, []byte("v")), ErrEmptyKey},
		{"empty key get", func() error { _, err := b.Get([]byte{}); return err }(), ErrEmptyKey},
		{"empty value", b.Set([]byte("k"), []byte{}), ErrEmptyValue},
		{"long key", b.Set(make([]byte, MaxKeyLen+1), []byte("v")), ErrKeyTooLong},
		{"long key delete", b.Delete(make([]byte, MaxKeyLen+1)), ErrKeyTooLong},
		{"key in the next-key records' space", b.Set([]byte{0, 'k'}, []byte("v")), ErrReservedKey},
	}
	for _, tc := range cases {
		if !errors.Is(tc.err, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, tc.err, tc.want)
		}
	}
}

func TestIterateMergesOverlayAndCommitted(t *testing.T) {
	db, st := newState(t)
	apply(t, db, st, op{"a1", "c1"}, op{"a3", "c3"}, op{"a5", "c5"}, op{"a7", "c7"}, op{"b1", "cb"}, op{"0", "z"})
	b := st.Branch()
	must(t, b.Set([]byte("a2"), []byte("o2")))
	must(t, b.Delete([]byte("a3")))
	must(t, b.Set([]byte("a5"), []byte("o5")))
	must(t, b.Set([]byte("a9"), []byte("o9")))
	c := b.Branch()
	must(t, c.Set([]byte("a4"), []byte("x4")))
	must(t, c.Delete([]byte("a7")))
	must(t, c.Set([]byte("a3"), []byte("x3"))) // child revives a key the parent deleted

	collect := func(r chain.KVReader, prefix string, limit int) string {
		var out []string
		err := r.Iterate([]byte(prefix), func(k, v []byte) (bool, error) {
			out = append(out, string(k)+"="+string(v))
			return limit > 0 && len(out) == limit, nil
		})
		must(t, err)
		return fmt.Sprint(out)
	}
	cases := []struct {
		name   string
		r      chain.KVReader
		prefix string
		limit  int
		want   string
	}{
		{"child", c, "a", 0, "[a1=c1 a2=o2 a3=x3 a4=x4 a5=o5 a9=o9]"},
		{"parent", b, "a", 0, "[a1=c1 a2=o2 a5=o5 a7=c7 a9=o9]"},
		{"committed", st.Reader(1), "a", 0, "[a1=c1 a3=c3 a5=c5 a7=c7]"},
		{"stop early", c, "a", 3, "[a1=c1 a2=o2 a3=x3]"},
		{"all keys", b, "", 0, "[0=z a1=c1 a2=o2 a5=o5 a7=c7 a9=o9 b1=cb]"},
		{"no match", c, "q", 0, "[]"},
	}
	for _, tc := range cases {
		if got := collect(tc.r, tc.prefix, tc.limit); got != tc.want {
			t.Errorf("%s: got %s, want %s", tc.name, got, tc.want)
		}
	}
	wantErr := errors.New("boom")
	if err := c.Iterate(nil, func(k, v []byte) (bool, error) { return false, wantErr }); !errors.Is(err, wantErr) {
		t.Fatalf("callback error not returned: %v", err)
	}
}

func TestReopenGivesSameRootAndValues(t *testing.T) {
	dir := t.TempDir()
	db := openDB(t, dir)
	st, err := New(db, 0, chain.Hash{})
	must(t, err)
	r1 := apply(t, db, st, op{"acct/1", "100"}, op{"acct/2", "200"})
	r2 := apply(t, db, st, op{"acct/1", "50"}, op{"acct/3", "300"}, op{"acct/2", ""})
	must(t, db.Close())

	db = openDB(t, dir)
	defer db.Close()
	if _, err := New(db, 2, r1); !errors.Is(err, ErrRootMismatch) {
		t.Fatalf("wrong root accepted: %v", err)
	}
	st, err = New(db, 2, r2)
	must(t, err)
	if got, _ := st.Root(1); got != r1 {
		t.Fatalf("root of version 1 = %s, want %s", got, r1)
	}
	b := st.Branch()
	if get(t, b, "acct/1") != "50" || get(t, b, "acct/2") != "" || get(t, b, "acct/3") != "300" {
		t.Fatal("values differ after reopen")
	}
	if get(t, st.Reader(1), "acct/2") != "200" {
		t.Fatal("old version lost after reopen")
	}
	// The reopened trie keeps working: the next block builds on it and
	// matches a node that never restarted.
	r3 := apply(t, db, st, op{"acct/4", "1"})
	db2, st2 := newState(t)
	apply(t, db2, st2, op{"acct/1", "50"}, op{"acct/3", "300"}, op{"acct/4", "1"})
	if _, want := st2.Head(); r3 != want {
		t.Fatalf("root after restart %s, fresh node %s", r3, want)
	}
}

func TestStagedCandidatesStayInvisible(t *testing.T) {
	db, st := newState(t)
	base := apply(t, db, st, op{"k", "0"})

	ba := st.Branch()
	must(t, ba.Set([]byte("k"), []byte("A")))
	must(t, ba.Set([]byte("onlyA"), []byte("a")))
	pa, err := st.Stage(ba)
	must(t, err)
	bb := st.Branch()
	must(t, bb.Set([]byte("k"), []byte("B")))
	must(t, bb.Set([]byte("onlyB"), []byte("b")))
	pb, err := st.Stage(bb)
	must(t, err)
	if pa.Root() == pb.Root() || pa.Root() == base {
		t.Fatal("candidates should have distinct roots")
	}
	if v, root := st.Head(); v != 1 || root != base {
		t.Fatal("staging moved the head")
	}

	commit(t, db, st, pb, 2)
	if err := st.Committed(pa, 3); !errors.Is(err, ErrStaleBranch) {
		t.Fatalf("committing the other candidate: %v", err)
	}
	if _, err := st.Stage(ba); !errors.Is(err, ErrStaleBranch) {
		t.Fatalf("staging a branch from the old head: %v", err)
	}
	for _, r := range []chain.KVReader{st.Reader(2), st.Branch()} {
		if get(t, r, "k") != "B" || get(t, r, "onlyB") != "b" || get(t, r, "onlyA") != "" {
			t.Fatal("committed state does not match the committed candidate")
		}
	}
	proof, err := st.Prove(2, []byte("onlyA"))
	must(t, err)
	must(t, VerifyProof(pb.Root(), []byte("onlyA"), nil, proof))
}

func TestProofs(t *testing.T) {
	db, st := newState(t)
	emptyProof, err := st.Prove(0, []byte("k1"))
	must(t, err)
	must(t, VerifyProof(chain.Hash{}, []byte("k1"), nil, emptyProof))

	var ops []op
	for i := 0; i < 50; i++ {
		ops = append(ops, op{fmt.Sprintf("k%d", i), fmt.Sprintf("v%d", i)})
	}
	r1 := apply(t, db, st, ops...)
	r2 := apply(t, db, st, op{"k1", "changed"})

	member, err := st.Prove(1, []byte("k1"))
	must(t, err)
	absent, err := st.Prove(2, []byte("nope"))
	must(t, err)
	current, err := st.Prove(2, []byte("k1"))
	must(t, err)

	tamperedSide := &Proof{SideNodes: append([][]byte(nil), member.SideNodes...)}
	tamperedSide.SideNodes[0] = bytes.Repeat([]byte{7}, hashLen)
	badRoot := r1
	badRoot[0] ^= 1

	cases := []struct {
		name  string
		root  chain.Hash
		key   string
		value []byte
		p     *Proof
		ok    bool
	}{
		{"membership", r1, "k1", []byte("v1"), member, true},
		{"membership at new version", r2, "k1", []byte("changed"), current, true},
		{"absence", r2, "nope", nil, absent, true},
		{"absence with empty value", r2, "nope", []byte{}, absent, true},
		{"tampered value", r1, "k1", []byte("v2"), member, false},
		{"old value against new root", r2, "k1", []byte("v1"), current, false},
		{"tampered root", badRoot, "k1", []byte("v1"), member, false},
		{"other key", r1, "k2", []byte("v1"), member, false},
		{"claim absence of present key", r1, "k1", nil, member, false},
		{"absence proof as membership", r2, "nope", []byte("x"), absent, false},
		{"tampered side node", r1, "k1", []byte("v1"), tamperedSide, false},
		{"nil proof", r1, "k1", []byte("v1"), nil, false},
		{"short side node", r1, "k1", []byte("v1"), &Proof{SideNodes: [][]byte{{1, 2}}}, false},
		{"bad other leaf", r2, "nope", nil, &Proof{SideNodes: absent.SideNodes, OtherLeaf: []byte{9}}, false},
	}
	for _, tc := range cases {
		err := VerifyProof(tc.root, []byte(tc.key), tc.value, tc.p)
		if tc.ok && err != nil {
			t.Errorf("%s: %v", tc.name, err)
		}
		if !tc.ok && !errors.Is(err, chain.ErrBadProof) {
			t.Errorf("%s: got %v, want ErrBadProof", tc.name, err)
		}
	}

	if _, err := st.Prove(3, []byte("k1")); !errors.Is(err, ErrVersion) {
		t.Fatalf("proof at future version: %v", err)
	}
}

func TestProofEncodings(t *testing.T) {
	db, st := newState(t)
	root := apply(t, db, st, op{"a", "1"}, op{"b", "2"}, op{"c", "3"})
	codec := chain.MustCodec()
	for _, key := range []string{"b", "missing"} {
		p, err := st.Prove(1, []byte(key))
		must(t, err)
		val, _ := st.Reader(1).Get([]byte(key))

		js, err := json.Marshal(p)
		must(t, err)
		var fromJSON Proof
		must(t, json.Unmarshal(js, &fromJSON))
		must(t, VerifyProof(root, []byte(key), val, &fromJSON))

		cb, err := codec.Marshal(p)
		must(t, err)
		var fromCBOR Proof
		must(t, codec.UnmarshalCanonical(cb, &fromCBOR))
		must(t, VerifyProof(root, []byte(key), val, &fromCBOR))
	}
}

func TestReaderSeesItsVersion(t *testing.T) {
	db, st := newState(t)
	apply(t, db, st, op{"k", "one"})
	old := st.Reader(1)
	b := st.Branch() // on version 1
	apply(t, db, st, op{"k", "two"})
	if get(t, old, "k") != "one" || get(t, b, "k") != "one" {
		t.Fatal("a view of version 1 saw version 2")
	}
	if get(t, st.Reader(2), "k") != "two" || get(t, st.Reader(0), "k") != "" {
		t.Fatal("wrong values by version")
	}
}

func FuzzVerifyProof(f *testing.F) {
	codec := chain.MustCodec()
	seed, _ := codec.Marshal(&Proof{SideNodes: [][]byte{bytes.Repeat([]byte{1}, hashLen)}})
	f.Add(seed, []byte("k"), []byte("v"))
	leaf := append([]byte{0}, bytes.Repeat([]byte{2}, 2*hashLen)...)
	seed2, _ := codec.Marshal(&Proof{OtherLeaf: leaf})
	f.Add(seed2, []byte("k"), []byte(nil))
	f.Add([]byte{0x82, 0x80, 0x41, 0x02}, []byte("k"), []byte(nil))
	f.Fuzz(func(t *testing.T, data, key, value []byte) {
		var p Proof
		if err := codec.Unmarshal(data, &p); err != nil {
			return
		}
		root := chain.Sum256(data)
		if err := VerifyProof(root, key, value, &p); err == nil {
			t.Fatalf("random proof verified against a random root")
		}
	})
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestStageAndCommitMisuse(t *testing.T) {
	db, st := newState(t)
	apply(t, db, st, op{"a", "1"})
	b := st.Branch()
	if _, err := st.Stage(b.Branch()); !errors.Is(err, ErrNotRoot) {
		t.Fatalf("staging a child: %v", err)
	}
	must(t, b.Set([]byte("b"), []byte("2")))
	p, err := st.Stage(b)
	must(t, err)
	if err := st.Committed(p, 1); !errors.Is(err, ErrVersion) {
		t.Fatalf("commit at the head version: %v", err)
	}
	if _, err := New(db, 1, chain.Hash{1}); !errors.Is(err, ErrRootMismatch) {
		t.Fatalf("New with a wrong root: %v", err)
	}
}
