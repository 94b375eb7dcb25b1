package chain

import (
	"errors"
	"fmt"
)

// VoteType tells prevotes from precommits.
type VoteType uint8

// Vote types, as in the Tendermint paper.
const (
	Prevote   VoteType = 1
	Precommit VoteType = 2
)

func (t VoteType) String() string {
	switch t {
	case Prevote:
		return "prevote"
	case Precommit:
		return "precommit"
	}
	return fmt.Sprintf("votetype(%d)", uint8(t))
}

// Errors for votes, proposals and commits.
var (
	ErrVoteMalformed    = errors.New("vote malformed")
	ErrInvalidCommit    = errors.New("invalid commit")
	ErrInvalidEvidence  = errors.New("invalid evidence")
	ErrUnknownValidator = errors.New("unknown validator")
)

// Vote is a signed prevote or precommit. A zero BlockID is a vote for nil.
type Vote struct {
	_         struct{} `cbor:",toarray"`
	Type      VoteType `json:"type"`
	Height    uint64   `json:"height"`
	Round     uint32   `json:"round"`
	BlockID   ID       `json:"block_id"`
	Validator Address  `json:"validator"`
	Sig       []byte   `json:"sig"`
}

type voteSignDoc struct {
	_       struct{} `cbor:",toarray"`
	Domain  string
	ChainID string
	Type    VoteType
	Height  uint64
	Round   uint32
	BlockID ID
}

// VoteSignBytes are the bytes a validator signs for a vote. They do not
// include the validator, so commit signatures can be checked from the
// (height, round, block) triple alone.
func VoteSignBytes(c *Codec, chainID string, t VoteType, height uint64, round uint32, block ID) []byte {
	b, err := c.Marshal(voteSignDoc{Domain: "dure/vote/1", ChainID: chainID, Type: t, Height: height, Round: round, BlockID: block})
	if err != nil {
		panic(err)
	}
	return b
}

// SignBytes returns the bytes to sign for v.
func (v *Vote) SignBytes(c *Codec, chainID string) []byte {
	return VoteSignBytes(c, chainID, v.Type, v.Height, v.Round, v.BlockID)
}

// ValidateBasic checks shape only.
func (v *Vote) ValidateBasic() error {
	if v.Type != Prevote && v.Type != Precommit {
		return fmt.Errorf("%w: type %d", ErrVoteMalformed, v.Type)
	}
	if v.Height == 0 {
		return fmt.Errorf("%w: height 0", ErrVoteMalformed)
	}
	if len(v.Sig) != SigLen {
		return fmt.Errorf("%w: signature length %d", ErrVoteMalformed, len(v.Sig))
	}
	return nil
}

// Verify checks v's signature against the set it claims membership of.
func (v *Vote) Verify(c *Codec, chainID string, vs *ValidatorSet) error {
	if err := v.ValidateBasic(); err != nil {
		return err
	}
	val, _, ok := vs.ByAddress(v.Validator)
	if !ok {
		return fmt.Errorf("%w: %s", ErrUnknownValidator, v.Validator)
	}
	if !VerifySig(val.PubKey, v.SignBytes(c, chainID), v.Sig) {
		return fmt.Errorf("vote from %s: %w", v.Validator, ErrBadSignature)
	}
	return nil
}

// DecodeVote decodes a vote canonically and checks its shape.
func DecodeVote(c *Codec, raw []byte) (*Vote, error) {
	if len(raw) > 1024 {
		return nil, fmt.Errorf("%w: %d bytes", ErrVoteMalformed, len(raw))
	}
	var v Vote
	if err := c.UnmarshalCanonical(raw, &v); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrVoteMalformed, err)
	}
	if err := v.ValidateBasic(); err != nil {
		return nil, err
	}
	return &v, nil
}

// Proposal is a signed proposal of a block for (height, round). POLRound is
// the round of the proof-of-lock the proposer re-proposes from, or -1.
type Proposal struct {
	_        struct{} `cbor:",toarray"`
	Height   uint64   `json:"height"`
	Round    uint32   `json:"round"`
	POLRound int32    `json:"pol_round"`
	BlockID  ID       `json:"block_id"`
	Proposer Address  `json:"proposer"`
	Sig      []byte   `json:"sig"`
}

type proposalSignDoc struct {
	_        struct{} `cbor:",toarray"`
	Domain   string
	ChainID  string
	Height   uint64
	Round    uint32
	POLRound int32
	BlockID  ID
}

// SignBytes returns the bytes to sign for p.
func (p *Proposal) SignBytes(c *Codec, chainID string) []byte {
	b, err := c.Marshal(proposalSignDoc{Domain: "dure/proposal/1", ChainID: chainID, Height: p.Height,
		Round: p.Round, POLRound: p.POLRound, BlockID: p.BlockID})
	if err != nil {
		panic(err)
	}
	return b
}

// Verify checks the proposal's shape and signature.
func (p *Proposal) Verify(c *Codec, chainID string, vs *ValidatorSet) error {
	if p.Height == 0 || p.BlockID.IsZero() || p.POLRound < -1 || (p.POLRound >= 0 && uint32(p.POLRound) >= p.Round) {
		return fmt.Errorf("%w: proposal shape", ErrVoteMalformed)
	}
	val, _, ok := vs.ByAddress(p.Proposer)
	if !ok {
		return fmt.Errorf("%w: proposer %s", ErrUnknownValidator, p.Proposer)
	}
	if !VerifySig(val.PubKey, p.SignBytes(c, chainID), p.Sig) {
		return fmt.Errorf("proposal from %s: %w", p.Proposer, ErrBadSignature)
	}
	return nil
}

