package node

import (
	"errors"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/dure-network/dure/chain"
	"github.com/dure-network/dure/p2p"
)

// Gossip validators run on pubsub's goroutines. They decode and check
// cheaply; signatures of txs are verified in parallel batches when the
// accepted txs reach the mempool (OnTx), votes by consensus.

func (n *Node) headHeight() uint64 {
	n.mu.RLock()
	defer n.mu.RUnlock()
	return n.head.Height
}

func (n *Node) validateTxGossip(raw []byte) p2p.Verdict {
	id := chain.IDOf(raw)
	if n.pool.Has(id) {
		return p2p.Ignore
	}
	tx, err := chain.DecodeTx(n.codec, raw)
	if err != nil {
		return p2p.Reject
	}
	if tx.ChainID != n.gen.ChainID {
		return p2p.Reject
	}
	return p2p.Accept
}

func (n *Node) onTxGossip(_ peer.ID, txs [][]byte) {
	_, errs := n.pool.AddBatch(txs)
	added := false
	for _, err := range errs {
		if err == nil {
			added = true
		} else if errors.Is(err, chain.ErrBadSignature) {
			n.m.txRejected.WithLabelValues("gossip_bad_signature").Inc()
		}
	}
	if added {
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
		return p2p.Accept // verified against the set by consensus or sync
	}
	// A vote or proposal must come from a validator of its height (one map
	// lookup); the signature is checked once, by consensus.
	var signer chain.Address
	if w.Vote != nil {
		signer = w.Vote.Validator
	} else {
		signer = w.Proposal.Proposer
	}
	if vs := n.valsFor(h); vs == nil {
		return p2p.Ignore
	} else if _, _, ok := vs.ByAddress(signer); !ok {
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

func (n *Node) validateBlockGossip(_ peer.ID, data []byte) p2p.Verdict {
	b, err := chain.DecodeBlock(n.codec, data)
	if err != nil || b.Header.ChainID != n.gen.ChainID {
		return p2p.Reject
	}
	vs := n.valsFor(b.Header.Height)
	if vs == nil {
		if b.Header.Height > n.headHeight()+2 {
			n.behind()
		}
		return p2p.Ignore
	}
	if _, _, ok := vs.ByAddress(b.Header.Proposer); !ok {
		return p2p.Reject
	}
	return p2p.Accept
}

func (n *Node) validateEvidenceGossip(_ peer.ID, data []byte) p2p.Verdict {
	var ev chain.Evidence
	if err := n.codec.UnmarshalCanonical(data, &ev); err != nil {
		return p2p.Reject
	}
	if ev.VoteA.Validator != ev.VoteB.Validator || ev.VoteA.Height != ev.VoteB.Height {
		return p2p.Reject
	}
	return p2p.Accept
}

func peerIDFromString(s string) (peer.ID, error) { return peer.Decode(s) }
