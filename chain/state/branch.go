package state

import (
	"bytes"
	"sort"
	"strings"

	"github.com/google/btree"

	"github.com/dure-network/dure/chain"
)

// Branch is an in-memory overlay of writes on the committed state (a
// top-level branch) or on another branch (a child). Reads fall through the
// overlays to Badger at the branch's version; nothing reaches the database
// until the top-level branch is staged and its Pending committed.
//
// A child is used for one transaction: Write merges it into its parent on
// success, dropping it reverts. A Branch is not safe for concurrent use.
type Branch struct {
	parent *Branch

	// Top-level branches only.
	version uint64
	root    chain.Hash
	base    *reader
	cache   map[string][]byte // committed values already read; nil = absent

	// writes holds a top-level branch's writes, and a child's once it has
	// more than smallWrites of them; until then a child keeps them in small
	// (one transaction writes a handful of keys: a scan of a few entries
	// costs less than making, hashing into and growing a map).
	writes map[string]entry
	small  []smallEntry
	inline [smallWrites]smallEntry
	// keys orders the top-level branch's written keys, so Iterate costs
	// O(log n + matches) rather than a scan of the whole block's writes
	// (spending from lots iterates once per payment). Children hold one
	// tx's few writes and are scanned. New keys wait in unindexed until
	// an Iterate needs the order, so a block that never iterates (plain
	// transfers) never builds it.
	keys      *btree.BTreeG[string]
	unindexed []string
	closed    bool
}

type entry struct {
	val []byte
	del bool
}

// smallWrites is how many writes a child keeps in its slice before it
// moves them to a map.
const smallWrites = 8

type smallEntry struct {
	key string
	entry
}

// lookup is the write b holds for key, if any. The string(key)
// conversions here do not allocate.
func (b *Branch) lookup(key []byte) (entry, bool) {
	if b.writes != nil {
		e, ok := b.writes[string(key)]
		return e, ok
	}
	for i := range b.small {
		if b.small[i].key == string(key) {
			return b.small[i].entry, true
		}
	}
	return entry{}, false
}

var _ chain.KVStore = (*Branch)(nil)

// Version is the committed version the branch sits on.
func (b *Branch) Version() uint64 { return b.top().version }

func (b *Branch) top() *Branch {
	for b.parent != nil {
		b = b.parent
	}
	return b
}

// Reserve sizes a top-level branch that has not been used yet for about n
// written and n read keys, so executing a large block does not grow (and
// rehash) its maps step by step. It changes nothing a caller can observe;
// on a child or a used branch it does nothing.
func (b *Branch) Reserve(n int) {
	if b.parent != nil || n <= 0 || len(b.writes) != 0 || len(b.cache) != 0 {
		return
	}
	b.writes = make(map[string]entry, n)
	b.cache = make(map[string][]byte, n)
	b.unindexed = make([]string, 0, n)
}

// Branch returns a child overlay on b.
func (b *Branch) Branch() *Branch {
	return &Branch{parent: b} // writes map made on first write
}

// Write merges a child's writes into its parent. The child must not be
// used afterwards. Writing a top-level branch is an error: stage it.
func (b *Branch) Write() error {
	switch {
	case b.parent == nil:
		return ErrNotRoot
	case b.closed:
		return ErrClosed
	}
	for i := range b.small {
		b.parent.put(b.small[i].key, b.small[i].entry)
	}
	for k, e := range b.writes {
		b.parent.put(k, e)
	}
	b.writes, b.small, b.closed = nil, nil, true
	return nil
}

// put records a write, indexing new keys of a top-level branch.
func (b *Branch) put(k string, e entry) {
	if b.parent != nil && b.writes == nil {
		for i := range b.small {
			if b.small[i].key == k {
				b.small[i].entry = e
				return
			}
		}
		if b.small == nil {
			b.small = b.inline[:0]
		}
		if len(b.small) < smallWrites {
			b.small = append(b.small, smallEntry{key: k, entry: e})
			return
		}
		b.writes = make(map[string]entry, 2*smallWrites)
		for _, se := range b.small {
			b.writes[se.key] = se.entry
		}
		b.small = nil
	}
	if b.writes == nil {
		b.writes = make(map[string]entry)
	}
	if b.parent == nil {
		if _, ok := b.writes[k]; !ok {
			b.unindexed = append(b.unindexed, k)
		}
	}
	b.writes[k] = e
}

