package energy

import (
	"fmt"
	"math"
	"math/bits"
)

// Checked integer arithmetic: every amount is a uint64 and nothing may
// wrap silently. Each helper returns ErrOverflow instead.

func add(a, b uint64) (uint64, error) {
	s, c := bits.Add64(a, b, 0)
	if c != 0 {
		return 0, fmt.Errorf("%w: %d + %d", ErrOverflow, a, b)
	}
	return s, nil
}

// mulDiv is floor(a*b/d) with a 128-bit intermediate.
func mulDiv(a, b, d uint64) (uint64, error) {
	hi, lo := bits.Mul64(a, b)
	if hi >= d {
		return 0, fmt.Errorf("%w: %d × %d / %d", ErrOverflow, a, b, d)
	}
	q, _ := bits.Div64(hi, lo, d)
	return q, nil
}

// mulDivUp is ceil(a*b/d).
func mulDivUp(a, b, d uint64) (uint64, error) {
	hi, lo := bits.Mul64(a, b)
	if hi >= d {
		return 0, fmt.Errorf("%w: %d × %d / %d", ErrOverflow, a, b, d)
	}
	q, r := bits.Div64(hi, lo, d)
	if r != 0 {
		q++ // cannot wrap: q < 2^64 - 1 when r != 0 and hi < d
	}
	return q, nil
}

// value is what q Wh cost at p price units per kWh, rounded down.
func value(q, p uint64) (uint64, error) { return mulDiv(q, p, 1000) }

// gridFee is the operator's fee on q Wh whose energy value is v: the
// per-kWh part plus the basis-point part, each rounded down.
func gridFee(mk *Market, q, v uint64) (uint64, error) {
	a, err := mulDiv(q, mk.FeePerKWh, 1000)
	if err != nil {
		return 0, err
	}
	b, err := mulDiv(v, uint64(mk.FeeBps), 10000)
	if err != nil {
		return 0, err
	}
	return add(a, b)
}

// netBid turns a buyer's all-in limit b (price units per kWh, fees
// included) into the highest energy price p with p + FeePerKWh +
// p×FeeBps/10000 <= b: floor((b - FeePerKWh) × 10000 / (10000 + FeeBps)).
// ok is false when the fee alone exceeds the limit.
func netBid(mk *Market, b uint64) (p uint64, ok bool) {
	if b < mk.FeePerKWh {
		return 0, false
	}
	p, err := mulDiv(b-mk.FeePerKWh, 10000, 10000+uint64(mk.FeeBps))
	if err != nil {
		return 0, false // cannot happen: the factor is <= 1
	}
	return p, true
}

// cost is what a buyer pays for q Wh at energy price p: value plus fee.
func cost(mk *Market, q, p uint64) (v, fee, total uint64, err error) {
	if v, err = value(q, p); err != nil {
		return
	}
	if fee, err = gridFee(mk, q, v); err != nil {
		return
	}
	total, err = add(v, fee)
	return
}

// valueSat is value for figures that are only recorded (energy beyond the
// trades, from readings a device may inflate): it saturates instead of
// failing, so settlement in EndBlock cannot be stopped by a reading.
func valueSat(q, p uint64) uint64 {
	v, err := value(q, p)
	if err != nil {
		return math.MaxUint64
	}
	return v
}
