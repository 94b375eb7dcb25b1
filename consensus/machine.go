package consensus

import (
	"fmt"
	"slices"

	"github.com/dure-network/dure/chain"
)

// Bounds on what byzantine peers can make the machine hold.
const (
	// maxFutureRoundsPerValidator bounds the rounds above the current one a
	// single validator can occupy with votes.
	maxFutureRoundsPerValidator = 4
	// maxProposalRoundsAhead bounds how far ahead a proposal may be.
	maxProposalRoundsAhead = 16
	// maxBufferedPerValidator bounds messages buffered for the next height.
	maxBufferedPerValidator = 8
)

type validity uint8

const (
	validityUnknown validity = iota
	validityPending
	validityValid
	validityInvalid
)

type ownKey struct {
	round uint32
	step  Step
}

type ownMsg struct {
	msg  Message
	hash chain.Hash
}

type evKey struct {
	idx   int
	round uint32
	typ   chain.VoteType
}

// buffered is a message for the next height, checked against the key it
// was verified with.
type buffered struct {
	msg    Message
	pubKey chain.PubKey
}

// Machine is one node's Tendermint state for the current height. It is not
// safe for concurrent use; the driver owns it from one goroutine.
type Machine struct {
	chainID  string
	codec    *chain.Codec
	self     chain.Address
	guard    *Guard // nil for a non-validator
	timeouts Timeouts

	height  uint64
	round   uint32
	step    Step
	vals    *chain.ValidatorSet
	sched   *ProposerSchedule
	selfIdx int // -1 when not in the set
	quorum  uint64
	skip    uint64

	lockedValue chain.ID
	lockedRound int32
	validValue  chain.ID
	validRound  int32
	decided     chain.ID

	rounds    map[uint32]*roundState
	roundNums []uint32 // sorted keys of rounds
	validity  map[chain.ID]validity
	own       map[ownKey]ownMsg
	lastOwn   [2]uint32 // highest round with an own prevote, precommit
	evSeen    map[evKey]struct{}
	requested int64 // round a RequestBlock is outstanding for, or -1

	next      []buffered
	nextCount map[chain.Address]int

	started   bool
	replaying bool
	refused   int
	ready     Ready
}

// New returns a machine for cfg.Height. Call Start, or Replay after a
// restart, before anything else.
func New(cfg Config) (*Machine, error) {
	switch {
	case cfg.Codec == nil:
		return nil, fmt.Errorf("%w: no codec", ErrConfig)
	case cfg.ChainID == "":
		return nil, fmt.Errorf("%w: no chain id", ErrConfig)
	case cfg.Height == 0:
		return nil, fmt.Errorf("%w: height 0", ErrConfig)
	case cfg.Validators == nil || cfg.Validators.Len() == 0:
		return nil, fmt.Errorf("%w: no validators", ErrConfig)
	case !cfg.Self.IsZero() && cfg.Signer == nil:
		return nil, fmt.Errorf("%w: validator %s without a signer", ErrConfig, cfg.Self)
	case cfg.LastSigned.Height > cfg.Height:
		// Signed at a later height than we start: the block store is behind
		// the signer state, so this node's view is stale; refuse to start
		// rather than guess.
		return nil, fmt.Errorf("%w: last signed height %d is above start height %d", ErrConfig, cfg.LastSigned.Height, cfg.Height)
	}
	t := cfg.Timeouts
	if t == (Timeouts{}) {
		t = DefaultTimeouts()
	}
	m := &Machine{chainID: cfg.ChainID, codec: cfg.Codec, self: cfg.Self, timeouts: t}
	if !cfg.Self.IsZero() {
		m.guard = NewGuard(cfg.Signer, cfg.LastSigned)
	}
	m.reset(cfg.Height, cfg.Validators)
	return m, nil
}

func (m *Machine) reset(h uint64, vals *chain.ValidatorSet) {
	if m.vals != vals || m.sched == nil {
		m.sched = NewProposerSchedule(vals)
	}
	m.height, m.round, m.step, m.vals = h, 0, StepPropose, vals
	m.quorum = vals.QuorumPower()
	m.skip = vals.TotalPower()/3 + 1
	m.selfIdx = -1
	if m.guard != nil {
		if _, i, ok := vals.ByAddress(m.self); ok {
			m.selfIdx = i
		}
	}
	m.lockedValue, m.lockedRound, m.validValue, m.validRound, m.decided = "", -1, "", -1, ""
	m.rounds = make(map[uint32]*roundState)
	m.roundNums = m.roundNums[:0]
	m.validity = make(map[chain.ID]validity)
	m.own = make(map[ownKey]ownMsg)
	m.lastOwn = [2]uint32{}
	m.evSeen = make(map[evKey]struct{})
	m.requested = -1
}

