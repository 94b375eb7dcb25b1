package state

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"math/bits"
	"slices"

	"github.com/pokt-network/smt"

	"github.com/dure-network/dure/chain"
)

// The batched trie updater. Stage and recover apply a version's changes
// with it instead of pokt-network/smt's Update/Delete/Commit: the block's
// writes are hashed to trie paths and sorted once, and one walk from the
// root rebuilds each touched path once, resolving each stored node once
// and hashing each new node once. It writes exactly the trie smt defines
// (sha2-256 paths and value hashes; node encodings leaf 0x00 ‖ path ‖
// value hash, inner 0x01 ‖ left ‖ right, extension 0x02 ‖ lo ‖ hi ‖ path ‖
// child, an extension's digest being that of the inner nodes it stands
// for), so smt reads what it writes: Prove, hasHead and databases written
// by smt keep working unchanged. The root is the digest of the sparse
// Merkle tree of the key set, whatever the shape smt's history left
// (smt may keep an inner node with one empty child where an extension
// would do: both have the same digest); the updater writes the compact
// shape on the paths it rebuilds. The only bytes it may write differently
// from smt are the bits of an extension's path outside its bounds, which
// no reader looks at (smt copies there the path of whichever key created
// the extension).
//
// The node changes it returns are the exact difference between the old
// and the new trie: a delete for every stored node the new trie no longer
// holds, a set for every node it adds, none for a node both hold (smt
// deletes and re-sets a leaf written with its old value).

// Node kinds of the updater's in-memory nodes.
const (
	kEmpty = iota
	kRef   // stored, not yet decoded: only digest is set
	kLeaf
	kInner
	kExt
)

// Node encodings (smt's) and their lengths.
const (
	leafTag, innerTag, extTag = 0, 1, 2
	innerLen                  = 1 + 2*hashLen
	extLen                    = 1 + 2 + 2*hashLen
	trieDepth                 = 8 * hashLen
)

// tnode is a trie node of a batch, or of the resident tree it leaves for
// the next one (read-only from then on). A stored node's digest is its
// key in the node store; a new node's is computed when it is finished
// (an extension may still grow until its parent is built).
type tnode struct {
	kind        uint8
	stored      bool // held by the node store under digest (delete it when replaced)
	hashed      bool // digest is valid
	own         bool // made by the current batch (trim clears it)
	lo, hi      uint8
	digest      digest
	path        digest // leaf: key path; extension: a path with its position's bits [0, hi)
	vh          digest // leaf: value hash; extension: child digest once known
	left, right *tnode // inner: children; extension: child in left
}

// trieOp is one write of the batch: path = sha256(key), vh = sha256(value)
// or del; keep marks an existing leaf merged into a build (no write).
type trieOp struct {
	path digest
	vh   digest
	del  bool
	keep *tnode
	key  string
}

// nodeGetter reads a stored node's encoding by digest (nodeStore; a
// plain map store in tests).
type nodeGetter interface {
	Get(digest []byte) ([]byte, error)
}

// batchTrie applies one batch of writes to the trie at a root.
type batchTrie struct {
	ns       nodeGetter
	empty    *tnode // the empty subtree
	resident int    // residentDepth
	sets     []nodeChange
	dels     []nodeChange
	buf      [extLen]byte
}

// residentDepth: the head trie stays decoded in memory between blocks
// down to this depth (at most 2^(residentDepth+1) nodes and as many child
// references, about 8 MB, whatever the number of keys); deeper nodes are
// read through the node store each time a block touches them.
const residentDepth = 16

// applyBatch applies changes (unique keys; nil value deletes) to the trie
// at root over ns and returns the new root and the node changes. top is
// the resident tree of root (nil: none), which it only reads; the new
// one is returned for the next batch.
func applyBatch(ns nodeGetter, root chain.Hash, top *tnode, changes []change) (chain.Hash, *tnode, []nodeChange, error) {
	return applyBatchResident(ns, root, top, changes, residentDepth)
}