// index moves the top-level branch's new keys into its ordered index.
func (b *Branch) index() {
	if len(b.unindexed) == 0 {
		return
	}
	if b.keys == nil {
		b.keys = btree.NewG[string](32, func(a, c string) bool { return a < c })
	}
	for _, k := range b.unindexed {
		b.keys.ReplaceOrInsert(k)
	}
	b.unindexed = b.unindexed[:0]
}

// Get returns a copy of the value under key, or nil if absent.
func (b *Branch) Get(key []byte) ([]byte, error) {
	if err := checkKey(key); err != nil {
		return nil, err
	}
	v, err := b.get(key)
	if v == nil || err != nil {
		return nil, err
	}
	// A copy, so a caller editing the slice cannot change a parent's value
	// behind a revert.
	return bytes.Clone(v), nil
}

func (b *Branch) get(k []byte) ([]byte, error) {
	cur := b
	for {
		if e, ok := cur.lookup(k); ok {
			if e.del {
				return nil, nil
			}
			return e.val, nil
		}
		if cur.parent == nil {
			return cur.committedBytes(k)
		}
		cur = cur.parent
	}
}

// committed reads the committed value once per top-level branch.
func (b *Branch) committed(k string) ([]byte, error) {
	if v, ok := b.cache[k]; ok {
		return v, nil
	}
	return b.load(k)
}

// committedBytes is committed for a []byte key: a hit converts nothing.
func (b *Branch) committedBytes(key []byte) ([]byte, error) {
	if v, ok := b.cache[string(key)]; ok {
		return v, nil
	}
	return b.load(string(key)) // the string is kept by the cache
}

func (b *Branch) load(k string) ([]byte, error) {
	v, err := b.base.get(k)
	if err != nil {
		return nil, err
	}
	b.cache[k] = v
	return v, nil
}

// Set stores a copy of value under key. Empty values are refused: absence
// is the only "empty" state (a proof cannot tell an empty value from none).
func (b *Branch) Set(key, value []byte) error {
	if err := checkKey(key); err != nil {
		return err
	}
	if len(value) == 0 {
		return ErrEmptyValue
	}
	if b.closed {
		return ErrClosed
	}
	b.put(string(key), entry{val: bytes.Clone(value)})
	return nil
}

// Delete removes key (a no-op if absent).
func (b *Branch) Delete(key []byte) error {
	if err := checkKey(key); err != nil {
		return err
	}
	if b.closed {
		return ErrClosed
	}
	b.put(string(key), entry{del: true})
	return nil
}

// Iterate visits keys with prefix in ascending byte order, merging the
// overlays (nearest wins, deletions hide committed keys) with committed
// state. It sees the writes made before the call; fn may write, but those
// writes do not show up in this iteration. Cost is linear in the overlay
// size, so modules should keep iteration out of per-transaction paths
// where the block's overlay is large.
func (b *Branch) Iterate(prefix []byte, fn func(key, value []byte) (bool, error)) error {
	p := string(prefix)
	seen := make(map[string]bool)
	var ov []overlayEntry
	cur := b
	for cur.parent != nil {
		for _, se := range cur.small {
			if strings.HasPrefix(se.key, p) && !seen[se.key] {
				seen[se.key] = true
				ov = append(ov, overlayEntry{key: se.key, entry: se.entry})
			}
		}
		// Map order does not leak: the entries are sorted below.
		for k, e := range cur.writes {
			if strings.HasPrefix(k, p) && !seen[k] {
				seen[k] = true
				ov = append(ov, overlayEntry{key: k, entry: e})
			}
		}
		cur = cur.parent
	}
	cur.index()
	if cur.keys != nil {
		cur.keys.AscendGreaterOrEqual(p, func(k string) bool {
			if !strings.HasPrefix(k, p) {
				return false
			}
			if !seen[k] {
				seen[k] = true
				ov = append(ov, overlayEntry{key: k, entry: cur.writes[k]})
			}
			return true
		})
	}
	sort.Slice(ov, func(i, j int) bool { return ov[i].key < ov[j].key })
	return cur.base.iterate(prefix, ov, fn)
}
