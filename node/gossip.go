package node

import (
	"errors"
	"math"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/dure-network/dure/chain"
	"github.com/dure-network/dure/chain/blockexec"
	"github.com/dure-network/dure/chain/mempool"
	"github.com/dure-network/dure/consensus"
	"github.com/dure-network/dure/p2p"
)

// Gossip validators run on pubsub's goroutines, before a message is
// delivered or forwarded. Everything signed is verified here, so a peer
// without a validator key can neither make the network relay its junk nor
// make the driver hold it: txs by the mempool's parallel batch check
// (which also admits them, so each signature is checked once), votes,
// proposals and commits against the validator set of their height, and
// blocks only with a proposal signed by the proposer scheduled for its
// (height, round). Reject marks what no honest peer would forward (and
// costs the sender score, per peer ID and per IP); Ignore what is merely
// stale, duplicate or not checkable yet.

// maxRoundsAhead bounds how far past this node's round a proposal may be
// to be relayed and held: a byzantine proposer can sign proposals for
// every round it is scheduled in, and each may carry a block.
const maxRoundsAhead = 8

func (n *Node) headHeight() uint64 {
	n.mu.RLock()
	defer n.mu.RUnlock()
	return n.head.Height
}

// unpaidLimit and unpaidHalfLife bound what a peer can make this node
// verify for nothing: txs correctly signed by accounts that cannot pay
// their fee cost a signature check and two state reads each, and are not
// a Reject (an honest peer ahead of us may forward a tx of an account we
// do not see funded yet). Past unpaidLimit such txs (decaying by half
// every unpaidHalfLife, so about 35 a second sustained) a peer's batches
// are dropped unchecked until its count decays. An attacker streaming
// 60,000 of them from 100 empty accounts cut a 4-validator testnet from
// 49 to 16 blocks in 15 s.
const (
	unpaidLimit    = 512
	unpaidHalfLife = 10 * time.Second
)

// unpaidBudget is the count behind unpaidLimit, kept per forwarding peer
// ID and per remote IP (keys "peer/<id>", "ip/<addr>", see unpaidKeys):
// a flooder that reconnects under fresh peer IDs from one address keeps
// its count. The loopback addresses a local testnet's nodes share are
// counted per peer ID only (p2p.Node.BudgetIPs).
type unpaidBudget struct {
	mu sync.Mutex
	m  map[string]*unpaidCount
}

type unpaidCount struct {
	v  float64
	at time.Time
}

// level decays k's count to now and returns it; the caller holds mu.
func (b *unpaidBudget) level(k string, now time.Time) *unpaidCount {
	if b.m == nil {
		b.m = map[string]*unpaidCount{}
	}
	c, ok := b.m[k]
	if !ok {
		if len(b.m) >= 4096 { // forget the decayed
			for q, o := range b.m {
				if o.v*math.Exp2(-now.Sub(o.at).Seconds()/unpaidHalfLife.Seconds()) < 1 {
					delete(b.m, q)
				}
			}
		}
		c = &unpaidCount{at: now}
		b.m[k] = c
	}
	c.v *= math.Exp2(-now.Sub(c.at).Seconds() / unpaidHalfLife.Seconds())
	c.at = now
	return c
}

// over says whether any of keys is at or past unpaidLimit.
func (b *unpaidBudget) over(keys []string, now time.Time) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, k := range keys {
		if b.level(k, now).v >= unpaidLimit {
			return true
		}
	}
	return false
}

// add counts k unpayable txs against every key.
func (b *unpaidBudget) add(keys []string, k int, now time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, key := range keys {
		b.level(key, now).v += float64(k)
	}
}

// unpaidKeys are the budget keys of a forwarding peer: its ID and each
// IP it is connected from (none before the p2p node is up, or on another
// transport).
func (n *Node) unpaidKeys(from peer.ID) []string {
	keys := []string{"peer/" + string(from)}
	if net := n.budgetNet.Load(); net != nil {
		for _, ip := range net.BudgetIPs(from) {
			keys = append(keys, "ip/"+ip.String())
		}
	}
	return keys
}