// Start enters round 0 of the configured height.
func (m *Machine) Start() error {
	if m.started {
		return ErrAlreadyStarted
	}
	m.started = true
	m.startRound(0)
	m.progress()
	return nil
}

// Replay rebuilds the machine after a restart from the WAL records of its
// height, in the order they were written, then starts it. Messages it
// signed before the crash are re-used, never signed anew, so the node
// neither unlocks nor votes differently. Replayed records are not emitted
// again in Ready.WAL.
func (m *Machine) Replay(records [][]byte) error {
	if m.started {
		return ErrAlreadyStarted
	}
	entries := make([]*entry, 0, len(records))
	for i, b := range records {
		e, err := decodeEntry(m.codec, b)
		if err != nil {
			return fmt.Errorf("replay record %d: %w", i, err)
		}
		entries = append(entries, e)
	}
	for _, e := range entries {
		m.preloadOwn(e)
	}
	m.replaying = true
	m.started = true
	m.startRound(0)
	m.progress()
	for _, e := range entries {
		switch e.Kind {
		case entryProposal:
			_ = m.onProposal(e.Proposal, true)
		case entryVote:
			_ = m.onVote(e.Vote, true)
		case entryTimeout:
			m.onTimeout(TimeoutEvent{Height: e.Height, Round: e.Round, Step: e.Step})
		case entryValidated:
			m.onValidated(BlockValidatedEvent{BlockID: e.BlockID, Valid: e.Valid})
		case entryCommit:
			_ = m.onCommit(e.Commit, true)
		case entryOwnProposal:
			if e.Proposal.Height == m.height {
				if rs := m.roundFor(e.Proposal.Round); rs.proposal == nil {
					p := *e.Proposal
					rs.proposal = &p
					m.validity[p.BlockID] = validityValid
				}
			}
		case entryOwnVote:
			if v := e.Vote; v.Height == m.height && m.selfIdx >= 0 {
				m.addVote(m.selfIdx, v)
			}
		}
		m.progress()
	}
	m.replaying = false
	m.progress()
	return nil
}

// preloadOwn registers a message signed before a crash so the machine
// re-uses it and the guard knows about it even if the last-signed file lagged.
func (m *Machine) preloadOwn(e *entry) {
	var msg Message
	var sb []byte
	var h uint64
	var r uint32
	var st Step
	var sig []byte
	switch e.Kind {
	case entryOwnProposal:
		p := *e.Proposal
		msg, sb, h, r, st, sig = Message{Proposal: &p}, p.SignBytes(m.codec, m.chainID), p.Height, p.Round, StepPropose, p.Sig
	case entryOwnVote:
		v := *e.Vote
		msg, sb, h, r, st, sig = Message{Vote: &v}, v.SignBytes(m.codec, m.chainID), v.Height, v.Round, stepOf(v.Type), v.Sig
	default:
		return
	}
	if m.guard == nil {
		return
	}
	hash := chain.Sum256(sb)
	if h == m.height {
		m.own[ownKey{r, st}] = ownMsg{msg: msg, hash: hash}
	}
	last := m.guard.last
	if last.Height == 0 || cmpHRS(h, r, st, last.Height, last.Round, last.Step) > 0 {
		m.guard.last = LastSigned{Height: h, Round: r, Step: st, SignHash: hash, Sig: sig}
		ls := m.guard.last
		m.ready.LastSigned = &ls
	}
}

// Step feeds one input event.
func (m *Machine) Step(ev Event) error {
	if !m.started {
		return ErrNotStarted
	}
	var err error
	switch e := ev.(type) {
	case ProposalEvent:
		err = m.onProposal(&e.Proposal, e.Verified)
	case VoteEvent:
		err = m.onVote(&e.Vote, e.Verified)
	case TimeoutEvent:
		m.onTimeout(e)
	case BlockValidatedEvent:
		m.onValidated(e)
	case CommitEvent:
		err = m.onCommit(&e.Commit, false)
	default:
		return fmt.Errorf("%w: %T", ErrBadEvent, ev)
	}
	m.progress()
	return err
}

