package royalty

import (
	"fmt"
	"math/bits"
)

// Integer arithmetic only: 128-bit products through math/bits, every
// addition checked.

func add(a, b uint64) (uint64, error) {
	s, c := bits.Add64(a, b, 0)
	if c != 0 {
		return 0, fmt.Errorf("%w: %d + %d", ErrOverflow, a, b)
	}
	return s, nil
}

func mul(a, b uint64) (uint64, error) {
	hi, lo := bits.Mul64(a, b)
	if hi != 0 {
		return 0, fmt.Errorf("%w: %d × %d", ErrOverflow, a, b)
	}
	return lo, nil
}

// accrue returns (units·delta + frac) / TotalUnits and its remainder:
// what a holding of units earns when the split's Paid grows by delta,
// carrying frac millionths from before. units ≤ TotalUnits and frac <
// TotalUnits, so the 128-bit numerator is below TotalUnits·2^64 and the
// quotient fits 64 bits.
func accrue(units, delta, frac uint64) (q, r uint64) {
	hi, lo := bits.Mul64(units, delta)
	var c uint64
	lo, c = bits.Add64(lo, frac, 0)
	hi += c
	return bits.Div64(hi, lo, TotalUnits)
}

// largestRemainder divides total among weights so the parts sum exactly
// to total: each part is floor(total·w/W), and the units left over go one
// each to the largest remainders, ties to the lower index. W is the sum of
// weights; it must be positive and not overflow.
func largestRemainder(total uint64, weights []uint64) ([]uint64, error) {
	var sum uint64
	for _, w := range weights {
		var err error
		if sum, err = add(sum, w); err != nil {
			return nil, err
		}
	}
	if sum == 0 {
		return nil, fmt.Errorf("%w: weights sum to zero", ErrBadSplit)
	}
	parts := make([]uint64, len(weights))
	rems := make([]uint64, len(weights))
	var given uint64
	for i, w := range weights {
		hi, lo := bits.Mul64(total, w) // hi < sum since w ≤ sum
		parts[i], rems[i] = bits.Div64(hi, lo, sum)
		given += parts[i]
	}
	left := total - given // < len(weights)
	for ; left > 0; left-- {
		best := -1
		for i, r := range rems {
			if weights[i] != 0 && (best < 0 || r > rems[best]) {
				best = i
			}
		}
		parts[best]++
		rems[best] = 0
	}
	return parts, nil
}
