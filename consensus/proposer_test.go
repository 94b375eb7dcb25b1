package consensus

import (
	"testing"

	"github.com/dure-network/dure/chain"
)

func TestProposerFrequencyMatchesStake(t *testing.T) {
	tests := []struct {
		name   string
		powers []uint64
	}{
		{"equal", []uint64{1, 1, 1, 1}},
		{"unequal small", []uint64{1, 2, 3, 4, 10}},
		{"one whale", []uint64{100, 1, 1, 1, 1, 1, 1}},
		{"large powers scaled", []uint64{1_000_000_000_000, 3_000_000_000_000, 6_000_000_000_000, 7}},
		{"many validators", func() []uint64 {
			p := make([]uint64, 64)
			for i := range p {
				p[i] = uint64(1 + i*i)
			}
			return p
		}()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tv := makeVals(t, tt.powers...)
			s := NewProposerSchedule(tv.set)
			s2 := NewProposerSchedule(tv.set)
			count := map[chain.Address]int{}
			const heights = 40000
			for h := uint64(1); h <= heights; h++ {
				p := s.Proposer(h, 0)
				if p != s2.Proposer(h, 0) {
					t.Fatalf("not deterministic at height %d", h)
				}
				if s.Proposer(h, 1) != s.Proposer(h+1, 0) {
					t.Fatalf("round 1 of %d must be the next rotation", h)
				}
				count[p]++
			}
			total := tv.set.TotalPower()
			for _, v := range tv.set.Validators {
				want := float64(heights) * float64(v.Power) / float64(total)
				got := float64(count[v.Address])
				// Each full cycle gives exactly the (scaled) power; scaling
				// costs at most 2 per cycle, the last partial cycle at most
				// the validator's share of one cycle.
				perCycle := 0.0
				if total > scheduleGranularity {
					perCycle = 2
				}
				cycles := float64(heights / s.Len())
				tol := perCycle*(cycles+1) + float64(s.Len())*float64(v.Power)/float64(total) + 1
				if got < want-tol || got > want+tol {
					t.Errorf("%s (power %d): proposed %v times, want %.1f±%.1f", v.Address, v.Power, got, want, tol)
				}
			}
		})
	}
}

func TestProposerOrderIsSmooth(t *testing.T) {
	// Powers 3,1: the heavy validator never waits more than one rotation.
	tv := makeVals(t, 3, 1)
	s := NewProposerSchedule(tv.set)
	if s.Len() != 4 {
		t.Fatalf("cycle length %d, want 4", s.Len())
	}
	heavy := tv.set.Validators[0].Address
	if tv.set.Validators[1].Power == 3 {
		heavy = tv.set.Validators[1].Address
	}
	for h := uint64(0); h < 100; h++ {
		if s.Proposer(h, 0) != heavy && s.Proposer(h+1, 0) != heavy {
			t.Fatalf("heavy validator skipped twice at %d", h)
		}
	}
}
