package subnet

import (
	"fmt"
	"testing"

	"github.com/dure-network/dure/chain"
)

// BenchmarkVerifyCheckpoint is the parent's signature check of one
// checkpoint signed by every validator of a subnet of n equal-power
// validators: what accepting it costs beyond state reads and writes.
func BenchmarkVerifyCheckpoint(b *testing.B) {
	c := chain.MustCodec()
	for _, n := range []int{3, 16, 64} {
		b.Run(fmt.Sprintf("validators=%d", n), func(b *testing.B) {
			var vals []chain.Validator
			var keys []chain.PrivKey
			for i := 0; i < n; i++ {
				k := valKey(i)
				keys = append(keys, k)
				vals = append(vals, chain.Validator{Address: k.PubKey().Address(), PubKey: k.PubKey(), Power: 1})
			}
			vs, err := chain.NewValidatorSet(vals)
			if err != nil {
				b.Fatal(err)
			}
			gh := chain.Sum256([]byte("g"))
			cp := Checkpoint{Subnet: coop, Height: 10, BlockID: chain.IDOf([]byte("b")), ValidatorsHash: vs.Hash(c), NextValidators: vs.Validators}
			sc := SignedCheckpoint{Checkpoint: cp}
			for _, k := range keys {
				sc.Sigs = append(sc.Sigs, Sign(c, gh, &cp, k))
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := VerifySigned(c, gh, vs, &sc, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkDeliverCheckpoint is a whole checkpoint transaction on the
// parent (decode, member reads, signatures, next-set checks, writes) in
// a block of its own, through the real executor and state; each iteration
// is the next checkpoint. Signing is outside the timer.
func BenchmarkDeliverCheckpoint(b *testing.B) {
	for _, n := range []int{3, 16, 64} {
		b.Run(fmt.Sprintf("validators=%d", n), func(b *testing.B) {
			e := newEnv(b, "parent-1", nil)
			units := make([]uint64, n)
			for i := range units {
				units[i] = 1
			}
			e.register(10, units...)
			signers := all(n)
			var gas uint64
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				sc := e.signed(e.checkpoint(uint64(10*(i+1))), signers...)
				m := e.msg(MsgCheckpoint(e.h.Codec(), sc))
				tx := e.h.Tx(e.h.Key(4), 10_000, m)
				b.StartTimer()
				out := e.h.Block(tx)
				if out.Results[0].Code != 0 {
					b.Fatal(out.Results[0].Log)
				}
				gas = out.Results[0].GasUsed
			}
			b.ReportMetric(float64(gas), "gas/checkpoint")
		})
	}
}
