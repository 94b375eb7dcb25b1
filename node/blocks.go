package node

import (
	"fmt"
	"path/filepath"
	"time"

	"github.com/dure-network/dure/chain"
	"github.com/dure-network/dure/chain/blockexec"
	"github.com/dure-network/dure/chain/execution"
	"github.com/dure-network/dure/consensus/wal"
)

// The block lifecycle lives in chain/blockexec; these are the driver's
// handles on it. They read the node's committed view (head and validator
// sets) as a blockexec.State, and move the view forward after Apply.

var (
	errBadBlock   = blockexec.ErrBadBlock
	errClockAhead = blockexec.ErrClockAhead
)

// bx is the block executor over the node's store and state. It holds no
// state of its own, so one is made per use.
func (n *Node) bx() *blockexec.BlockExec {
	return blockexec.New(blockexec.Config{Codec: n.codec, Exec: n.exec, Store: n.store, State: n.state, Archive: n.archive,
		Now: n.clock.Now})
}

// chainState is the committed view as a value.
func (n *Node) chainState() blockexec.State {
	return blockexec.State{ChainID: n.gen.ChainID, Head: n.head, Validators: n.nextVals, NextValidators: n.afterVals}
}

func (n *Node) blockInfo(_ *chain.Header, b *chain.Block) chain.BlockInfo {
	return blockexec.BlockInfo(b)
}

// buildBlock makes the proposer's block at height: mempool txs executed in
// one pass (invalid ones dropped), roots filled in.
func (n *Node) buildBlock(height uint64, evidence []chain.Evidence) (*candidate, error) {
	if height != n.head.Height+1 {
		return nil, fmt.Errorf("build block %d on head %d", height, n.head.Height)
	}
	maxTxs := min(n.cfg.Consensus.MaxBlockTxs, n.gen.Params.MaxBlockTxs, n.txBudget())
	cands := n.pool.Reap(maxTxs, int(n.cfg.Consensus.MaxBlockBytes))
	start := time.Now()
	deadline, late := start.Add(n.buildDeadline()), false
	stop := func() bool {
		late = late || time.Now().After(deadline)
		return late
	}
	blk, err := n.bx().Build(n.chainState(), blockexec.Proposal{Proposer: n.self, Evidence: evidence, Candidates: cands,
		MaxTxs: maxTxs, LastCommit: n.lateCommitForHead(), Stop: stop})
	if err != nil {
		return nil, err
	}
	n.noteExecCost(len(blk.Txs), time.Since(start))
	if late {
		n.m.buildsCut.Inc()
		n.log.Debug("block cut at the build deadline", "height", height, "txs", len(blk.Txs), "reaped", len(cands))
		// Only candidates up to the last included one surely were tried;
		// the rest stay for the next block.
		in := make(map[chain.ID]bool, len(blk.Txs))
		for _, tx := range blk.Txs {
			in[tx.ID] = true
		}
		tried := 0
		for i, tx := range cands {
			if in[tx.ID] {
				tried = i + 1
			}
		}
		cands = cands[:tried]
	}
	n.evictDropped(cands, blk.Txs, maxTxs)
	return &candidate{id: blk.ID, block: blk.Block, raw: blk.Raw, txs: blk.Txs, out: blk.Out}, nil
}

// checkBlock validates a block for the next height against the committed
// head and executes it. fresh applies the clock bound (for live proposals,
// not for blocks that already carry a commit).
func (n *Node) checkBlock(c *candidate, fresh bool) (*execution.Outcome, error) {
	blk := &blockexec.Block{ID: c.id, Block: c.block, Raw: c.raw, Txs: c.txs, TxRoot: c.txRoot}
	out, err := n.bx().Validate(n.chainState(), blk, fresh, n.pool.Get)
	c.txs = blk.Txs
	return out, err
}

func (n *Node) verifyEvidence(ev *chain.Evidence) error {
	return n.bx().VerifyEvidence(n.chainState(), ev)
}

