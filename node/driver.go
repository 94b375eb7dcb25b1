package node

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/dure-network/dure/chain"
	"github.com/dure-network/dure/chain/execution"
	"github.com/dure-network/dure/consensus"
	"github.com/dure-network/dure/p2p"
)

// Driver inputs, posted to Node.inbox by gossip handlers and timers.
type (
	gossipConsensus struct {
		from peer.ID
		data []byte
	}
	gossipBlock struct {
		from peer.ID
		data []byte
	}
	gossipEvidence struct {
		from peer.ID
		data []byte
	}
	timeoutFired struct{ ev consensus.TimeoutEvent }
	startNext    struct{ height uint64 }
	txsArrived   struct{}
	peersAhead   struct{}
	// syncedItem is a block fetched by a background sync, to be verified
	// and applied by the driver; the sync waits for the answer.
	syncedItem struct {
		it    p2p.SyncItem
		reply chan error
	}
	syncFinished struct {
		why  string
		from uint64
		rep  p2p.SyncReport
		err  error
	}
	// syncAtStart retries the start-up catch-up until a peer is connected.
	syncAtStart struct{}
)

// wireMsg is the consensus topic's envelope: exactly one field is set.
// Commits are gossiped so a node one height behind can decide it.
type wireMsg struct {
	_        struct{}        `cbor:",toarray"`
	Proposal *chain.Proposal `json:"proposal"`
	Vote     *chain.Vote     `json:"vote"`
	Commit   *chain.Commit   `json:"commit"`
}

// maxBlocksPerRound bounds the blocks held per (height, round): the
// scheduled proposer's, plus one equivocating alternative. Blocks reach the
// driver only with a proposal signed by that proposer (the gossip
// validator checks it), at most maxRoundsAhead rounds past ours, so what a
// peer can make a validator hold is bounded by heights × rounds × 2 and
// never crowds out the real proposal.
const maxBlocksPerRound = 2

// roundKey names one round of one height.
type roundKey struct {
	height uint64
	round  uint32
}

// candidate is a block known at the current height, with its execution
// outcome once executed.
type candidate struct {
	id    chain.ID
	block *chain.Block
	raw   []byte
	txs   []*chain.DecodedTx
	out   *execution.Outcome
	err   error // non-nil once found invalid
	// stashed is set once the block is durably in the block stash, so the
	// proposer's own block (stashed before proposing, then validated like
	// any other) and a block validated again in a later round are not
	// written and fsynced again.
	stashed bool
	// via says how a gossiped block came (compact.go), for the committed
	// block's log line: "block" (whole), "mempool" (compact, every tx
	// there), "txs+N" (compact, N txs fetched), "fetched" (whole, by ID).
	via string
	// txRoot is chain.TxRoot(block.Txs) when the node has just checked
	// it (rebuilding a compact proposal, or decoding a synced or fetched
	// block), so validation does not hash the txs a second time; nil
	// otherwise.
	txRoot *chain.Hash
}

// driver owns the consensus machine. Only the driver goroutine touches it.
type driver struct {
	n     *Node
	ctx   context.Context
	cons  *consensus.Machine
	cands map[chain.ID]*candidate
	// perRound counts the gossiped blocks held for each (height, round).
	perRound map[roundKey]int
	// blockSent is when we last gossiped a block with our proposal, so the
	// once-a-second rebroadcast of the proposal resends the block rarely.
	blockSent map[chain.ID]time.Time

	pendingValidate map[chain.ID]bool
	// filling are the tx lists tried per block ID of a compact proposal
	// (compact.go), while no candidate has it.
	filling         map[chain.ID]*fillState
	pendingDecision *consensus.Decision
	decidedAt       time.Time

	// Gating of the next height: wait for txs or the heartbeat.
	nextPending  bool
	nextEarliest time.Time
	gateTimer    timer

	lastSync time.Time
	syncBusy bool // a catch-up is running (sync.go)
	// startSyncUntil is when the start-up catch-up stops waiting for a
	// first peer (sync.go).
	startSyncUntil time.Time

	// lastRound tracks rounds entered beyond 0, for the rounds metric.
	lastHeight uint64
	lastRound  uint32

	observing bool // a validator's machine built without its signer (signstate.go)

	trace heightTrace // where this height's time goes (trace.go)
}

