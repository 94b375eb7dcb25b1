package state

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"sort"
	"sync"

	"github.com/dgraph-io/badger/v4"
	"github.com/pokt-network/smt"

	"github.com/dure-network/dure/chain"
)

// Key layout in the shared Badger database.
const (
	valuePrefix = "s/" // "s/" + state key → value
	nodePrefix  = "n/" // "n/" + sha256 node digest → encoded trie node
	// RootKey holds the state root of each version. It is written with the
	// block at the block's commit timestamp, so reading it at timestamp V
	// gives the root of version V (Badger keeps the versions).
	RootKey = "r/stateroot"
)

// MaxKeyLen bounds a state key (Badger's own limit is near 64 KiB).
const MaxKeyLen = 1024

const hashLen = sha256.Size

// nodeCacheSize bounds the trie node cache per generation (an entry costs
// about 180 bytes, so two full generations stay under 40 MB). It holds the
// upper levels of the trie that every block walks.
const nodeCacheSize = 100_000

// Errors returned by the package.
var (
	ErrEmptyKey     = errors.New("state: empty key")
	ErrKeyTooLong   = errors.New("state: key too long")
	ErrEmptyValue   = errors.New("state: empty value (use Delete)")
	ErrStaleBranch  = errors.New("state: branch is not on the committed head")
	ErrNotRoot      = errors.New("state: not a top-level branch")
	ErrClosed       = errors.New("state: branch already written into its parent")
	ErrVersion      = errors.New("state: unknown version")
	ErrRootMismatch = errors.New("state: root mismatch")
	ErrMissingNode  = errors.New("state: trie node missing")
	ErrCorruptNode  = errors.New("state: trie node corrupt")
)

// State is the committed authenticated state: the head version and root,
// over the node's Badger database. It is safe for concurrent use; the
// Branches it hands out are not.
type State struct {
	db    *badger.DB
	nodes *nodeCache

	mu      sync.RWMutex
	version uint64
	root    chain.Hash
}

// New opens the state whose committed head is (version, root): version 0
// and the zero root before genesis. version is the Badger timestamp the
// head was committed at. If a root was recorded for that version it must
// equal root, so a node never resumes on state it did not commit.
func New(db *badger.DB, version uint64, root chain.Hash) (*State, error) {
	if db == nil {
		return nil, errors.New("state: nil database")
	}
	s := &State{db: db, nodes: newNodeCache(nodeCacheSize), version: version, root: root}
	stored, ok, err := s.storedRoot(version)
	if err != nil {
		return nil, err
	}
	if !ok {
		stored = chain.Hash{}
	}
	if stored != root {
		return nil, fmt.Errorf("%w: version %d has root %s, caller says %s", ErrRootMismatch, version, stored, root)
	}
	return s, nil
}

// Head returns the committed version and its root.
func (s *State) Head() (uint64, chain.Hash) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.version, s.root
}

// storedRoot reads RootKey at version.
func (s *State) storedRoot(version uint64) (chain.Hash, bool, error) {
	txn := s.db.NewTransactionAt(version, false)
	defer txn.Discard()
	item, err := txn.Get([]byte(RootKey))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return chain.Hash{}, false, nil
	}
	if err != nil {
		return chain.Hash{}, false, fmt.Errorf("state: read root at %d: %w", version, err)
	}
	var h chain.Hash
	err = item.Value(func(v []byte) error {
		if len(v) != hashLen {
			return fmt.Errorf("%w: stored root has %d bytes", ErrCorruptNode, len(v))
		}
		copy(h[:], v)
		return nil
	})
	return h, err == nil, err
}

// Root returns the state root of a committed version (the zero hash for any
// version before the first commit). Versions after the head are unknown.
func (s *State) Root(version uint64) (chain.Hash, error) {
	head, root := s.Head()
	switch {
	case version == head:
		return root, nil
	case version > head:
		return chain.Hash{}, fmt.Errorf("%w: %d is after head %d", ErrVersion, version, head)
	}
	h, _, err := s.storedRoot(version)
	return h, err
}

