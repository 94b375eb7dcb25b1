package state

import (
	"bytes"
	"errors"
	"fmt"
	"sort"

	"github.com/dgraph-io/badger/v4"

	"github.com/dure-network/dure/chain"
)

// The key-order index (range proofs). Keys are hashed into the sparse
// Merkle trie, so the trie's order is not the keys' order and a proof of
// each key a node returns cannot show that it returned them all. An
// indexed state therefore also commits, in the same trie, one next-key
// record per key: under the trie key LinkKey(k), the next key after k in
// ascending byte order (or "none"), and under LinkKey(nil), the head
// record, the first key. A list answer for a prefix is then the head's or
// the last key before the prefix's record, and the record of every key
// under the prefix it lists: consecutive facts proven against one root,
// from which nothing can be left out (see Proven.Iterate).
//
// The records exist only in the trie (and in changesets, which replay it):
// their values follow from the flat keys, so proofs recompute them from
// Badger's "s/" at the proven version. Modules never see them: state keys
// may not start with linkByte.
//
// A Stage writes records only for keys created or deleted, never for a
// value changed: the new key's record, its predecessor's, and the deleted
// key's removal (see linkChanges).

// linkByte starts every next-key record's trie key; no state key may.
const linkByte = 0x00

// endOfKeys is the value of the last key's next-key record (a state key
// never starts with linkByte, so it is not a key).
var endOfKeys = []byte{linkByte}

// Errors of range proofs.
var (
	// ErrReservedKey: a state key starting with the byte reserved for
	// next-key records.
	ErrReservedKey = errors.New("state: key starts with the reserved byte 0x00")
	// ErrBadLink: a next-key record that does not decode.
	ErrBadLink = errors.New("state: malformed next-key record")
)

// LinkKey is the trie key of key's next-key record; nil or empty key gives
// the head record's.
func LinkKey(key []byte) []byte {
	out := make([]byte, 0, 1+len(key))
	return append(append(out, linkByte), key...)
}

// IsLinkKey reports whether trieKey is a next-key record's, and whose
// (nil for the head record).
func IsLinkKey(trieKey []byte) (key []byte, ok bool) {
	if len(trieKey) == 0 || trieKey[0] != linkByte {
		return nil, false
	}
	if len(trieKey) == 1 {
		return nil, true
	}
	return trieKey[1:], true
}

// LinkValue encodes a next-key record's value: next, or the end marker
// when next is nil.
func LinkValue(next []byte) []byte {
	if len(next) == 0 {
		return bytes.Clone(endOfKeys)
	}
	return bytes.Clone(next)
}

// DecodeLink strictly decodes a next-key record's value: the next key, or
// nil for "no key follows". Anything but the end marker or a valid state
// key is ErrBadLink.
func DecodeLink(v []byte) (next []byte, err error) {
	switch {
	case len(v) == 0:
		return nil, fmt.Errorf("%w: empty", ErrBadLink)
	case bytes.Equal(v, endOfKeys):
		return nil, nil
	case v[0] == linkByte:
		return nil, fmt.Errorf("%w: starts with the reserved byte", ErrBadLink)
	case len(v) > MaxKeyLen:
		return nil, fmt.Errorf("%w: %d bytes, max %d", ErrBadLink, len(v), MaxKeyLen)
	}
	return v, nil
}

// hasHead reports whether the trie at root holds the head record. Caller
// must not hold s.mu.
func (s *State) hasHead(root chain.Hash) (ok bool, err error) {
	defer func() {
		if r := recover(); r != nil {
			ok, err = false, fmt.Errorf("%w: %v", ErrCorruptNode, r)
		}
	}()
	ns := s.newNodeStore()
	defer ns.discard()
	trie := importTrie(ns, root)
	v, err := trie.Get(LinkKey(nil))
	if err != nil {
		return false, fmt.Errorf("state: read head record: %w", err)
	}
	return len(v) != 0, nil
}

// keyCursor finds committed neighbours of keys at one version through one
// Badger iterator each way.
type keyCursor struct {
	fwd, rev *badger.Iterator
}

func newKeyCursor(txn *badger.Txn) *keyCursor {
	fo := badger.DefaultIteratorOptions
	fo.Prefix, fo.PrefetchValues = []byte(valuePrefix), false
	ro := fo
	ro.Reverse = true
	return &keyCursor{fwd: txn.NewIterator(fo), rev: txn.NewIterator(ro)}
}

func (c *keyCursor) close() { c.fwd.Close(); c.rev.Close() }

// before is the greatest committed key below k (nil: none).
func (c *keyCursor) before(k string) []byte {
	seek := valueKey(k)
	for c.rev.Seek(seek); c.rev.ValidForPrefix([]byte(valuePrefix)); c.rev.Next() {
		got := c.rev.Item().Key()
		if bytes.Compare(got, seek) < 0 {
			return bytes.Clone(got[len(valuePrefix):])
		}
	}
	return nil
}