// drive runs the consensus driver until ctx ends.
func (n *Node) drive(ctx context.Context) error {
	d := &driver{n: n, ctx: ctx, cands: map[chain.ID]*candidate{}, pendingValidate: map[chain.ID]bool{},
		perRound: map[roundKey]int{}, blockSent: map[chain.ID]time.Time{}, filling: map[chain.ID]*fillState{}}
	if err := d.newMachine(); err != nil {
		return err
	}
	if err := d.handleReady(); err != nil {
		return err
	}
	d.startSync()
	tick := n.clock.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			n.log.Info("node stopping", "height", n.head.Height)
			return nil
		case <-tick.C():
			d.onTick()
		case ev := <-n.inbox:
			d.handle(ev)
		}
		if err := d.handleReady(); err != nil {
			return err
		}
		d.countRounds()
	}
}

// now is the driver's time (clock.go). Durations measured for metrics and
// block sizing stay on the wall clock: they are execution costs.
func (d *driver) now() time.Time { return d.n.clock.Now() }

func (d *driver) countRounds() {
	st := d.cons.Status()
	if st.Height != d.lastHeight {
		d.lastHeight, d.lastRound = st.Height, 0
	}
	if st.Round > d.lastRound {
		d.n.m.rounds.Add(float64(st.Round - d.lastRound))
		d.lastRound = st.Round
	}
}

func (d *driver) timeouts() consensus.Timeouts {
	c := d.n.cfg.Consensus
	return consensus.Timeouts{Propose: c.TimeoutPropose.Duration(), Prevote: c.TimeoutPrevote.Duration(),
		Precommit: c.TimeoutPrecommit.Duration(), Delta: c.TimeoutDelta.Duration(), Commit: c.TimeoutCommit.Duration()}
}

// newMachine (re)builds the consensus machine at head+1, replaying the
// WAL for that height so a restarted validator neither unlocks nor signs
// anything different from what it signed before the crash.
func (d *driver) newMachine() error {
	n := d.n
	raw, err := n.wal.LoadLastSigned()
	if err != nil {
		return fmt.Errorf("load last-signed state: %w", err)
	}
	var ls consensus.LastSigned
	if raw != nil {
		if ls, err = consensus.DecodeLastSigned(n.codec, raw); err != nil {
			return fmt.Errorf("last-signed state: %w", err)
		}
	}
	cfg := consensus.Config{ChainID: n.gen.ChainID, Codec: n.codec, Height: n.head.Height + 1, Validators: n.nextVals,
		Timeouts: d.timeouts(), LastSigned: ls}
	d.observing = !n.key.IsZero() && n.hold.holding()
	if !n.key.IsZero() && !d.observing {
		cfg.Self, cfg.Signer = n.self, n.key
	} else {
		cfg.LastSigned = consensus.LastSigned{} // an observer signs nothing; the record may be above this height
	}
	m, err := consensus.New(cfg)
	if err != nil {
		return fmt.Errorf("consensus: %w", err)
	}
	recs, err := n.wal.Records(cfg.Height)
	if err != nil {
		return fmt.Errorf("read consensus WAL: %w", err)
	}
	d.cons = m
	d.cands = map[chain.ID]*candidate{}
	d.perRound = map[roundKey]int{}
	d.blockSent = map[chain.ID]time.Time{}
	d.pendingValidate = map[chain.ID]bool{}
	d.filling = map[chain.ID]*fillState{}
	d.pendingDecision = nil
	d.nextPending = false
	// Blocks proposed or validated before a crash come back first, so a
	// decision the replay reaches can be applied; peers get ours again
	// with our replayed proposal.
	for _, c := range n.stashed(cfg.Height) {
		d.cands[c.id] = c
		n.recent.put(c) // peers may fill its compact form from us
	}
	if len(recs) > 0 {
		n.log.Info("replaying consensus WAL", "height", cfg.Height, "records", len(recs), "stashed_blocks", len(d.cands))
		if err := m.Replay(recs); err != nil {
			return err
		}
		for _, msg := range m.Rebroadcast() {
			if msg.Proposal != nil {
				d.publishBlock(msg.Proposal, true)
			}
		}
		return nil
	}
	// A fresh height waits for transactions or the heartbeat, like any other.
	d.nextPending = true
	d.nextEarliest = d.now()
	d.maybeStartNext()
	return nil
}

