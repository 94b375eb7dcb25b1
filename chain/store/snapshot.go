package store

import (
	"fmt"

	"github.com/dure-network/dure/chain"
)

// CommitSnapshot initialises an empty store at height H from a state
// snapshot instead of from genesis (state sync): it writes the genesis
// hash, block H with the commit that finalised it, the validator sets
// signing H and H+1, base = H (nothing below is kept) and the caller's
// state writes (extra: the imported state and the pending "v/" records),
// all at TS(H), then the head. Block H's tx results are not known (it was
// not executed here): Results(H) is ErrNotFound. The caller must have verified b and commit
// (light client) and that the state it writes has b's state root.
func (s *Store) CommitSnapshot(genesisHash chain.Hash, b *chain.Block, commit *chain.Commit,
	vals, nextVals *chain.ValidatorSet, extra func(w chain.KVWriter) error) error {
	if b == nil || commit == nil || vals == nil || nextVals == nil || b.Header.Height == 0 {
		return fmt.Errorf("%w: snapshot needs a block above genesis, its commit and validator sets", ErrBadCommitInput)
	}
	H := b.Header.Height
	id := b.Header.ID(s.codec)
	if commit.Height != H || commit.BlockID != id {
		return fmt.Errorf("%w: commit is for %d/%s, block is %d/%s", ErrBadCommitInput, commit.Height, commit.BlockID, H, id)
	}
	if got := nextVals.Hash(s.codec); got != b.Header.NextValidatorsHash {
		return fmt.Errorf("%w: next validator set hash %s, header says %s", ErrBadCommitInput, got, b.Header.NextValidatorsHash)
	}
	if got := vals.Hash(s.codec); got != b.Header.ValidatorsHash {
		return fmt.Errorf("%w: validator set hash %s, header says %s", ErrBadCommitInput, got, b.Header.ValidatorsHash)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed.Load() {
		return ErrClosed
	}
	if h := s.head.Load(); h != nil {
		return fmt.Errorf("%w: %s is at height %d", ErrAlreadyInitialized, s.dir, h.Height)
	}
	braw, err := b.Encode(s.codec)
	if err != nil {
		return fmt.Errorf("store: encode block %d: %w", H, err)
	}
	craw, err := s.codec.Marshal(commit)
	if err != nil {
		return fmt.Errorf("store: encode commit %d: %w", H, err)
	}
	vraw, err := s.codec.Marshal(vals.Validators)
	if err != nil {
		return fmt.Errorf("store: encode validators: %w", err)
	}
	nvraw, err := s.codec.Marshal(nextVals.Validators)
	if err != nil {
		return fmt.Errorf("store: encode validators: %w", err)
	}
	wb := s.db.NewWriteBatchAt(TS(H))
	defer wb.Cancel()
	if err := setAll(wb,
		kv{keyGenesis, genesisHash[:]},
		kv{keyBase, be64(H)},
		kv{heightKey(pfxVals, H), vraw},
		kv{heightKey(pfxVals, H+1), nvraw},
		kv{heightKey(pfxBlock, H), pack(braw)},
		kv{heightKey(pfxCommit, H), craw},
		kv{heightKey(pfxBlockID, H), []byte(id)},
		kv{idKey(pfxIDToH, id), be64(H)},
	); err != nil {
		return err
	}
	if extra != nil {
		if err := extra(stateWriter{wb}); err != nil {
			return fmt.Errorf("store: snapshot state at %d: %w", H, err)
		}
	}
	if err := wb.Flush(); err != nil {
		return fmt.Errorf("store: write snapshot %d: %w", H, err)
	}
	head := Head{Height: H, BlockID: id, StateRoot: b.Header.StateRoot, Time: b.Header.Time, GenesisHash: genesisHash}
	if err := s.writeHead(head); err != nil {
		return err
	}
	if err := s.markInitialized(); err != nil {
		return err
	}
	s.valsHash = nextVals.Hash(s.codec)
	s.base.Store(H)
	s.head.Store(&head)
	return nil
}