// applyBatchResident is applyBatch keeping resident nodes down to depth
// resident.
func applyBatchResident(ns nodeGetter, root chain.Hash, top *tnode, changes []change, resident int) (chain.Hash, *tnode, []nodeChange, error) {
	ops := make([]trieOp, len(changes))
	for i, c := range changes {
		o := &ops[i]
		o.path = sha256.Sum256([]byte(c.key))
		o.key = c.key
		if c.val == nil {
			o.del = true
		} else {
			o.vh = sha256.Sum256(c.val)
		}
	}
	slices.SortFunc(ops, func(a, b trieOp) int { return bytes.Compare(a.path[:], b.path[:]) })
	for i := 1; i < len(ops); i++ {
		if ops[i].path == ops[i-1].path {
			return chain.Hash{}, nil, nil, fmt.Errorf("state: keys %q and %q have the same trie path", ops[i-1].key, ops[i].key)
		}
	}
	t := &batchTrie{ns: ns, resident: resident, empty: &tnode{kind: kEmpty, hashed: true}}
	if top == nil || !top.hashed || top.digest != digest(root) {
		top = t.ref(digest(root))
	}
	n, _, err := t.update(top, 0, ops)
	if err != nil {
		return chain.Hash{}, nil, nil, err
	}
	d, err := t.finish(n)
	if err != nil {
		return chain.Hash{}, nil, nil, err
	}
	t.trim(n, 0)
	return chain.Hash(d), n, append(t.dels, t.sets...), nil
}

// trim makes the batch's part of the new tree resident: nodes deeper than
// residentDepth keep their children as references only. Nodes of earlier
// batches (own false) are trimmed already.
func (t *batchTrie) trim(n *tnode, depth int) {
	if !n.own {
		return
	}
	n.own, n.stored = false, true // the next batch reads it committed
	switch n.kind {
	case kInner:
		if depth >= t.resident {
			n.left, n.right = t.cut(n.left), t.cut(n.right)
			return
		}
		t.trim(n.left, depth+1)
		t.trim(n.right, depth+1)
	case kExt:
		if int(n.hi) > t.resident {
			n.left = t.cut(n.left)
			return
		}
		t.trim(n.left, int(n.hi))
	}
}

// cut is a reference to n.
func (t *batchTrie) cut(n *tnode) *tnode {
	if n.kind == kRef || n.kind == kEmpty {
		return n
	}
	r := t.ref(n.digest)
	r.own = false
	return r
}

func (t *batchTrie) alloc() *tnode {
	return &tnode{own: true}
}

func (t *batchTrie) ref(d digest) *tnode {
	if d == (digest{}) {
		return t.empty
	}
	n := t.alloc()
	n.kind, n.stored, n.hashed, n.digest = kRef, true, true, d
	return n
}

// resolve returns a stored node decoded (a new node, its children as
// refs: nodes are never modified once made, so trees staged from one head
// share them), strictly, so a damaged node is an error and never a panic.
func (t *batchTrie) resolve(r *tnode) (*tnode, error) {
	if r.kind != kRef {
		return r, nil
	}
	enc, err := t.ns.Get(r.digest[:])
	if err != nil {
		return nil, err
	}
	n := t.alloc()
	n.stored, n.hashed, n.digest = true, true, r.digest
	return n, t.decodeInto(n, enc)
}

func (t *batchTrie) decodeInto(n *tnode, enc []byte) error {
	f, err := decodeNode(enc)
	if err != nil {
		return fmt.Errorf("%w: node %x: %v", ErrCorruptNode, n.digest, err)
	}
	switch f.kind {
	case kLeaf:
		n.kind, n.path, n.vh = kLeaf, f.a, f.b
	case kInner:
		n.kind, n.left, n.right = kInner, t.ref(f.a), t.ref(f.b)
	case kExt:
		n.kind, n.lo, n.hi, n.path, n.left = kExt, f.lo, f.hi, f.a, t.ref(f.b)
		n.vh = f.b
	}
	return nil
}

