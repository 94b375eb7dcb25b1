package node

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/dure-network/dure/chain"
	"github.com/dure-network/dure/chain/execution"
	"github.com/dure-network/dure/chain/store"
	"github.com/dure-network/dure/p2p"
)

// maxClockDrift bounds how far in the future a proposed block's time may be
// compared with this node's clock.
const maxClockDrift = 10 * time.Second

// maxEvidenceAge is how many heights back evidence is still accepted.
const maxEvidenceAge = 10_000

var errBadBlock = errors.New("invalid block")

// errClockAhead refuses a live proposal from the future. It is not a
// verdict on the block: once more than 2/3 commit it, it is applied.
var errClockAhead = errors.New("block time ahead of this node's clock")

func (n *Node) blockInfo(h *chain.Header, b *chain.Block) chain.BlockInfo {
	info := chain.BlockInfo{ChainID: h.ChainID, Height: h.Height, Time: h.Time, Proposer: h.Proposer, Evidence: b.Evidence}
	if b.LastCommit != nil {
		info.LastCommitSigners = make([]chain.Address, len(b.LastCommit.Sigs))
		for i, s := range b.LastCommit.Sigs {
			info.LastCommitSigners[i] = s.Validator
		}
	}
	return info
}

// buildBlock makes the proposer's block at height: mempool txs executed in
// one pass (invalid ones dropped), roots filled in.
func (n *Node) buildBlock(height uint64, evidence []chain.Evidence) (*candidate, error) {
	head := n.head
	now := time.Now().UnixNano()
	if now <= head.Time {
		now = head.Time + 1
	}
	var lastCommit *chain.Commit
	if head.Height > 0 {
		cm, err := n.commitForNextBlock()
		if err != nil {
			return nil, fmt.Errorf("load commit of %d: %w", head.Height, err)
		}
		lastCommit = cm
	}
	maxTxs := min(n.cfg.Consensus.MaxBlockTxs, n.gen.Params.MaxBlockTxs, n.txBudget())
	cands := n.pool.Reap(maxTxs, int(n.cfg.Consensus.MaxBlockBytes))
	start := time.Now()
	defer func() { n.noteExecCost(len(cands), time.Since(start)) }()
	b := &chain.Block{LastCommit: lastCommit, Evidence: evidence}
	b.Header = chain.Header{ChainID: n.gen.ChainID, Height: height, Time: now, Parent: head.BlockID,
		ValidatorsHash: n.nextVals.Hash(n.codec), NextValidatorsHash: n.afterVals.Hash(n.codec),
		Proposer: n.self, LastCommitHash: chain.CommitHash(n.codec, lastCommit), EvidenceHash: chain.EvidenceHash(n.codec, evidence)}
	included, out, err := n.exec.PrepareBlock(n.state, n.blockInfo(&b.Header, b), cands, maxTxs)
	if err != nil {
		return nil, err
	}
	n.evictDropped(cands, included, maxTxs)
	b.Txs = make([][]byte, len(included))
	for i, tx := range included {
		b.Txs[i] = tx.Raw
	}
	b.Header.TxRoot = chain.TxRoot(b.Txs)
	b.Header.StateRoot = out.StateRoot
	b.Header.ResultsRoot = out.ResultsRoot
	raw, err := b.Encode(n.codec)
	if err != nil {
		return nil, err
	}
	return &candidate{id: b.Header.ID(n.codec), block: b, raw: raw, txs: included, out: out}, nil
}

