package store

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/dgraph-io/badger/v4"

	"github.com/dure-network/dure/chain"
)

// maxPrunePerCommit bounds the pruning work done by one commit, so lowering
// KeepRecent on a long chain catches up over several blocks instead of
// stalling one.
const maxPrunePerCommit = 4

// gcEvery is how many commits pass between value-log GC runs on pruning
// nodes (archive nodes never delete, so GC would find nothing).
const gcEvery = 256

// stateWriter is the chain.KVWriter handed to the commit callback. It keeps
// state writes out of the store's own prefixes, so no module key can ever
// overwrite the head or a block.
type stateWriter struct{ wb *badger.WriteBatch }

func reserved(k []byte) bool {
	return bytes.HasPrefix(k, []byte("m/")) || bytes.HasPrefix(k, []byte("b/")) || bytes.HasPrefix(k, []byte("x/"))
}

// Set stores value under key. Neither slice may be changed afterwards:
// Badger keeps them until the batch is flushed.
func (w stateWriter) Set(k, v []byte) error {
	if reserved(k) {
		return fmt.Errorf("%w: %q", ErrReservedKey, k)
	}
	return w.wb.Set(k, v)
}

// Delete removes key.
func (w stateWriter) Delete(k []byte) error {
	if reserved(k) {
		return fmt.Errorf("%w: %q", ErrReservedKey, k)
	}
	return w.wb.Delete(k)
}

