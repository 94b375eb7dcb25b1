package node

import (
	"sort"
	"time"

	"github.com/dure-network/dure/chain"
	"github.com/dure-network/dure/node/api"
)

// Late precommits. Consensus decides on the first +2/3 precommits, so the
// commit it returns usually lacks the slowest validators' signatures even
// when all are up; staking would count them as having missed the block.
// During the pause after a decision (timeout_commit) the driver keeps
// adding precommits for the decided (height, round, block) to the commit
// the next proposer puts in its block as LastCommit.

// headVals is the validator set that signed the head block, cached per
// head height for the gossip validator.
type headVals struct {
	height uint64
	vs     *chain.ValidatorSet
}

func (n *Node) headValidators() *chain.ValidatorSet {
	n.mu.RLock()
	h, c := n.head.Height, n.headValsCache
	n.mu.RUnlock()
	if h == 0 {
		return nil
	}
	if c.height == h && c.vs != nil {
		return c.vs
	}
	vs, err := n.store.ValidatorsAt(h)
	if err != nil {
		return nil
	}
	n.mu.Lock()
	n.headValsCache = headVals{height: h, vs: vs}
	n.mu.Unlock()
	return vs
}

// addLatePrecommit adds a verified precommit for the head block to the
// commit the next block will carry, if it is for the decided round and
// block and from a validator not yet in it.
func (d *driver) addLatePrecommit(v *chain.Vote) {
	n := d.n
	if v.Type != chain.Precommit || v.Height != n.head.Height || n.head.Height == 0 {
		return
	}
	cm := n.lateCommit
	if cm == nil || cm.Height != v.Height {
		seen, err := n.store.SeenCommit(v.Height)
		if err != nil {
			return
		}
		cp := *seen
		cp.Sigs = append([]chain.CommitSig(nil), seen.Sigs...)
		cm = &cp
	}
	if v.Round != cm.Round || v.BlockID != cm.BlockID {
		return
	}
	vs := n.headValidators()
	if vs == nil {
		return
	}
	if _, _, ok := vs.ByAddress(v.Validator); !ok {
		return
	}
	for _, s := range cm.Sigs {
		if s.Validator == v.Validator {
			return
		}
	}
	cm.Sigs = append(cm.Sigs, chain.CommitSig{Validator: v.Validator, Sig: v.Sig})
	// Keep the set's order, so the commit has one form whatever order the
	// votes came in.
	pos := make(map[chain.Address]int, len(cm.Sigs))
	for _, s := range cm.Sigs {
		_, i, _ := vs.ByAddress(s.Validator)
		pos[s.Validator] = i
	}
	sort.SliceStable(cm.Sigs, func(i, j int) bool { return pos[cm.Sigs[i].Validator] < pos[cm.Sigs[j].Validator] })
	n.lateCommit = cm
	if len(cm.Sigs) == vs.Len() {
		if d.trace.height == v.Height {
			mark(&d.trace.commitFull, time.Now())
		}
		d.maybeStartNext() // nothing left to wait for: the pause ends
	}
}

// headCommitFull reports whether the commit the next block would carry
// holds every validator's precommit for the head, so the commit pause has
// nothing left to gather.
func (n *Node) headCommitFull() bool {
	if n.head.Height == 0 {
		return false
	}
	vs := n.headValidators()
	if vs == nil {
		return false
	}
	if cm := n.lateCommitForHead(); cm != nil {
		return len(cm.Sigs) == vs.Len()
	}
	cm, err := n.store.SeenCommit(n.head.Height)
	return err == nil && len(cm.Sigs) == vs.Len()
}

// lateCommitForHead is the head's commit with the late precommits added,
// or nil when none came (the block then carries the stored commit).
func (n *Node) lateCommitForHead() *chain.Commit {
	if cm := n.lateCommit; cm != nil && cm.Height == n.head.Height && cm.BlockID == n.head.BlockID {
		return cm
	}
	return nil
}

// noteSignatures records which validators of height h-1 signed the
// LastCommit of the block at h.
func (n *Node) noteSignatures(b *chain.Block) {
	if b.LastCommit == nil || b.Header.Height < 2 {
		return
	}
	h := b.Header.Height - 1
	vs, err := n.store.ValidatorsAt(h)
	if err != nil {
		return
	}
	signed := make(map[chain.Address]bool, len(b.LastCommit.Sigs))
	for _, s := range b.LastCommit.Sigs {
		signed[s.Validator] = true
	}
	st := api.SignatureStatus{Height: h, Signed: len(signed), Validators: vs.Len()}
	for _, v := range vs.Validators {
		if !signed[v.Address] {
			st.Missing = append(st.Missing, v.Address)
			n.m.missedSigs.WithLabelValues(v.Address.String()).Inc()
		}
	}
	n.mu.Lock()
	if n.missedTotal == nil {
		n.missedTotal = map[chain.Address]uint64{}
	}
	for _, a := range st.Missing {
		n.missedTotal[a]++
	}
	n.lastSigs = st
	n.mu.Unlock()
}

// signatureStatus is the status endpoint's view of commit signatures.
func (n *Node) signatureStatus() *api.SignatureStatus {
	n.mu.RLock()
	defer n.mu.RUnlock()
	if n.lastSigs.Height == 0 {
		return nil
	}
	st := n.lastSigs
	st.Missing = append([]chain.Address(nil), st.Missing...)
	if len(n.missedTotal) > 0 {
		st.MissedSinceStart = make(map[string]uint64, len(n.missedTotal))
		for a, c := range n.missedTotal {
			st.MissedSinceStart[a.String()] = c
		}
	}
	return &st
}
