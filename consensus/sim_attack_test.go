package consensus

import (
	"fmt"
	"time"

	"github.com/dure-network/dure/chain"
)

// lockAttack is the simulation's targeted adversary. Random loss and delay
// rarely produce the schedules the locking rules exist for, so in an attack
// run the byzantine validators (below 1/3 of the power) and the network
// work together against the locks, round by round, while chaos lasts:
//
//   - A targeted round picks a set of honest "lockers" and at most one
//     "decider". Honest prevotes for a block reach the lockers; every other
//     honest node is held below a quorum for that block (counting its own
//     vote) until it has left the round, so some validators lock and the
//     rest do not, and the proof-of-lock still exists for a later
//     re-proposal. Precommits for a block reach only the decider: one node
//     decides while the others time out into the next round, locked or not.
//   - The byzantine validators vote for the block towards the favoured nodes
//     and nil towards the rest, which supplies the missing quorums on both
//     sides. As proposers they propose a fresh block (ignoring any lock),
//     split two fresh blocks between two halves of the honest nodes, or
//     re-propose an older value with its older proof-of-lock.
//   - Commits are not gossiped out of band during chaos, so a node that
//     missed a decision must get through later rounds, past its lock.
//
// All of this is delay, not loss: when chaos ends every held vote goes
// through and every byzantine message reaches every honest node (relayAll),
// as gossip eventually relays what any correct node received. Without that,
// a proof-of-lock that counts a byzantine vote shown to some nodes only
// could never be checked by the others, and no algorithm would terminate.
//
// Without the locking rules (Algorithm 1, lines 22 and 28, and the lock
// taken at line 36) these schedules make two honest nodes decide different
// blocks within the default 200 seeds (scripts/mutate-consensus.sh checks
// it); with them, agreement holds. A quarter of the byzantine fresh blocks
// are invalid, so validity is attacked too.
type lockAttack struct {
	s      *simNet
	sched  *ProposerSchedule
	nodeOf map[chain.Address]int
	plans  map[hrKey]*roundPlan
	held   map[capKey]map[int]bool    // senders whose vote for the block reached the node
	voted  map[attackVoteKey]voteSent // byzantine votes already sent to a node
	power  map[polKey]map[int]bool    // signers of prevotes for (height, round, block)
	pols   map[uint64][]polKey        // per height, proofs-of-lock in the order they formed
	sent   []Message                  // everything the byzantine validators sent, for relayAll
	sentTo map[int][]Message          // what they sent each honest node, for resend
	props  map[hrKey][]Message        // the proposal chosen per honest node, re-sent as is
}

type hrKey struct {
	h uint64
	r uint32
}

type roundPlan struct {
	targeted bool
	lock     []bool // by node: receives the prevotes for the block
	decide   []bool // by node: receives the precommits for the block
}

type capKey struct {
	to    int
	h     uint64
	r     uint32
	typ   chain.VoteType
	block chain.ID
}

type attackVoteKey struct {
	from, to int
	h        uint64
	r        uint32
	typ      chain.VoteType
}

// voteSent records what a byzantine validator sent one node for one step.
type voteSent struct{ nilVote, blockVote bool }

type polKey struct {
	h     uint64
	r     uint32
	block chain.ID
}

func newLockAttack(s *simNet) *lockAttack {
	a := &lockAttack{s: s, sched: NewProposerSchedule(s.vals), nodeOf: map[chain.Address]int{}, plans: map[hrKey]*roundPlan{},
		held: map[capKey]map[int]bool{}, voted: map[attackVoteKey]voteSent{}, power: map[polKey]map[int]bool{},
		pols: map[uint64][]polKey{}, props: map[hrKey][]Message{}, sentTo: map[int][]Message{}}
	for _, nd := range s.nodes {
		a.nodeOf[nd.addr] = nd.idx
	}
	return a
}

