package node

import (
	"testing"

	"github.com/dure-network/dure/chain"
	"github.com/dure-network/dure/p2p"
)

// BenchmarkProposalReceive is the CPU a block of 5,000 signed transfers
// costs on its way from the proposer's candidate to a receiver's
// executable candidate, execution excluded (the same either way):
//
//   - block: encode the ProposedBlock; the gossip validator decodes it
//     (block, tx root, proposal signature); the driver decodes it again;
//     Validate checks it (tx root again) and looks every tx up in the
//     mempool by its ID (a SHA-256 each).
//   - compact: encode the compact form; the gossip validator decodes it
//     (proposal signature); the driver decodes it again, takes every tx
//     from the mempool by hash, checks the tx root and encodes the block;
//     Validate checks it against the root the candidate carries (the txs
//     are not hashed again), the txs already resolved.
//
// The receiver's mempool holds every tx, as it does once gossip has run.
// cpu-µs/tx is the process's CPU time (steadier than wall time on a
// shared machine) over the block's txs.
// The network's share is p2p.BenchmarkProposalGossip.
func BenchmarkProposalReceive(b *testing.B) {
	s := newCompactSetup(b, benchSenders)
	if _, errs := s.recv.pool.AddBatch(s.raws); errs[0] != nil {
		b.Fatal(errs[0])
	}
	c := s.recv.codec
	n := len(s.cand.block.Txs)
	b.Run("block", func(b *testing.B) {
		var size int
		cpu0 := cpuTime()
		for b.Loop() {
			data, err := c.Marshal(chain.ProposedBlock{Proposal: s.proposal, Block: s.cand.raw})
			if err != nil {
				b.Fatal(err)
			}
			size = len(data)
			if v := s.recv.validateBlockGossip("", data); v != p2p.Accept {
				b.Fatalf("verdict %v", v)
			}
			_, blk, err := chain.DecodeProposedBlock(c, data)
			if err != nil {
				b.Fatal(err)
			}
			if err := blk.ValidateBasic(c); err != nil {
				b.Fatal(err)
			}
			for _, raw := range blk.Txs {
				if _, ok := s.recv.pool.Get(chain.IDOf(raw)); !ok {
					b.Fatal("tx not in the mempool")
				}
			}
		}
		b.ReportMetric(float64(size), "bytes/block")
		b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/float64(b.N*n)/1000, "cpu-µs/tx")
	})
	b.Run("compact", func(b *testing.B) {
		var size int
		cpu0 := cpuTime()
		for b.Loop() {
			data, err := encodeCompact(c, &s.proposal, s.cand.block, s.cand.txs)
			if err != nil {
				b.Fatal(err)
			}
			size = len(data)
			if v := s.recv.validateCompactGossip("", data); v != p2p.Accept {
				b.Fatalf("verdict %v", v)
			}
			cb, err := decodeCompact(c, data)
			if err != nil {
				b.Fatal(err)
			}
			raws, txs, missing := s.recv.fromMempool(cb)
			if len(missing) > 0 {
				b.Fatal("txs missing")
			}
			cand, err := candidateOf(c, cb, raws, txs)
			if err != nil {
				b.Fatal(err)
			}
			// What Validate does with the root the candidate carries.
			if err := cand.block.ValidateBasicWithTxRoot(c, *cand.txRoot); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(size), "bytes/block")
		b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/float64(b.N*n)/1000, "cpu-µs/tx")
	})
}