// CommitGenesis initialises an empty directory: the genesis hash, the
// validator set that signs block 1, and whatever extra writes (the genesis
// state), all at TS(0), then the head record for height 0 with stateRoot.
func (s *Store) CommitGenesis(genesisHash chain.Hash, vals *chain.ValidatorSet, stateRoot chain.Hash,
	extra func(w chain.KVWriter) error) error {
	if vals == nil || vals.Len() == 0 {
		return fmt.Errorf("%w: genesis without validators", ErrBadCommitInput)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed.Load() {
		return ErrClosed
	}
	if h := s.head.Load(); h != nil {
		if h.GenesisHash != genesisHash {
			return s.CheckGenesis(genesisHash)
		}
		return fmt.Errorf("%w: %s is at height %d", ErrAlreadyInitialized, s.dir, h.Height)
	}
	if err := s.writeGenesis(genesisHash, vals, extra); err != nil {
		return err
	}
	head := Head{StateRoot: stateRoot, GenesisHash: genesisHash}
	if err := s.writeHead(head); err != nil {
		return err
	}
	if err := s.markInitialized(); err != nil {
		return err
	}
	s.valsHash = vals.Hash(s.codec)
	s.base.Store(1)
	s.head.Store(&head)
	return nil
}

// writeGenesis is CommitGenesis without the head (a test seam, like
// writeBlock).
func (s *Store) writeGenesis(genesisHash chain.Hash, vals *chain.ValidatorSet, extra func(w chain.KVWriter) error) error {
	valsRaw, err := s.codec.Marshal(vals.Validators)
	if err != nil {
		return fmt.Errorf("store: encode validators: %w", err)
	}
	wb := s.db.NewWriteBatchAt(TS(0))
	defer wb.Cancel()
	if err := setAll(wb,
		kv{keyGenesis, genesisHash[:]},
		kv{keyBase, be64(1)},
		kv{heightKey(pfxVals, 1), valsRaw},
	); err != nil {
		return err
	}
	if extra != nil {
		if err := extra(stateWriter{wb}); err != nil {
			return fmt.Errorf("store: genesis state: %w", err)
		}
	}
	if err := wb.Flush(); err != nil {
		return fmt.Errorf("store: write genesis: %w", err)
	}
	return nil
}

type kv struct{ k, v []byte }

func setAll(wb *badger.WriteBatch, kvs ...kv) error {
	for _, e := range kvs {
		if err := wb.Set(e.k, e.v); err != nil {
			return fmt.Errorf("store: batch set %q: %w", e.k, err)
		}
	}
	return nil
}

// CommitBlock durably stores block b at height H = head+1: the block, the
// commit that decided it, its tx results, height/ID/tx indexes, nextVals
// (the set that signs H+1, stored only when it changes) and the caller's
// state writes through extra — all at TS(H). Only after those are flushed
// is the head record written, so a crash leaves the store at H-1 or H.
func (s *Store) CommitBlock(b *chain.Block, commit *chain.Commit, results []chain.TxResult,
	nextVals *chain.ValidatorSet, extra func(w chain.KVWriter) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	head, err := s.writeBlock(b, commit, results, nextVals, extra)
	if err != nil {
		return err
	}
	if err := s.writeHead(head); err != nil {
		return err
	}
	s.publish(head, nextVals)
	return nil
}

// writeBlock is the first half of CommitBlock: everything but the head. It
// is separate so tests can stop between the halves, as a crash would.
func (s *Store) writeBlock(b *chain.Block, commit *chain.Commit, results []chain.TxResult,
	nextVals *chain.ValidatorSet, extra func(w chain.KVWriter) error) (Head, error) {
	if s.closed.Load() {
		return Head{}, ErrClosed
	}
	cur := s.head.Load()
	if cur == nil {
		return Head{}, ErrNotInitialized
	}
	if b == nil || commit == nil || nextVals == nil {
		return Head{}, fmt.Errorf("%w: block, commit and next validators are required", ErrBadCommitInput)
	}
	H := b.Header.Height
	id := b.Header.ID(s.codec)
	switch {
	case H != cur.Height+1:
		return Head{}, fmt.Errorf("%w: block height %d, head is %d", ErrOutOfOrder, H, cur.Height)
	case H > 1 && b.Header.Parent != cur.BlockID:
		return Head{}, fmt.Errorf("%w: block %d parent %s, head is %s", ErrOutOfOrder, H, b.Header.Parent, cur.BlockID)
	case commit.Height != H || commit.BlockID != id:
		return Head{}, fmt.Errorf("%w: commit is for %d/%s, block is %d/%s", ErrBadCommitInput, commit.Height, commit.BlockID, H, id)
	case len(results) != len(b.Txs):
		return Head{}, fmt.Errorf("%w: %d results for %d txs", ErrBadCommitInput, len(results), len(b.Txs))
	}
	nvHash := nextVals.Hash(s.codec)
	if nvHash != b.Header.NextValidatorsHash {
		return Head{}, fmt.Errorf("%w: next validator set hash %s, header says %s", ErrBadCommitInput, nvHash, b.Header.NextValidatorsHash)
	}
	braw, err := b.Encode(s.codec)
	if err != nil {
		return Head{}, fmt.Errorf("store: encode block %d: %w", H, err)
	}
	craw, err := s.codec.Marshal(commit)
	if err != nil {
		return Head{}, fmt.Errorf("store: encode commit %d: %w", H, err)
	}
	if results == nil {
		results = []chain.TxResult{}
	}
	rraw, err := s.codec.Marshal(results)
	if err != nil {
		return Head{}, fmt.Errorf("store: encode results %d: %w", H, err)
	}

	wb := s.db.NewWriteBatchAt(TS(H))
	defer wb.Cancel()
	if err := setAll(wb,
		kv{heightKey(pfxBlock, H), pack(braw)},
		kv{heightKey(pfxCommit, H), craw},
		kv{heightKey(pfxResults, H), pack(rraw)},
		kv{heightKey(pfxBlockID, H), []byte(id)},
		kv{idKey(pfxIDToH, id), be64(H)},
	); err != nil {
		return Head{}, err
	}
	for i, tx := range b.Txs {
		if err := wb.Set(idKey(pfxTx, chain.IDOf(tx)), txLoc(H, uint32(i))); err != nil {
			return Head{}, fmt.Errorf("store: index tx %d of block %d: %w", i, H, err)
		}
	}
	if nvHash != s.valsHash {
		vraw, err := s.codec.Marshal(nextVals.Validators)
		if err != nil {
			return Head{}, fmt.Errorf("store: encode validators: %w", err)
		}
		if err := wb.Set(heightKey(pfxVals, H+1), vraw); err != nil {
			return Head{}, fmt.Errorf("store: write validators: %w", err)
		}
	}
	if err := s.prune(wb, H); err != nil {
		return Head{}, err
	}
	if extra != nil {
		if err := extra(stateWriter{wb}); err != nil {
			return Head{}, fmt.Errorf("store: state writes of block %d: %w", H, err)
		}
	}
	if err := wb.Flush(); err != nil {
		return Head{}, fmt.Errorf("store: write block %d: %w", H, err)
	}
	return Head{Height: H, BlockID: id, StateRoot: b.Header.StateRoot, Time: b.Header.Time, GenesisHash: cur.GenesisHash}, nil
}

// writeHead makes a height visible: one small synced txn at TS(height).
func (s *Store) writeHead(h Head) error {
	raw, err := s.codec.Marshal(&h)
	if err != nil {
		return fmt.Errorf("store: encode head: %w", err)
	}
	txn := s.db.NewTransactionAt(TS(h.Height), true)
	defer txn.Discard()
	if err := txn.Set(keyHead, raw); err != nil {
		return fmt.Errorf("store: write head %d: %w", h.Height, err)
	}
	if err := txn.CommitAt(TS(h.Height), nil); err != nil {
		return fmt.Errorf("store: commit head %d: %w", h.Height, err)
	}
	return nil
}

// publish updates the in-memory view after the head is durable and lets
// Badger drop versions that fell out of the retention window.
func (s *Store) publish(h Head, nextVals *chain.ValidatorSet) {
	s.valsHash = nextVals.Hash(s.codec)
	if s.keep > 0 && h.Height > s.keep {
		s.base.Store(s.pendingBase(h.Height))
		s.db.SetDiscardTs(TS(h.Height - s.keep))
	}
	s.head.Store(&h)
	s.commits++
	if s.keep > 0 && s.commits%gcEvery == 0 && !s.gcBusy.Swap(true) {
		s.gc.Add(1)
		go s.runGC()
	}
}

func (s *Store) runGC() {
	defer s.gc.Done()
	defer s.gcBusy.Store(false)
	// A few rounds at most: each rewrites one value-log file that is at
	// least half garbage. ErrNoRewrite ends it early.
	for range 4 {
		if s.closed.Load() {
			return
		}
		if err := s.db.RunValueLogGC(0.5); err != nil {
			if !errors.Is(err, badger.ErrNoRewrite) && !errors.Is(err, badger.ErrRejected) {
				s.log.Warn("value log gc", "err", err)
			}
			return
		}
	}
}

// pendingBase is the base after pruning for a commit at H: the oldest
// height still to keep is H-keep, but a commit removes at most
// maxPrunePerCommit heights.
func (s *Store) pendingBase(H uint64) uint64 {
	base := s.base.Load()
	if s.keep == 0 || H <= s.keep {
		return base
	}
	target := H - s.keep
	if target <= base {
		return base
	}
	return min(target, base+maxPrunePerCommit)
}

// prune deletes block data below the new base, in the block's own batch,
// so pruning is exactly as durable as the block. Validator sets are kept:
// they are written only on change and light clients need them.
func (s *Store) prune(wb *badger.WriteBatch, H uint64) error {
	from, to := s.base.Load(), s.pendingBase(H)
	if to <= from {
		return nil
	}
	txn := s.db.NewTransactionAt(s.ReadTS(), false)
	defer txn.Discard()
	for h := from; h < to; h++ {
		braw, err := get(txn, heightKey(pfxBlock, h))
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return fmt.Errorf("store: prune block %d: %w", h, err)
		}
		if braw, err = unpack(braw); err != nil {
			return corrupt(s.dir, fmt.Errorf("prune block %d: %w", h, err))
		}
		var blk chain.Block
		if err := s.codec.Unmarshal(braw, &blk); err != nil {
			return corrupt(s.dir, fmt.Errorf("prune block %d: %w", h, err))
		}
		for _, tx := range blk.Txs {
			if err := wb.Delete(idKey(pfxTx, chain.IDOf(tx))); err != nil {
				return fmt.Errorf("store: prune: %w", err)
			}
		}
		for _, k := range [][]byte{heightKey(pfxBlock, h), heightKey(pfxCommit, h), heightKey(pfxResults, h),
			heightKey(pfxBlockID, h), idKey(pfxIDToH, blk.Header.ID(s.codec))} {
			if err := wb.Delete(k); err != nil {
				return fmt.Errorf("store: prune: %w", err)
			}
		}
	}
	if err := wb.Set(keyBase, be64(to)); err != nil {
		return fmt.Errorf("store: prune: %w", err)
	}
	return nil
}