// plan returns the plan of (h, r), drawing it the first time the round is
// seen. The proposer order is public, so the adversary prepares the rounds
// before one of its own: two rounds ahead it lets a single honest node lock
// (the others stay free to lock a new block in the next round, and the
// proof-of-lock of this round is an old one by then); one round ahead it
// lets every honest node lock and one decide, so that its re-proposal of
// the old value meets nodes locked on a newer one; up to four rounds ahead
// it lets nobody decide. Other rounds are targeted at random: half of
// them, each honest node a locker with probability 1/2.
func (a *lockAttack) plan(h uint64, r uint32) *roundPlan {
	k := hrKey{h, r}
	if p, ok := a.plans[k]; ok {
		return p
	}
	s := a.s
	p := &roundPlan{targeted: s.rng.IntN(2) == 0, lock: make([]bool, len(s.nodes)), decide: make([]bool, len(s.nodes))}
	var honestNodes []int
	for _, nd := range s.nodes {
		if nd.byz == honest {
			honestNodes = append(honestNodes, nd.idx)
		}
	}
	byzProposes := func(r uint32) bool { return s.nodes[a.nodeOf[a.sched.Proposer(h, r)]].byz == attacker }
	switch {
	case byzProposes(r + 1):
		p.targeted = true
		for _, i := range honestNodes {
			p.lock[i] = true
		}
		p.decide[honestNodes[s.rng.IntN(len(honestNodes))]] = true
	case byzProposes(r + 2):
		p.targeted = true
		p.lock[honestNodes[s.rng.IntN(len(honestNodes))]] = true
	case byzProposes(r+3) || byzProposes(r+4):
		// Its turn is near: keep the height undecided until then.
		p.targeted = true
		for _, i := range honestNodes {
			p.lock[i] = s.rng.IntN(2) == 0
		}
	case p.targeted:
		// A quarter of the targeted rounds lock nobody: the proof-of-lock
		// exists but no one saw it, which is what a later re-proposal with
		// an old proof needs.
		noLock := s.rng.IntN(4) == 0
		var lockers []int
		for _, nd := range s.nodes {
			if nd.byz == honest && !noLock && s.rng.IntN(2) == 0 {
				p.lock[nd.idx] = true
				lockers = append(lockers, nd.idx)
			}
		}
		if len(lockers) > 0 && s.rng.IntN(2) == 0 {
			p.decide[lockers[s.rng.IntN(len(lockers))]] = true
		}
	}
	a.plans[k] = p
	return p
}

// admit reports whether a vote may reach node to now; a vote held back is
// offered again later (sendAfter retries), and everything passes once
// chaos ends.
func (a *lockAttack) admit(to int, v *chain.Vote) bool {
	s := a.s
	if !s.chaos || v.BlockID.IsZero() || s.nodes[to].byz != honest {
		return true
	}
	p := a.plan(v.Height, v.Round)
	if !p.targeted {
		return true
	}
	if v.Type == chain.Prevote {
		if p.lock[to] {
			return true
		}
		// Once the node has left the round, the proof-of-lock may reach it:
		// a re-proposal in a later round needs it.
		if m := s.nodes[to].m; m != nil {
			if st := m.Status(); st.Height > v.Height || st.Round > v.Round {
				return true
			}
		}
	} else if p.decide[to] {
		return true
	}
	from := a.nodeOf[v.Validator]
	k := capKey{to, v.Height, v.Round, v.Type, v.BlockID}
	got := a.held[k]
	if got[from] {
		return true // a duplicate changes no tally
	}
	// Count the node's own vote as if it were for the block too: it may
	// cast it after this one arrives.
	sum := s.power(to)
	for i := range got {
		sum += s.power(i)
	}
	if sum+s.power(from) >= s.vals.QuorumPower() {
		return false
	}
	if got == nil {
		got = map[int]bool{}
		a.held[k] = got
	}
	got[from] = true
	return true
}