// checkBlock validates a block for the next height against the committed
// head and executes it. fresh applies the clock bound (for live proposals,
// not for blocks that already carry a commit).
func (n *Node) checkBlock(c *candidate, fresh bool) (*execution.Outcome, error) {
	b, h, head := c.block, &c.block.Header, n.head
	switch {
	case h.ChainID != n.gen.ChainID:
		return nil, fmt.Errorf("%w: chain id %q", errBadBlock, h.ChainID)
	case h.Height != head.Height+1:
		return nil, fmt.Errorf("%w: height %d, want %d", errBadBlock, h.Height, head.Height+1)
	case h.Parent != head.BlockID:
		return nil, fmt.Errorf("%w: parent %s, want %s", errBadBlock, h.Parent, head.BlockID)
	case h.Time <= head.Time:
		return nil, fmt.Errorf("%w: time %d not after parent's %d", errBadBlock, h.Time, head.Time)
	case fresh && time.Unix(0, h.Time).After(time.Now().Add(maxClockDrift)):
		return nil, fmt.Errorf("%w: %s is more than %s ahead (check this machine's clock)", errClockAhead, time.Unix(0, h.Time).UTC(), maxClockDrift)
	case h.ValidatorsHash != n.nextVals.Hash(n.codec):
		return nil, fmt.Errorf("%w: validators hash", errBadBlock)
	case h.NextValidatorsHash != n.afterVals.Hash(n.codec):
		return nil, fmt.Errorf("%w: next validators hash", errBadBlock)
	}
	if _, _, ok := n.nextVals.ByAddress(h.Proposer); !ok {
		return nil, fmt.Errorf("%w: proposer %s is not a validator", errBadBlock, h.Proposer)
	}
	if err := b.ValidateBasic(n.codec); err != nil {
		return nil, err
	}
	if h.Height > 1 {
		vs, err := n.store.ValidatorsAt(head.Height)
		if err != nil {
			return nil, err
		}
		if err := chain.VerifyCommit(n.codec, n.gen.ChainID, vs, b.LastCommit, head.Height, head.BlockID); err != nil {
			return nil, fmt.Errorf("%w: last commit: %w", errBadBlock, err)
		}
	}
	seen := map[chain.Hash]bool{}
	for i := range b.Evidence {
		ev := &b.Evidence[i]
		k := evidenceKey(n.codec, *ev)
		if seen[k] {
			return nil, fmt.Errorf("%w: evidence %d repeated", errBadBlock, i)
		}
		seen[k] = true
		if err := n.verifyEvidence(ev); err != nil {
			return nil, fmt.Errorf("%w: evidence %d: %w", errBadBlock, i, err)
		}
	}
	if c.txs == nil {
		c.txs = make([]*chain.DecodedTx, len(b.Txs))
		for i, raw := range b.Txs {
			id := chain.IDOf(raw)
			if tx, ok := n.pool.Get(id); ok {
				c.txs[i] = tx
				continue
			}
			tx, err := chain.NewDecodedTx(n.codec, raw)
			if err != nil {
				return nil, fmt.Errorf("%w: tx %d: %w", errBadBlock, i, err)
			}
			c.txs[i] = tx
		}
	}
	out, err := n.exec.ExecuteBlock(n.state, n.blockInfo(h, b), c.txs)
	if err != nil {
		return nil, err
	}
	if out.StateRoot != h.StateRoot {
		return nil, fmt.Errorf("%w: state root %s, header says %s", errBadBlock, out.StateRoot, h.StateRoot)
	}
	if out.ResultsRoot != h.ResultsRoot {
		return nil, fmt.Errorf("%w: results root mismatch", errBadBlock)
	}
	return out, nil
}

func (n *Node) verifyEvidence(ev *chain.Evidence) error {
	h := ev.VoteA.Height
	if h == 0 || h > n.head.Height+1 || h+maxEvidenceAge < n.head.Height+1 {
		return fmt.Errorf("%w: height %d out of range", chain.ErrInvalidEvidence, h)
	}
	vs, err := n.store.ValidatorsAt(h)
	if err != nil {
		return err
	}
	return ev.Verify(n.codec, n.gen.ChainID, vs)
}