// validateTxsGossip verifies and admits a gossiped batch in one go. Txs
// malformed, for another chain or badly signed reject the batch; txs the
// mempool declines for other reasons (duplicate, stale nonce, full, fee
// below this node's minimum) are just not forwarded by us.
func (n *Node) validateTxsGossip(from peer.ID, txs [][]byte) ([][]byte, p2p.Verdict) {
	keys := n.unpaidKeys(from)
	if n.unpaid.over(keys, time.Now()) {
		n.m.txRejected.WithLabelValues("gossip_unpaid_budget").Add(float64(len(txs)))
		return nil, p2p.Ignore
	}
	_, errs := n.pool.AddBatch(txs)
	accepted := txs[:0:0]
	verdict := p2p.Ignore
	unpaid := 0
	for i, err := range errs {
		switch {
		case err == nil:
			accepted = append(accepted, txs[i])
		case errors.Is(err, chain.ErrFeeUnpayable):
			unpaid++
		case errors.Is(err, chain.ErrBadSignature):
			n.m.txRejected.WithLabelValues("gossip_bad_signature").Inc()
			verdict = p2p.Reject
		case errors.Is(err, chain.ErrTxMalformed), errors.Is(err, chain.ErrTxTooLarge), errors.Is(err, chain.ErrWrongChain):
			n.m.txRejected.WithLabelValues("gossip_malformed").Inc()
			verdict = p2p.Reject
		case errors.Is(err, mempool.ErrDuplicate):
		}
	}
	if unpaid > 0 {
		n.unpaid.add(keys, unpaid, time.Now())
	}
	if verdict == p2p.Reject {
		// What was valid in the batch stays admitted: it was checked.
		if len(accepted) > 0 {
			n.wake()
		}
		return nil, p2p.Reject
	}
	if len(accepted) == 0 {
		return nil, p2p.Ignore
	}
	return accepted, p2p.Accept
}

// onTxGossip runs after validateTxsGossip admitted txs: wake the driver.
func (n *Node) onTxGossip(_ peer.ID, txs [][]byte) {
	if len(txs) > 0 {
		n.wake()
	}
}

// behind tells the driver peers work on later heights, without blocking.
func (n *Node) behind() {
	select {
	case n.inbox <- peersAhead{}:
	default:
	}
}

// wake tells the driver transactions are waiting, without blocking.
func (n *Node) wake() {
	select {
	case n.inbox <- txsArrived{}:
	default:
	}
}

func (n *Node) validateConsensusGossip(_ peer.ID, data []byte) p2p.Verdict {
	var w wireMsg
	if err := n.codec.UnmarshalCanonical(data, &w); err != nil {
		return p2p.Reject
	}
	set, h := 0, uint64(0)
	if w.Proposal != nil {
		set++
		h = w.Proposal.Height
	}
	if w.Vote != nil {
		set++
		if w.Vote.ValidateBasic() != nil {
			return p2p.Reject
		}
		h = w.Vote.Height
	}
	if w.Commit != nil {
		set++
		h = w.Commit.Height
	}
	if set != 1 {
		return p2p.Reject
	}
	head := n.headHeight()
	if h > head+2 {
		n.behind() // peers are ahead: sync (verified by commits), don't relay
		return p2p.Ignore
	}
	if h+1 < head {
		return p2p.Ignore // long committed
	}
	if w.Commit != nil {
		// Only a node behind needs a commit: each node publishes its own,
		// so commits of heights we have are not relayed.
		if h != head+1 {
			if h == head+2 {
				n.behind()
			}
			return p2p.Ignore
		}
		vs := n.valsFor(h)
		if vs == nil {
			return p2p.Ignore
		}
		if err := chain.VerifyCommit(n.codec, n.gen.ChainID, vs, w.Commit, h, w.Commit.BlockID); err != nil {
			return p2p.Reject
		}
		return p2p.Accept
	}
	vs := n.valsFor(h)
	if h == head && w.Vote != nil && w.Vote.Type == chain.Precommit {
		vs = n.headValidators() // a late precommit for the head's commit
	}
	if vs == nil {
		return p2p.Ignore
	}
	if w.Proposal != nil {
		return n.checkProposal(w.Proposal, vs)
	}
	if err := w.Vote.Verify(n.codec, n.gen.ChainID, vs); err != nil {
		return p2p.Reject
	}
	return p2p.Accept
}

