package store

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/dgraph-io/badger/v4"

	"github.com/dure-network/dure/chain"
)

// checkHeight turns "absent" into the precise reason.
func (s *Store) checkHeight(h uint64) error {
	head := s.head.Load()
	switch {
	case head == nil:
		return fmt.Errorf("%w: height %d: %w", ErrNotFound, h, ErrNotInitialized)
	case h == 0 || h > head.Height:
		return fmt.Errorf("%w: height %d (head is %d)", ErrNotFound, h, head.Height)
	case h < s.base.Load():
		return fmt.Errorf("%w: height %d (oldest kept is %d)", ErrPruned, h, s.base.Load())
	}
	return nil
}

func (s *Store) getAt(pfx []byte, h uint64, what string) ([]byte, error) {
	if err := s.checkHeight(h); err != nil {
		return nil, err
	}
	var v []byte
	err := s.view(func(txn *badger.Txn) error {
		var err error
		v, err = get(txn, heightKey(pfx, h))
		return err
	})
	if errors.Is(err, ErrNotFound) && h < s.base.Load() {
		return nil, fmt.Errorf("%w: %s at height %d", ErrPruned, what, h)
	}
	if err != nil {
		return nil, fmt.Errorf("store: %s at height %d: %w", what, h, err)
	}
	return v, nil
}

// BlockRaw returns the canonical bytes of the block at height (what block
// sync serves), unpacked if the store packed them (pack.go).
func (s *Store) BlockRaw(height uint64) ([]byte, error) {
	return s.getPacked(pfxBlock, height, "block")
}

// getPacked is getAt for a value the store may have packed.
func (s *Store) getPacked(pfx []byte, h uint64, what string) ([]byte, error) {
	v, err := s.getAt(pfx, h, what)
	if err != nil {
		return nil, err
	}
	if v, err = unpack(v); err != nil {
		return nil, corrupt(s.dir, fmt.Errorf("%s at height %d: %w", what, h, err))
	}
	return v, nil
}

// Block returns the decoded block at height.
func (s *Store) Block(height uint64) (*chain.Block, error) {
	raw, err := s.BlockRaw(height)
	if err != nil {
		return nil, err
	}
	b, err := chain.DecodeBlock(s.codec, raw)
	if err != nil {
		return nil, corrupt(s.dir, fmt.Errorf("block %d: %w", height, err))
	}
	return b, nil
}

// BlockID returns the ID of the block at height.
func (s *Store) BlockID(height uint64) (chain.ID, error) {
	v, err := s.getAt(pfxBlockID, height, "block id")
	return chain.ID(v), err
}

// HeightOf returns the height of the block with this ID.
func (s *Store) HeightOf(id chain.ID) (uint64, error) {
	var h uint64
	err := s.view(func(txn *badger.Txn) error {
		v, err := get(txn, idKey(pfxIDToH, id))
		if err != nil {
			return err
		}
		h, err = u64(v)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("store: block %s: %w", id, err)
	}
	return h, nil
}

// BlockByID returns the block with this ID.
func (s *Store) BlockByID(id chain.ID) (*chain.Block, error) {
	h, err := s.HeightOf(id)
	if err != nil {
		return nil, err
	}
	return s.Block(h)
}

// SeenCommit returns the commit that decided the block at height (the one
// the next block will carry as LastCommit).
func (s *Store) SeenCommit(height uint64) (*chain.Commit, error) {
	raw, err := s.getAt(pfxCommit, height, "commit")
	if err != nil {
		return nil, err
	}
	var c chain.Commit
	if err := s.codec.UnmarshalCanonical(raw, &c); err != nil {
		return nil, corrupt(s.dir, fmt.Errorf("commit %d: %w", height, err))
	}
	return &c, nil
}

// Results returns the tx results of the block at height.
func (s *Store) Results(height uint64) ([]chain.TxResult, error) {
	raw, err := s.getPacked(pfxResults, height, "results")
	if err != nil {
		return nil, err
	}
	var rs []chain.TxResult
	if err := s.codec.Unmarshal(raw, &rs); err != nil {
		return nil, corrupt(s.dir, fmt.Errorf("results %d: %w", height, err))
	}
	return rs, nil
}

// TxLocation returns the height and index of a committed tx.
func (s *Store) TxLocation(txID chain.ID) (height uint64, index uint32, err error) {
	err = s.view(func(txn *badger.Txn) error {
		v, err := get(txn, idKey(pfxTx, txID))
		if err != nil {
			return err
		}
		if len(v) != 12 {
			return fmt.Errorf("%w: tx location of %d bytes", ErrCorrupt, len(v))
		}
		height, index = binary.BigEndian.Uint64(v), binary.BigEndian.Uint32(v[8:])
		return nil
	})
	if err != nil {
		return 0, 0, fmt.Errorf("store: tx %s: %w", txID, err)
	}
	return height, index, nil
}

// ValidatorsAt returns the validator set that signs blocks at height. The
// set for head+1 (the next block) is known too.
func (s *Store) ValidatorsAt(height uint64) (*chain.ValidatorSet, error) {
	head := s.head.Load()
	if head == nil {
		return nil, ErrNotInitialized
	}
	if height == 0 || height > head.Height+1 {
		return nil, fmt.Errorf("%w: validators for height %d (head is %d)", ErrNotFound, height, head.Height)
	}
	var vs *chain.ValidatorSet
	err := s.view(func(txn *badger.Txn) error {
		var err error
		vs, _, err = s.valsAt(txn, height)
		return err
	})
	return vs, err
}

// valsAt finds the newest stored set that starts at or below height.
func (s *Store) valsAt(txn *badger.Txn, height uint64) (*chain.ValidatorSet, uint64, error) {
	it := txn.NewIterator(badger.IteratorOptions{Reverse: true, Prefix: pfxVals, PrefetchValues: false})
	defer it.Close()
	it.Seek(heightKey(pfxVals, height))
	if !it.Valid() {
		return nil, 0, fmt.Errorf("%w: validator set for height %d", ErrNotFound, height)
	}
	item := it.Item()
	from, err := u64(item.Key()[len(pfxVals):])
	if err != nil {
		return nil, 0, err
	}
	raw, err := item.ValueCopy(nil)
	if err != nil {
		return nil, 0, err
	}
	var vals []chain.Validator
	if err := s.codec.UnmarshalCanonical(raw, &vals); err != nil {
		return nil, 0, fmt.Errorf("%w: validator set from height %d: %v", ErrCorrupt, from, err)
	}
	vs, err := chain.NewValidatorSet(vals)
	if err != nil {
		return nil, 0, fmt.Errorf("%w: validator set from height %d: %v", ErrCorrupt, from, err)
	}
	return vs, from, nil
}