// applyBlock writes a decided block and its state atomically, then moves
// the node's view to it.
func (n *Node) applyBlock(c *candidate, commit *chain.Commit) error {
	if err := n.disk.check(); err != nil {
		return fmt.Errorf("commit block %d: %w", c.block.Header.Height, err)
	}
	start := time.Now()
	b, out := c.block, c.out
	after := applyValidatorUpdates(n.afterVals, out.ValidatorUpdates)
	var stateWrite time.Duration
	err := n.store.CommitBlock(b, commit, out.Results, n.afterVals, func(w chain.KVWriter) error {
		t0 := time.Now()
		defer func() { stateWrite = time.Since(t0) }()
		write := out.Pending.WriteTo
		if n.archive {
			write = out.Pending.WriteToArchive
		}
		if err := write(w); err != nil {
			return err
		}
		if err := w.Set(keyBlockEvents, mustEncodeEvents(n.codec, out.EndBlockEvents)); err != nil {
			return err
		}
		return w.Set(keyAfterVals, mustEncodeVals(n.codec, after))
	})
	if err != nil {
		return fmt.Errorf("commit block %d: %w", b.Header.Height, err)
	}
	if err := n.state.Committed(out.Pending, store.TS(b.Header.Height)); err != nil {
		return fmt.Errorf("commit state %d: %w", b.Header.Height, err)
	}
	n.observeCommitted(b.Header.Height, b.Header.Time)
	ids := make([]chain.ID, len(c.txs))
	failed := 0
	for i, tx := range c.txs {
		ids[i] = tx.ID
		if out.Results[i].Code != chain.CodeOK {
			failed++
		}
	}
	stored := time.Since(start)
	if err := n.pool.Update(b.Header.Height, ids); err != nil {
		n.log.Warn("mempool update", "err", err)
	}
	n.evidence.committed(n.codec, b.Evidence, b.Header.Height)
	n.pruneStash(b.Header.Height)
	prevTime := n.head.Time
	n.mu.Lock()
	n.head = n.store.Head()
	n.nextVals, n.afterVals = n.afterVals, after
	close(n.headCh)
	n.headCh = make(chan struct{})
	n.mu.Unlock()
	n.m.height.Set(float64(b.Header.Height))
	n.m.txsCommitted.Add(float64(len(b.Txs)))
	n.m.txsFailed.Add(float64(failed))
	n.m.blockTxs.Observe(float64(len(b.Txs)))
	n.m.commitSecs.Observe(time.Since(start).Seconds())
	if prevTime > 0 {
		n.m.blockInterval.Observe(time.Duration(b.Header.Time - prevTime).Seconds())
	}
	n.log.Info("committed block", "height", b.Header.Height, "txs", len(b.Txs), "id", c.id,
		"round", commit.Round, "store", stored.Round(time.Microsecond), "state_write", stateWrite.Round(time.Microsecond), "total", time.Since(start).Round(time.Microsecond))
	return nil
}

// syncFromPeers fetches and applies committed blocks until no peer is
// ahead. Each block's commit is verified against the validator set of its
// height before it is executed.
func (n *Node) syncFromPeers(ctx context.Context, why string) {
	if n.tr.PeerCount() == 0 {
		return
	}
	n.setSyncing(true)
	defer n.setSyncing(false)
	from := n.head.Height + 1
	rep, err := n.tr.Sync(ctx, from, n.applySynced)
	if n.head.Height >= from {
		n.log.Info("synced from peers", "why", why, "from", from, "to", n.head.Height, "report", rep)
	}
	if err != nil && !errors.Is(err, p2p.ErrNoPeers) && ctx.Err() == nil {
		n.log.Debug("sync", "why", why, "err", err)
	}
}

func (n *Node) setSyncing(v bool) {
	n.mu.Lock()
	n.syncing = v
	n.mu.Unlock()
}

func (n *Node) applySynced(it p2p.SyncItem) error {
	if err := n.disk.check(); err != nil {
		return err // before any work: nothing can be committed
	}
	if it.Height != n.head.Height+1 {
		return fmt.Errorf("sync item %d, want %d", it.Height, n.head.Height+1)
	}
	b, err := chain.DecodeBlock(n.codec, it.Block)
	if err != nil {
		return err
	}
	var cm chain.Commit
	if err := n.codec.UnmarshalCanonical(it.Commit, &cm); err != nil {
		return fmt.Errorf("%w: sync commit: %v", chain.ErrInvalidCommit, err)
	}
	id := b.Header.ID(n.codec)
	if err := chain.VerifyCommit(n.codec, n.gen.ChainID, n.nextVals, &cm, it.Height, id); err != nil {
		return err
	}
	c := &candidate{id: id, block: b, raw: it.Block}
	if c.out, err = n.checkBlock(c, false); err != nil {
		return err
	}
	return n.applyBlock(c, &cm)
}