func (d *driver) handle(ev any) {
	switch e := ev.(type) {
	case gossipConsensus:
		d.onConsensus(e.from, e.data)
	case gossipBlock:
		d.onBlock(e.data)
	case gossipCompact:
		d.onCompact(e)
	case compactFilled:
		d.onCompactFilled(e)
	case gossipEvidence:
		d.onEvidence(e.data)
	case timeoutFired:
		if err := d.cons.Step(e.ev); err != nil {
			d.n.log.Debug("timeout", "err", err)
		}
	case startNext, txsArrived:
		d.maybeStartNext()
	case peersAhead:
		d.catchUp("peers are ahead")
	case syncedItem:
		e.reply <- d.n.applySynced(e.it)
	case syncFinished:
		d.onSyncFinished(e)
	case syncAtStart:
		d.startSync()
	}
}

// step feeds one event and reacts to the errors that need action.
func (d *driver) step(ev consensus.Event) {
	err := d.cons.Step(ev)
	switch {
	case err == nil:
	case errors.Is(err, consensus.ErrFutureHeight):
		d.catchUp("peers are ahead")
	default:
		d.n.log.Debug("consensus message refused", "err", err)
	}
}

// onConsensus takes a message the gossip validator admitted, which has
// checked every signature in it against the set of its height.
func (d *driver) onConsensus(from peer.ID, data []byte) {
	var w wireMsg
	if err := d.n.codec.Unmarshal(data, &w); err != nil {
		return
	}
	h := d.cons.Height()
	switch {
	case w.Proposal != nil:
		d.noteHeight(w.Proposal.Height)
		d.step(consensus.ProposalEvent{Proposal: *w.Proposal, Verified: true})
	case w.Vote != nil:
		if w.Vote.Height == d.n.head.Height {
			d.addLatePrecommit(w.Vote)
			return
		}
		d.noteHeight(w.Vote.Height)
		d.step(consensus.VoteEvent{Vote: *w.Vote, Verified: true})
	case w.Commit != nil:
		switch {
		case w.Commit.Height == h && d.cons.Status().Decided == "":
			d.step(consensus.CommitEvent{Commit: *w.Commit})
		case w.Commit.Height > h:
			d.catchUp("a peer committed a later height")
		}
	}
}

// noteHeight starts the next height at once when peers already work on it.
func (d *driver) noteHeight(h uint64) {
	if d.nextPending && h == d.cons.Height()+1 {
		d.startHeight()
	}
}

// onBlock takes a block the gossip validator admitted with its proposal.
func (d *driver) onBlock(data []byte) {
	pb, b, err := chain.DecodeProposedBlock(d.n.codec, data)
	if err != nil {
		return
	}
	h, r := b.Header.Height, pb.Proposal.Round
	if h <= d.n.head.Height || h > d.n.head.Height+2 {
		return
	}
	if h == d.cons.Height() && r > d.cons.Status().Round+maxRoundsAhead {
		return
	}
	id := pb.Proposal.BlockID
	if _, ok := d.cands[id]; !ok {
		k := roundKey{h, r}
		if d.perRound[k] >= maxBlocksPerRound {
			return // an equivocating proposer's extra blocks
		}
		if d.filling[id] == nil { // else counted when its compact form came
			d.perRound[k]++
		}
		d.addCandidate(&candidate{id: id, block: b, raw: pb.Block, via: "block"})
	}
	// The proposal travels with the block, so losing the consensus-topic
	// copy does not cost the round.
	d.noteHeight(h)
	if h == d.cons.Height() {
		d.step(consensus.ProposalEvent{Proposal: pb.Proposal, Verified: true})
	}
}

func (d *driver) onEvidence(data []byte) {
	var ev chain.Evidence
	if err := d.n.codec.UnmarshalCanonical(data, &ev); err != nil {
		return
	}
	if err := d.n.verifyEvidence(&ev); err != nil {
		return
	}
	d.n.evidence.add(d.n.codec, ev)
}

func (d *driver) onTick() {
	// Lost messages must not stall a height: re-send our latest votes
	// and the last commit. Votes only once the WAL has them: while actions
	// wait (a full disk holds them back), one signed since must not leave.
	if !d.cons.HasReady() {
		for _, msg := range d.cons.Rebroadcast() {
			if msg.Proposal != nil {
				d.publishBlock(msg.Proposal, false)
			}
			d.publish(wireMsg{Proposal: msg.Proposal, Vote: msg.Vote})
		}
	}
	if d.n.head.Height > 0 {
		if cm, err := d.n.store.SeenCommit(d.n.head.Height); err == nil {
			d.publish(wireMsg{Commit: cm})
		}
	}
	d.maybeStartNext() // in case a wake-up was dropped while the inbox was full
	// Backstop: a height that makes no progress for longer than a heartbeat
	// and a full round may mean the network moved on without us (hints can
	// be lost); ask peers.
	if d.n.cfg.Consensus.CreateEmptyBlocks && d.n.head.Height > 0 && d.n.tr.PeerCount() > 0 && d.now().Sub(d.n.head.Time.Std()) > d.stallAfter() {
		d.catchUp("no progress")
	}
	if pd := d.pendingDecision; pd != nil && d.now().Sub(d.decidedAt) > 2*time.Second {
		d.catchUp("decided block never arrived")
	}
	d.n.mu.Lock()
	d.n.consState = d.cons.Status()
	d.n.mu.Unlock()
}