// after is the least committed key above k (nil: none); k "" gives the
// first key.
func (c *keyCursor) after(k string) []byte {
	seek := valueKey(k)
	if k != "" {
		seek = append(seek, 0)
	}
	c.fwd.Seek(seek)
	if !c.fwd.ValidForPrefix([]byte(valuePrefix)) {
		return nil
	}
	return bytes.Clone(c.fwd.Item().Key()[len(valuePrefix):])
}

// linkChanges returns the next-key record changes that take the committed
// key set (at txn's version) to the set after changes, sorted by trie key.
// created holds the keys of changes that did not exist before; empty
// tells that the committed trie is empty (a new state, whose head record
// must be written even if nothing else is).
//
// With T the created and deleted keys, cp(t) and cs(t) the committed keys
// just before and after t, and L the sorted union of T and every cp(t)
// and cs(t), the records that change are: every created key's, every
// live cp(t)'s, and the head's when some t has no cp (or the trie is
// empty); each one's next key is the next live element of L. Deleted
// keys lose their record.
func linkChanges(txn *badger.Txn, changes []change, created map[string]bool, empty bool) []change {
	type elem struct {
		live    bool
		rewrite bool
	}
	l := map[string]*elem{}
	get := func(k string) *elem {
		e, ok := l[k]
		if !ok {
			e = &elem{}
			l[k] = e
		}
		return e
	}
	head := empty
	var cur *keyCursor
	defer func() {
		if cur != nil {
			cur.close()
		}
	}()
	// Neighbours of the previous touched key: while t stays below its
	// committed successor, t is a created key with the same neighbours,
	// so runs of created keys between two committed ones cost no seek.
	var prevT string
	var prevCP, prevCS []byte
	prevCommitted, havePrev := false, false
	for _, c := range changes {
		isCreate, isDelete := created[c.key], c.val == nil
		if !isCreate && !isDelete {
			continue
		}
		t := c.key
		var cp, cs []byte
		if havePrev && prevCS != nil && t < string(prevCS) {
			cs = prevCS
			if prevCommitted {
				cp = []byte(prevT)
			} else {
				cp = prevCP
			}
		} else if havePrev && prevCS == nil {
			// No committed key after the previous one: none after t.
			if prevCommitted {
				cp = []byte(prevT)
			} else {
				cp = prevCP
			}
		} else {
			if cur == nil {
				cur = newKeyCursor(txn)
			}
			cp, cs = cur.before(t), cur.after(t)
		}
		e := get(t)
		e.live = isCreate
		e.rewrite = isCreate
		if cp == nil {
			head = true
		} else {
			p, seen := l[string(cp)]
			if !seen {
				p = get(string(cp))
				p.live = true // committed and not touched before t
			}
			p.rewrite = true
		}
		if _, seen := l[string(cs)]; cs != nil && !seen {
			get(string(cs)).live = true // committed; its own deletion, later, marks it dead
		}
		prevT, prevCP, prevCS, prevCommitted, havePrev = t, cp, cs, isDelete, true
	}
	if !head && len(l) == 0 {
		return nil
	}
	// A committed key seen as a neighbour before its own deletion was
	// marked live: the deletions decide.
	for _, c := range changes {
		if c.val == nil {
			if e, ok := l[c.key]; ok {
				e.live = false
			}
		}
	}
	keys := make([]string, 0, len(l))
	for k := range l {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]change, 0, len(keys)+1)
	// next live element after index i (keys[i+1:]), as a link value.
	nextLive := make([][]byte, len(keys)+1)
	nextLive[len(keys)] = LinkValue(nil)
	for i := len(keys) - 1; i >= 0; i-- {
		if l[keys[i]].live {
			nextLive[i] = LinkValue([]byte(keys[i]))
		} else {
			nextLive[i] = nextLive[i+1]
		}
	}
	if head {
		out = append(out, change{key: string(LinkKey(nil)), val: nextLive[0]})
	}
	for i, k := range keys {
		e := l[k]
		switch {
		case !e.live && !created[k]:
			if isDeleted(changes, k) {
				out = append(out, change{key: string(LinkKey([]byte(k)))})
			}
		case e.live && e.rewrite:
			out = append(out, change{key: string(LinkKey([]byte(k))), val: nextLive[i+1]})
		}
	}
	return out
}

// isDeleted reports whether changes (sorted) delete k.
func isDeleted(changes []change, k string) bool {
	i := sort.Search(len(changes), func(i int) bool { return changes[i].key >= k })
	return i < len(changes) && changes[i].key == k && changes[i].val == nil
}
