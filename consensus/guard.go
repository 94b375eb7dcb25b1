package consensus

import (
	"bytes"
	"fmt"

	"github.com/dure-network/dure/chain"
)

// LastSigned is the highest (height, round, step) this validator has signed,
// with the hash of the signed bytes and the signature. Persisted atomically
// before any signature leaves the node, it stops a restarted validator from
// signing something different for a step it already signed.
type LastSigned struct {
	_        struct{} `cbor:",toarray"`
	Height   uint64   // 0: never signed
	Round    uint32
	Step     Step       // StepPropose, StepPrevote or StepPrecommit
	SignHash chain.Hash // sha256 of the signed bytes
	Sig      []byte
}

// Encode returns the canonical encoding of ls, for the last-signed file.
func (ls LastSigned) Encode(c *chain.Codec) []byte {
	b, err := c.Marshal(ls)
	if err != nil {
		panic(err) // fixed-shape struct always encodes
	}
	return b
}

// DecodeLastSigned parses what Encode wrote.
func DecodeLastSigned(c *chain.Codec, b []byte) (LastSigned, error) {
	var ls LastSigned
	if len(b) > 512 {
		return LastSigned{}, fmt.Errorf("%w: %d bytes", ErrBadLastSigned, len(b))
	}
	if err := c.UnmarshalCanonical(b, &ls); err != nil {
		return LastSigned{}, fmt.Errorf("%w: %v", ErrBadLastSigned, err)
	}
	if ls.Height != 0 && (ls.Step < StepPropose || ls.Step > StepPrecommit || len(ls.Sig) != chain.SigLen) {
		return LastSigned{}, fmt.Errorf("%w: step %d, signature %d bytes", ErrBadLastSigned, ls.Step, len(ls.Sig))
	}
	return ls, nil
}

// cmpHRS orders (height, round, step) triples.
func cmpHRS(h1 uint64, r1 uint32, s1 Step, h2 uint64, r2 uint32, s2 Step) int {
	switch {
	case h1 != h2:
		return cmpU(h1, h2)
	case r1 != r2:
		return cmpU(uint64(r1), uint64(r2))
	default:
		return cmpU(uint64(s1), uint64(s2))
	}
}

func cmpU(a, b uint64) int {
	if a < b {
		return -1
	}
	if a > b {
		return 1
	}
	return 0
}

// Guard is the double-sign guard: pure logic over LastSigned. It signs only
// strictly after the last signed step, or re-issues the saved signature for
// byte-identical bytes at that very step.
type Guard struct {
	signer Signer
	last   LastSigned
}

// NewGuard returns a guard starting from the persisted last-signed state.
func NewGuard(s Signer, last LastSigned) *Guard { return &Guard{signer: s, last: last} }

// Last is the current last-signed state (persist it before releasing a
// signature Sign returned with fresh set).
func (g *Guard) Last() LastSigned { return g.last }

// Sign signs signBytes for (h, r, step) if that is safe. fresh is false when
// the saved signature was re-used.
func (g *Guard) Sign(h uint64, r uint32, step Step, signBytes []byte) (sig []byte, fresh bool, err error) {
	if h == 0 || step < StepPropose || step > StepPrecommit {
		return nil, false, fmt.Errorf("%w: %d/%d/%s is not a signable step", ErrDoubleSign, h, r, step)
	}
	hash := chain.Sum256(signBytes)
	if g.last.Height != 0 {
		switch cmpHRS(h, r, step, g.last.Height, g.last.Round, g.last.Step) {
		case -1:
			return nil, false, fmt.Errorf("%w: %d/%d/%s is before last signed %d/%d/%s",
				ErrDoubleSign, h, r, step, g.last.Height, g.last.Round, g.last.Step)
		case 0:
			if hash != g.last.SignHash {
				return nil, false, fmt.Errorf("%w: different bytes already signed at %d/%d/%s", ErrDoubleSign, h, r, step)
			}
			return bytes.Clone(g.last.Sig), false, nil
		}
	}
	sig = g.signer.Sign(signBytes)
	g.last = LastSigned{Height: h, Round: r, Step: step, SignHash: hash, Sig: bytes.Clone(sig)}
	return sig, true, nil
}
