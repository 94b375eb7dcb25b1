package state

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"

	"github.com/dgraph-io/badger/v4"
	"github.com/pokt-network/smt/kvstore"
)

// nodeStore is the smt's view of its node store: reads come from the
// in-memory nodes (nodeDB), then Badger at the head; writes stay in a
// buffer until the block commits, so staging a candidate block changes
// nothing.
type nodeStore struct {
	st  *State
	txn *badger.Txn
	ts  uint64            // version txn reads at
	buf map[digest]nodeOp // last operation per digest
}

type nodeOp struct {
	val     []byte
	del     bool
	wasDead bool // deleted earlier in this commit, then set again
}

var _ kvstore.MapStore = (*nodeStore)(nil)

func (s *State) newNodeStore() *nodeStore {
	ts, _ := s.Head()
	return &nodeStore{st: s, txn: s.db.NewTransactionAt(ts, false), ts: ts, buf: make(map[digest]nodeOp)}
}

func (n *nodeStore) discard() { n.txn.Discard() }

func nodeKey(digest []byte) []byte {
	k := make([]byte, 0, len(nodePrefix)+len(digest))
	return append(append(k, nodePrefix...), digest...)
}

// Get returns a node's encoding. A missing node is an error (never an empty
// value), because the trie would otherwise misparse it.
func (n *nodeStore) Get(raw []byte) ([]byte, error) {
	if len(raw) != hashLen {
		return nil, fmt.Errorf("%w: digest of %d bytes", ErrCorruptNode, len(raw))
	}
	dg := digest(raw)
	if op, ok := n.buf[dg]; ok {
		if op.del {
			return nil, fmt.Errorf("%w: %x (deleted)", ErrMissingNode, raw)
		}
		return op.val, nil
	}
	if v, ok := n.st.nodes.get(dg); ok {
		return v, nil
	}
	v, err := n.read(dg)
	if errors.Is(err, ErrMissingNode) {
		// A snapshot committed since this store opened may have moved the
		// node from memory to Badger at a newer version.
		if ts, _ := n.st.Head(); ts != n.ts {
			n.txn.Discard()
			n.txn, n.ts = n.st.db.NewTransactionAt(ts, false), ts
			if v, ok := n.st.nodes.get(dg); ok {
				return v, nil
			}
			v, err = n.read(dg)
		}
	}
	return v, err
}

// read loads a persisted node and checks it against its digest, so a
// damaged snapshot is named instead of misparsed.
func (n *nodeStore) read(dg digest) ([]byte, error) {
	digest := dg[:]
	item, err := n.txn.Get(nodeKey(digest))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, fmt.Errorf("%w: %x", ErrMissingNode, digest)
	}
	if err != nil {
		return nil, fmt.Errorf("read trie node %x: %w", digest, err)
	}
	v, err := item.ValueCopy(nil)
	if err != nil {
		return nil, fmt.Errorf("read trie node %x: %w", digest, err)
	}
	// The smt library panics on an unknown node type; refuse corrupt data
	// here so the caller gets an error instead.
	if len(v) < 1+hashLen || v[0] > 2 {
		return nil, fmt.Errorf("%w: node %x has %d bytes, type %d", ErrCorruptNode, digest, len(v), firstByte(v))
	}
	// Leaves and inner nodes hash to their digest; an extension node's
	// digest is that of its expansion, so Badger's checksums and the root
	// checks of a replay cover those.
	if sum := sha256.Sum256(v); v[0] < 2 && !bytes.Equal(sum[:], digest) {
		return nil, fmt.Errorf("%w: node %x in the snapshot hashes to %x", ErrCorruptNode, digest, sum)
	}
	n.st.nodes.cache.put(dg, v)
	return v, nil
}

func firstByte(b []byte) int {
	if len(b) == 0 {
		return -1
	}
	return int(b[0])
}

func (n *nodeStore) Set(raw, value []byte) error {
	if len(raw) != hashLen {
		return fmt.Errorf("%w: digest of %d bytes", ErrCorruptNode, len(raw))
	}
	prev, ok := n.buf[digest(raw)]
	n.buf[digest(raw)] = nodeOp{val: bytes.Clone(value), wasDead: ok && (prev.del || prev.wasDead)}
	return nil
}

func (n *nodeStore) Delete(raw []byte) error {
	if len(raw) != hashLen {
		return fmt.Errorf("%w: digest of %d bytes", ErrCorruptNode, len(raw))
	}
	n.buf[digest(raw)] = nodeOp{del: true}
	return nil
}

func (n *nodeStore) Len() (int, error) { return 0, errors.New("state: node store cannot count nodes") }

func (n *nodeStore) ClearAll() error { return errors.New("state: node store cannot be cleared") }

// changes returns the buffered operations. Their order is irrelevant (each
// digest appears once, and nodeDB.apply is per digest), so map order is
// fine here.
func (n *nodeStore) changes() []nodeChange {
	out := make([]nodeChange, 0, len(n.buf))
	for d, op := range n.buf {
		c := nodeChange{digest: d, wasDead: op.wasDead}
		if !op.del {
			c.enc = op.val
		}
		out = append(out, c)
	}
	return out
}
