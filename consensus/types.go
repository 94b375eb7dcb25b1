package consensus

import (
	"errors"
	"fmt"
	"time"

	"github.com/dure-network/dure/chain"
)

// Errors returned by the machine. Events that are merely stale or duplicated
// are dropped silently (Step returns nil): gossip delivers those constantly.
var (
	ErrConfig         = errors.New("consensus: bad config")
	ErrFutureHeight   = errors.New("consensus: message for a future height")
	ErrWrongProposer  = errors.New("consensus: proposal from a validator that is not the proposer")
	ErrDoubleSign     = errors.New("consensus: refusing to sign conflicting message")
	ErrNotStarted     = errors.New("consensus: machine not started")
	ErrBadEvent       = errors.New("consensus: bad event")
	ErrBadWALRecord   = errors.New("consensus: bad WAL record")
	ErrBadLastSigned  = errors.New("consensus: bad last-signed record")
	ErrAlreadyStarted = errors.New("consensus: machine already started")
)

// Step is a step of a round. The numeric order is the signing order inside
// one round (proposal, then prevote, then precommit), which the double-sign
// guard relies on.
type Step uint8

// Steps of a round, plus StepCommit once the height is decided.
const (
	StepPropose   Step = 1
	StepPrevote   Step = 2
	StepPrecommit Step = 3
	StepCommit    Step = 4
)

func (s Step) String() string {
	switch s {
	case StepPropose:
		return "propose"
	case StepPrevote:
		return "prevote"
	case StepPrecommit:
		return "precommit"
	case StepCommit:
		return "commit"
	}
	return fmt.Sprintf("step(%d)", uint8(s))
}

func stepOf(t chain.VoteType) Step {
	if t == chain.Prevote {
		return StepPrevote
	}
	return StepPrecommit
}

// Timeouts are the round timeouts. A round r waits base + r*Delta.
type Timeouts struct {
	Propose   time.Duration
	Prevote   time.Duration
	Precommit time.Duration
	Delta     time.Duration // added per round to each of the three above
	Commit    time.Duration // wait after a decision before the next height
}

// DefaultTimeouts are the timeouts used when Config.Timeouts is zero.
func DefaultTimeouts() Timeouts {
	return Timeouts{Propose: time.Second, Prevote: 500 * time.Millisecond,
		Precommit: 500 * time.Millisecond, Delta: 500 * time.Millisecond, Commit: 50 * time.Millisecond}
}

func (t Timeouts) forStep(s Step, round uint32) time.Duration {
	var base time.Duration
	switch s {
	case StepPropose:
		base = t.Propose
	case StepPrevote:
		base = t.Prevote
	default:
		base = t.Precommit
	}
	// Cap the multiplier so a byzantine-driven huge round cannot overflow.
	r := min(round, 1<<20)
	return base + time.Duration(r)*t.Delta
}

// Signer signs consensus messages. chain.PrivKey satisfies it. The machine
// only calls it after the double-sign guard has agreed.
type Signer interface {
	Sign(msg []byte) []byte
}

// Config builds a Machine.
type Config struct {
	ChainID    string
	Codec      *chain.Codec
	Height     uint64              // the height to decide first
	Validators *chain.ValidatorSet // the set deciding Height
	Self       chain.Address       // zero for a non-validator
	Signer     Signer              // required when Self is set
	Timeouts   Timeouts            // zero value means DefaultTimeouts()
	LastSigned LastSigned          // as loaded from disk; zero if never signed
}

// Event is an input to Step.
type Event interface{ isEvent() }

// ProposalEvent carries a proposal received from the network. The block
// itself travels separately; the driver reports on it with BlockValidatedEvent.
//
// Verified says the caller already checked the signature against the
// validator set of the proposal's height (the node's gossip validator does,
// before relaying), so the machine does not check it a second time.
type ProposalEvent struct {
	Proposal chain.Proposal
	Verified bool
}

// VoteEvent carries a vote received from the network.
// Verified is as for ProposalEvent.
type VoteEvent struct {
	Vote     chain.Vote
	Verified bool
}

// TimeoutEvent reports that a ScheduleTimeout has elapsed.
type TimeoutEvent struct {
	Height uint64
	Round  uint32
	Step   Step
}

// BlockValidatedEvent answers a ValidateBlock action: the driver has the
// block and checked (executed) it against the current state.
type BlockValidatedEvent struct {
	BlockID chain.ID
	Valid   bool
}

// CommitEvent hands the machine a commit for its current height obtained
// out of band (block sync), so a node that missed the precommits moves on.
type CommitEvent struct{ Commit chain.Commit }

func (ProposalEvent) isEvent()       {}
func (VoteEvent) isEvent()           {}
func (TimeoutEvent) isEvent()        {}
func (BlockValidatedEvent) isEvent() {}
func (CommitEvent) isEvent()         {}

// Message is a signed message to broadcast: exactly one field is set.
type Message struct {
	Proposal *chain.Proposal
	Vote     *chain.Vote
}

// ScheduleTimeout asks the driver to deliver TimeoutEvent{Height, Round,
// Step} after Duration.
type ScheduleTimeout struct {
	Height   uint64
	Round    uint32
	Step     Step
	Duration time.Duration
}

// RequestBlock asks the driver to build a block for (Height, Round) and
// answer with Machine.ProposeBlock.
type RequestBlock struct {
	Height uint64
	Round  uint32
}

// ValidateBlock asks the driver to obtain and check the block and answer
// with BlockValidatedEvent.
type ValidateBlock struct {
	Height  uint64
	Round   uint32
	BlockID chain.ID
}

// Decision reports that Height is decided: apply BlockID (fetching it if it
// has not arrived), store Commit with it, then after Wait call NewHeight.
type Decision struct {
	Height  uint64
	Round   uint32
	BlockID chain.ID
	Commit  *chain.Commit
	Wait    time.Duration
}

// WALRecord is an encoded entry to append to the WAL under Height.
type WALRecord struct {
	Height uint64
	Data   []byte
}

// Ready is what the machine asks of its driver. Handle it in field order:
// WAL (and sync, LastSigned) first, everything else after.
type Ready struct {
	WAL        []WALRecord // append in order
	MustSync   bool        // fsync the WAL and persist LastSigned before sending Messages
	LastSigned *LastSigned // new last-signed state, non-nil when it changed
	Messages   []Message   // broadcast
	Timeouts   []ScheduleTimeout
	Requests   []RequestBlock
	Validate   []ValidateBlock
	Decisions  []Decision
	Evidence   []chain.Evidence // gossip and include in a block
}

// Empty reports whether r holds nothing to do.
func (r *Ready) Empty() bool {
	return len(r.WAL) == 0 && r.LastSigned == nil && len(r.Messages) == 0 && len(r.Timeouts) == 0 &&
		len(r.Requests) == 0 && len(r.Validate) == 0 && len(r.Decisions) == 0 && len(r.Evidence) == 0
}

// Status is a snapshot of the machine for logs, metrics and tests.
type Status struct {
	Height      uint64
	Round       uint32
	Step        Step
	LockedRound int32
	LockedValue chain.ID
	ValidRound  int32
	ValidValue  chain.ID
	Decided     chain.ID
}