// CommitSig is one validator's precommit signature inside a commit.
type CommitSig struct {
	_         struct{} `cbor:",toarray"`
	Validator Address  `json:"validator"`
	Sig       []byte   `json:"sig"`
}

// Commit is the proof that a block was decided: precommits for BlockID at
// (Height, Round) from more than 2/3 of the voting power.
type Commit struct {
	_       struct{}    `cbor:",toarray"`
	Height  uint64      `json:"height"`
	Round   uint32      `json:"round"`
	BlockID ID          `json:"block_id"`
	Sigs    []CommitSig `json:"sigs"`
}

// VerifyCommit checks that cm commits block at height with more than 2/3 of
// vs's power, every signature valid (verified as one batch).
func VerifyCommit(c *Codec, chainID string, vs *ValidatorSet, cm *Commit, height uint64, block ID) error {
	if cm == nil {
		return fmt.Errorf("%w: missing", ErrInvalidCommit)
	}
	if cm.Height != height || cm.BlockID != block || block.IsZero() {
		return fmt.Errorf("%w: commit is for %d/%s, want %d/%s", ErrInvalidCommit, cm.Height, cm.BlockID, height, block)
	}
	if len(cm.Sigs) > vs.Len() {
		return fmt.Errorf("%w: %d signatures for %d validators", ErrInvalidCommit, len(cm.Sigs), vs.Len())
	}
	msg := VoteSignBytes(c, chainID, Precommit, cm.Height, cm.Round, cm.BlockID)
	seen := make(map[Address]bool, len(cm.Sigs))
	items := make([]SigItem, 0, len(cm.Sigs))
	var power uint64
	for _, s := range cm.Sigs {
		val, _, ok := vs.ByAddress(s.Validator)
		if !ok {
			return fmt.Errorf("%w: %v %s", ErrInvalidCommit, ErrUnknownValidator, s.Validator)
		}
		if seen[s.Validator] {
			return fmt.Errorf("%w: duplicate signature from %s", ErrInvalidCommit, s.Validator)
		}
		seen[s.Validator] = true
		items = append(items, SigItem{PubKey: val.PubKey, Msg: msg, Sig: s.Sig})
		power += val.Power
	}
	if power < vs.QuorumPower() {
		return fmt.Errorf("%w: power %d below quorum %d", ErrInvalidCommit, power, vs.QuorumPower())
	}
	if ok, _ := VerifyBatch(items); !ok {
		return fmt.Errorf("%w: %w", ErrInvalidCommit, ErrBadSignature)
	}
	return nil
}

// Evidence proves that a validator signed two different votes of the same
// type for the same height and round.
type Evidence struct {
	_     struct{} `cbor:",toarray"`
	VoteA Vote     `json:"vote_a"`
	VoteB Vote     `json:"vote_b"`
}

// Verify checks that e is a real equivocation by a member of vs.
func (e *Evidence) Verify(c *Codec, chainID string, vs *ValidatorSet) error {
	a, b := &e.VoteA, &e.VoteB
	if a.Validator != b.Validator || a.Type != b.Type || a.Height != b.Height || a.Round != b.Round {
		return fmt.Errorf("%w: votes are not for the same step by the same validator", ErrInvalidEvidence)
	}
	if a.BlockID >= b.BlockID {
		// Ordered, so one equivocation has exactly one encoding and cannot
		// be counted twice with its votes swapped.
		return fmt.Errorf("%w: votes agree or are out of order", ErrInvalidEvidence)
	}
	if err := a.Verify(c, chainID, vs); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidEvidence, err)
	}
	if err := b.Verify(c, chainID, vs); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidEvidence, err)
	}
	return nil
}

// ProposedBlock is a block-topic gossip message: a block together with the
// signed proposal of it. A node relays it only after checking that the
// proposal is signed by the proposer scheduled for its (height, round) and
// names this block, so a peer without a validator key cannot make the
// network carry, or a validator hold, blocks nobody proposed.
type ProposedBlock struct {
	_        struct{} `cbor:",toarray"`
	Proposal Proposal `json:"proposal"`
	Block    []byte   `json:"block"` // canonical block encoding
}

// DecodeProposedBlock decodes a block-topic message canonically and checks
// that the proposal names the block it carries. Signatures and the
// proposer schedule are the caller's to check: they need the validator set.
func DecodeProposedBlock(c *Codec, raw []byte) (*ProposedBlock, *Block, error) {
	var pb ProposedBlock
	if err := c.UnmarshalCanonical(raw, &pb); err != nil {
		return nil, nil, fmt.Errorf("%w: proposed block: %v", ErrBlockMalformed, err)
	}
	b, err := DecodeBlock(c, pb.Block)
	if err != nil {
		return nil, nil, err
	}
	if pb.Proposal.Height != b.Header.Height || pb.Proposal.BlockID != b.Header.ID(c) {
		return nil, nil, fmt.Errorf("%w: proposal for %d/%s carries block %d/%s", ErrBlockMalformed,
			pb.Proposal.Height, pb.Proposal.BlockID, b.Header.Height, b.Header.ID(c))
	}
	return &pb, b, nil
}