func (d *driver) publish(w wireMsg) {
	data, err := d.n.codec.Marshal(w)
	if err != nil {
		d.n.log.Error("encode consensus message", "err", err)
		return
	}
	if err := d.n.tr.PublishConsensus(d.ctx, data); err != nil && d.ctx.Err() == nil {
		d.n.log.Debug("publish consensus", "err", err)
	}
}

// handleReady drains the machine's actions. Persistence comes first: no
// signed message leaves before the WAL and last-signed state are synced.
func (d *driver) handleReady() error {
	for d.cons.HasReady() {
		if d.n.disk.short() {
			return nil // nothing signed or committed until space is freed (disk.go); the actions wait
		}
		rd := d.cons.Ready()
		for _, r := range rd.WAL {
			if d.observing && r.Height < d.n.wal.Height() {
				continue // re-syncing below the kept consensus state; an observer signs nothing
			}
			if err := d.n.wal.Append(r.Height, r.Data); err != nil {
				return fmt.Errorf("consensus WAL append: %w", err)
			}
		}
		if rd.MustSync {
			if err := d.n.wal.Sync(); err != nil {
				return fmt.Errorf("consensus WAL sync: %w", err)
			}
		}
		if rd.LastSigned != nil {
			if err := d.n.wal.SaveLastSigned(rd.LastSigned.Encode(d.n.codec)); err != nil {
				return fmt.Errorf("save last-signed state: %w", err)
			}
		}
		d.cons.Advance()
		for _, msg := range rd.Messages {
			if msg.Proposal != nil {
				d.publishBlock(msg.Proposal, true)
			}
			if v := msg.Vote; v != nil && v.Height == d.trace.height {
				if v.Type == chain.Prevote {
					mark(&d.trace.prevote, time.Now())
				} else {
					mark(&d.trace.precommit, time.Now())
				}
			}
			d.publish(wireMsg{Proposal: msg.Proposal, Vote: msg.Vote})
			if d.n.doubleSign && msg.Vote != nil {
				d.equivocate(msg.Vote)
			}
		}
		for _, t := range rd.Timeouts {
			ev := consensus.TimeoutEvent{Height: t.Height, Round: t.Round, Step: t.Step}
			d.n.clock.AfterFunc(t.Duration, func() { d.n.post(d.ctx, timeoutFired{ev}) })
		}
		for _, ev := range rd.Evidence {
			d.n.evidence.add(d.n.codec, ev)
			if data, err := d.n.codec.Marshal(ev); err == nil {
				_ = d.n.tr.PublishEvidence(d.ctx, data)
			}
			d.n.log.Warn("equivocation detected", "validator", ev.VoteA.Validator, "height", ev.VoteA.Height)
		}
		for _, r := range rd.Requests {
			d.propose(r)
		}
		for _, v := range rd.Validate {
			d.validate(v.BlockID)
		}
		for _, dec := range rd.Decisions {
			if err := d.decide(dec); err != nil {
				return err
			}
		}
	}
	return nil
}

// equivocate is the test-only byzantine behaviour (DURE_TEST_DOUBLE_SIGN=1):
// for each of its votes, the validator also signs and sends a conflicting
// one for a made-up block, bypassing the double-sign guard on purpose.
// Honest validators must turn the pair into evidence and staking must slash.
func (d *driver) equivocate(v *chain.Vote) {
	bad := *v
	bad.BlockID = chain.IDOf([]byte(fmt.Sprintf("equivocation %d/%d/%d", v.Height, v.Round, v.Type)))
	bad.Sig = d.n.key.Sign(bad.SignBytes(d.n.codec, d.n.gen.ChainID))
	d.publish(wireMsg{Vote: &bad})
}

