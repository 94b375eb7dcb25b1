package state

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/dure-network/dure/chain"
)

func newIndexed(t testing.TB) (*State, func(ops ...op) chain.Hash) {
	t.Helper()
	db, st := newStateOpts(t, Options{RangeProofs: true, SnapshotEvery: 4})
	return st, func(ops ...op) chain.Hash { return apply(t, db, st, ops...) }
}

// flatKeys is what the flat store holds under prefix at the head.
func flatKeys(t testing.TB, st *State, prefix string) []string {
	t.Helper()
	v, _ := st.Head()
	var out []string
	if err := st.Reader(v).Iterate([]byte(prefix), func(k, _ []byte) (bool, error) {
		out = append(out, string(k))
		return false, nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// provenList proves prefix at the head as a node would (values of the keys
// it lists up to limit, and the range) and lists it as a client would.
func provenList(t testing.TB, st *State, prefix string, limit int) ([]string, List, error) {
	t.Helper()
	v, root := st.Head()
	keys := flatKeys(t, st, prefix)
	if limit > 0 && len(keys) > limit {
		keys = keys[:limit]
	}
	var through []byte
	if len(keys) > 0 {
		through = []byte(keys[len(keys)-1])
	}
	rp, err := st.ProveRange(v, []byte(prefix), through)
	if err != nil {
		t.Fatal(err)
	}
	pv := NewProven(root)
	for _, kp := range rp {
		if err := pv.Add(kp.Key, kp.Value, kp.Proof); err != nil {
			t.Fatalf("range proof of %q: %v", prefix, err)
		}
	}
	r := st.Reader(v)
	for _, k := range keys {
		val, _ := r.Get([]byte(k))
		p, err := st.Prove(v, []byte(k))
		if err != nil {
			t.Fatal(err)
		}
		if err := pv.Add([]byte(k), val, p); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	err = pv.Iterate([]byte(prefix), func(k, _ []byte) (bool, error) {
		got = append(got, string(k))
		return limit > 0 && len(got) >= limit, nil
	})
	var l List
	if ls := pv.Lists(); len(ls) > 0 {
		l = ls[len(ls)-1]
	}
	return got, l, err
}

func TestRangeProofsListExactlyTheKeys(t *testing.T) {
	st, apply := newIndexed(t)
	apply(op{"a/1", "x"}, op{"b/1", "x"}, op{"b/2", "x"}, op{"b/3", "x"}, op{"c/1", "x"})
	for _, c := range []struct {
		name   string
		ops    []op
		prefix string
		limit  int
		want   []string
		status ListStatus
	}{
		{"middle prefix", nil, "b/", 0, []string{"b/1", "b/2", "b/3"}, ListComplete},
		{"first prefix (from the head)", nil, "a/", 0, []string{"a/1"}, ListComplete},
		{"last prefix (to the end)", nil, "c/", 0, []string{"c/1"}, ListComplete},
		{"everything", nil, "", 0, []string{"a/1", "b/1", "b/2", "b/3", "c/1"}, ListComplete},
		{"empty prefix between keys: absence with count 0", nil, "bb/", 0, nil, ListComplete},
		{"empty prefix before every key", nil, "0/", 0, nil, ListComplete},
		{"empty prefix after every key", nil, "z/", 0, nil, ListComplete},
		{"a page of two, more follow", nil, "b/", 2, []string{"b/1", "b/2"}, ListPage},
		{"a page as long as the list", nil, "b/", 3, []string{"b/1", "b/2", "b/3"}, ListComplete},
		{"delete in the middle", []op{{"b/2", ""}}, "b/", 0, []string{"b/1", "b/3"}, ListComplete},
		{"re-create", []op{{"b/2", "y"}}, "b/", 0, []string{"b/1", "b/2", "b/3"}, ListComplete},
		{"delete the whole prefix", []op{{"b/1", ""}, {"b/2", ""}, {"b/3", ""}}, "b/", 0, nil, ListComplete},
		{"create it again, and before it", []op{{"b/0", "y"}, {"a/0", "y"}}, "b/", 0, []string{"b/0"}, ListComplete},
		{"delete the first key", []op{{"a/0", ""}, {"a/1", ""}}, "", 0, []string{"b/0", "c/1"}, ListComplete},
		{"delete the last key and add after it", []op{{"c/1", ""}, {"d/1", "y"}}, "", 0, []string{"b/0", "d/1"}, ListComplete},
		{"a value change writes no record", []op{{"b/0", "z"}}, "b/", 0, []string{"b/0"}, ListComplete},
		{"delete every key", []op{{"b/0", ""}, {"d/1", ""}}, "", 0, nil, ListComplete},
		{"and create one on the empty state", []op{{"m", "1"}}, "", 0, []string{"m"}, ListComplete},
	} {
		if c.ops != nil {
			apply(c.ops...)
		}
		got, l, err := provenList(t, st, c.prefix, c.limit)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if fmt.Sprint(got) != fmt.Sprint(c.want) || l.Status != c.status || l.Entries != len(c.want) {
			t.Errorf("%s: proven %q status %d entries %d, want %q status %d", c.name, got, l.Status, l.Entries, c.want, c.status)
		}
		if flat := flatKeys(t, st, c.prefix); c.limit == 0 && fmt.Sprint(flat) != fmt.Sprint(got) {
			t.Errorf("%s: flat store has %q", c.name, flat)
		}
	}
}

// TestRangeRootIsAFunctionOfTheState: random blocks of creations,
// deletions and changes; after each, every prefix proves exactly the flat
// keys, and the root equals that of a fresh state given the same pairs in
// one block (the records depend on the key set only, not on history), and
// reopening replays to the same root.
func TestRangeRootIsAFunctionOfTheState(t *testing.T) {
	dir := t.TempDir()
	db := openDB(t, dir)
	st, err := Open(db, 0, chain.Hash{}, Options{RangeProofs: true, SnapshotEvery: 5})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	key := func() string { return fmt.Sprintf("%c/%02d", 'a'+rng.IntN(4), rng.IntN(30)) }
	var root chain.Hash
	for round := range 40 {
		var ops []op
		for range 1 + rng.IntN(25) {
			if rng.IntN(3) == 0 {
				ops = append(ops, op{key(), ""})
			} else {
				ops = append(ops, op{key(), fmt.Sprint(round)})
			}
		}
		root = apply(t, db, st, ops...)
		for _, p := range []string{"", "a/", "b/", "c/", "d/", "b/1", "e/", "0"} {
			got, l, err := provenList(t, st, p, 0)
			if err != nil || l.Status != ListComplete {
				t.Fatalf("round %d prefix %q: %v (status %d)", round, p, err, l.Status)
			}
			if want := flatKeys(t, st, p); fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("round %d prefix %q: proven %q, flat %q", round, p, got, want)
			}
		}
		_, fresh := newIndexed(t)
		var all []op
		for _, k := range flatKeys(t, st, "") {
			all = append(all, op{k, get(t, st.Reader(uint64(round+1)), k)})
		}
		if r := fresh(all...); r != root {
			t.Fatalf("round %d: root %s, a fresh state with the same %d pairs has %s", round, root, len(all), r)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = openDB(t, dir)
	defer db.Close()
	st2, err := Open(db, 40, root, Options{})
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	if !st2.Indexed() {
		t.Fatal("reopened state does not know it is indexed")
	}
	if got, _, err := provenList(t, st2, "b/", 0); err != nil || fmt.Sprint(got) != fmt.Sprint(flatKeys(t, st2, "b/")) {
		t.Fatalf("after reopen: %q %v", got, err)
	}
}

func TestRangeProofsChangeNothingWithoutTheIndex(t *testing.T) {
	db, plain := newState(t)
	_, indexed := newIndexed(t)
	ops := []op{{"a/1", "x"}, {"b/1", "x"}}
	r1 := apply(t, db, plain, ops...)
	r2 := indexed(ops...)
	if r1 == r2 {
		t.Fatal("the index did not change the root")
	}
	// The unindexed root is the plain sparse-Merkle root of the pairs:
	// a key's proof verifies with no record involved.
	p, err := plain.Prove(1, []byte("a/1"))
	if err != nil || VerifyProof(r1, []byte("a/1"), []byte("x"), p) != nil {
		t.Fatalf("plain proof: %v", err)
	}
	if plain.Indexed() {
		t.Fatal("a state opened without RangeProofs is indexed")
	}
	// An unindexed state proves the head record absent: the list is
	// marked unproven, never empty-and-complete.
	got, l, err := provenList(t, plain, "b/", 0)
	if err != nil || l.Status != ListUnindexed || fmt.Sprint(got) != "[b/1]" {
		t.Fatalf("unindexed list: %q status %d %v", got, l.Status, err)
	}
	if d := DescribeLists([]List{l}); !strings.Contains(d, "NOT proven") {
		t.Fatalf("description %q", d)
	}
	if err := plain.Branch().Set([]byte{0, 'x'}, []byte("v")); !errors.Is(err, ErrReservedKey) {
		t.Fatalf("key starting with 0x00: %v", err)
	}
}

// TestProvenRefusesLies: what a node could send instead of the honest
// range proof, each caught.
func TestProvenRefusesLies(t *testing.T) {
	st, apply := newIndexed(t)
	root := apply(op{"a/1", "x"}, op{"b/1", "x"}, op{"b/2", "y"}, op{"b/3", "z"}, op{"c/1", "x"})
	v, _ := st.Head()
	honest := func() []KeyProof {
		rp, err := st.ProveRange(v, []byte("b/"), []byte("b/3"))
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{"b/1", "b/2", "b/3"} {
			p, _ := st.Prove(v, []byte(k))
			val, _ := st.Reader(v).Get([]byte(k))
			rp = append(rp, KeyProof{Key: []byte(k), Value: val, Proof: p})
		}
		return rp
	}
	list := func(kps []KeyProof) ([]string, error) {
		pv := NewProven(root)
		for _, kp := range kps {
			if err := pv.Add(kp.Key, kp.Value, kp.Proof); err != nil {
				return nil, err
			}
		}
		var got []string
		err := pv.Iterate([]byte("b/"), func(k, _ []byte) (bool, error) { got = append(got, string(k)); return false, nil })
		return got, err
	}
	if got, err := list(honest()); err != nil || fmt.Sprint(got) != "[b/1 b/2 b/3]" {
		t.Fatalf("honest: %q %v", got, err)
	}
	without := func(kps []KeyProof, key []byte) []KeyProof {
		var out []KeyProof
		for _, kp := range kps {
			if !bytes.Equal(kp.Key, key) {
				out = append(out, kp)
			}
		}
		return out
	}
	forged := func(kps []KeyProof, key []byte, val []byte) []KeyProof {
		for i := range kps {
			if bytes.Equal(kps[i].Key, key) {
				kps[i].Value = val
			}
		}
		return kps
	}
	for _, c := range []struct {
		name string
		kps  []KeyProof
		want error
	}{
		{"drop an entry's value", without(honest(), []byte("b/2")), ErrUnproven},
		{"drop an entry and its record", without(without(honest(), []byte("b/2")), LinkKey([]byte("b/2"))), ErrUnproven},
		{"skip an entry in the record before it", forged(honest(), LinkKey([]byte("b/1")), []byte("b/3")), chain.ErrBadProof},
		{"end the list early", forged(honest(), LinkKey([]byte("b/2")), LinkValue(nil)), chain.ErrBadProof},
		{"add an entry", append(forged(honest(), LinkKey([]byte("b/1")), []byte("b/15")),
			KeyProof{Key: []byte("b/15"), Value: []byte("x"), Proof: honest()[0].Proof}), chain.ErrBadProof},
		{"no record before the range", without(honest(), LinkKey([]byte("a/1"))), ErrUnproven},
		{"claim no index", append(without(honest(), LinkKey([]byte("a/1"))), KeyProof{Key: LinkKey(nil), Proof: honest()[0].Proof}), chain.ErrBadProof},
	} {
		got, err := list(c.kps)
		if !errors.Is(err, c.want) {
			t.Errorf("%s: listed %q, err %v, want %v", c.name, got, err, c.want)
		}
	}
}

func TestDecodeLinkStrict(t *testing.T) {
	for _, c := range []struct {
		in   []byte
		next []byte
		ok   bool
	}{
		{[]byte{0}, nil, true},
		{[]byte("a/1"), []byte("a/1"), true},
		{nil, nil, false},
		{[]byte{0, 'a'}, nil, false},
		{bytes.Repeat([]byte("k"), MaxKeyLen+1), nil, false},
	} {
		next, err := DecodeLink(c.in)
		if (err == nil) != c.ok || !bytes.Equal(next, c.next) {
			t.Errorf("DecodeLink(%q) = %q, %v", c.in, next, err)
		}
		if c.ok && !bytes.Equal(LinkValue(next), c.in) {
			t.Errorf("LinkValue(%q) = %q, want %q", next, LinkValue(next), c.in)
		}
	}
}

// FuzzProvenIterate feeds arbitrary next-key records and values (as if
// verified) to a Proven: Iterate must end, visit keys strictly ascending
// under the prefix, each with a recorded value, and only ever along the
// records.
func FuzzProvenIterate(f *testing.F) {
	f.Add([]byte("\x00\x00a/1\x00a/1\x00b/1"), []byte("b/"))
	f.Add([]byte("\x00a/1\x00b/1\x00b/1\x00b/2\x00b/2\x00\x00"), []byte("b/"))
	f.Add([]byte("\x00\x00"), []byte(""))
	f.Fuzz(func(t *testing.T, recs, prefix []byte) {
		pv := NewProven(chain.Hash{})
		// recs: (record owner, record value) pairs separated by 0x00; a
		// value that is a key gets a value of its own.
		parts := bytes.Split(recs, []byte{0})
		for i := 0; i+1 < len(parts); i += 2 {
			_ = pv.add(LinkKey(parts[i]), parts[i+1])
			if len(parts[i+1]) > 0 && parts[i+1][0] != 0 {
				_ = pv.add(parts[i+1], []byte("v"))
			}
		}
		var last []byte
		n := 0
		_ = pv.Iterate(prefix, func(k, v []byte) (bool, error) {
			n++
			if n > len(parts)+1 {
				t.Fatalf("visited %d keys from %d records", n, len(parts)/2)
			}
			if !bytes.HasPrefix(k, prefix) || (last != nil && bytes.Compare(k, last) <= 0) || len(v) == 0 {
				t.Fatalf("visited %q after %q under %q (value %q)", k, last, prefix, v)
			}
			last = bytes.Clone(k)
			return false, nil
		})
	})
}

// TestUnindexedRootUnchanged: without RangeProofs (a genesis written before
// range proofs) the root of the same writes is the one the code before the
// key-order index computed (recorded from commit 53a5e0f), so such chains
// replay from genesis to the roots in their headers.
func TestUnindexedRootUnchanged(t *testing.T) {
	db, st := newState(t)
	apply(t, db, st, op{"a/1", "x"}, op{"b/1", "y"}, op{"b/2", "z"})
	r := apply(t, db, st, op{"b/1", ""}, op{"c/1", "w"})
	if got, want := r.String(), "6e966a4f514b101136fb3395ed1db909b0d707fcc2da17a17fde1d333166b0e4"; got != want {
		t.Fatalf("root %s, before the index %s", got, want)
	}
}

// TestRecordsWrittenOnlyOnCreateAndDelete: the write cost the index adds
// to a block: nothing for value changes; for a created key its own record
// and its predecessor's; for a deleted one its record's removal and its
// predecessor's; a run of created keys shares one predecessor.
func TestRecordsWrittenOnlyOnCreateAndDelete(t *testing.T) {
	st, apply := newIndexed(t)
	apply(op{"a", "1"}, op{"c", "1"}, op{"e", "1"})
	for _, c := range []struct {
		name string
		ops  []op
		want []string // trie keys of the records the block writes ("-" deletes)
	}{
		{"value changes only", []op{{"a", "2"}, {"c", "2"}}, nil},
		{"one created key", []op{{"b", "1"}}, []string{"\x00a", "\x00b"}},
		{"a run of created keys", []op{{"f", "1"}, {"g", "1"}, {"h", "1"}}, []string{"\x00e", "\x00f", "\x00g", "\x00h"}},
		{"a key before every other", []op{{"0", "1"}}, []string{"\x00", "\x000"}},
		{"one deleted key", []op{{"c", ""}}, []string{"\x00b", "-\x00c"}},
		{"a deleted and a created key", []op{{"g", ""}, {"d", "1"}}, []string{"\x00b", "\x00d", "\x00f", "-\x00g"}},
	} {
		b := st.Branch()
		for _, o := range c.ops {
			if o.val == "" {
				must(t, b.Delete([]byte(o.key)))
			} else {
				must(t, b.Set([]byte(o.key), []byte(o.val)))
			}
		}
		p, err := st.Stage(b)
		must(t, err)
		var got []string
		for _, l := range p.links {
			if l.val == nil {
				got = append(got, "-"+l.key)
			} else {
				got = append(got, l.key)
			}
		}
		if fmt.Sprintf("%q", got) != fmt.Sprintf("%q", c.want) {
			t.Errorf("%s: records %q, want %q", c.name, got, c.want)
		}
		apply(c.ops...)
	}
}
