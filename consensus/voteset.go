package consensus

import "github.com/dure-network/dure/chain"

// voteSet tallies one (round, type): the first vote of each validator, by
// validator index, and the power behind each block ID ("" is nil).
//
// An equivocating validator's later votes for other blocks are kept too
// (at most maxAlts each): the paper counts messages per value, so a proof of
// lock that some honest node saw must be countable by every honest node
// once gossip delivers it. A validator counts at most once per block, and
// once in sum, so no quorum can form from equivocation alone while faulty
// power is below 1/3.
type voteSet struct {
	votes   []*chain.Vote
	alts    map[int][]*chain.Vote
	byBlock map[chain.ID]uint64
	sum     uint64
	maj     chain.ID // a non-nil block that reached quorum, if any
}

// maxAlts bounds the conflicting votes kept per validator and step.
const maxAlts = 2

func newVoteSet(n int) *voteSet {
	return &voteSet{votes: make([]*chain.Vote, n), byBlock: make(map[chain.ID]uint64, 2)}
}

// has reports whether validator idx already voted for block.
func (s *voteSet) has(idx int, block chain.ID) bool {
	if v := s.votes[idx]; v != nil && v.BlockID == block {
		return true
	}
	for _, a := range s.alts[idx] {
		if a.BlockID == block {
			return true
		}
	}
	return false
}

// addAlt keeps a conflicting vote, if there is room.
func (s *voteSet) addAlt(idx int, power, quorum uint64, v *chain.Vote) bool {
	if len(s.alts[idx]) >= maxAlts {
		return false
	}
	if s.alts == nil {
		s.alts = make(map[int][]*chain.Vote)
	}
	s.alts[idx] = append(s.alts[idx], v)
	s.count(power, quorum, v.BlockID)
	return true
}

func (s *voteSet) add(idx int, power, quorum uint64, v *chain.Vote) {
	s.votes[idx] = v
	s.sum += power
	s.count(power, quorum, v.BlockID)
}

func (s *voteSet) count(power, quorum uint64, block chain.ID) {
	p := s.byBlock[block] + power
	s.byBlock[block] = p
	if p >= quorum && !block.IsZero() {
		s.maj = block
	}
}

// commit collects the signatures for block in validator-set order.
func (s *voteSet) commit(height uint64, round uint32, block chain.ID) *chain.Commit {
	cm := &chain.Commit{Height: height, Round: round, BlockID: block}
	for i, v := range s.votes {
		if v != nil && v.BlockID != block {
			v = nil
			for _, a := range s.alts[i] {
				if a.BlockID == block {
					v = a
				}
			}
		}
		if v != nil {
			cm.Sigs = append(cm.Sigs, chain.CommitSig{Validator: v.Validator, Sig: v.Sig})
		}
	}
	return cm
}

// roundState is everything heard in one round of the current height.
type roundState struct {
	proposal   *chain.Proposal
	prevotes   *voteSet
	precommits *voteSet
	seen       []bool // validator sent any vote in this round
	seenPower  uint64

	prevoteWait   bool // line 34 fired
	precommitWait bool // line 47 fired
	polDone       bool // line 36 fired
}

func newRoundState(n int) *roundState {
	return &roundState{prevotes: newVoteSet(n), precommits: newVoteSet(n), seen: make([]bool, n)}
}

func (rs *roundState) set(t chain.VoteType) *voteSet {
	if t == chain.Prevote {
		return rs.prevotes
	}
	return rs.precommits
}
