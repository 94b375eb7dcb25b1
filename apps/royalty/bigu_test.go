package royalty

import "math/bits"

// bigU is a 128-bit product for test oracles.
type bigU struct{ hi, lo uint64 }

func (x *bigU) mul(a, b uint64) *bigU { x.hi, x.lo = bits.Mul64(a, b); return x }
func (x *bigU) div(d uint64) uint64   { q, _ := bits.Div64(x.hi, x.lo, d); return q }
