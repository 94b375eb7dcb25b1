// Package consensus is the Tendermint BFT algorithm (Buchman, Kwon,
// Milosevic, arXiv 1807.04938, Algorithm 1) as a pure, deterministic state
// machine for one node. It starts no goroutines and does no I/O and reads no
// clock: the caller (the node's driver) owns time, network, disk and block
// execution, in the manner of etcd's raft.
//
// # Shape
//
// Build a Machine with New for the first undecided height. Feed it input
// with Step (ProposalEvent, VoteEvent, TimeoutEvent, BlockValidatedEvent,
// CommitEvent), ProposeBlock and NewHeight. Everything it wants done piles
// up in a Ready; the driver handles it and calls Advance.
//
// # The driver's duties
//
// Run one loop that owns the Machine (it is not safe for concurrent use):
//
//	for m.HasReady() {
//		rd := m.Ready()
//		// 1. Persist before anything leaves the node.
//		for _, r := range rd.WAL { w.Append(r.Height, r.Data) }
//		if rd.MustSync { w.Sync() }
//		if rd.LastSigned != nil { w.SaveLastSigned(rd.LastSigned.Encode(codec)) }
//		m.Advance()
//		// 2. Only now act on the rest.
//		broadcast(rd.Messages)            // gossip on the consensus topic
//		schedule(rd.Timeouts)             // later: m.Step(TimeoutEvent{...})
//		build(rd.Requests)                // then m.ProposeBlock(h, r, blockID)
//		validate(rd.Validate)             // then m.Step(BlockValidatedEvent{...})
//		commit(rd.Decisions)              // apply block + commit; after Wait: m.NewHeight(h+1, vals)
//		gossipEvidence(rd.Evidence)
//	}
//
// Persist before send: a signed message must not reach the network before
// the WAL holding it is fsynced and the LastSigned record is saved
// atomically. The machine signs through a Guard that refuses to sign a
// step at or below the last signed one unless the bytes are identical, so
// a restarted validator cannot double-sign — provided the driver honours
// this order.
//
// Feed timeouts: each ScheduleTimeout must come back as a TimeoutEvent
// after its Duration; stale ones are ignored, so the driver never needs to
// cancel them.
//
// Execute blocks: the machine knows blocks only by ID. The driver gets the
// block (with the proposal, from gossip or by fetching), executes it against
// the state and reports BlockValidatedEvent. A proposer answers RequestBlock
// by building a block and calling ProposeBlock. A Decision may name a block
// the node has not received (more than 2/3 precommitted it); the driver
// fetches it and applies it with Decision.Commit. After applying, wait
// Decision.Wait (the commit timeout) and call NewHeight with the validator
// set for the next height: changes decided at H take effect at H+2, the
// driver picks the set, the machine just uses it.
//
// Re-broadcast: every second or so, send Rebroadcast() again until the
// height is decided, and gossip the last commit, so lost messages do not
// stall a height. With the node's own re-proposal it includes the other
// validators' prevotes of the proof-of-lock, signed by them: send them
// as they are (peers that missed the POL round need them). A Step error wrapping ErrFutureHeight means peers are
// ahead: fetch the commit for the current height (block sync) and feed it
// as CommitEvent, which is verified with chain.VerifyCommit.
//
// Restart: read LastSigned from disk, New at the first undecided height,
// then Replay the WAL records of that height instead of Start. The machine
// re-uses the messages it signed before the crash, so it neither unlocks
// nor votes differently. Ready after Replay re-broadcasts them; a Decision
// it repeats may already be applied (check the block store).
//
// # Rules
//
// Quorums are stake-weighted: "2f+1" is more than 2/3 of the voting power,
// "f+1" (round skip) more than 1/3. Votes are tallied per (round, type);
// a duplicate is ignored before verification; a validator's conflicting
// vote becomes Evidence (ordered as chain.Evidence requires) and is also
// counted for its block, once per block, as the paper counts messages.
// Memory under byzantine spam is bounded: votes beyond a few rounds ahead
// per validator, more than two conflicting votes per step, and messages for
// any height but the next are dropped; the next height's are buffered, a
// few per validator. The proposer of (height, round) comes from
// ProposerSchedule (weighted round robin, rotation height+round).
package consensus
