package store

import (
	"fmt"

	"github.com/dure-network/dure/chain"
)

// Records the block lifecycle keeps beside each block, in the block's
// batch and so versioned with it (the "v/" keys; see doc.go). Their layout
// stays in this package: callers write them with the Put functions inside
// CommitGenesis/CommitBlock's extra callback and read them back here.
var (
	// keyAfterVals holds the validator set that signs head+2 (updates
	// decided at head take effect two heights later).
	keyAfterVals = []byte("v/after")
	// keyBlockEvents holds the events of BeginBlock/EndBlock (expiries,
	// voucher returns, rewards, slashing). One key, rewritten by every
	// block: reading it at a block's version gives that block's events,
	// and pruning old versions prunes them too.
	keyBlockEvents = []byte("v/blockevents")
)

// PutAfterValidators records the set signing head+2.
func PutAfterValidators(w chain.KVWriter, c *chain.Codec, vs *chain.ValidatorSet) error {
	b, err := c.Marshal(vs.Validators)
	if err != nil {
		return fmt.Errorf("encode pending validator set: %w", err)
	}
	return w.Set(keyAfterVals, b)
}

// PutBlockEvents records a block's own events (possibly none: an empty
// list is still written, so an event-less block overwrites the previous
// version).
func PutBlockEvents(w chain.KVWriter, c *chain.Codec, evs []chain.Event) error {
	if evs == nil {
		evs = []chain.Event{}
	}
	b, err := c.Marshal(evs)
	if err != nil {
		return fmt.Errorf("encode block events: %w", err)
	}
	return w.Set(keyBlockEvents, b)
}

// AfterValidators reads the set signing head+2, as of the head.
func (s *Store) AfterValidators() (*chain.ValidatorSet, error) {
	txn := s.db.NewTransactionAt(s.ReadTS(), false)
	defer txn.Discard()
	item, err := txn.Get(keyAfterVals)
	if err != nil {
		return nil, fmt.Errorf("%w: pending validator set: %v", ErrCorrupt, err)
	}
	raw, err := item.ValueCopy(nil)
	if err != nil {
		return nil, fmt.Errorf("%w: pending validator set: %v", ErrCorrupt, err)
	}
	var vals []chain.Validator
	if err := s.codec.Unmarshal(raw, &vals); err != nil {
		return nil, fmt.Errorf("%w: pending validator set: %v", ErrCorrupt, err)
	}
	return chain.NewValidatorSet(vals)
}

// BlockEvents reads the BeginBlock/EndBlock events of a committed height
// (none for blocks written before events were stored).
func (s *Store) BlockEvents(height uint64) ([]chain.Event, error) {
	txn := s.db.NewTransactionAt(TS(height), false)
	defer txn.Discard()
	item, err := txn.Get(keyBlockEvents)
	if err != nil {
		return nil, nil
	}
	raw, err := item.ValueCopy(nil)
	if err != nil {
		return nil, err
	}
	var evs []chain.Event
	if err := s.codec.Unmarshal(raw, &evs); err != nil {
		return nil, fmt.Errorf("%w: block events of %d: %v", ErrCorrupt, height, err)
	}
	return evs, nil
}