// ProposeBlock answers RequestBlock: id is the block the driver built for
// (height, round). A stale answer is ignored.
func (m *Machine) ProposeBlock(height uint64, round uint32, id chain.ID) error {
	if !m.started {
		return ErrNotStarted
	}
	if id.IsZero() {
		return fmt.Errorf("%w: proposing a nil block", ErrBadEvent)
	}
	if height != m.height || round != m.round || m.step != StepPropose || m.requested != int64(round) || m.decided != "" {
		return nil
	}
	m.requested = -1
	m.propose(round, id, -1)
	m.progress()
	return nil
}

// NewHeight moves to height with its validator set, after the driver has
// applied the decided block (and waited Decision.Wait). The driver passes
// the set that decides height: changes decided at H take effect at H+2.
func (m *Machine) NewHeight(height uint64, vals *chain.ValidatorSet) error {
	if height <= m.height {
		return fmt.Errorf("%w: new height %d is not above %d", ErrBadEvent, height, m.height)
	}
	if vals == nil || vals.Len() == 0 {
		return fmt.Errorf("%w: no validators for height %d", ErrBadEvent, height)
	}
	pending := m.next
	m.next, m.nextCount = nil, nil
	m.reset(height, vals)
	m.started = true
	m.startRound(0)
	m.progress()
	for _, b := range pending {
		trusted := false
		if b.msg.Vote != nil {
			if val, _, ok := vals.ByAddress(b.msg.Vote.Validator); ok && val.PubKey == b.pubKey {
				trusted = true
			}
			_ = m.onVote(b.msg.Vote, trusted)
		} else {
			if val, _, ok := vals.ByAddress(b.msg.Proposal.Proposer); ok && val.PubKey == b.pubKey {
				trusted = true
			}
			_ = m.onProposal(b.msg.Proposal, trusted)
		}
		m.progress()
	}
	return nil
}

// HasReady reports whether Ready has anything.
func (m *Machine) HasReady() bool { return !m.ready.Empty() || m.ready.MustSync }

// Ready returns the accumulated actions. Handle them, then call Advance.
func (m *Machine) Ready() Ready { return m.ready }

// Advance acknowledges the last Ready as handled.
func (m *Machine) Advance() { m.ready = Ready{} }

// Rebroadcast returns this node's proposal for the current round and its
// latest votes at the current height, for periodic re-sending so lost
// messages do not stall the height.
//
// With its own re-proposal (a proposal whose POLRound is set) it also
// returns the other validators' prevotes of the proof-of-lock, as signed by
// them: Tendermint's liveness assumes every correct node eventually gets
// every message a correct node got, and pubsub gossip keeps no per-peer
// state that would send a late node the votes it missed. Without them a
// node that was down during the POL round can never accept the
// re-proposal, and if a signer of that POL crashed (its own rebroadcast
// gone), the proposer stays locked against every other block: no height
// is decided until that signer returns. The relay is bounded: one POL set
// (at most one vote per validator, plus an equivocator's conflicting ones
// for the same block) per call, for the current height, and only while
// undecided. Receivers verify relayed votes as any other.
func (m *Machine) Rebroadcast() []Message {
	var out []Message
	if o, ok := m.own[ownKey{m.round, StepPropose}]; ok {
		out = append(out, o.msg)
		if p := o.msg.Proposal; p.POLRound >= 0 && m.decided == "" {
			out = m.appendPOL(out, uint32(p.POLRound), p.BlockID)
		}
	}
	// The latest prevote and the latest precommit, each from its own round:
	// a peer still in an earlier round may need exactly that precommit.
	for i, st := range []Step{StepPrevote, StepPrecommit} {
		if o, ok := m.own[ownKey{m.lastOwn[i], st}]; ok {
			out = append(out, o.msg)
		}
	}
	// Prevotes of the rounds a proof-of-lock may be asked from: without
	// them a node that missed that round can never accept a re-proposal.
	pol := []int32{m.validRound}
	if rs := m.rounds[m.round]; rs != nil && rs.proposal != nil {
		pol = append(pol, rs.proposal.POLRound)
	}
	for i, r := range pol {
		if r < 0 || uint32(r) == m.lastOwn[0] || (i == 1 && r == pol[0]) {
			continue
		}
		if o, ok := m.own[ownKey{uint32(r), StepPrevote}]; ok {
			out = append(out, o.msg)
		}
	}
	return out
}

