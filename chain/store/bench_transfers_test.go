package store

import (
	"encoding/binary"
	"fmt"
	"io/fs"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/dure-network/dure/chain"
)

// transferBlockParts are 5,000 signed transfers shaped like the bench's
// (distinct 20-byte recipients, amounts, nonces) and their results with
// the currency module's events (bech32 addresses as text), as a node
// stores them.
func transferBlockParts(b *testing.B, f *fixture, n int) ([][]byte, []chain.TxResult) {
	txs := make([][]byte, n)
	rs := make([]chain.TxResult, n)
	for i := range txs {
		to := chain.Sum256(binary.BigEndian.AppendUint64(nil, uint64(i)))
		body, err := f.c.Marshal([]any{to[:20], uint64(1000 + i*7), "dure"})
		if err != nil {
			b.Fatal(err)
		}
		tx := &chain.Tx{ChainID: testChainID, Nonce: uint64(i), MaxFee: 100,
			Msgs: []chain.Msg{{Module: "currency", Type: "send", Body: body}}}
		if txs[i], err = tx.Sign(f.c, f.sender); err != nil {
			b.Fatal(err)
		}
		from := chain.Sum256(binary.BigEndian.AppendUint64(nil, uint64(i%2000)+1<<40))
		rs[i] = chain.TxResult{GasUsed: uint64(21000 + i%13), Events: []chain.Event{{Type: "currency.send", Attrs: []chain.Attr{
			{Key: "from", Value: fmt.Sprintf("dure1%x", from[:19])}, {Key: "to", Value: fmt.Sprintf("dure1%x", to[:19])},
			{Key: "denom", Value: "dure"}, {Key: "amount", Value: fmt.Sprint(1000 + i*7)}}}}}
	}
	return txs, rs
}

// BenchmarkCommitTransfers5000 commits 32 blocks of 5,000 transfers per op
// (block, results, tx index, seen commit, fsync) on real Badger, reporting
// the CPU of the whole process (Badger's goroutines included) and the bytes
// the data directory holds per tx after the last close.
func BenchmarkCommitTransfers5000(b *testing.B) {
	const n, blocks = 5000, 32
	f := newFixture(b)
	f.changeAt = 1 << 62
	txs, rs := transferBlockParts(b, f, n)
	var cpu time.Duration
	var perTx float64
	for range b.N {
		dir := b.TempDir()
		s := openT(b, dir, 0)
		f.genesisCommit(b, s)
		var parent chain.ID
		var last *chain.Commit
		c0 := cpuTime()
		for h := uint64(1); h <= blocks; h++ {
			blk, cm, _ := f.block(h, parent, last, txs)
			blk.Header.ResultsRoot = chain.ResultsRoot(f.c, rs)
			cm = f.commitFor(h, blk.Header.ID(f.c))
			if err := s.CommitBlock(blk, cm, rs, f.setA, stateWrite(h)); err != nil {
				b.Fatal(err)
			}
			parent, last = blk.Header.ID(f.c), cm
		}
		if err := s.Close(); err != nil {
			b.Fatal(err)
		}
		cpu += cpuTime() - c0
		perTx = float64(dirBytes(b, dir)) / (n * blocks)
	}
	b.ReportMetric(float64(cpu.Microseconds())/1e3/float64(b.N), "cpu-ms/op")
	b.ReportMetric(perTx, "disk-B/tx")
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// dirBytes is the disk space the directory's files take (allocated
// blocks, as du counts them).
func dirBytes(b *testing.B, dir string) int64 {
	n, err := du(dir)
	if err != nil {
		b.Fatal(err)
	}
	return n
}

func dirBytesT(t *testing.T, dir string) int64 {
	n, err := du(dir)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func du(dir string) (int64, error) {
	var total int64
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			total += st.Blocks * 512
		} else {
			total += fi.Size()
		}
		return nil
	})
	return total, err
}

