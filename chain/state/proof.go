package state

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"

	"github.com/pokt-network/smt"

	"github.com/dure-network/dure/chain"
)

// Proof shows that a key holds a value, or holds nothing, under a state
// root. It encodes to JSON and to canonical CBOR, so an API can serve it
// and a light client can check it with VerifyProof alone.
type Proof struct {
	_ struct{} `cbor:",toarray"`
	// SideNodes are the sibling digests from the leaf up to the root.
	SideNodes [][]byte `json:"side_nodes"`
	// OtherLeaf is set in an absence proof whose path ends at a leaf of
	// another key: that leaf's encoding.
	OtherLeaf []byte `json:"other_leaf,omitempty"`
}

// Trie shape limits a proof must respect; checking them first keeps a
// hostile proof from reaching code in the smt library that panics.
const (
	maxSideNodes = hashLen * 8
	leafLen      = 1 + hashLen + hashLen // type byte, key path, value hash
)

// ErrProofPruned: a proof was asked for a version older than the proof
// window (Options.ProofWindow). It wraps ErrVersion.
var ErrProofPruned = fmt.Errorf("%w: outside the proof window", ErrVersion)

// Prove returns a proof for key against the root of a committed version
// in the proof window (the head and Options.ProofWindow versions before
// it): membership if the key is set there, absence otherwise. Pair it with the
// value from Reader(version) and the root from Root(version) or the header.
func (s *State) Prove(version uint64, key []byte) (p *Proof, err error) {
	if err := checkKey(key); err != nil {
		return nil, err
	}
	root, err := s.proofRoot(version)
	if err != nil {
		return nil, err
	}
	defer func() {
		if r := recover(); r != nil {
			p, err = nil, fmt.Errorf("%w: %v", ErrCorruptNode, r)
		}
		err = s.leftWindow(version, err)
	}()
	ns := s.newNodeStore()
	defer ns.discard()
	trie := importTrie(ns, root)
	sp, err := trie.Prove(key)
	if err != nil {
		return nil, fmt.Errorf("state: prove %q at %d: %w", key, version, err)
	}
	return &Proof{SideNodes: sp.SideNodes, OtherLeaf: sp.NonMembershipLeafData}, nil
}

// proofRoot is the root of version if it is in the proof window.
func (s *State) proofRoot(version uint64) (chain.Hash, error) {
	root, err := s.Root(version)
	if err != nil {
		return chain.Hash{}, err
	}
	s.mu.RLock()
	head, oldest := s.version, s.minProof
	s.mu.RUnlock()
	if w := uint64(s.opts.ProofWindow); head > w && head-w > oldest {
		oldest = head - w
	}
	if version < oldest && root != (chain.Hash{}) {
		return chain.Hash{}, fmt.Errorf("%w: proofs are kept from version %d (head %d, window %d)", ErrProofPruned, oldest, head, s.opts.ProofWindow)
	}
	return root, nil
}

// leftWindow tells a proof that lost its trie nodes because commits moved
// the window past version while it walked (the nodes of versions leaving
// it are released) from a damaged store: the first is ErrProofPruned, as
// if it had been asked a moment later.
func (s *State) leftWindow(version uint64, err error) error {
	if err == nil || !(errors.Is(err, ErrMissingNode) || errors.Is(err, ErrCorruptNode)) {
		return err
	}
	if _, werr := s.proofRoot(version); errors.Is(werr, ErrProofPruned) {
		return werr
	}
	return err
}

// KeyProof is a trie key, its value (nil: absent) and the proof of it.
type KeyProof struct {
	Key, Value []byte
	Proof      *Proof
}