// appendPOL appends the prevotes of other validators for block in round r,
// in validator-set order (this node's own prevote is sent on its own).
func (m *Machine) appendPOL(out []Message, r uint32, block chain.ID) []Message {
	rs := m.rounds[r]
	if rs == nil {
		return out
	}
	for i, v := range rs.prevotes.votes {
		if i == m.selfIdx || v == nil {
			continue
		}
		if v.BlockID == block {
			cp := *v
			out = append(out, Message{Vote: &cp})
		}
		for _, a := range rs.prevotes.alts[i] {
			if a.BlockID == block {
				cp := *a
				out = append(out, Message{Vote: &cp})
			}
		}
	}
	return out
}

// Status reports the machine's position.
func (m *Machine) Status() Status {
	return Status{Height: m.height, Round: m.round, Step: m.step, LockedRound: m.lockedRound,
		LockedValue: m.lockedValue, ValidRound: m.validRound, ValidValue: m.validValue, Decided: m.decided}
}

// Height is the height being decided.
func (m *Machine) Height() uint64 { return m.height }

// Proposer returns the proposer of round at the current height.
func (m *Machine) Proposer(round uint32) chain.Address { return m.sched.Proposer(m.height, round) }

// Refused counts signatures the guard refused (non-zero only when the
// signer state is ahead of the WAL, e.g. the WAL was lost).
func (m *Machine) Refused() int { return m.refused }

// ---- inputs ----

func (m *Machine) onProposal(p *chain.Proposal, trusted bool) error {
	switch {
	case p.Height < m.height:
		return nil
	case p.Height == m.height+1:
		m.buffer(Message{Proposal: p}, p.Proposer, func(vs *chain.ValidatorSet) error { return p.Verify(m.codec, m.chainID, vs) })
		return nil
	case p.Height > m.height+1:
		return fmt.Errorf("%w: proposal for %d at %d", ErrFutureHeight, p.Height, m.height)
	}
	if m.decided != "" || p.Round > m.round+maxProposalRoundsAhead {
		return nil
	}
	if want := m.sched.Proposer(p.Height, p.Round); p.Proposer != want {
		return fmt.Errorf("%w: %s at %d/%d, want %s", ErrWrongProposer, p.Proposer, p.Height, p.Round, want)
	}
	if rs, ok := m.rounds[p.Round]; ok && rs.proposal != nil {
		return nil // duplicate, or an equivocating proposer: first one wins
	}
	if !trusted {
		if err := p.Verify(m.codec, m.chainID, m.vals); err != nil {
			return err
		}
	}
	cp := *p
	m.roundFor(p.Round).proposal = &cp
	m.log(&entry{Kind: entryProposal, Proposal: &cp})
	if m.validity[p.BlockID] == validityUnknown {
		m.validity[p.BlockID] = validityPending
		m.ready.Validate = append(m.ready.Validate, ValidateBlock{Height: p.Height, Round: p.Round, BlockID: p.BlockID})
	}
	return nil
}

func (m *Machine) onVote(v *chain.Vote, trusted bool) error {
	if err := v.ValidateBasic(); err != nil {
		return err
	}
	switch {
	case v.Height < m.height:
		return nil
	case v.Height == m.height+1:
		m.buffer(Message{Vote: v}, v.Validator, func(vs *chain.ValidatorSet) error { return v.Verify(m.codec, m.chainID, vs) })
		return nil
	case v.Height > m.height+1:
		return fmt.Errorf("%w: vote for %d at %d", ErrFutureHeight, v.Height, m.height)
	}
	if m.decided != "" {
		return nil
	}
	_, idx, ok := m.vals.ByAddress(v.Validator)
	if !ok {
		return fmt.Errorf("%w: %s", chain.ErrUnknownValidator, v.Validator)
	}
	if v.Round > m.round && !m.roomForFutureRound(idx, v.Round) {
		return nil
	}
	rs := m.roundFor(v.Round)
	vs := rs.set(v.Type)
	if ex := vs.votes[idx]; ex != nil {
		if vs.has(idx, v.BlockID) || len(vs.alts[idx]) >= maxAlts {
			return nil // duplicate, or no room for more of an equivocator's votes
		}
		if !trusted {
			if err := v.Verify(m.codec, m.chainID, m.vals); err != nil {
				return err
			}
		}
		cp := *v
		vs.addAlt(idx, m.vals.Validators[idx].Power, m.quorum, &cp)
		m.log(&entry{Kind: entryVote, Vote: &cp})
		if key := (evKey{idx, v.Round, v.Type}); !m.replaying {
			if _, seen := m.evSeen[key]; !seen {
				m.evSeen[key] = struct{}{}
				a, b := *ex, cp
				if b.BlockID < a.BlockID {
					a, b = b, a
				}
				m.ready.Evidence = append(m.ready.Evidence, chain.Evidence{VoteA: a, VoteB: b})
			}
		}
		return nil
	}
	if !trusted {
		if err := v.Verify(m.codec, m.chainID, m.vals); err != nil {
			return err
		}
	}
	cp := *v
	m.addVote(idx, &cp)
	m.log(&entry{Kind: entryVote, Vote: &cp})
	return nil
}