// Branch returns a writable overlay on the committed head.
func (s *State) Branch() *Branch {
	version, root := s.Head()
	return &Branch{
		version: version,
		root:    root,
		base:    &reader{txn: s.db.NewTransactionAt(version, false)},
		cache:   make(map[string][]byte),
		writes:  make(map[string]entry),
	}
}

// Reader returns a read-only view of committed state at version (a Badger
// read at that timestamp). Keys are state keys, without the "s/" prefix.
// It is cheap: make one per request rather than sharing it between
// goroutines.
func (s *State) Reader(version uint64) chain.KVReader {
	return &reader{txn: s.db.NewTransactionAt(version, false)}
}

// Pending is a staged, uncommitted new version: its root and the writes
// that make it durable.
type Pending struct {
	baseVersion uint64
	baseRoot    chain.Hash
	root        chain.Hash
	values      []kvOp
	nodes       []kvOp
}

type kvOp struct {
	key, val []byte
	del      bool
}

// Root is the state root after the staged changes.
func (p *Pending) Root() chain.Hash { return p.root }

// WriteTo adds the staged flat values, trie nodes (new ones, and deletions
// of nodes no longer referenced) and the new root record to the block's
// write batch. Old versions stay readable until Badger discards them.
func (p *Pending) WriteTo(w chain.KVWriter) error { return p.write(w, true) }

// WriteToArchive is WriteTo for a node that never discards old versions:
// trie nodes orphaned by this block are not deleted. Their deletion would
// only write tombstones (older versions must still read the nodes, and
// nothing is ever discarded), so an archive node skips roughly half of a
// block's state writes. Content-addressed nodes make the two forms
// interchangeable: the same root reads the same nodes either way.
func (p *Pending) WriteToArchive(w chain.KVWriter) error { return p.write(w, false) }

func (p *Pending) write(w chain.KVWriter, deleteOrphans bool) error {
	for i, ops := range [][]kvOp{p.values, p.nodes} {
		for _, op := range ops {
			var err error
			if op.del && i == 1 && !deleteOrphans {
				continue
			}
			if op.del {
				err = w.Delete(op.key)
			} else {
				err = w.Set(op.key, op.val)
			}
			if err != nil {
				return fmt.Errorf("state: write %q: %w", op.key, err)
			}
		}
	}
	root := p.root
	if err := w.Set([]byte(RootKey), root[:]); err != nil {
		return fmt.Errorf("state: write root: %w", err)
	}
	return nil
}

// Stage applies a top-level branch's net changes, in ascending key order,
// to a trie opened at the committed root and returns the new root with the
// writes to persist. Nothing is written: several candidates may be staged
// from the same head and only the committed one takes effect.
func (s *State) Stage(b *Branch) (p *Pending, err error) {
	if b.parent != nil {
		return nil, ErrNotRoot
	}
	if b.closed {
		return nil, ErrClosed
	}
	version, root := s.Head()
	if b.version != version || b.root != root {
		return nil, fmt.Errorf("%w: branch at %d, head at %d", ErrStaleBranch, b.version, version)
	}
	defer func() {
		// smt panics on malformed nodes; a corrupt database must surface as
		// an error, not bring the node down mid-block.
		if r := recover(); r != nil {
			p, err = nil, fmt.Errorf("%w: %v", ErrCorruptNode, r)
		}
	}()

	keys := make([]string, 0, len(b.writes))
	for k := range b.writes {
		keys = append(keys, k)
	}
	sort.Strings(keys)

	ns := newNodeStore(s.db, version, s.nodes)
	defer ns.txn.Discard()
	trie := smt.ImportSparseMerkleTrie(ns, sha256.New(), root[:])
	values := make([]kvOp, 0, len(keys))
	for _, k := range keys {
		e := b.writes[k]
		if e.del {
			old, err := b.committed(k)
			if err != nil {
				return nil, err
			}
			if old == nil {
				continue // never committed: nothing to remove
			}
			if err := trie.Delete([]byte(k)); err != nil {
				return nil, fmt.Errorf("state: stage delete %q: %w", k, err)
			}
			values = append(values, kvOp{key: valueKey(k), del: true})
			continue
		}
		if err := trie.Update([]byte(k), e.val); err != nil {
			return nil, fmt.Errorf("state: stage set %q: %w", k, err)
		}
		values = append(values, kvOp{key: valueKey(k), val: e.val})
	}
	if err := trie.Commit(); err != nil {
		return nil, fmt.Errorf("state: stage commit trie: %w", err)
	}
	p = &Pending{baseVersion: version, baseRoot: root, values: values, nodes: ns.ops()}
	copy(p.root[:], trie.Root())
	return p, nil
}