// BenchmarkPack: packing and unpacking a 5,000-transfer block and its
// results (what CommitBlock and BlockRaw/Results add per block).
func BenchmarkPack(b *testing.B) {
	f := newFixture(b)
	txs, rs := transferBlockParts(b, f, 5000)
	blk, _, _ := f.block(1, "", nil, txs)
	braw, _ := blk.Encode(f.c)
	rraw, _ := f.c.Marshal(rs)
	for _, c := range []struct {
		name string
		raw  []byte
	}{{"block", braw}, {"results", rraw}} {
		b.Run(c.name+"/pack", func(b *testing.B) {
			b.SetBytes(int64(len(c.raw)))
			var out []byte
			for range b.N {
				out = pack(c.raw)
			}
			b.ReportMetric(float64(len(out))/float64(len(c.raw)), "ratio")
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/5000, "ns/tx")
		})
		b.Run(c.name+"/unpack", func(b *testing.B) {
			v := pack(c.raw)
			b.SetBytes(int64(len(c.raw)))
			for range b.N {
				if _, err := unpack(v); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/5000, "ns/tx")
		})
	}
}

// stateLike is an extra callback writing what chain/state writes for a
// block of n transfers among 2,000 accounts: three flat values per tx
// (sender nonce and balance, recipient balance; rewritten every block, so
// old versions pile up until pruning discards them) and one changeset
// record of ≈ 100 B per tx, deleted 32 blocks later as a snapshot does.
func stateLike(h uint64, n int) func(w chain.KVWriter) error {
	return func(w chain.KVWriter) error {
		for i := range n {
			for j := range 3 {
				k := fmt.Appendf(nil, "s/acct/%04d/%d", (i*3+j+int(h)*7)%2000, j)
				if err := w.Set(k, binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(nil, h), uint64(i))); err != nil {
					return err
				}
			}
		}
		cs := make([]byte, 100*n)
		for i := range cs {
			cs[i] = byte(i*7 + int(h))
		}
		if err := w.Set(binary.BigEndian.AppendUint64([]byte("c/"), h), cs); err != nil {
			return err
		}
		if h%32 == 0 && h > 32 {
			for old := h - 64; old < h-32; old++ {
				if err := w.Delete(binary.BigEndian.AppendUint64([]byte("c/"), old)); err != nil {
					return err
				}
			}
		}
		return nil
	}
}

// BenchmarkPrunedFootprint commits 160 blocks of 2,500 transfers with
// state-like writes on a store keeping 16 heights (a pruning validator at
// the bench's block size) and reports the data directory's size at the
// end per committed tx, and the CPU of the whole process per block.
func BenchmarkPrunedFootprint(b *testing.B) {
	const n, blocks, keep = 2500, 160, 16
	f := newFixture(b)
	f.changeAt = 1 << 62
	txs, rs := transferBlockParts(b, f, n)
	var cpu time.Duration
	var perTx float64
	for range b.N {
		dir := b.TempDir()
		s := openT(b, dir, keep)
		f.genesisCommit(b, s)
		var parent chain.ID
		var last *chain.Commit
		c0 := cpuTime()
		for h := uint64(1); h <= blocks; h++ {
			blk, _, _ := f.block(h, parent, last, txs)
			blk.Header.ResultsRoot = chain.ResultsRoot(f.c, rs)
			cm := f.commitFor(h, blk.Header.ID(f.c))
			if err := s.CommitBlock(blk, cm, rs, f.setA, stateLike(h, n)); err != nil {
				b.Fatal(err)
			}
			parent, last = blk.Header.ID(f.c), cm
		}
		cpu += cpuTime() - c0
		perTx = float64(dirBytes(b, dir)) / (n * blocks)
		if err := s.Close(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(cpu.Microseconds())/1e3/float64(b.N*blocks), "cpu-ms/block")
	b.ReportMetric(perTx, "disk-B/tx")
}