// decodedNode is a node encoding's fields: a leaf's path and value hash,
// an inner node's children, an extension's bounds, path and child.
type decodedNode struct {
	kind   uint8
	lo, hi uint8
	a, b   digest
}

// decodeNode strictly decodes an smt node encoding.
func decodeNode(enc []byte) (decodedNode, error) {
	var f decodedNode
	if len(enc) == 0 {
		return f, errors.New("empty encoding")
	}
	switch enc[0] {
	case leafTag, innerTag:
		if len(enc) != innerLen {
			return f, fmt.Errorf("type %d node of %d bytes", enc[0], len(enc))
		}
		f.kind = kLeaf
		if enc[0] == innerTag {
			f.kind = kInner
			if [hashLen]byte(enc[1:1+hashLen]) == (digest{}) && [hashLen]byte(enc[1+hashLen:]) == (digest{}) {
				return f, errors.New("inner node with two empty children")
			}
		}
		f.a, f.b = [hashLen]byte(enc[1:1+hashLen]), [hashLen]byte(enc[1+hashLen:])
	case extTag:
		if len(enc) != extLen {
			return f, fmt.Errorf("extension node of %d bytes", len(enc))
		}
		f.kind, f.lo, f.hi = kExt, enc[1], enc[2]
		if f.lo >= f.hi {
			return f, fmt.Errorf("extension bounds [%d, %d)", f.lo, f.hi)
		}
		f.a, f.b = [hashLen]byte(enc[3:3+hashLen]), [hashLen]byte(enc[3+hashLen:])
		if f.b == (digest{}) {
			return f, errors.New("extension over an empty child")
		}
	default:
		return f, fmt.Errorf("node type %d", enc[0])
	}
	return f, nil
}

func bit(p *digest, i int) int { return int(p[i>>3]>>(7-uint(i&7))) & 1 }

func setBit(p *digest, i, b int) {
	m := byte(1) << (7 - uint(i&7))
	if b == 1 {
		p[i>>3] |= m
	} else {
		p[i>>3] &^= m
	}
}

// diffBit is the first bit at or after from where a and b differ, or end
// if none before end.
func diffBit(a, b *digest, from, end int) int {
	for i := from >> 3; i < hashLen && i<<3 < end; i++ {
		x := a[i] ^ b[i]
		if i == from>>3 {
			x &= 0xff >> uint(from&7)
		}
		if x != 0 {
			if d := i<<3 + bits.LeadingZeros8(x); d < end {
				return d
			}
			return end
		}
	}
	return end
}

