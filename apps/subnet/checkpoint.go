package subnet

import (
	"crypto/sha256"
	"fmt"

	"github.com/dure-network/dure/chain"
)

// signDoc is what a subnet validator signs: the checkpoint under a domain
// tag and the subnet's genesis hash, so a signature cannot be replayed as
// a vote, or for another subnet that happens to share the id.
type signDoc struct {
	_           struct{} `cbor:",toarray"`
	Domain      string
	GenesisHash chain.Hash
	Checkpoint  Checkpoint
}

// SignBytes are the bytes a validator of the subnet with genesisHash signs
// for cp.
func SignBytes(c *chain.Codec, genesisHash chain.Hash, cp *Checkpoint) []byte {
	b, err := c.Marshal(signDoc{Domain: SignDomain, GenesisHash: genesisHash, Checkpoint: *cp})
	if err != nil {
		panic(err) // fixed-shape struct always encodes
	}
	return b
}

// Hash identifies a checkpoint: SHA-256 of its canonical encoding.
func (cp *Checkpoint) Hash(c *chain.Codec) chain.Hash {
	b, err := c.Marshal(cp)
	if err != nil {
		panic(err)
	}
	return chain.Sum256(b)
}

// Sign signs cp with key, for the subnet with genesisHash.
func Sign(c *chain.Codec, genesisHash chain.Hash, cp *Checkpoint, key chain.PrivKey) Sig {
	return Sig{Validator: key.PubKey().Address(), Sig: key.Sign(SignBytes(c, genesisHash, cp))}
}

// VerifySigned checks that sc is signed by more than 2/3 of the power of
// vals (the set registered on the parent), every signature valid and from
// a distinct member, and that the checkpoint names that set. skip, when
// set, names validators whose signatures do not count (slashed ones). It
// is what the parent runs and what a light client re-runs; it returns the
// power that signed.
func VerifySigned(c *chain.Codec, genesisHash chain.Hash, vals *chain.ValidatorSet, sc *SignedCheckpoint, skip func(chain.Address) bool) (uint64, error) {
	cp := &sc.Checkpoint
	if cp.ValidatorsHash != vals.Hash(c) {
		return 0, fmt.Errorf("%w: names set %s, registered %s", ErrSetMismatch, cp.ValidatorsHash, vals.Hash(c))
	}
	if len(sc.Sigs) > vals.Len() {
		return 0, fmt.Errorf("%w: %d signatures for %d validators", ErrBadSignature, len(sc.Sigs), vals.Len())
	}
	msg := SignBytes(c, genesisHash, cp)
	seen := make(map[chain.Address]bool, len(sc.Sigs))
	items := make([]chain.SigItem, 0, len(sc.Sigs))
	var power uint64
	for _, s := range sc.Sigs {
		v, _, ok := vals.ByAddress(s.Validator)
		if !ok {
			return 0, fmt.Errorf("%w: %s is not in the registered set", ErrBadSignature, s.Validator)
		}
		if seen[s.Validator] {
			return 0, fmt.Errorf("%w: two signatures from %s", ErrBadSignature, s.Validator)
		}
		seen[s.Validator] = true
		if skip != nil && skip(s.Validator) {
			continue
		}
		items = append(items, chain.SigItem{PubKey: v.PubKey, Msg: msg, Sig: s.Sig})
		power += v.Power
	}
	if power < vals.QuorumPower() {
		return power, fmt.Errorf("%w: %d of %d, need %d", ErrNoQuorum, power, vals.TotalPower(), vals.QuorumPower())
	}
	if ok, valid := chain.VerifyBatch(items); !ok {
		for i, v := range valid {
			if !v {
				return 0, fmt.Errorf("%w: from %s", ErrBadSignature, items[i].PubKey.Address())
			}
		}
		return 0, ErrBadSignature
	}
	return power, nil
}

// The outbox is an RFC 6962 Merkle tree over CrossMsg encodings, kept in
// state as its frontier: the roots of the perfect subtrees covering the
// leaves so far, largest first (one per set bit of the count). Appending
// is O(log n) and the root folds them right to left, which is exactly
// chain.MerkleRoot of all the leaves, so chain.MerkleProof proves any one.

func leafHash(d []byte) chain.Hash {
	h := sha256.New()
	h.Write([]byte{0})
	h.Write(d)
	var out chain.Hash
	h.Sum(out[:0])
	return out
}

func nodeHash(l, r chain.Hash) chain.Hash {
	var buf [65]byte
	buf[0] = 1
	copy(buf[1:], l[:])
	copy(buf[33:], r[:])
	return sha256.Sum256(buf[:])
}

// Frontier is the outbox's compact state.
type Frontier struct {
	_     struct{}     `cbor:",toarray"`
	Count uint64       `json:"count"`
	Peaks []chain.Hash `json:"peaks"`
}

// Append adds one leaf.
func (f *Frontier) Append(leaf []byte) {
	h := leafHash(leaf)
	for n := f.Count; n&1 == 1; n >>= 1 {
		last := len(f.Peaks) - 1
		h = nodeHash(f.Peaks[last], h)
		f.Peaks = f.Peaks[:last]
	}
	f.Peaks = append(f.Peaks, h)
	f.Count++
}

// Root is the RFC 6962 root of the leaves so far (H("") when empty).
func (f *Frontier) Root() chain.Hash {
	if len(f.Peaks) == 0 {
		return sha256.Sum256(nil)
	}
	r := f.Peaks[len(f.Peaks)-1]
	for i := len(f.Peaks) - 2; i >= 0; i-- {
		r = nodeHash(f.Peaks[i], r)
	}
	return r
}

func (f *Frontier) valid() bool {
	n := 0
	for c := f.Count; c > 0; c &= c - 1 {
		n++
	}
	return n == len(f.Peaks)
}