func (m *Machine) onTimeout(e TimeoutEvent) {
	if e.Height != m.height || e.Round != m.round || m.decided != "" {
		return
	}
	switch {
	case e.Step == StepPropose && m.step == StepPropose:
		m.log(&entry{Kind: entryTimeout, Height: e.Height, Round: e.Round, Step: e.Step})
		m.prevote("")
	case e.Step == StepPrevote && m.step == StepPrevote:
		m.log(&entry{Kind: entryTimeout, Height: e.Height, Round: e.Round, Step: e.Step})
		m.precommit("")
	case e.Step == StepPrecommit:
		m.log(&entry{Kind: entryTimeout, Height: e.Height, Round: e.Round, Step: e.Step})
		m.startRound(m.round + 1)
	}
}

func (m *Machine) onValidated(e BlockValidatedEvent) {
	if e.BlockID.IsZero() {
		return
	}
	if st := m.validity[e.BlockID]; st == validityValid || st == validityInvalid {
		return
	}
	if e.Valid {
		m.validity[e.BlockID] = validityValid
	} else {
		m.validity[e.BlockID] = validityInvalid
	}
	m.log(&entry{Kind: entryValidated, BlockID: e.BlockID, Valid: e.Valid})
}

func (m *Machine) onCommit(cm *chain.Commit, trusted bool) error {
	switch {
	case cm.Height < m.height || m.decided != "":
		return nil
	case cm.Height > m.height:
		return fmt.Errorf("%w: commit for %d at %d", ErrFutureHeight, cm.Height, m.height)
	}
	if !trusted {
		if err := chain.VerifyCommit(m.codec, m.chainID, m.vals, cm, m.height, cm.BlockID); err != nil {
			return err
		}
	}
	cp := *cm
	cp.Sigs = slices.Clone(cm.Sigs)
	m.log(&entry{Kind: entryCommit, Commit: &cp})
	m.decide(cp.Round, cp.BlockID, &cp)
	return nil
}

// buffer keeps a message for the next height, verified against the current
// set, at most maxBufferedPerValidator per sender.
func (m *Machine) buffer(msg Message, from chain.Address, verify func(*chain.ValidatorSet) error) {
	val, _, ok := m.vals.ByAddress(from)
	if !ok || m.nextCount[from] >= maxBufferedPerValidator {
		return
	}
	if verify(m.vals) != nil {
		return
	}
	if m.nextCount == nil {
		m.nextCount = make(map[chain.Address]int)
	}
	m.nextCount[from]++
	if msg.Vote != nil {
		v := *msg.Vote
		msg.Vote = &v
	} else {
		p := *msg.Proposal
		msg.Proposal = &p
	}
	m.next = append(m.next, buffered{msg: msg, pubKey: val.PubKey})
}

// roomForFutureRound bounds the rounds above the current one a validator
// can fill, so a byzantine validator cannot grow memory without bound.
func (m *Machine) roomForFutureRound(idx int, round uint32) bool {
	if rs, ok := m.rounds[round]; ok && rs.seen[idx] {
		return true
	}
	n := 0
	for i := len(m.roundNums) - 1; i >= 0 && m.roundNums[i] > m.round; i-- {
		if m.rounds[m.roundNums[i]].seen[idx] {
			n++
		}
	}
	return n < maxFutureRoundsPerValidator
}

