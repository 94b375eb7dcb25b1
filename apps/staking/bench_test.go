package staking

import (
	"encoding/binary"
	"testing"

	"github.com/dure-network/dure/chain"
)

// BenchmarkEndBlock runs staking's EndBlock (rewards to every active
// validator and the set recomputation) with 150 validators and 10,000
// delegations, on the open block of the shared harness (a state branch
// over the sparse-Merkle state in Badger; the block is not committed).
func BenchmarkEndBlock(b *testing.B) {
	c := chain.MustCodec()
	p := testParams()
	p.MaxValidators = 150
	stakes := make([]uint64, 150)
	for i := range stakes {
		stakes[i] = 1000 + uint64(i)*10
	}
	e := newWorld(b, p, stakes...)
	vals := e.activeAddrs()
	for i := 0; i < 10_000; i++ {
		var d chain.Address
		binary.BigEndian.PutUint64(d[:], uint64(i)+1)
		e.fund(d, 1000)
		if err := e.deliver(d, e.Built(MsgDelegate(c, vals[i%len(vals)], uint64(10+i%50)))); err != nil {
			b.Fatal(err)
		}
	}
	e.endBlock()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		e.Advance(1e9)
		e.fund(feeCollector, 1_000_003)
		if err := e.m.EndBlock(e.Context(ModuleName, chain.Address{})); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBeginBlock measures liveness bookkeeping for 150 validators,
// one of which misses every block.
func BenchmarkBeginBlock(b *testing.B) {
	p := testParams()
	p.MaxValidators = 150
	p.DowntimeWindow, p.MinSignedPerWindow = 10_000, 0
	stakes := make([]uint64, 150)
	for i := range stakes {
		stakes[i] = 1000
	}
	e := newWorld(b, p, stakes...)
	signers := e.activeAddrs()[1:]
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ctx := e.Context(ModuleName, chain.Address{})
		ctx.Block.Height, ctx.Block.LastCommitSigners = uint64(i)+2, signers
		if err := e.m.BeginBlock(ctx); err != nil {
			b.Fatal(err)
		}
	}
}
