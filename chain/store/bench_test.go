package store

import (
	"testing"

	"github.com/dure-network/dure/chain"
)

// BenchmarkCommitBlock5000 commits blocks of 5,000 signed ~250-byte txs
// with their results, tx index and seen commit, synced, on real Badger.
// The txs are signed once and reused, so only the store is measured.
func BenchmarkCommitBlock5000(b *testing.B) {
	const n = 5000
	f := newFixture(b)
	f.changeAt = 1 << 62 // one validator set throughout
	txs := make([][]byte, n)
	size := 0
	for i := range txs {
		txs[i] = f.signedTx(b, uint64(i))
		size += len(txs[i])
	}
	s := openT(b, b.TempDir(), 0)
	defer s.Close()
	f.genesisCommit(b, s)
	var parent chain.ID
	var last *chain.Commit
	b.SetBytes(int64(size))
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		h := uint64(i + 1)
		blk, cm, rs := f.block(h, parent, last, txs)
		b.StartTimer()
		if err := s.CommitBlock(blk, cm, rs, f.setA, stateWrite(h)); err != nil {
			b.Fatal(err)
		}
		parent, last = blk.Header.ID(f.c), cm
	}
	b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "txs/s")
}