func (m *Machine) roundFor(r uint32) *roundState {
	rs, ok := m.rounds[r]
	if !ok {
		rs = newRoundState(m.vals.Len())
		m.rounds[r] = rs
		i, _ := slices.BinarySearch(m.roundNums, r)
		m.roundNums = slices.Insert(m.roundNums, i, r)
	}
	return rs
}

func (m *Machine) addVote(idx int, v *chain.Vote) {
	rs := m.roundFor(v.Round)
	vs := rs.set(v.Type)
	if vs.votes[idx] != nil {
		return
	}
	power := m.vals.Validators[idx].Power
	vs.add(idx, power, m.quorum, v)
	if !rs.seen[idx] {
		rs.seen[idx] = true
		rs.seenPower += power
	}
}

func (m *Machine) log(e *entry) {
	if m.replaying {
		return
	}
	m.ready.WAL = append(m.ready.WAL, WALRecord{Height: m.height, Data: m.encodeEntry(e)})
}

// ---- the algorithm (arXiv 1807.04938, Algorithm 1) ----

func (m *Machine) isProposer(r uint32) bool {
	return m.selfIdx >= 0 && m.sched.Proposer(m.height, r) == m.self
}

func (m *Machine) schedule(s Step) {
	m.ready.Timeouts = append(m.ready.Timeouts, ScheduleTimeout{Height: m.height, Round: m.round, Step: s,
		Duration: m.timeouts.forStep(s, m.round)})
}

// startRound is StartRound(r), lines 11-21. The proposer also schedules the
// propose timeout, so a driver that never answers RequestBlock cannot stall.
func (m *Machine) startRound(r uint32) {
	m.round, m.step = r, StepPropose
	m.roundFor(r)
	m.schedule(StepPropose)
	if !m.isProposer(r) {
		return
	}
	switch {
	case m.own[ownKey{r, StepPropose}].msg.Proposal != nil:
		p := m.own[ownKey{r, StepPropose}].msg.Proposal
		m.propose(r, p.BlockID, p.POLRound)
	case !m.validValue.IsZero():
		m.propose(r, m.validValue, m.validRound)
	default:
		m.requested = int64(r)
		m.ready.Requests = append(m.ready.Requests, RequestBlock{Height: m.height, Round: r})
	}
}

func (m *Machine) propose(r uint32, id chain.ID, polRound int32) {
	p := chain.Proposal{Height: m.height, Round: r, POLRound: polRound, BlockID: id, Proposer: m.self}
	sig, ok := m.sign(r, StepPropose, p.SignBytes(m.codec, m.chainID))
	if !ok {
		return
	}
	p.Sig = sig
	m.validity[id] = validityValid // built or already validated by us
	if rs := m.roundFor(r); rs.proposal == nil {
		cp := p
		rs.proposal = &cp
	}
	m.release(ownKey{r, StepPropose}, Message{Proposal: &p}, &entry{Kind: entryOwnProposal, Proposal: &p})
}

func (m *Machine) vote(t chain.VoteType, id chain.ID) {
	if m.selfIdx < 0 {
		return
	}
	v := chain.Vote{Type: t, Height: m.height, Round: m.round, BlockID: id, Validator: m.self}
	sig, ok := m.sign(m.round, stepOf(t), v.SignBytes(m.codec, m.chainID))
	if !ok {
		return
	}
	v.Sig = sig
	m.addVote(m.selfIdx, &v)
	m.lastOwn[t-1] = max(m.lastOwn[t-1], m.round)
	m.release(ownKey{m.round, stepOf(t)}, Message{Vote: &v}, &entry{Kind: entryOwnVote, Vote: &v})
}

// sign returns a signature only when the double-sign guard allows it. A
// message signed before a crash (preloaded from the WAL) is re-used.
func (m *Machine) sign(r uint32, st Step, sb []byte) ([]byte, bool) {
	hash := chain.Sum256(sb)
	if o, ok := m.own[ownKey{r, st}]; ok {
		if o.hash != hash {
			m.refused++
			return nil, false
		}
		if o.msg.Vote != nil {
			return o.msg.Vote.Sig, true
		}
		return o.msg.Proposal.Sig, true
	}
	sig, fresh, err := m.guard.Sign(m.height, r, st, sb)
	if err != nil {
		m.refused++
		return nil, false
	}
	if fresh {
		ls := m.guard.Last()
		m.ready.LastSigned = &ls
		m.ready.MustSync = true
	}
	return sig, true
}

