package state

import (
	"errors"
	"fmt"
	"testing"

	"github.com/dure-network/dure/chain"
)

// fill commits n keys over a few versions (with an overwrite and a
// delete) and returns the head version and root.
func fill(t *testing.T, n int) (*State, uint64, chain.Hash) {
	return fillOpts(t, n, Options{})
}

func fillOpts(t *testing.T, n int, opts Options) (*State, uint64, chain.Hash) {
	t.Helper()
	db, st := newStateOpts(t, opts)
	var ops []op
	for i := range n {
		ops = append(ops, op{fmt.Sprintf("k/%05d", i), fmt.Sprintf("value-%d", i)})
	}
	apply(t, db, st, ops...)
	apply(t, db, st, op{"k/00001", "changed"}, op{"k/00002", ""})
	v, root := st.Head()
	return st, v, root
}

func exportAll(t *testing.T, st *State, version uint64, max int) (chunks [][]Pair) {
	t.Helper()
	var after []byte
	for {
		pairs, more, err := st.Chunk(version, after, max)
		if err != nil {
			t.Fatal(err)
		}
		chunks = append(chunks, pairs)
		if !more {
			return chunks
		}
		after = pairs[len(pairs)-1].Key
	}
}

// Chunks of the state at a version, imported into an empty database,
// rebuild the same root; the result opens as a state at that version.
// With the key-order index, the importer rebuilds the next-key records
// from the pairs alone (they are not exported).
func TestChunkExportImportRoundTrip(t *testing.T) {
	for _, opts := range []Options{{}, {RangeProofs: true}} {
		t.Run(fmt.Sprintf("range_proofs=%v", opts.RangeProofs), func(t *testing.T) { roundTrip(t, opts) })
	}
}

func roundTrip(t *testing.T, opts Options) {
	st, v, root := fillOpts(t, 500, opts)
	chunks := exportAll(t, st, v, 1000)
	if len(chunks) < 5 {
		t.Fatalf("%d chunks of ≤1000 bytes for 500 pairs", len(chunks))
	}
	total := 0
	for _, c := range chunks {
		total += len(c)
	}
	if total != 499 {
		t.Fatalf("exported %d pairs, want 499 (one deleted)", total)
	}
	db2, _ := newState(t)
	im, err := NewImporter(db2, opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range chunks {
		if err := im.Add(c); err != nil {
			t.Fatal(err)
		}
	}
	p, err := im.Finish(root)
	if err != nil {
		t.Fatal(err)
	}
	wb := db2.NewWriteBatchAt(v)
	must(t, p.WriteTo(batchWriter{wb}))
	must(t, wb.Flush())
	st2, err := New(db2, v, root)
	if err != nil {
		t.Fatal(err)
	}
	if got := get(t, st2.Reader(v), "k/00001"); got != "changed" {
		t.Fatalf("imported k/00001 = %q", got)
	}
	if _, err := st2.Prove(v, []byte("k/00003")); err != nil {
		t.Fatalf("proof on the imported state: %v", err)
	}
	if st2.Indexed() != opts.RangeProofs {
		t.Fatalf("imported state indexed %v", st2.Indexed())
	}
	// An older version still exports its own pairs.
	if old := exportAll(t, st, v-1, 1<<20); len(old[0]) != 500 {
		t.Fatalf("version %d exports %d pairs, want 500", v-1, len(old[0]))
	}
}

// A lying source is caught: a changed value gives another root, and keys
// out of order are refused at once.
func TestImportRefusesLies(t *testing.T) {
	st, v, root := fill(t, 50)
	chunks := exportAll(t, st, v, 200)

	db2, _ := newState(t)
	im, err := NewImporter(db2, Options{})
	must(t, err)
	for i, c := range chunks {
		if i == 1 {
			c = append([]Pair(nil), c...)
			c[0] = Pair{Key: c[0].Key, Value: []byte("forged")}
		}
		must(t, im.Add(c))
	}
	if _, err := im.Finish(root); !errors.Is(err, ErrRootMismatch) {
		t.Fatalf("forged value: Finish = %v, want ErrRootMismatch", err)
	}
	// A dropped chunk too.
	im, err = NewImporter(db2, Options{})
	must(t, err)
	for i, c := range chunks {
		if i != 2 {
			must(t, im.Add(c))
		}
	}
	if _, err := im.Finish(root); !errors.Is(err, ErrRootMismatch) {
		t.Fatalf("missing chunk: Finish = %v, want ErrRootMismatch", err)
	}
	im, err = NewImporter(db2, Options{})
	must(t, err)
	must(t, im.Add(chunks[1]))
	if err := im.Add(chunks[0]); !errors.Is(err, ErrChunkOrder) {
		t.Fatalf("chunk replayed out of order: %v, want ErrChunkOrder", err)
	}
}