// propose builds, executes and gossips a block, then hands its ID to
// consensus (which signs and sends the proposal).
func (d *driver) propose(r consensus.RequestBlock) {
	n := d.n
	start := time.Now()
	c, err := n.buildBlock(d.cons.Height(), d.evidenceForBlock())
	if err != nil {
		n.log.Error("build block", "height", r.Height, "err", err)
		return
	}
	n.m.execSeconds.Observe(time.Since(start).Seconds())
	if r.Height == d.trace.height {
		mark(&d.trace.blockIn, start)
		mark(&d.trace.execStart, start)
		mark(&d.trace.execEnd, time.Now())
	}
	d.cands[c.id] = c
	n.recent.put(c) // served to peers filling its compact form
	if err := n.stashBlock(c); err != nil {
		n.log.Error("not proposing: cannot keep the block durable", "height", r.Height, "err", err)
		return
	}
	// The block leaves with the signed proposal consensus emits next.
	if err := d.cons.ProposeBlock(r.Height, r.Round, c.id); err != nil {
		n.log.Debug("propose", "err", err)
	}
	n.log.Debug("proposed block", "height", r.Height, "round", r.Round, "txs", len(c.block.Txs), "took", time.Since(start))
}

// blockResend is how often a block goes out again with the rebroadcast of
// its proposal, for peers that lost it.
const blockResend = 5 * time.Second

// publishBlock gossips the block our proposal names, with the proposal;
// fresh is for a proposal just signed (always sent), else a rebroadcast.
func (d *driver) publishBlock(p *chain.Proposal, fresh bool) {
	c, ok := d.cands[p.BlockID]
	if !ok {
		return
	}
	if t, sent := d.blockSent[p.BlockID]; !fresh && sent && d.now().Sub(t) < blockResend {
		return
	}
	d.blockSent[p.BlockID] = d.now()
	if ct, ok := d.n.tr.(compactTransport); ok {
		// The compact form: peers fill it from their mempools (compact.go).
		data, err := encodeCompact(d.n.codec, p, c.block, c.txs)
		if err != nil {
			d.n.log.Error("encode compact proposal", "err", err)
			return
		}
		if err := ct.PublishCompact(d.ctx, data); err != nil && d.ctx.Err() == nil {
			d.n.log.Warn("publish compact proposal", "err", err)
		}
		if lp, ok := d.n.tr.(wholeBlockPeers); !ok || lp.WholeBlockPeers() == 0 {
			return
		}
		// A peer of a version without compact proposals: the whole block
		// too, as before, for it.
	}
	data, err := d.n.codec.Marshal(chain.ProposedBlock{Proposal: *p, Block: c.raw})
	if err != nil {
		d.n.log.Error("encode proposed block", "err", err)
		return
	}
	if err := d.n.tr.PublishBlock(d.ctx, data); err != nil && d.ctx.Err() == nil {
		d.n.log.Warn("publish block", "err", err)
	}
}

func (d *driver) evidenceForBlock() []chain.Evidence {
	return d.n.evidence.pending(d.n.head.Height+1, 16)
}

func (d *driver) validate(id chain.ID) {
	c, ok := d.cands[id]
	if !ok {
		d.pendingValidate[id] = true
		return
	}
	if errors.Is(c.err, errClockAhead) {
		c.out, c.err = nil, nil // a later round: our clock may have caught up
	}
	if c.out == nil && c.err == nil {
		start := time.Now()
		c.out, c.err = d.n.checkBlock(c, true)
		took := time.Since(start)
		if c.block.Header.Height == d.trace.height {
			mark(&d.trace.execStart, start)
			mark(&d.trace.execEnd, start.Add(took))
		}
		d.n.m.execSeconds.Observe(took.Seconds())
		d.n.noteExecCost(len(c.block.Txs), took)
		if c.err != nil {
			d.n.log.Warn("rejected proposed block", "height", c.block.Header.Height, "id", id, "err", c.err)
		}
	}
	valid := c.err == nil
	if valid {
		if err := d.n.stashBlock(c); err != nil {
			// Voting for a block we could lose in a crash is not safe for
			// liveness; treat it as not validated.
			d.n.log.Error("cannot keep a valid block durable; not voting for it", "err", err)
			valid = false
		}
	}
	d.step(consensus.BlockValidatedEvent{BlockID: id, Valid: valid})
}

