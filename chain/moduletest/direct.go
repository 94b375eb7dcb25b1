package moduletest

import (
	"math"
	"time"

	"github.com/dure-network/dure/chain"
	"github.com/dure-network/dure/chain/state"
)

// The direct mode drives modules below the transaction layer, as a module
// author often wants, with the executor's own contexts (metered prefixed
// stores, the validator-update capability for the ValidatorSetOwner alone,
// module accounts): BeginBlock opens a block with its inputs (last-commit
// signers, evidence) and runs every chain.BeginBlocker; DeliverAs runs one
// message for any sender (no keys, fees or nonces) in its own revertible
// branch of the open block, metered on the executor's gas schedule; Read,
// QueryOpen and OpenBlock see the open block; EndBlock runs every
// chain.EndBlocker, commits the block to the database, rotates the
// validator set (updates decided at H sign from H+2) and advances height
// and time. A block that DeliverAs, Context or EndBlock finds unopened is
// opened with the default inputs (every validator signed, no evidence). Do
// not mix it with Block in one block.

// Inputs are what a block brings to BeginBlock besides its height and
// time, as a node fills them from the block (blockexec.BlockInfo).
type Inputs struct {
	// Absent are validators of the set that signed the previous height
	// whose precommits the block's last commit lacks; every other member
	// of that set signed. Each must be a member (a typo fails the test).
	// At height 1 there is no last commit, and Absent is ignored.
	Absent []chain.Address
	// Evidence of double signing, verified here as the node verifies it
	// before a block may carry it: its height within
	// blockexec.MaxEvidenceAge of the block, both votes signed by a member
	// of the set of that height.
	Evidence []chain.Evidence
}

// BeginBlock opens the next block with in and runs every module's
// BeginBlock (chain.BeginBlocker), in module order, on it; it returns
// their events. A block already open fails the test.
func (h *Harness) BeginBlock(in Inputs) []chain.Event {
	h.t.Helper()
	if h.blk != nil {
		h.t.Fatalf("moduletest: block %d is already open", h.height+1)
	}
	return h.begin(in)
}

func (h *Harness) begin(in Inputs) []chain.Event {
	h.t.Helper()
	h.blkSigners, h.blkEvidence = h.inputs(h.height+1, in)
	h.blk = h.st.Branch()
	h.blkEvents = nil
	for _, m := range h.cfg.Modules {
		bb, ok := m.(chain.BeginBlocker)
		if !ok {
			continue
		}
		ctx := h.moduleContext(m, h.blk, chain.Address{}, nil)
		if err := bb.BeginBlock(ctx); err != nil {
			h.t.Fatalf("begin block %d of %s: %v", h.height+1, m.Name(), err)
		}
		h.blkEvents = append(h.blkEvents, ctx.Events()...)
		h.updates = append(h.updates, ctx.ValidatorUpdates()...)
	}
	return h.blkEvents
}

func (h *Harness) openBlock() *state.Branch {
	h.t.Helper()
	if h.blk == nil {
		h.begin(Inputs{})
	}
	return h.blk
}

// openInfo is the open block (or the next one): the next height, at the
// current time plus the pending Advance, with its inputs.
func (h *Harness) openInfo() chain.BlockInfo {
	return chain.BlockInfo{ChainID: h.cfg.ChainID, Height: h.height + 1, Time: chain.TimeOf(h.time.Add(h.next)),
		LastCommitSigners: h.blkSigners, Evidence: h.blkEvidence}
}

// OpenBlock is what modules see of the open block: height, time, the last
// commit's signers and evidence; open is false when no block is open (the
// info is then that of the next block, without inputs).
func (h *Harness) OpenBlock() (info chain.BlockInfo, open bool) { return h.openInfo(), h.blk != nil }

func (h *Harness) moduleContext(m chain.Module, br *state.Branch, sender chain.Address, gas *chain.GasMeter) *chain.Context {
	return h.ex.ModuleContext(m.Name(), h.openInfo(), sender, br, gas)
}

