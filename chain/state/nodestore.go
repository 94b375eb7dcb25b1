package state

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/dgraph-io/badger/v4"
	"github.com/pokt-network/smt/kvstore"
)

// nodeStore is the smt's view of its node store: reads come from Badger at
// one version, writes stay in memory until the block commits, so staging a
// candidate block leaves the database untouched.
type nodeStore struct {
	txn   *badger.Txn
	cache *nodeCache
	buf   map[string]nodeOp // digest → last operation
}

type nodeOp struct {
	val []byte
	del bool
}

var _ kvstore.MapStore = (*nodeStore)(nil)

func newNodeStore(db *badger.DB, version uint64, cache *nodeCache) *nodeStore {
	return &nodeStore{txn: db.NewTransactionAt(version, false), cache: cache, buf: make(map[string]nodeOp)}
}

func nodeKey(digest []byte) []byte {
	k := make([]byte, 0, len(nodePrefix)+len(digest))
	return append(append(k, nodePrefix...), digest...)
}

// Get returns a node's encoding. A missing node is an error (never an empty
// value), because the trie would otherwise misparse it.
func (n *nodeStore) Get(digest []byte) ([]byte, error) {
	if op, ok := n.buf[string(digest)]; ok {
		if op.del {
			return nil, fmt.Errorf("%w: %x (deleted)", ErrMissingNode, digest)
		}
		return op.val, nil
	}
	if v, ok := n.cache.get(digest); ok {
		return v, nil
	}
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
	n.cache.put(string(digest), v)
	return v, nil
}

func firstByte(b []byte) int {
	if len(b) == 0 {
		return -1
	}
	return int(b[0])
}

func (n *nodeStore) Set(digest, value []byte) error {
	n.buf[string(digest)] = nodeOp{val: bytes.Clone(value)}
	return nil
}

func (n *nodeStore) Delete(digest []byte) error {
	n.buf[string(digest)] = nodeOp{del: true}
	return nil
}

func (n *nodeStore) Len() (int, error) { return 0, errors.New("state: node store cannot count nodes") }

func (n *nodeStore) ClearAll() error { return errors.New("state: node store cannot be cleared") }

// ops returns the buffered writes. Their order is irrelevant (each key
// appears once and the whole batch lands at one timestamp), so map order
// is fine here.
func (n *nodeStore) ops() []kvOp {
	out := make([]kvOp, 0, len(n.buf))
	for d, op := range n.buf {
		out = append(out, kvOp{key: nodeKey([]byte(d)), val: op.val, del: op.del})
	}
	return out
}