func (d *driver) decide(dec consensus.Decision) error {
	n := d.n
	if dec.Height <= n.head.Height {
		return nil // replayed decision of a block already applied
	}
	if dec.Height == d.trace.height {
		mark(&d.trace.decided, time.Now())
	}
	decidedAt := d.now() // or when the decided block came, if it came later
	c, ok := d.cands[dec.BlockID]
	if !ok {
		d.pendingDecision, d.decidedAt = &dec, d.now()
		return nil
	}
	if errors.Is(c.err, errClockAhead) {
		c.out, c.err = nil, nil // decided: the clock bound no longer applies
	}
	if c.out == nil && c.err == nil {
		c.out, c.err = n.checkBlock(c, false)
	}
	if c.err != nil {
		// More than 2/3 of the stake committed a block this node finds
		// invalid: either this node's state is broken or the chain is.
		// Halting is the only safe answer.
		return fmt.Errorf("consensus decided block %d (%s) that this node rejects: %w", dec.Height, dec.BlockID, c.err)
	}
	var phases []any
	if dec.Height == d.trace.height {
		phases = d.trace.logAttrs()
		if c.via != "" {
			phases = append(phases, "block_via", c.via)
		}
	}
	if err := n.applyBlock(c, dec.Commit, phases...); err != nil {
		return err
	}
	if dec.Height == d.trace.height {
		d.trace.applyEnd = time.Now()
		d.observeTrace()
	}
	n.lateCommit = nil
	n.noteSignatures(c.block)
	for id, other := range d.cands {
		if other.block.Header.Height <= dec.Height {
			delete(d.cands, id)
			delete(d.blockSent, id)
		}
	}
	for id, f := range d.filling {
		if f.height <= dec.Height {
			delete(d.filling, id) // a run still going ends in onCompactFilled's check
		}
	}
	for k := range d.perRound {
		if k.height <= dec.Height {
			delete(d.perRound, k)
		}
	}
	// The commit pause (timeout_commit) gathers late precommits for the
	// commit the next block carries (signatures.go). It runs from the
	// decision, so it overlaps writing the block, and it ends as soon as
	// every validator's precommit is in. Precommits that came while the
	// block was written wait in the inbox: the start goes behind them.
	d.nextPending = true
	d.nextEarliest = decidedAt.Add(dec.Wait)
	if d.n.headCommitFull() {
		d.nextEarliest = d.now()
	}
	if !d.now().Before(d.nextEarliest) {
		d.armGate(0)
		return nil
	}
	d.maybeStartNext()
	return nil
}

// maybeStartNext starts the next height once the commit pause is over and
// there is something to do: transactions waiting, or the heartbeat due.
func (d *driver) maybeStartNext() {
	if !d.nextPending {
		return
	}
	now := d.now()
	if now.Before(d.nextEarliest) && !d.n.headCommitFull() {
		d.armGate(d.nextEarliest.Sub(now))
		return
	}
	c := d.n.cfg.Consensus
	// Only executable txs count: a tx stuck behind a nonce gap must not
	// make the chain spin out empty blocks.
	if cnt, _ := d.n.pool.Size(); cnt > 0 && len(d.n.pool.Reap(1, 0)) > 0 {
		d.startHeight()
		return
	}
	if !c.CreateEmptyBlocks {
		return // a tx arrival wakes us
	}
	due := d.n.head.Time.Std().Add(c.HeartbeatInterval.Duration())
	if d.n.head.Height == 0 || !now.Before(due) {
		d.startHeight()
		return
	}
	d.armGate(due.Sub(now))
}

func (d *driver) armGate(after time.Duration) {
	if d.gateTimer != nil {
		d.gateTimer.Stop()
	}
	d.gateTimer = d.n.clock.AfterFunc(after, func() { d.n.post(d.ctx, startNext{}) })
}

func (d *driver) startHeight() {
	if d.resumeSigning() {
		return
	}
	d.nextPending = false
	if d.gateTimer != nil {
		d.gateTimer.Stop()
	}
	h := d.n.head.Height + 1
	if d.trace.height != h {
		d.traceNext(h)
	}
	if d.cons.Height() == h && d.cons.Status().Decided == "" {
		if err := d.cons.Start(); err != nil && !errors.Is(err, consensus.ErrAlreadyStarted) {
			d.n.log.Error("start consensus", "height", h, "err", err)
		}
		return
	}
	if err := d.cons.NewHeight(h, d.n.nextVals); err != nil {
		d.n.log.Error("new height", "height", h, "err", err)
	}
}

// stallAfter is how long without a new block counts as a stall.
func (d *driver) stallAfter() time.Duration {
	c := d.n.cfg.Consensus
	return c.HeartbeatInterval.Duration() + c.TimeoutPropose.Duration() + c.TimeoutPrevote.Duration() +
		c.TimeoutPrecommit.Duration() + 5*time.Second
}