// onHonestVote records an honest vote (proofs-of-lock, coverage) and has
// the byzantine validators answer it: for the block towards the nodes the
// plan favours, nil towards the others, nil to all for a nil vote. A node
// that got nil first may get the block vote as well (an equivocation, and
// evidence), never the same kind twice. Answering nil keeps the byzantine
// power in the rounds an honest decider has left, where the remaining
// honest nodes alone may lack a quorum.
func (a *lockAttack) onHonestVote(from *simNode, v *chain.Vote) {
	a.notePrevote(from.idx, v)
	if !a.s.chaos {
		return
	}
	p := a.plan(v.Height, v.Round)
	for _, b := range a.s.nodes {
		if b.byz != attacker {
			continue
		}
		for _, to := range a.s.nodes {
			if to.byz != honest {
				continue
			}
			k := attackVoteKey{b.idx, to.idx, v.Height, v.Round, v.Type}
			sent := a.voted[k]
			favoured := !v.BlockID.IsZero() &&
				(!p.targeted || (v.Type == chain.Prevote && p.lock[to.idx]) || (v.Type == chain.Precommit && p.decide[to.idx]))
			switch {
			case favoured && !sent.blockVote:
				sent.blockVote = true
				a.sendVote(b, to.idx, v.Type, v.Height, v.Round, v.BlockID)
			case !favoured && !sent.nilVote && !sent.blockVote:
				sent.nilVote = true
				a.sendVote(b, to.idx, v.Type, v.Height, v.Round, "")
			}
			a.voted[k] = sent
		}
	}
}

func (a *lockAttack) sendVote(b *simNode, to int, t chain.VoteType, h uint64, r uint32, id chain.ID) {
	s := a.s
	v := chain.Vote{Type: t, Height: h, Round: r, BlockID: id, Validator: b.addr}
	v.Sig = b.key.Sign(v.SignBytes(s.codec, "sim"))
	a.notePrevote(b.idx, &v)
	a.sendTo(to, Message{Vote: &v})
}

func (a *lockAttack) sendTo(to int, msg Message) {
	a.sent = append(a.sent, msg)
	a.sentTo[to] = append(a.sentTo[to], msg)
	a.s.send(to, msg)
}

// resend repeats to an honest node what the byzantine validators sent it
// for its current height, as an honest node's driver re-broadcasts its own
// messages: a node that was down when they came would otherwise never get
// them, and the byzantine power would be missing from its quorums.
func (a *lockAttack) resend(to int) {
	nd := a.s.nodes[to]
	if nd.m == nil {
		return
	}
	h := nd.m.Height()
	for _, msg := range a.sentTo[to] {
		if (msg.Vote != nil && msg.Vote.Height == h) || (msg.Proposal != nil && msg.Proposal.Height == h) {
			a.s.send(to, msg)
		}
	}
}

// relayAll delivers every byzantine message to every honest node. It runs
// when chaos ends and every few seconds after, standing in for gossip that
// relays what any correct node received (a relayed copy may be lost too).
func (a *lockAttack) relayAll() {
	for _, msg := range a.sent {
		for _, nd := range a.s.nodes {
			if nd.byz == honest {
				a.s.send(nd.idx, msg)
			}
		}
	}
	a.s.at(5*time.Second, 0, -1, a.relayAll)
}

// notePrevote tallies signed prevotes, so the adversary knows every
// proof-of-lock that exists, seen by anyone or not.
func (a *lockAttack) notePrevote(from int, v *chain.Vote) {
	if v.Type != chain.Prevote || v.BlockID.IsZero() {
		return
	}
	k := polKey{v.Height, v.Round, v.BlockID}
	signers := a.power[k]
	if signers == nil {
		signers = map[int]bool{}
		a.power[k] = signers
	}
	if signers[from] {
		return
	}
	before := a.sum(signers)
	signers[from] = true
	if q := a.s.vals.QuorumPower(); before < q && a.sum(signers) >= q {
		a.pols[v.Height] = append(a.pols[v.Height], k)
	}
}

func (a *lockAttack) sum(set map[int]bool) uint64 {
	var p uint64
	for i := range set {
		p += a.s.power(i)
	}
	return p
}

