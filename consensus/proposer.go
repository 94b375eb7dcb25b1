package consensus

import (
	"math/bits"

	"github.com/dure-network/dure/chain"
)

// scheduleGranularity bounds the length of one proposer cycle. Powers are
// scaled so they sum to about this much; the resulting order matches stake
// to within 1/scheduleGranularity of the total power per validator.
const scheduleGranularity = 4096

// ProposerSchedule is the weighted round-robin proposer order of one
// validator set.
//
// One cycle is computed from all priorities at zero: at each rotation every
// validator's priority grows by its (scaled) power, the highest priority
// proposes (ties go to the lowest address) and loses the scaled total. After
// a full cycle every priority is zero again, so the order repeats exactly
// and each validator proposes as often as its scaled power.
//
// Height and round map to rotations as k = height + round: round r of
// height h is proposed by cycle[(h+r) mod len(cycle)]. A failed round thus
// passes to the next validator in the order, and the result depends only on
// (set, height, round) — every node computes the same proposer without
// shared mutable state.
type ProposerSchedule struct {
	vals  *chain.ValidatorSet
	cycle []uint16
}

// NewProposerSchedule computes the cycle for vs.
func NewProposerSchedule(vs *chain.ValidatorSet) *ProposerSchedule {
	n := vs.Len()
	w := make([]int64, n)
	total := vs.TotalPower()
	var sum int64
	for i, v := range vs.Validators {
		p := v.Power
		if total > scheduleGranularity {
			p = mulDiv(v.Power, scheduleGranularity, total)
			if p == 0 {
				p = 1
			}
		}
		w[i] = int64(p)
		sum += w[i]
	}
	prio := make([]int64, n)
	cycle := make([]uint16, sum)
	for k := range cycle {
		best := 0
		for i := range prio {
			prio[i] += w[i]
			if prio[i] > prio[best] {
				best = i
			}
		}
		prio[best] -= sum
		cycle[k] = uint16(best)
	}
	return &ProposerSchedule{vals: vs, cycle: cycle}
}

// mulDiv returns a*b/c with a 128-bit intermediate; a <= c keeps the
// quotient within b.
func mulDiv(a, b, c uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	q, _ := bits.Div64(hi, lo, c)
	return q
}

// Proposer returns the proposer of (height, round).
func (s *ProposerSchedule) Proposer(height uint64, round uint32) chain.Address {
	k := (height + uint64(round)) % uint64(len(s.cycle))
	return s.vals.Validators[s.cycle[k]].Address
}

// Len is the length of one cycle.
func (s *ProposerSchedule) Len() int { return len(s.cycle) }
