package state

import (
	"encoding/binary"
	"fmt"
	"testing"
)

func benchKey(i int) []byte { return []byte(fmt.Sprintf("bank/bal/%08d", i)) }

func benchVal(i, round int) []byte {
	v := make([]byte, 16)
	binary.BigEndian.PutUint64(v, uint64(i))
	binary.BigEndian.PutUint64(v[8:], uint64(round))
	return v
}

// BenchmarkStage5000On100k: state root of a block writing 5,000 keys (half
// updates, half inserts) on a state of 100,000 keys.
func BenchmarkStage5000On100k(b *testing.B) {
	db, st := newState(b)
	const base = 100_000
	br := st.Branch()
	for i := 0; i < base; i++ {
		must(b, br.Set(benchKey(i), benchVal(i, 0)))
	}
	p, err := st.Stage(br)
	must(b, err)
	commit(b, db, st, p, 1)

	b.ResetTimer()
	for n := 0; n < b.N; n++ {
		br := st.Branch()
		for i := 0; i < 5000; i++ {
			k := i * 40 // spread updates over the key space
			if i%2 == 1 {
				k = base + n*5000 + i // inserts
			}
			must(b, br.Set(benchKey(k), benchVal(k, n+1)))
		}
		if _, err := st.Stage(br); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBranchGetSet: one Get and one Set per op on a child of a
// top-level branch over 10,000 committed keys, as a transfer does.
func BenchmarkBranchGetSet(b *testing.B) {
	db, st := newState(b)
	br := st.Branch()
	for i := 0; i < 10_000; i++ {
		must(b, br.Set(benchKey(i), benchVal(i, 0)))
	}
	p, err := st.Stage(br)
	must(b, err)
	commit(b, db, st, p, 1)

	top := st.Branch()
	b.ResetTimer()
	for n := 0; n < b.N; n++ {
		tx := top.Branch()
		k := benchKey(n % 10_000)
		v, err := tx.Get(k)
		if err != nil || v == nil {
			b.Fatal("missing", err)
		}
		must(b, tx.Set(k, benchVal(n, 1)))
		must(b, tx.Write())
	}
}