// applyBlock writes a decided block and its state atomically, then moves
// the node's view to it.
func (n *Node) applyBlock(c *candidate, commit *chain.Commit, logAttrs ...any) error {
	if err := n.disk.check(); err != nil {
		return fmt.Errorf("commit block %d: %w", c.block.Header.Height, err)
	}
	start := time.Now()
	b := c.block
	blk := &blockexec.Block{ID: c.id, Block: b, Raw: c.raw, Txs: c.txs, Out: c.out}
	next, results, err := n.bx().Apply(n.chainState(), blk, commit)
	if err != nil {
		return err
	}
	n.observeCommitted(b.Header.Height, b.Header.Time)
	ids := make([]chain.ID, len(c.txs))
	failed := 0
	for i, tx := range c.txs {
		ids[i] = tx.ID
		if results[i].Code != chain.CodeOK {
			failed++
		}
	}
	stored := time.Since(start)
	if err := n.pool.Update(b.Header.Height, ids); err != nil {
		n.log.Warn("mempool update", "err", err)
	}
	n.evidence.Committed(n.codec, b.Evidence, b.Header.Height)
	n.pruneStash(b.Header.Height)
	prevTime := n.head.Time
	n.mu.Lock()
	n.head = next.Head
	n.nextVals, n.afterVals = next.Validators, next.NextValidators
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
	attrs := append([]any{"height", b.Header.Height, "txs", len(b.Txs), "id", c.id,
		"round", commit.Round, "store", stored.Round(time.Microsecond), "state_write", blk.StateWrite.Round(time.Microsecond), "total", time.Since(start).Round(time.Microsecond)}, logAttrs...)
	n.log.Info("committed block", attrs...)
	return nil
}

// evidencePool is the driver's handle on blockexec's pool.
type evidencePool struct{ *blockexec.EvidencePool }

func newEvidencePool() *evidencePool { return &evidencePool{blockexec.NewEvidencePool()} }

func (p *evidencePool) add(c *chain.Codec, ev chain.Evidence) { p.Add(c, ev) }

func (p *evidencePool) pending(height uint64, max int) []chain.Evidence {
	return p.Pending(height, max)
}

// walFiles gives the block stash the WAL's checksummed atomic files.
type walFiles struct{}

func (walFiles) WriteFileAtomic(path string, data []byte) error {
	return wal.WriteFileAtomic(path, data)
}
func (walFiles) ReadFileChecked(path string) ([]byte, error) { return wal.ReadFileChecked(path) }

func (n *Node) stash() *blockexec.Stash {
	return blockexec.NewStash(filepath.Join(n.cfg.DataPath(), "cs.blocks"), walFiles{}, n.codec, n.log)
}

func (n *Node) stashBlock(c *candidate) error {
	if c.stashed {
		return nil // durable since the first time
	}
	if err := n.disk.check(); err != nil {
		return fmt.Errorf("block stash: %w", err)
	}
	if err := n.stash().Put(c.block.Header.Height, c.id, c.raw); err != nil {
		return err
	}
	c.stashed = true
	return nil
}

// stashed returns the stashed blocks of height as candidates.
func (n *Node) stashed(height uint64) []*candidate {
	var out []*candidate
	for _, s := range n.stash().Load(height) {
		out = append(out, &candidate{id: s.ID, block: s.Block, raw: s.Raw, stashed: true})
	}
	return out
}

func (n *Node) pruneStash(height uint64) { n.stash().Prune(height) }

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

// buildDeadline bounds the proposer's pass over the candidates, so its
// block goes out in time even when the machine is suddenly slower than
// the measured cost said (other work on it, a GC): the pass is about half
// of a build (staging the state root and encoding are the rest), so a
// sixth of the propose timeout keeps the build near the third txBudget
// aims at, and leaves the rest for the stash, the WAL and gossip.
func (n *Node) buildDeadline() time.Duration {
	return n.cfg.Consensus.TimeoutPropose.Duration() / 6
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

// blockEvents reads the BeginBlock/EndBlock events of a committed height.
func (n *Node) blockEvents(height uint64) ([]chain.Event, error) { return n.store.BlockEvents(height) }

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
