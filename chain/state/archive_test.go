package state

import (
	"fmt"
	"testing"

	"github.com/dure-network/dure/chain"
)

// An archive node skips orphan deletes (WriteToArchive). It must read the
// same roots and values as a pruning node at every version and the same
// proofs in the proof window, and write strictly fewer entries when the
// trie changes shape.
func TestArchiveWritesMatchPruningWrites(t *testing.T) {
	opts := Options{SnapshotEvery: 2, ProofWindow: 2}
	dbP, stP := newStateOpts(t, opts)
	dbA, stA := newStateOpts(t, opts)
	var entriesP, entriesA int
	roots := map[uint64]chain.Hash{}
	for blk := 1; blk <= 6; blk++ {
		var pends [2]*Pending
		for i, st := range []*State{stP, stA} {
			b := st.Branch()
			for k := 0; k < 40; k++ {
				key := []byte(fmt.Sprintf("acct/%03d", (blk*13+k*7)%97))
				if k%9 == 0 && blk > 1 {
					must(t, b.Delete(key))
					continue
				}
				must(t, b.Set(key, []byte(fmt.Sprintf("bal-%d-%d", blk, k))))
			}
			p, err := st.Stage(b)
			must(t, err)
			pends[i] = p
		}
		if pends[0].Root() != pends[1].Root() {
			t.Fatalf("block %d: roots differ before writing", blk)
		}
		for i, db := range []struct {
			st    *State
			write func(chain.KVWriter) error
			count *int
		}{{stP, pends[0].WriteTo, &entriesP}, {stA, pends[1].WriteToArchive, &entriesA}} {
			d := dbP
			if i == 1 {
				d = dbA
			}
			wb := d.NewWriteBatchAt(uint64(blk))
			cw := &countingWriter{w: batchWriter{wb}}
			must(t, db.write(cw))
			must(t, wb.Flush())
			must(t, db.st.Committed(pends[i], uint64(blk)))
			*db.count += cw.n
		}
		roots[uint64(blk)] = pends[0].Root()
	}
	if entriesA >= entriesP {
		t.Fatalf("archive wrote %d entries, pruning %d: expected fewer", entriesA, entriesP)
	}
	for v := uint64(6 - opts.ProofWindow); v <= 6; v++ {
		for k := 0; k < 97; k += 5 {
			key := []byte(fmt.Sprintf("acct/%03d", k))
			a, err := stA.Reader(v).Get(key)
			must(t, err)
			p, err := stP.Reader(v).Get(key)
			must(t, err)
			if string(a) != string(p) {
				t.Fatalf("v%d %s: archive %q, pruning %q", v, key, a, p)
			}
			proof, err := stA.Prove(v, key)
			must(t, err)
			if err := VerifyProof(roots[v], key, a, proof); err != nil {
				t.Fatalf("v%d %s: archive proof: %v", v, key, err)
			}
		}
	}
}

type countingWriter struct {
	w chain.KVWriter
	n int
}

func (c *countingWriter) Set(k, v []byte) error { c.n++; return c.w.Set(k, v) }
func (c *countingWriter) Delete(k []byte) error { c.n++; return c.w.Delete(k) }
