package mempool

import (
	"testing"

	"github.com/dure-network/dure/chain"
)

const benchTxs = 10_000

// benchRaws signs 10,000 ~250-byte txs: 100 senders × 100 nonces.
func benchRaws(b *testing.B) [][]byte {
	b.Helper()
	c := chain.MustCodec()
	raws := make([][]byte, 0, benchTxs)
	for s := range 100 {
		k := key(b, s)
		for n := range uint64(benchTxs / 100) {
			raws = append(raws, signTx(b, c, k, n, txOpt{}))
		}
	}
	return raws
}

// BenchmarkAdd adds 10,000 signed txs one by one (the API submit path).
func BenchmarkAdd(b *testing.B) {
	raws := benchRaws(b)
	b.ResetTimer()
	for range b.N {
		m := newPool(Config{}, newAccounts())
		for _, r := range raws {
			if _, err := m.Add(r); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.N*benchTxs)/b.Elapsed().Seconds(), "txs/s")
}

// BenchmarkAddBatch adds the same txs in gossip batches of 250.
func BenchmarkAddBatch(b *testing.B) {
	raws := benchRaws(b)
	b.ResetTimer()
	for range b.N {
		m := newPool(Config{}, newAccounts())
		for lo := 0; lo < len(raws); lo += 250 {
			_, errs := m.AddBatch(raws[lo : lo+250])
			for _, err := range errs {
				if err != nil {
					b.Fatal(err)
				}
			}
		}
	}
	b.ReportMetric(float64(b.N*benchTxs)/b.Elapsed().Seconds(), "txs/s")
}

// BenchmarkAddBatchDuplicates is the gossip echo: every tx arrives again
// from another peer and must be turned away cheaply.
func BenchmarkAddBatchDuplicates(b *testing.B) {
	raws := benchRaws(b)
	m := newPool(Config{}, newAccounts())
	m.AddBatch(raws)
	b.ResetTimer()
	for range b.N {
		for lo := 0; lo < len(raws); lo += 250 {
			m.AddBatch(raws[lo : lo+250])
		}
	}
	b.ReportMetric(float64(b.N*benchTxs)/b.Elapsed().Seconds(), "txs/s")
}

// BenchmarkReap reaps a 5,000-tx proposal from a pool of 10,000.
func BenchmarkReap(b *testing.B) {
	raws := benchRaws(b)
	m := newPool(Config{}, newAccounts())
	m.AddBatch(raws)
	b.ResetTimer()
	for range b.N {
		if got := m.Reap(5000, 0); len(got) != 5000 {
			b.Fatalf("reaped %d", len(got))
		}
	}
}

// BenchmarkPrecheck is admission without the signature check: size,
// duplicate, decode, chain, fee, nonce window, capacity and sign bytes,
// for 10,000 txs (the work besides voi that every tx costs every node).
func BenchmarkPrecheck(b *testing.B) {
	raws := benchRaws(b)
	m := newPool(Config{}, newAccounts())
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		nonces := map[chain.Address]uint64{}
		for _, r := range raws {
			if _, _, err := m.precheck(r, nonces); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*benchTxs), "ns/tx")
}