// ProveRange proves, at a version in the proof window, which keys lie under
// prefix, from its start up to and including through (a key under prefix;
// nil when the caller saw none). It returns the next-key records of the
// last key before prefix (or the head record) and of every key under
// prefix up to through, so the record after through's tells whether more
// follow: with the values' own proofs, Proven.Iterate lists exactly those
// keys and can tell none was left out. On a state without the key-order
// index it returns the head record's absence proof, which Proven turns
// into ListUnindexed ("completeness not proven"), never into an empty list.
func (s *State) ProveRange(version uint64, prefix, through []byte) (out []KeyProof, err error) {
	root, err := s.proofRoot(version)
	if err != nil {
		return nil, err
	}
	defer func() {
		if r := recover(); r != nil {
			out, err = nil, fmt.Errorf("%w: %v", ErrCorruptNode, r)
		}
		err = s.leftWindow(version, err)
	}()
	ns := s.newNodeStore()
	defer ns.discard()
	trie := importTrie(ns, root)
	prove := func(key, value []byte) error {
		sp, err := trie.Prove(key)
		if err != nil {
			return fmt.Errorf("state: prove range %q at %d: %w", prefix, version, err)
		}
		out = append(out, KeyProof{Key: key, Value: value, Proof: &Proof{SideNodes: sp.SideNodes, OtherLeaf: sp.NonMembershipLeafData}})
		return nil
	}
	if !s.indexed {
		return out, prove(LinkKey(nil), nil)
	}
	txn := s.db.NewTransactionAt(version, false)
	defer txn.Discard()
	cur := newKeyCursor(txn)
	defer cur.close()
	var x []byte // nil: the head
	if len(prefix) > 0 {
		x = cur.before(string(prefix))
	}
	for {
		next := cur.after(string(x))
		if err := prove(LinkKey(x), LinkValue(next)); err != nil {
			return nil, err
		}
		if next == nil || through == nil || !bytes.HasPrefix(next, prefix) || (x != nil && bytes.Equal(x, through)) {
			return out, nil
		}
		x = next
	}
}

// VerifyProof checks p for key against root. A nil or empty value checks
// that key is absent; otherwise that key holds exactly value. It needs no
// database and returns an error wrapping chain.ErrBadProof on any mismatch.
func VerifyProof(root chain.Hash, key, value []byte, p *Proof) (err error) {
	if p == nil {
		return fmt.Errorf("%w: nil proof", chain.ErrBadProof)
	}
	if len(p.SideNodes) > maxSideNodes {
		return fmt.Errorf("%w: %d side nodes, max %d", chain.ErrBadProof, len(p.SideNodes), maxSideNodes)
	}
	for i, n := range p.SideNodes {
		if len(n) != hashLen {
			return fmt.Errorf("%w: side node %d has %d bytes", chain.ErrBadProof, i, len(n))
		}
	}
	if p.OtherLeaf != nil {
		if len(value) != 0 {
			return fmt.Errorf("%w: membership proof carries another leaf", chain.ErrBadProof)
		}
		if len(p.OtherLeaf) != leafLen || p.OtherLeaf[0] != 0 {
			return fmt.Errorf("%w: malformed leaf in absence proof", chain.ErrBadProof)
		}
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: %v", chain.ErrBadProof, r)
		}
	}()
	if len(value) == 0 {
		value = nil
	}
	spec := smt.NewTrieSpec(sha256.New(), false)
	sp := &smt.SparseMerkleProof{SideNodes: p.SideNodes, NonMembershipLeafData: p.OtherLeaf}
	ok, err := smt.VerifyProof(sp, root[:], key, value, &spec)
	if err != nil {
		return fmt.Errorf("%w: %v", chain.ErrBadProof, err)
	}
	if !ok {
		if value == nil {
			return fmt.Errorf("%w: key %x is not absent under root %s", chain.ErrBadProof, key, root)
		}
		return fmt.Errorf("%w: key %x does not hold the value under root %s", chain.ErrBadProof, key, root)
	}
	return nil
}

// RangeRead is one iteration a query made: the keys under Prefix, from
// its start up to Through (the last key visited; nil: none).
type RangeRead struct{ Prefix, Through []byte }

// Reads is what a query read of committed state: keys got and ranges
// iterated (full state keys).
type Reads struct {
	Keys   [][]byte
	Ranges []RangeRead
}

// ProveReads proves everything in reads at version, once per trie key:
// each key's value or absence (with its value) and each range's next-key
// records (ProveRange). Adding them all to a Proven for the version's root
// lets the query be re-run over proven state alone.
func (s *State) ProveReads(version uint64, reads Reads) ([]KeyProof, error) {
	seen := map[string]bool{}
	var out []KeyProof
	r := s.reader(version)
	for _, k := range reads.Keys {
		if seen[string(k)] {
			continue
		}
		seen[string(k)] = true
		v, err := view{r}.Get(k)
		if err != nil {
			return nil, err
		}
		p, err := s.Prove(version, k)
		if err != nil {
			return nil, err
		}
		out = append(out, KeyProof{Key: bytes.Clone(k), Value: v, Proof: p})
	}
	for _, rr := range reads.Ranges {
		rp, err := s.ProveRange(version, rr.Prefix, rr.Through)
		if err != nil {
			return nil, err
		}
		for _, kp := range rp {
			if !seen[string(kp.Key)] {
				seen[string(kp.Key)] = true
				out = append(out, kp)
			}
		}
	}
	return out, nil
}
