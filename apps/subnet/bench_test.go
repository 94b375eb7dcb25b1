package subnet

import (
	"fmt"
	"syscall"
	"testing"
	"time"

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

// BenchmarkDeliverTopDown is a whole topdown transaction on the subnet in
// a block of its own (real executor, state and currency): one parent
// header signed by all of n parent validators, and k deposits proven by
// one state proof, minted. Each iteration the parent makes k deposits in
// one block first (outside the timer). CPU time (all goroutines) is the
// figure to read on a shared machine.
func BenchmarkDeliverTopDown(b *testing.B) {
	for _, n := range []int{4, 16, 64} {
		for _, k := range []int{1, 64} {
			b.Run(fmt.Sprintf("parent_validators=%d/deposits=%d", n, k), func(b *testing.B) {
				p := newParentChainN(b, n)
				p.e.register(5, 1, 1, 1)
				sub := newEnvGenesis(b, coop, nil, p.genesis(5))
				c := p.e.h.Codec()
				var gas, size uint64
				var cpu time.Duration
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					b.StopTimer()
					var txs []*chain.DecodedTx
					for j := 0; j < k; j += 16 { // 16 messages a tx at most
						var msgs []chain.Msg
						for x := j; x < min(k, j+16); x++ {
							msgs = append(msgs, p.e.msg(MsgDeposit(c, coop, p.e.h.Addr(3), 1)))
						}
						txs = append(txs, p.e.h.Tx(p.e.h.Key(len(txs)), 10_000, msgs...))
					}
					p.e.h.Block(txs...)
					td := p.relay(sub.topDown().Applied)
					m := sub.msg(MsgTopDown(c, td))
					if p.e.h.Time().After(sub.h.Time()) {
						sub.h.SetBlockTime(p.e.h.Time())
					}
					tx := sub.h.Tx(sub.h.Key(6), 1_000_000, m)
					c0 := cpuTime()
					b.StartTimer()
					out := sub.h.Block(tx)
					b.StopTimer()
					cpu += cpuTime() - c0
					if out.Results[0].Code != 0 {
						b.Fatal(out.Results[0].Log)
					}
					gas, size = out.Results[0].GasUsed, uint64(len(tx.Raw))
					b.StartTimer()
				}
				b.ReportMetric(float64(cpu.Microseconds())/1e3/float64(b.N), "cpu-ms/op")
				b.ReportMetric(float64(gas), "gas/topdown")
				b.ReportMetric(float64(size), "tx-bytes")
			})
		}
	}
}

// cpuTime is the process's user+system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