// Block size follows measured execution cost: the proposer executes its
// block before proposing and every validator executes it again before
// prevoting, so both must fit in the propose timeout or the round fails
// and throughput collapses. A block is sized to take a third of it.

// minBudgetTxs keeps blocks useful even on a very slow machine.
const minBudgetTxs = 200

// noteExecCost folds one execution's cost per tx into a moving average.
func (n *Node) noteExecCost(txs int, took time.Duration) {
	if txs < 50 {
		return // too small to say anything about per-tx cost
	}
	per := took.Nanoseconds() / int64(txs)
	old := n.execNanosPerTx.Load()
	if old == 0 {
		n.execNanosPerTx.Store(per)
		return
	}
	n.execNanosPerTx.Store((old*7 + per*3) / 10)
}

// txBudget is how many txs fit a third of the propose timeout.
func (n *Node) txBudget() int {
	per := n.execNanosPerTx.Load()
	if per <= 0 {
		return chain.MaxTxsPerBlock
	}
	b := int(n.cfg.Consensus.TimeoutPropose.Duration().Nanoseconds() / 3 / per)
	return max(b, minBudgetTxs)
}

// keyBlockEvents holds the events of BeginBlock/EndBlock (expiries, voucher
// returns, rewards, slashing). One key, rewritten by every block: reading it
// at a block's version gives that block's events, and pruning old versions
// prunes them too.
var keyBlockEvents = []byte("v/blockevents")

// mustEncodeEvents encodes a (possibly empty) event list; never empty
// bytes, so an event-less block still overwrites the previous version.
func mustEncodeEvents(c *chain.Codec, evs []chain.Event) []byte {
	if evs == nil {
		evs = []chain.Event{}
	}
	b, err := c.Marshal(evs)
	if err != nil {
		panic(err)
	}
	return b
}

// blockEvents reads the BeginBlock/EndBlock events of a committed height.
func (n *Node) blockEvents(height uint64) ([]chain.Event, error) {
	txn := n.store.DB().NewTransactionAt(store.TS(height), false)
	defer txn.Discard()
	item, err := txn.Get(keyBlockEvents)
	if err != nil {
		return nil, nil // blocks written before events were stored have none
	}
	raw, err := item.ValueCopy(nil)
	if err != nil {
		return nil, err
	}
	var evs []chain.Event
	if err := n.codec.Unmarshal(raw, &evs); err != nil {
		return nil, fmt.Errorf("%w: block events of %d: %v", store.ErrCorrupt, height, err)
	}
	return evs, nil
}

// evictDropped removes from the mempool the reaped txs the proposer could
// not include (a fee the sender cannot pay, or a tx behind such a one).
// Left there they would be reaped for every block, and as "executable"
// txs they would keep starting heights: a chain spinning out empty blocks.
// PrepareBlock tries every candidate unless it stops at maxTxs; then the
// ones after the last included tx were never tried and stay.
func (n *Node) evictDropped(reaped, included []*chain.DecodedTx, maxTxs int) {
	in := make(map[chain.ID]bool, len(included))
	for _, tx := range included {
		in[tx.ID] = true
	}
	tried := len(reaped)
	if len(included) >= maxTxs {
		for i, tx := range reaped {
			if in[tx.ID] {
				tried = i + 1
			}
		}
	}
	var evict []chain.ID
	for _, tx := range reaped[:tried] {
		if !in[tx.ID] {
			evict = append(evict, tx.ID)
		}
	}
	if len(evict) > 0 {
		n.pool.Remove(evict)
		n.log.Debug("evicted txs the block could not include", "count", len(evict))
	}
}
