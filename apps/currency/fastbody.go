package currency

import (
	"encoding/binary"

	"github.com/dure-network/dure/chain"
)

// The two bodies of nearly every transaction, send and pay, are read here
// without reflection. A body is taken only when it is, byte for byte, the
// canonical encoding of a Send or Pay whose strings are ASCII; anything
// else (non-canonical, other shapes, non-ASCII text, trailing bytes) goes
// to the generic decoder, which accepts or rejects it with its own error.
// So for any body the result is the generic decoder's:
// FuzzFastBodies checks that on arbitrary input.

// cborReader walks canonical CBOR heads.
type cborReader struct {
	b   []byte
	bad bool
}

// head reads a head of major type major and returns its argument, which
// must be in its shortest form.
func (r *cborReader) head(major byte) uint64 {
	if r.bad || len(r.b) == 0 || r.b[0]>>5 != major {
		r.bad = true
		return 0
	}
	info := r.b[0] & 31
	var v uint64
	var n int
	switch {
	case info < 24:
		v, n = uint64(info), 1
	case info == 24 && len(r.b) >= 2:
		v, n = uint64(r.b[1]), 2
		r.bad = v < 24
	case info == 25 && len(r.b) >= 3:
		v, n = uint64(binary.BigEndian.Uint16(r.b[1:])), 3
		r.bad = v <= 0xff
	case info == 26 && len(r.b) >= 5:
		v, n = uint64(binary.BigEndian.Uint32(r.b[1:])), 5
		r.bad = v <= 0xffff
	case info == 27 && len(r.b) >= 9:
		v, n = binary.BigEndian.Uint64(r.b[1:]), 9
		r.bad = v <= 0xffffffff
	default:
		r.bad = true
		return 0
	}
	if r.bad {
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *cborReader) address() (a chain.Address) {
	if r.head(2) != chain.AddressLen || r.bad || len(r.b) < chain.AddressLen {
		r.bad = true
		return a
	}
	copy(a[:], r.b)
	r.b = r.b[chain.AddressLen:]
	return a
}

// ascii reads a text string of bytes below 0x80 (valid UTF-8 as is).
func (r *cborReader) ascii() string {
	n := r.head(3)
	if r.bad || uint64(len(r.b)) < n {
		r.bad = true
		return ""
	}
	for _, c := range r.b[:n] {
		if c >= 0x80 {
			r.bad = true
			return ""
		}
	}
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
}

// fastSend decodes body as a Send if it is the canonical encoding of one.
func fastSend(body []byte) (Send, bool) {
	r := cborReader{b: body}
	if r.head(4) != 3 {
		return Send{}, false
	}
	s := Send{To: r.address(), Denom: r.ascii(), Amount: r.head(0)}
	return s, !r.bad && len(r.b) == 0
}

// fastPay decodes body as a Pay if it is the canonical encoding of one.
func fastPay(body []byte) (Pay, bool) {
	r := cborReader{b: body}
	if r.head(4) != 4 {
		return Pay{}, false
	}
	p := Pay{Merchant: r.address(), Denom: r.ascii(), Amount: r.head(0), Category: r.ascii()}
	return p, !r.bad && len(r.b) == 0
}
