package consensus

import (
	"fmt"
	"testing"

	"github.com/dure-network/dure/chain"
)

// heightInputs are the messages one node receives for one height when
// every validator is honest and the network is perfect.
type heightInputs struct {
	prop       chain.Proposal
	prevotes   []chain.Vote
	precommits []chain.Vote
}

func makeHeightInputs(c *chain.Codec, tv testVals, sched *ProposerSchedule, self int, h uint64) heightInputs {
	id := blockID(fmt.Sprint("bench/", h))
	var in heightInputs
	for i, v := range tv.set.Validators {
		if v.Address == sched.Proposer(h, 0) {
			in.prop = chain.Proposal{Height: h, POLRound: -1, BlockID: id, Proposer: v.Address}
			in.prop.Sig = tv.keys[i].Sign(in.prop.SignBytes(c, testChain))
		}
		if i == self {
			continue
		}
		in.prevotes = append(in.prevotes, tv.vote(c, i, chain.Prevote, h, 0, id))
		in.precommits = append(in.precommits, tv.vote(c, i, chain.Precommit, h, 0, id))
	}
	return in
}

// BenchmarkHeight is the time one validator's machine spends per height:
// proposal, every prevote and precommit (each signature verified), its own
// two signatures, the decision and NewHeight. Signing the peers' inputs is
// outside the timer.
func BenchmarkHeight(b *testing.B) {
	for _, n := range []int{4, 16, 64, 150} {
		b.Run(fmt.Sprintf("validators=%d", n), func(b *testing.B) {
			c := chain.MustCodec()
			powers := make([]uint64, n)
			for i := range powers {
				powers[i] = uint64(1 + i%7)
			}
			tv := makeVals(b, powers...)
			sched := NewProposerSchedule(tv.set)
			self := 0
			m := newTestMachine(b, tv, self, 1, LastSigned{})
			_ = m.Start()
			m.Advance()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				h := uint64(i + 1)
				b.StopTimer()
				in := makeHeightInputs(c, tv, sched, self, h)
				b.StartTimer()
				if sched.Proposer(h, 0) != tv.set.Validators[self].Address {
					_ = m.Step(ProposalEvent{Proposal: in.prop})
				} else {
					_ = m.ProposeBlock(h, 0, in.prop.BlockID)
				}
				_ = m.Step(BlockValidatedEvent{BlockID: in.prop.BlockID, Valid: true})
				for j := range in.prevotes {
					_ = m.Step(VoteEvent{Vote: in.prevotes[j]})
				}
				for j := range in.precommits {
					_ = m.Step(VoteEvent{Vote: in.precommits[j]})
				}
				rd := m.Ready()
				if len(rd.Decisions) != 1 {
					b.Fatalf("height %d: no decision", h)
				}
				m.Advance()
				if err := m.NewHeight(h+1, tv.set); err != nil {
					b.Fatal(err)
				}
				m.Advance()
			}
		})
	}
}

// BenchmarkVoteVerify is the signature-verification share of
// BenchmarkHeight: verifying one height's 2(n-1) votes one by one.
func BenchmarkVoteVerify(b *testing.B) {
	for _, n := range []int{4, 16, 64, 150} {
		b.Run(fmt.Sprintf("validators=%d", n), func(b *testing.B) {
			c := chain.MustCodec()
			powers := make([]uint64, n)
			for i := range powers {
				powers[i] = uint64(1 + i%7)
			}
			tv := makeVals(b, powers...)
			in := makeHeightInputs(c, tv, NewProposerSchedule(tv.set), 0, 1)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				for j := range in.prevotes {
					if in.prevotes[j].Verify(c, testChain, tv.set) != nil || in.precommits[j].Verify(c, testChain, tv.set) != nil {
						b.Fatal("bad vote")
					}
				}
			}
		})
	}
}