// onRound runs when an honest node is seen in (h, r): if a byzantine
// validator proposes that round, the adversary proposes (once; later it
// re-sends its choice to each node entering the round). The byzantine
// machines' own proposals are not used during chaos: a byzantine machine
// that has decided the height would never propose in its later rounds.
func (a *lockAttack) onRound(to int, h uint64, r uint32) {
	k := hrKey{h, r}
	if msgs, ok := a.props[k]; ok {
		if msg := msgs[to]; msg.Proposal != nil {
			a.s.send(to, msg)
		}
		return
	}
	b := a.s.nodes[a.nodeOf[a.sched.Proposer(h, r)]]
	if b.byz != attacker {
		return
	}
	a.propose(b, chain.Proposal{Height: h, Round: r})
}

// propose replaces a byzantine proposer's proposal: a fresh block to all
// (a locked honest node must not prevote it), two fresh blocks split
// between two halves, or an older value with its older proof-of-lock (a
// node locked later must not prevote it either).
func (a *lockAttack) propose(b *simNode, p chain.Proposal) {
	s := a.s
	k := hrKey{p.Height, p.Round}
	chosen := make([]Message, len(s.nodes))
	defer func() { a.props[k] = chosen }()
	fresh := func() chain.ID {
		// A quarter of them fail validation: a byzantine proposer may
		// propose garbage, and no honest node may lock or decide it.
		id := chain.IDOf(fmt.Appendf(nil, "attack/%d/%d/%d/%d", s.seed, p.Height, p.Round, s.rng.Uint64()))
		s.valid[id], s.proposed[id] = s.rng.IntN(4) != 0, true
		return id
	}
	sign := func(q chain.Proposal) Message {
		q.Sig = b.key.Sign(q.SignBytes(s.codec, "sim"))
		return Message{Proposal: &q}
	}
	// A proof-of-lock older than the newest one and for another block: the
	// re-proposal a node locked on the newer block must refuse.
	var old *polKey
	pols := a.pols[p.Height]
	for i := len(pols) - 1; i >= 0; i-- {
		if newest := pols[len(pols)-1]; pols[i].r < p.Round && pols[i].block != newest.block {
			old = &pols[i]
			break
		}
	}
	switch choice := s.rng.IntN(3); {
	case choice < 2 && old != nil:
		pk := *old
		msg := sign(chain.Proposal{Height: p.Height, Round: p.Round, POLRound: int32(pk.r), BlockID: pk.block, Proposer: b.addr})
		s.coverage.oldPOLProposals++
		for _, nd := range s.nodes {
			if nd.byz == honest {
				a.sendTo(nd.idx, msg)
				chosen[nd.idx] = msg
				// Its own part of that proof, in case it was withheld.
				if a.power[pk][b.idx] {
					v := chain.Vote{Type: chain.Prevote, Height: pk.h, Round: pk.r, BlockID: pk.block, Validator: b.addr}
					v.Sig = b.key.Sign(v.SignBytes(s.codec, "sim"))
					a.sendTo(nd.idx, Message{Vote: &v})
				}
			}
		}
	case choice == 1:
		m1, m2 := sign(chain.Proposal{Height: p.Height, Round: p.Round, POLRound: -1, BlockID: fresh(), Proposer: b.addr}),
			sign(chain.Proposal{Height: p.Height, Round: p.Round, POLRound: -1, BlockID: fresh(), Proposer: b.addr})
		for _, nd := range s.nodes {
			if nd.byz == honest {
				if s.rng.IntN(2) == 0 {
					a.sendTo(nd.idx, m1)
					chosen[nd.idx] = m1
				} else {
					a.sendTo(nd.idx, m2)
					chosen[nd.idx] = m2
				}
			}
		}
	default:
		msg := sign(chain.Proposal{Height: p.Height, Round: p.Round, POLRound: -1, BlockID: fresh(), Proposer: b.addr})
		for _, nd := range s.nodes {
			if nd.byz == honest {
				a.sendTo(nd.idx, msg)
				chosen[nd.idx] = msg
			}
		}
	}
}

// simCoverage counts the interesting paths one run went through, so the
// simulation reports what it exercised rather than only that it passed.
type simCoverage struct {
	attack          bool
	lockedNewRound  int // an undecided honest node locked in an earlier round entered a new round
	lockHeld        int // a locked honest node prevoted nil on a proposal for another block (line 22/28 refusal)
	unlockNewerPOL  int // a locked honest node prevoted another block on a newer proof-of-lock (line 28)
	relocked        int // an honest node's lock moved to a different block (line 36)
	splitDecision   int // a height some honest node decided while another honest node went to a later round
	oldPOLProposals int // byzantine re-proposals with an older proof-of-lock
}

