package consensus

import (
	"fmt"

	"github.com/dure-network/dure/chain"
)

// entryKind tags a WAL entry.
type entryKind uint8

const (
	entryProposal    entryKind = 1 // proposal received
	entryVote        entryKind = 2 // vote received
	entryTimeout     entryKind = 3 // timeout that took effect
	entryValidated   entryKind = 4 // block validity reported
	entryCommit      entryKind = 5 // commit received out of band
	entryOwnProposal entryKind = 6 // proposal this node signed
	entryOwnVote     entryKind = 7 // vote this node signed
)

// maxEntryBytes bounds one WAL entry (a commit of MaxValidators signatures
// is about 90 KB).
const maxEntryBytes = 1 << 20

// entry is one WAL record: an input the machine accepted, or a message it
// signed. Replaying a height's entries rebuilds the machine exactly.
type entry struct {
	_        struct{} `cbor:",toarray"`
	Kind     entryKind
	Proposal *chain.Proposal
	Vote     *chain.Vote
	Height   uint64
	Round    uint32
	Step     Step
	BlockID  chain.ID
	Valid    bool
	Commit   *chain.Commit
}

func (m *Machine) encodeEntry(e *entry) []byte {
	b, err := m.codec.Marshal(e)
	if err != nil {
		panic(err) // fixed-shape struct always encodes
	}
	return b
}

// decodeEntry parses a WAL entry canonically and checks that the fields its
// kind needs are present.
func decodeEntry(c *chain.Codec, b []byte) (*entry, error) {
	if len(b) > maxEntryBytes {
		return nil, fmt.Errorf("%w: %d bytes", ErrBadWALRecord, len(b))
	}
	var e entry
	if err := c.UnmarshalCanonical(b, &e); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadWALRecord, err)
	}
	ok := false
	switch e.Kind {
	case entryProposal, entryOwnProposal:
		ok = e.Proposal != nil
	case entryVote, entryOwnVote:
		ok = e.Vote != nil && e.Vote.ValidateBasic() == nil
	case entryTimeout:
		ok = e.Step >= StepPropose && e.Step <= StepPrecommit
	case entryValidated:
		ok = !e.BlockID.IsZero()
	case entryCommit:
		ok = e.Commit != nil
	}
	if !ok {
		return nil, fmt.Errorf("%w: kind %d missing its fields", ErrBadWALRecord, e.Kind)
	}
	return &e, nil
}