// DeliverAs runs msg for sender in the open block, metered on the
// executor's gas schedule with (practically) unlimited gas (GasUsed tells
// how much it took). On error its writes are reverted; on success they
// stay and its events are returned.
func (h *Harness) DeliverAs(sender chain.Address, msg chain.Msg) ([]chain.Event, error) {
	h.t.Helper()
	m, _ := h.module(msg.Module)
	child := h.openBlock().Branch()
	gas := &chain.GasMeter{Limit: math.MaxUint64 / 2}
	ctx := h.moduleContext(m, child, sender, gas)
	err := m.Deliver(ctx, msg)
	h.gasUsed = gas.Used
	if err != nil {
		return nil, err
	}
	if err := child.Write(); err != nil {
		h.t.Fatal(err)
	}
	h.updates = append(h.updates, ctx.ValidatorUpdates()...)
	return ctx.Events(), nil
}

// MustDeliverAs is DeliverAs failing the test unless msg succeeds.
func (h *Harness) MustDeliverAs(sender chain.Address, msg chain.Msg) []chain.Event {
	h.t.Helper()
	evs, err := h.DeliverAs(sender, msg)
	if err != nil {
		h.t.Fatalf("%s/%s from %s: %v", msg.Module, msg.Type, sender, err)
	}
	return evs
}

// GasUsed is the gas the latest DeliverAs took: the module's reads, writes
// and events, without a transaction's base cost (chain.GasPerTx and its
// bytes).
func (h *Harness) GasUsed() uint64 { return h.gasUsed }

// EndBlock runs every module's EndBlock (chain.EndBlocker) on the open
// block, commits it, rotates the validator set, and makes the next block
// dt later. It returns the block's own events (BeginBlock's, then
// EndBlock's, as execution.Outcome.EndBlockEvents) and the validator
// updates of the whole block.
func (h *Harness) EndBlock(dt time.Duration) ([]chain.Event, []chain.ValidatorUpdate) {
	h.t.Helper()
	br := h.openBlock()
	events := h.blkEvents
	for _, m := range h.cfg.Modules {
		eb, ok := m.(chain.EndBlocker)
		if !ok {
			continue
		}
		ctx := h.moduleContext(m, br, chain.Address{}, nil)
		if err := eb.EndBlock(ctx); err != nil {
			h.t.Fatalf("end block %d of %s: %v", h.height+1, m.Name(), err)
		}
		events = append(events, ctx.Events()...)
		h.updates = append(h.updates, ctx.ValidatorUpdates()...)
	}
	p, err := h.st.Stage(br)
	if err != nil {
		h.t.Fatal(err)
	}
	h.commitPending(p)
	ups := h.updates
	h.rotate(ups)
	info := h.openInfo()
	h.height, h.time, h.next = info.Height, info.Time.Std(), dt
	h.blk, h.blkSigners, h.blkEvidence, h.blkEvents, h.updates = nil, nil, nil, nil, nil
	return events, ups
}

func (h *Harness) commitPending(p *state.Pending) {
	h.t.Helper()
	v, _ := h.st.Head()
	wb := h.db.NewWriteBatchAt(v + 1)
	if err := p.WriteTo(writer{wb}); err != nil {
		h.t.Fatal(err)
	}
	if err := wb.Flush(); err != nil {
		h.t.Fatal(err)
	}
	if err := h.st.Committed(p, v+1); err != nil {
		h.t.Fatal(err)
	}
}

// Read is module's state as the open block sees it (committed state when
// no block is open).
func (h *Harness) Read(module string) chain.KVReader {
	h.t.Helper()
	m, i := h.module(module)
	if h.blk != nil {
		return h.moduleContext(m, h.blk, chain.Address{}, nil).Store(h.cfg.Keys[i])
	}
	version, _ := h.st.Head()
	return &recorder{r: h.st.Reader(version), prefix: []byte(module + "/")}
}

// QueryOpen answers a query over the open block's state and returns the
// module's own result value (no JSON, no proofs: use Query for those).
func (h *Harness) QueryOpen(module, path string, args map[string]string) (any, error) {
	m, _ := h.module(module)
	return m.Query(h.Read(module), path, args)
}

// Context is a context on the open block for module, as sender: for
// calling a module's methods other than Deliver (a bank's Transfer, say).
// Its writes go straight into the open block, with no revert.
func (h *Harness) Context(module string, sender chain.Address) *chain.Context {
	h.t.Helper()
	m, _ := h.module(module)
	return h.moduleContext(m, h.openBlock(), sender, &chain.GasMeter{Limit: math.MaxUint64 / 2})
}

// SetBlockTime sets the time of the open (or next) block. In the direct
// mode it may move within a block, which a real chain never does: tests
// use it to step over expiry times.
func (h *Harness) SetBlockTime(t time.Time) { h.next = t.Sub(h.time) }
