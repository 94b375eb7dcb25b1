package state

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/dgraph-io/badger/v4"

	"github.com/dure-network/dure/chain"
)

// Errors of snapshot export and import (state sync).
var (
	// ErrChunkOrder: an imported chunk's keys are not strictly ascending
	// after the previous chunk's last key, or a pair is invalid.
	ErrChunkOrder = errors.New("state: snapshot chunk out of order")
	// ErrNotEmpty: Import needs a database without state.
	ErrNotEmpty = errors.New("state: import into a state that is not empty")
)

// Pair is one state key and its value.
type Pair struct{ Key, Value []byte }

// Chunk returns the pairs of version whose keys come after after (nil:
// from the first key), in ascending key order, until their keys and values
// pass maxBytes (at least one pair is returned if any is left); more
// reports whether pairs remain. version must still be readable (not
// discarded by the store's pruning): the caller serves only recent
// versions.
func (s *State) Chunk(version uint64, after []byte, maxBytes int) (pairs []Pair, more bool, err error) {
	txn := s.db.NewTransactionAt(version, false)
	defer txn.Discard()
	opts := badger.DefaultIteratorOptions
	opts.Prefix = []byte(valuePrefix)
	it := txn.NewIterator(opts)
	defer it.Close()
	start := []byte(valuePrefix)
	if after != nil {
		start = append(valueKey(string(after)), 0)
	}
	size := 0
	for it.Seek(start); it.ValidForPrefix(opts.Prefix); it.Next() {
		if size >= maxBytes && len(pairs) > 0 {
			return pairs, true, nil
		}
		item := it.Item()
		v, err := item.ValueCopy(nil)
		if err != nil {
			return nil, false, fmt.Errorf("state: chunk at %d: %w", version, err)
		}
		k := bytes.Clone(item.Key()[len(valuePrefix):])
		pairs = append(pairs, Pair{Key: k, Value: v})
		size += len(k) + len(v)
	}
	return pairs, false, nil
}

// Importer rebuilds a state from snapshot chunks (state sync): pairs are
// added in ascending key order, and Finish stages them on the empty state
// and checks the resulting root against the verified header's.
type Importer struct {
	st    *State
	b     *Branch
	last  []byte
	pairs int
	bytes int
}

// NewImporter starts an import into db, which must hold no state; opts
// say whether the chain's state is indexed (RangeProofs, from its
// genesis): the imported pairs must give the header's root either way.
func NewImporter(db *badger.DB, opts Options) (*Importer, error) {
	st, err := Open(db, 0, chain.Hash{}, opts)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNotEmpty, err)
	}
	return &Importer{st: st, b: st.Branch()}, nil
}

// Add imports one chunk. Its keys must be strictly ascending and after
// every key added before; values non-empty.
func (im *Importer) Add(pairs []Pair) error {
	for _, p := range pairs {
		if im.last != nil && bytes.Compare(p.Key, im.last) <= 0 {
			return fmt.Errorf("%w: key %q after %q", ErrChunkOrder, p.Key, im.last)
		}
		if err := im.b.Set(p.Key, p.Value); err != nil {
			return fmt.Errorf("%w: key %q: %w", ErrChunkOrder, p.Key, err)
		}
		im.last = bytes.Clone(p.Key)
		im.pairs++
		im.bytes += len(p.Key) + len(p.Value)
	}
	return nil
}

// Last is the last key added (nil before the first).
func (im *Importer) Last() []byte { return im.last }

// Size is how many pairs and bytes were added.
func (im *Importer) Size() (pairs, bytes int) { return im.pairs, im.bytes }

// Finish computes the root of everything added; unless it equals want it
// returns ErrRootMismatch. The Pending it returns is a snapshot: write it
// with WriteTo in the store's batch at the snapshot height's version, then
// open the state there (New) — the importer's own State is not used again.
func (im *Importer) Finish(want chain.Hash) (*Pending, error) {
	p, err := im.st.Stage(im.b)
	if err != nil {
		return nil, err
	}
	if p.Root() != want {
		return nil, fmt.Errorf("%w: imported %d pairs give root %s, header says %s", ErrRootMismatch, im.pairs, p.Root(), want)
	}
	return p, nil
}
