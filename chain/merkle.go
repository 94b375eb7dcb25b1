package chain

import (
	"crypto/sha256"
	"errors"
	"fmt"
)

// RFC 6962 binary Merkle trees: leaf hash H(0x00||d), node hash
// H(0x01||l||r), split at the largest power of two below n. The empty tree's
// root is H("").

// ErrBadProof is returned when an inclusion proof does not verify.
var ErrBadProof = errors.New("merkle proof does not verify")

func leafHash(d []byte) Hash {
	h := sha256.New()
	h.Write([]byte{0})
	h.Write(d)
	var out Hash
	h.Sum(out[:0])
	return out
}

func nodeHash(l, r Hash) Hash {
	var buf [65]byte
	buf[0] = 1
	copy(buf[1:], l[:])
	copy(buf[33:], r[:])
	return sha256.Sum256(buf[:])
}

func splitPoint(n int) int {
	k := 1
	for k<<1 < n {
		k <<= 1
	}
	return k
}

// MerkleRoot returns the RFC 6962 root of the leaves.
func MerkleRoot(leaves [][]byte) Hash {
	if len(leaves) == 0 {
		return sha256.Sum256(nil)
	}
	hs := make([]Hash, len(leaves))
	for i, l := range leaves {
		hs[i] = leafHash(l)
	}
	return rootOfHashes(hs)
}

func rootOfHashes(hs []Hash) Hash {
	if len(hs) == 1 {
		return hs[0]
	}
	k := splitPoint(len(hs))
	return nodeHash(rootOfHashes(hs[:k]), rootOfHashes(hs[k:]))
}

// MerkleProof proves that a leaf sits at Index in a tree of Total leaves.
// Aunts are the sibling hashes from the leaf up to the root.
type MerkleProof struct {
	Index uint64 `json:"index"`
	Total uint64 `json:"total"`
	Aunts []Hash `json:"aunts"`
}

// MerkleProve builds the inclusion proof of leaves[index].
func MerkleProve(leaves [][]byte, index int) (MerkleProof, error) {
	if index < 0 || index >= len(leaves) {
		return MerkleProof{}, fmt.Errorf("merkle proof: index %d out of range [0,%d)", index, len(leaves))
	}
	hs := make([]Hash, len(leaves))
	for i, l := range leaves {
		hs[i] = leafHash(l)
	}
	var aunts []Hash
	var walk func(hs []Hash, i int)
	walk = func(hs []Hash, i int) {
		if len(hs) == 1 {
			return
		}
		k := splitPoint(len(hs))
		if i < k {
			walk(hs[:k], i)
			aunts = append(aunts, rootOfHashes(hs[k:]))
		} else {
			walk(hs[k:], i-k)
			aunts = append(aunts, rootOfHashes(hs[:k]))
		}
	}
	walk(hs, index)
	return MerkleProof{Index: uint64(index), Total: uint64(len(leaves)), Aunts: aunts}, nil
}

// Verify checks that leaf is included under root.
func (p MerkleProof) Verify(root Hash, leaf []byte) error {
	if p.Total == 0 || p.Index >= p.Total || p.Total > 1<<32 {
		return fmt.Errorf("%w: index %d of %d", ErrBadProof, p.Index, p.Total)
	}
	h, rest, err := p.climb(leafHash(leaf), p.Index, p.Total, p.Aunts)
	if err != nil {
		return err
	}
	if len(rest) != 0 {
		return fmt.Errorf("%w: %d unused aunts", ErrBadProof, len(rest))
	}
	if h != root {
		return ErrBadProof
	}
	return nil
}

// climb recomputes the subtree root of size total holding the leaf at i;
// aunts are consumed innermost first, so the deepest split is resolved first.
func (p MerkleProof) climb(leaf Hash, i, total uint64, aunts []Hash) (Hash, []Hash, error) {
	if total == 1 {
		return leaf, aunts, nil
	}
	k := uint64(splitPoint(int(total)))
	if i < k {
		h, rest, err := p.climb(leaf, i, k, aunts)
		if err != nil {
			return Hash{}, nil, err
		}
		if len(rest) == 0 {
			return Hash{}, nil, fmt.Errorf("%w: too few aunts", ErrBadProof)
		}
		return nodeHash(h, rest[0]), rest[1:], nil
	}
	h, rest, err := p.climb(leaf, i-k, total-k, aunts)
	if err != nil {
		return Hash{}, nil, err
	}
	if len(rest) == 0 {
		return Hash{}, nil, fmt.Errorf("%w: too few aunts", ErrBadProof)
	}
	return nodeHash(rest[0], h), rest[1:], nil
}