// splitAt is the index of the first op whose bit i is 1 (ops are sorted
// and share bits [0, i)).
func splitAt(ops []trieOp, i int) int {
	lo, hi := 0, len(ops)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if bit(&ops[m].path, i) == 0 {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}

// update applies ops (sorted, unique, all under n's position) to the
// subtree n at depth and returns the new subtree and whether it changed.
func (t *batchTrie) update(n *tnode, depth int, ops []trieOp) (*tnode, bool, error) {
	if len(ops) == 0 {
		return n, false, nil
	}
	n, err := t.resolve(n)
	if err != nil {
		return nil, false, err
	}
	switch n.kind {
	case kEmpty:
		for i := range ops {
			if ops[i].del {
				return nil, false, fmt.Errorf("state: stage delete %q: %w", ops[i].key, smt.ErrKeyNotFound)
			}
		}
		return t.build(depth, ops), true, nil
	case kLeaf:
		return t.updateLeaf(n, depth, ops)
	case kInner:
		if depth >= trieDepth {
			return nil, false, fmt.Errorf("%w: inner node %x below the last level", ErrCorruptNode, n.digest)
		}
		i := splitAt(ops, depth)
		l, lc, err := t.update(n.left, depth+1, ops[:i])
		if err != nil {
			return nil, false, err
		}
		r, rc, err := t.update(n.right, depth+1, ops[i:])
		if err != nil {
			return nil, false, err
		}
		if !lc && !rc {
			return n, false, nil
		}
		t.consume(n)
		j, err := t.join(depth, &ops[0].path, l, r)
		return j, true, err
	case kExt:
		lo, hi := int(n.lo), int(n.hi)
		if lo != depth {
			return nil, false, fmt.Errorf("%w: extension node %x starts at bit %d, found at %d", ErrCorruptNode, n.digest, lo, depth)
		}
		m := hi
		for i := range ops {
			m = diffBit(&ops[i].path, &n.path, lo, m)
		}
		if m == hi {
			c, cc, err := t.update(n.left, hi, ops)
			if err != nil || !cc {
				return n, false, err
			}
			t.consume(n)
			e, err := t.extend(depth, hi, &n.path, c)
			return e, true, err
		}
		// Some op leaves the extension at bit m: split it there into
		// (an extension down to m,) an inner node at m whose other child
		// is empty, (and an extension from m+1,) then update that.
		t.consume(n)
		rest := n.left
		if m+1 < hi {
			rest = t.newExt(m+1, hi, &n.path, n.left)
		}
		in := t.alloc()
		in.kind, in.left, in.right = kInner, t.empty, t.empty
		if bit(&n.path, m) == 0 {
			in.left = rest
		} else {
			in.right = rest
		}
		top := in
		if m > depth {
			top = t.newExt(depth, m, &n.path, in)
		}
		res, _, err := t.update(top, depth, ops)
		return res, true, err
	}
	return nil, false, fmt.Errorf("%w: node %x of unknown kind", ErrCorruptNode, n.digest)
}

// updateLeaf merges the existing leaf n into ops and builds the subtree.
func (t *batchTrie) updateLeaf(n *tnode, depth int, ops []trieOp) (*tnode, bool, error) {
	i, found := slices.BinarySearchFunc(ops, n.path, func(o trieOp, p digest) int { return bytes.Compare(o.path[:], p[:]) })
	merged := make([]trieOp, 0, len(ops)+1)
	merged = append(merged, ops[:i]...)
	switch {
	case !found:
		merged = append(merged, trieOp{path: n.path, vh: n.vh, keep: n})
	case ops[i].del:
		t.consume(n)
		i++
	case ops[i].vh == n.vh:
		merged = append(merged, trieOp{path: n.path, vh: n.vh, keep: n}) // same value
		i++
	default:
		t.consume(n)
	}
	merged = append(merged, ops[i:]...)
	for i := range merged {
		if merged[i].del {
			return nil, false, fmt.Errorf("state: stage delete %q: %w", merged[i].key, smt.ErrKeyNotFound)
		}
	}
	switch {
	case len(merged) == 0:
		return t.empty, true, nil
	case len(merged) == 1 && merged[0].keep == n:
		return n, false, nil
	}
	return t.build(depth, merged), true, nil
}

// build makes the subtree at depth holding exactly ops (sets and kept
// leaves, sorted, at least one).
func (t *batchTrie) build(depth int, ops []trieOp) *tnode {
	if len(ops) == 1 {
		if ops[0].keep != nil {
			return ops[0].keep
		}
		return t.newLeaf(&ops[0])
	}
	p := diffBit(&ops[0].path, &ops[len(ops)-1].path, depth, trieDepth)
	i := splitAt(ops, p)
	in := t.newInner(t.build(p+1, ops[:i]), t.build(p+1, ops[i:]))
	if p > depth {
		return t.newExt(depth, p, &ops[0].path, in)
	}
	return in
}

// join makes the node at depth over new children l and r; pos has the
// position's bits [0, depth).
func (t *batchTrie) join(depth int, pos *digest, l, r *tnode) (*tnode, error) {
	if l.kind == kEmpty && r.kind == kEmpty {
		return t.empty, nil
	}
	if l.kind != kEmpty && r.kind != kEmpty {
		return t.newInner(l, r), nil
	}
	o, b := l, 0
	if l.kind == kEmpty {
		o, b = r, 1
	}
	o, err := t.resolve(o)
	if err != nil {
		return nil, err
	}
	if o.kind == kLeaf {
		return o, nil // a lone leaf moves up
	}
	p := *pos
	setBit(&p, depth, b)
	return t.extend(depth, depth+1, &p, o)
}

// extend puts c, a subtree at depth end, under the bits [depth, end) of
// path.
func (t *batchTrie) extend(depth, end int, path *digest, c *tnode) (*tnode, error) {
	c, err := t.resolve(c)
	if err != nil {
		return nil, err
	}
	switch c.kind {
	case kEmpty, kLeaf:
		return c, nil
	case kExt:
		if int(c.lo) != end {
			return nil, fmt.Errorf("%w: extension node %x starts at bit %d, found at %d", ErrCorruptNode, c.digest, c.lo, end)
		}
		t.consume(c)
		return t.newExt(depth, int(c.hi), &c.path, c.left), nil
	}
	return t.newExt(depth, end, path, c), nil
}

// consume records that the stored node n is replaced.
func (t *batchTrie) consume(n *tnode) {
	if n.stored {
		t.dels = append(t.dels, nodeChange{digest: n.digest})
	}
}

func (t *batchTrie) newLeaf(o *trieOp) *tnode {
	n := t.alloc()
	n.kind, n.path, n.vh = kLeaf, o.path, o.vh
	enc := make([]byte, innerLen)
	enc[0] = leafTag
	copy(enc[1:], n.path[:])
	copy(enc[1+hashLen:], n.vh[:])
	n.digest, n.hashed = sha256.Sum256(enc), true
	t.sets = append(t.sets, nodeChange{digest: n.digest, enc: enc})
	return n
}

// newInner makes and writes the inner node over two non-empty children.
func (t *batchTrie) newInner(l, r *tnode) *tnode {
	n := t.alloc()
	n.kind, n.left, n.right = kInner, l, r
	ld, _ := t.finish(l)
	rd, _ := t.finish(r)
	enc := make([]byte, innerLen)
	enc[0] = innerTag
	copy(enc[1:], ld[:])
	copy(enc[1+hashLen:], rd[:])
	n.digest, n.hashed = sha256.Sum256(enc), true
	t.sets = append(t.sets, nodeChange{digest: n.digest, enc: enc})
	return n
}

func (t *batchTrie) newExt(lo, hi int, path *digest, child *tnode) *tnode {
	n := t.alloc()
	n.kind, n.lo, n.hi, n.path, n.left = kExt, uint8(lo), uint8(hi), *path, child
	return n
}

// finish returns n's digest, writing a new extension (whose shape is
// final once its parent is built).
func (t *batchTrie) finish(n *tnode) (digest, error) {
	if n.hashed {
		return n.digest, nil
	}
	if n.kind != kExt {
		return digest{}, fmt.Errorf("%w: unfinished node of kind %d", ErrCorruptNode, n.kind)
	}
	cd, err := t.finish(n.left)
	if err != nil {
		return digest{}, err
	}
	h := cd
	b := &t.buf
	b[0] = innerTag
	for i := int(n.hi) - 1; i >= int(n.lo); i-- {
		if bit(&n.path, i) == 0 {
			copy(b[1:], h[:])
			clear(b[1+hashLen : innerLen])
		} else {
			clear(b[1 : 1+hashLen])
			copy(b[1+hashLen:], h[:])
		}
		h = sha256.Sum256(b[:innerLen])
	}
	enc := make([]byte, extLen)
	enc[0], enc[1], enc[2] = extTag, n.lo, n.hi
	copy(enc[3:], n.path[:])
	copy(enc[3+hashLen:], cd[:])
	n.digest, n.vh, n.hashed = h, cd, true
	t.sets = append(t.sets, nodeChange{digest: n.digest, enc: enc})
	return h, nil
}