// Committed advances the head once the store has durably written p at
// version (its Badger commit timestamp). p must have been staged on the
// current head, which makes any other candidate staged from the same head
// stale.
func (s *State) Committed(p *Pending, version uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p.baseVersion != s.version || p.baseRoot != s.root {
		return fmt.Errorf("%w: pending staged at %d, head at %d", ErrStaleBranch, p.baseVersion, s.version)
	}
	if version <= s.version {
		return fmt.Errorf("%w: commit version %d not after head %d", ErrVersion, version, s.version)
	}
	s.version, s.root = version, p.root
	// The next block walks the same upper trie levels: keep the new nodes.
	for _, op := range p.nodes {
		if !op.del {
			s.nodes.put(string(op.key[len(nodePrefix):]), op.val)
		}
	}
	return nil
}

func valueKey(k string) []byte {
	out := make([]byte, 0, len(valuePrefix)+len(k))
	return append(append(out, valuePrefix...), k...)
}

func checkKey(key []byte) error {
	switch {
	case len(key) == 0:
		return ErrEmptyKey
	case len(key) > MaxKeyLen:
		return fmt.Errorf("%w: %d bytes, max %d", ErrKeyTooLong, len(key), MaxKeyLen)
	}
	return nil
}

// reader reads committed values through one Badger read transaction.
// Managed-mode read transactions hold no resources, so it needs no Close.
type reader struct{ txn *badger.Txn }

func (r *reader) Get(key []byte) ([]byte, error) {
	if err := checkKey(key); err != nil {
		return nil, err
	}
	return r.get(string(key))
}

func (r *reader) get(k string) ([]byte, error) {
	item, err := r.txn.Get(valueKey(k))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("state: get %q: %w", k, err)
	}
	v, err := item.ValueCopy(nil)
	if err != nil {
		return nil, fmt.Errorf("state: get %q: %w", k, err)
	}
	return v, nil
}

func (r *reader) Iterate(prefix []byte, fn func(key, value []byte) (bool, error)) error {
	return r.iterate(prefix, nil, fn)
}

// iterate walks committed keys with prefix in ascending order. overlay,
// sorted and deduplicated, is merged in: its entries shadow committed ones
// and its deletions hide them.
func (r *reader) iterate(prefix []byte, overlay []overlayEntry, fn func(key, value []byte) (bool, error)) error {
	full := valueKey(string(prefix))
	opts := badger.DefaultIteratorOptions
	opts.Prefix = full
	opts.PrefetchValues = false
	it := r.txn.NewIterator(opts)
	defer it.Close()

	emit := func(e overlayEntry) (bool, error) {
		if e.del {
			return false, nil
		}
		return fn([]byte(e.key), bytes.Clone(e.val))
	}
	i := 0
	for it.Seek(full); it.ValidForPrefix(full); it.Next() {
		item := it.Item()
		k := string(item.Key()[len(valuePrefix):])
		for i < len(overlay) && overlay[i].key < k {
			if stop, err := emit(overlay[i]); stop || err != nil {
				return err
			}
			i++
		}
		if i < len(overlay) && overlay[i].key == k {
			stop, err := emit(overlay[i])
			i++
			if stop || err != nil {
				return err
			}
			continue
		}
		v, err := item.ValueCopy(nil)
		if err != nil {
			return fmt.Errorf("state: iterate %q: %w", k, err)
		}
		if stop, err := fn([]byte(k), v); stop || err != nil {
			return err
		}
	}
	for ; i < len(overlay); i++ {
		if stop, err := emit(overlay[i]); stop || err != nil {
			return err
		}
	}
	return nil
}

type overlayEntry struct {
	key string
	entry
}