// checkProposalAt checks p against the validator set of height; a height
// this node has no set for yet is ignored, and one past head+2 starts a
// catch-up (both the block and the compact topic take this path).
func (n *Node) checkProposalAt(p *chain.Proposal, height uint64) p2p.Verdict {
	vs := n.valsFor(height)
	if vs == nil {
		if height > n.headHeight()+2 {
			n.behind()
		}
		return p2p.Ignore
	}
	return n.checkProposal(p, vs)
}

// checkProposal admits a proposal signed by the proposer scheduled for its
// (height, round) in vs, at most maxRoundsAhead rounds past ours.
func (n *Node) checkProposal(p *chain.Proposal, vs *chain.ValidatorSet) p2p.Verdict {
	n.mu.RLock()
	cur := uint32(0)
	if n.consState.Height == p.Height {
		cur = n.consState.Round
	}
	n.mu.RUnlock()
	if p.Round > cur+maxRoundsAhead {
		return p2p.Ignore // maybe honest and far ahead; the round skip brings us there
	}
	if n.scheds.of(vs).Proposer(p.Height, p.Round) != p.Proposer {
		return p2p.Reject
	}
	if err := p.Verify(n.codec, n.gen.ChainID, vs); err != nil {
		return p2p.Reject
	}
	return p2p.Accept
}

// valsFor returns the validator set of height h if it is head+1 or head+2.
func (n *Node) valsFor(h uint64) *chain.ValidatorSet {
	n.mu.RLock()
	defer n.mu.RUnlock()
	switch h {
	case n.head.Height + 1:
		return n.nextVals
	case n.head.Height + 2:
		return n.afterVals
	}
	return nil
}

// validateBlockGossip admits a block only as the scheduled proposer's
// signed proposal of it.
func (n *Node) validateBlockGossip(_ peer.ID, data []byte) p2p.Verdict {
	pb, b, err := chain.DecodeProposedBlock(n.codec, data)
	if err != nil || b.Header.ChainID != n.gen.ChainID {
		return p2p.Reject
	}
	return n.checkProposalAt(&pb.Proposal, b.Header.Height)
}

func (n *Node) validateEvidenceGossip(_ peer.ID, data []byte) p2p.Verdict {
	var ev chain.Evidence
	if err := n.codec.UnmarshalCanonical(data, &ev); err != nil {
		return p2p.Reject
	}
	h := ev.VoteA.Height
	if ev.VoteA.Validator != ev.VoteB.Validator || h != ev.VoteB.Height || h == 0 {
		return p2p.Reject
	}
	head := n.headHeight()
	if h > head+1 || h+blockexec.MaxEvidenceAge < head+1 {
		return p2p.Ignore
	}
	vs, err := n.store.ValidatorsAt(h)
	if err != nil {
		return p2p.Ignore
	}
	if err := ev.Verify(n.codec, n.gen.ChainID, vs); err != nil {
		return p2p.Reject
	}
	return p2p.Accept
}

// schedules caches the proposer schedule of the validator sets in use
// (head+1 and head+2 change once per height; computing one is O(4096·n)).
type schedules struct {
	mu sync.Mutex
	m  map[*chain.ValidatorSet]*consensus.ProposerSchedule
}

func (s *schedules) of(vs *chain.ValidatorSet) *consensus.ProposerSchedule {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sc, ok := s.m[vs]; ok {
		return sc
	}
	if s.m == nil || len(s.m) >= 4 {
		s.m = make(map[*chain.ValidatorSet]*consensus.ProposerSchedule, 4)
	}
	sc := consensus.NewProposerSchedule(vs)
	s.m[vs] = sc
	return sc
}

func peerIDFromString(s string) (peer.ID, error) { return peer.Decode(s) }