// release records an own message, logs it and queues it for broadcast; the
// driver sends it only after the WAL sync Ready.MustSync asks for.
func (m *Machine) release(k ownKey, msg Message, e *entry) {
	if _, ok := m.own[k]; !ok {
		m.own[k] = ownMsg{msg: msg, hash: chain.Sum256(signBytesOf(m.codec, m.chainID, msg))}
		m.log(e)
		m.ready.MustSync = m.ready.MustSync || !m.replaying
	}
	m.ready.Messages = append(m.ready.Messages, msg)
}

func signBytesOf(c *chain.Codec, chainID string, msg Message) []byte {
	if msg.Vote != nil {
		return msg.Vote.SignBytes(c, chainID)
	}
	return msg.Proposal.SignBytes(c, chainID)
}

func (m *Machine) prevote(id chain.ID) {
	m.vote(chain.Prevote, id)
	m.step = StepPrevote
}

func (m *Machine) precommit(id chain.ID) {
	m.vote(chain.Precommit, id)
	m.step = StepPrecommit
}

func (m *Machine) decide(r uint32, id chain.ID, cm *chain.Commit) {
	if cm == nil {
		cm = m.rounds[r].precommits.commit(m.height, r, id)
	}
	m.decided, m.step = id, StepCommit
	m.ready.Decisions = append(m.ready.Decisions, Decision{Height: m.height, Round: r, BlockID: id, Commit: cm, Wait: m.timeouts.Commit})
}

// progress applies the upon-rules until none fires.
func (m *Machine) progress() {
	for m.applyRule() {
	}
}

// applyRule fires at most one upon-rule and reports whether it did.
func (m *Machine) applyRule() bool {
	if m.decided != "" {
		return false
	}
	// Line 49: >2/3 precommits for a block in any round decide it. The
	// paper also asks for the proposal and valid(v); precommits from >2/3
	// imply an honest node validated it, so the driver fetches the block
	// if it lacks it.
	for _, r := range m.roundNums {
		if id := m.rounds[r].precommits.maj; !id.IsZero() {
			m.decide(r, id, nil)
			return true
		}
	}
	// Line 55: >1/3 of the power is already in a later round: skip to it.
	for i := len(m.roundNums) - 1; i >= 0 && m.roundNums[i] > m.round; i-- {
		if r := m.roundNums[i]; m.rounds[r].seenPower >= m.skip {
			m.startRound(r)
			return true
		}
	}
	r := m.round
	rs := m.rounds[r]
	prop := rs.proposal
	// Line 47.
	if !rs.precommitWait && rs.precommits.sum >= m.quorum {
		rs.precommitWait = true
		m.schedule(StepPrecommit)
		return true
	}
	switch m.step {
	case StepPropose:
		if prop == nil {
			return false
		}
		v, st := prop.BlockID, m.validity[prop.BlockID]
		if prop.POLRound == -1 { // line 22
			switch {
			case m.lockedRound != -1 && m.lockedValue != v, st == validityInvalid:
				m.prevote("")
			case st == validityValid:
				m.prevote(v)
			default:
				return false // validation pending
			}
			return true
		}
		vr := prop.POLRound // line 28; Verify ensured 0 <= vr < r
		pol, ok := m.rounds[uint32(vr)]
		if !ok || pol.prevotes.byBlock[v] < m.quorum {
			return false
		}
		switch {
		case !(m.lockedRound <= vr || m.lockedValue == v), st == validityInvalid:
			m.prevote("")
		case st == validityValid:
			m.prevote(v)
		default:
			return false
		}
		return true
	case StepPrevote, StepPrecommit:
		// Line 34.
		if m.step == StepPrevote && !rs.prevoteWait && rs.prevotes.sum >= m.quorum {
			rs.prevoteWait = true
			m.schedule(StepPrevote)
			return true
		}
		// Line 36.
		if prop != nil && !rs.polDone && m.validity[prop.BlockID] == validityValid &&
			rs.prevotes.byBlock[prop.BlockID] >= m.quorum {
			rs.polDone = true
			if m.step == StepPrevote {
				m.lockedValue, m.lockedRound = prop.BlockID, int32(r)
				m.precommit(prop.BlockID)
			}
			m.validValue, m.validRound = prop.BlockID, int32(r)
			return true
		}
		// Line 44.
		if m.step == StepPrevote && rs.prevotes.byBlock[""] >= m.quorum {
			m.precommit("")
			return true
		}
	}
	return false
}
