package moduletest

import (
	"fmt"
	"math"
	"time"

	"github.com/dure-network/dure/chain"
	"github.com/dure-network/dure/chain/state"
)

// The direct mode drives modules below the transaction layer, as a module
// author often wants: DeliverAs runs one message for any sender (no keys,
// fees or nonces) in its own revertible branch of the open block, as the
// executor does; Read and QueryOpen see the open block's writes; EndBlock
// runs every module's EndBlock, commits the block to the database and
// advances height and time. Do not mix it with Block in one block.

// prefixed is a module's prefixed, unmetered store on a branch.
type prefixed struct {
	br     *state.Branch
	prefix []byte
}

func (p prefixed) key(k []byte) []byte { return append(append([]byte{}, p.prefix...), k...) }

func (p prefixed) Get(k []byte) ([]byte, error) { return p.br.Get(p.key(k)) }
func (p prefixed) Set(k, v []byte) error        { return p.br.Set(p.key(k), v) }
func (p prefixed) Delete(k []byte) error        { return p.br.Delete(p.key(k)) }
func (p prefixed) Iterate(prefix []byte, fn func(k, v []byte) (bool, error)) error {
	n := len(p.prefix)
	return p.br.Iterate(p.key(prefix), func(k, v []byte) (bool, error) { return fn(k[n:], v) })
}

// branchOpener opens registered keys on one branch.
type branchOpener struct {
	br   *state.Branch
	keys []*chain.StoreKey
}

func (o branchOpener) Open(k *chain.StoreKey) chain.KVStore {
	for _, known := range o.keys {
		if known == k {
			return prefixed{br: o.br, prefix: []byte(k.Name() + "/")}
		}
	}
	panic(fmt.Sprintf("moduletest: store key %q is not in Config.Keys", k.Name()))
}

func (h *Harness) openBlock() *state.Branch {
	if h.blk == nil {
		h.blk = h.st.Branch()
	}
	return h.blk
}

// blockInfo is the open block: the next height, at the current time plus
// the pending Advance.
func (h *Harness) openInfo() chain.BlockInfo {
	return chain.BlockInfo{ChainID: h.cfg.ChainID, Height: h.height + 1, Time: chain.TimeOf(h.time.Add(h.next))}
}

func (h *Harness) isModuleAccount(a chain.Address) bool {
	for _, m := range h.cfg.Modules {
		if mh, ok := m.(chain.ModuleAccountHolder); ok {
			for _, x := range mh.ModuleAccounts() {
				if x == a {
					return true
				}
			}
		}
	}
	return false
}

func (h *Harness) directContext(m chain.Module, br *state.Branch, sender chain.Address, gas *chain.GasMeter) *chain.Context {
	_, owner := m.(chain.ValidatorSetOwner)
	return chain.NewContextFor(chain.ContextParams{Block: h.openInfo(), Sender: sender, Gas: gas,
		Stores: branchOpener{br: br, keys: h.cfg.Keys}, ValidatorUpdates: owner, ModuleAccount: h.isModuleAccount})
}

// DeliverAs runs msg for sender in the open block, with (practically)
// unlimited gas. On error its writes are reverted; on success they stay
// and its events are returned.
func (h *Harness) DeliverAs(sender chain.Address, msg chain.Msg) ([]chain.Event, error) {
	h.t.Helper()
	m, _ := h.module(msg.Module)
	child := h.openBlock().Branch()
	ctx := h.directContext(m, child, sender, &chain.GasMeter{Limit: math.MaxUint64 / 2})
	if err := m.Deliver(ctx, msg); err != nil {
		return nil, err
	}
	if err := child.Write(); err != nil {
		h.t.Fatal(err)
	}
	h.updates = append(h.updates, ctx.ValidatorUpdates()...)
	return ctx.Events(), nil
}

// EndBlock runs every module's EndBlock (chain.EndBlocker) on the open
// block, commits it, and makes the next block dt later. It returns the
// block's EndBlock events and the validator updates of the whole block.
func (h *Harness) EndBlock(dt time.Duration) ([]chain.Event, []chain.ValidatorUpdate) {
	h.t.Helper()
	br := h.openBlock()
	var events []chain.Event
	for _, m := range h.cfg.Modules {
		eb, ok := m.(chain.EndBlocker)
		if !ok {
			continue
		}
		ctx := h.directContext(m, br, chain.Address{}, nil)
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
	info := h.openInfo()
	h.height, h.time, h.next, h.blk = info.Height, info.Time.Std(), dt, nil
	ups := h.updates
	h.updates = nil
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
	h.module(module)
	if h.blk != nil {
		return prefixed{br: h.blk, prefix: []byte(module + "/")}
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
	return h.directContext(m, h.openBlock(), sender, &chain.GasMeter{Limit: math.MaxUint64 / 2})
}

// SetBlockTime sets the time of the open (or next) block. In the direct
// mode it may move within a block, which a real chain never does: tests
// use it to step over expiry times.
func (h *Harness) SetBlockTime(t time.Time) { h.next = t.Sub(h.time) }