func (c simCoverage) add(o simCoverage) simCoverage {
	return simCoverage{lockedNewRound: c.lockedNewRound + o.lockedNewRound, lockHeld: c.lockHeld + o.lockHeld,
		unlockNewerPOL: c.unlockNewerPOL + o.unlockNewerPOL, relocked: c.relocked + o.relocked,
		splitDecision: c.splitDecision + o.splitDecision, oldPOLProposals: c.oldPOLProposals + o.oldPOLProposals}
}

// seeds turns one run's counts into 0/1 per path, for "seeds that reached".
func (c simCoverage) seeds() simCoverage {
	b := func(n int) int { return min(n, 1) }
	return simCoverage{lockedNewRound: b(c.lockedNewRound), lockHeld: b(c.lockHeld), unlockNewerPOL: b(c.unlockNewerPOL),
		relocked: b(c.relocked), splitDecision: b(c.splitDecision), oldPOLProposals: b(c.oldPOLProposals)}
}

func (c simCoverage) String() string {
	return fmt.Sprintf("locked then new round %d, lock held against another block %d, prevote past own lock on a newer proof-of-lock %d, "+
		"lock moved to another block %d, decided by one while another went on %d, byzantine re-proposal with an older proof-of-lock %d",
		c.lockedNewRound, c.lockHeld, c.unlockNewerPOL, c.relocked, c.splitDecision, c.oldPOLProposals)
}

// lockProbe tracks one honest node's lock, to count lock transitions.
type lockProbe struct {
	h       uint64
	round   int32
	value   chain.ID
	roundIn uint32
	hIn     uint64
}

// probe inspects an honest node after it handled its Ready.
func (s *simNet) probe(nd *simNode) {
	if nd.byz != honest || nd.m == nil {
		return
	}
	st := nd.m.Status()
	lp := &nd.probe
	if lp.h != st.Height {
		*lp = lockProbe{h: st.Height, round: -1}
	}
	if st.LockedRound >= 0 && lp.round >= 0 && st.LockedValue != lp.value {
		s.coverage.relocked++
	}
	if st.Decided.IsZero() && st.LockedRound >= 0 && st.Round > uint32(st.LockedRound) && st.Round > lp.roundIn {
		s.coverage.lockedNewRound++
	}
	if s.attack != nil && s.chaos && (st.Round != lp.roundIn || st.Height != lp.hIn) && st.Decided.IsZero() {
		s.attack.onRound(nd.idx, st.Height, st.Round)
	}
	lp.round, lp.value, lp.roundIn, lp.hIn = st.LockedRound, st.LockedValue, st.Round, st.Height
}

// probeVote classifies an honest prevote against the node's lock.
func (s *simNet) probeVote(nd *simNode, v *chain.Vote) {
	if v.Type != chain.Prevote || nd.m == nil {
		return
	}
	st := nd.m.Status()
	if st.LockedRound < 0 || uint32(st.LockedRound) >= v.Round {
		return
	}
	rs := nd.m.rounds[v.Round]
	if rs == nil || rs.proposal == nil || rs.proposal.BlockID == st.LockedValue {
		return
	}
	if v.BlockID.IsZero() {
		s.coverage.lockHeld++
	} else {
		s.coverage.unlockNewerPOL++
	}
}

// probeDecision counts a decision at a height where another honest node is
// already in a later round: the state the locks must protect.
func (s *simNet) probeDecision(nd *simNode, d Decision) {
	for _, o := range s.nodes {
		if o != nd && o.byz == honest && o.m != nil {
			if st := o.m.Status(); st.Height == d.Height && st.Round > d.Round && st.Decided.IsZero() {
				s.coverage.splitDecision++
				return
			}
		}
	}
}

// attackRetry is how long a held-back vote waits before it is offered again.
const attackRetry = 200 * time.Millisecond
