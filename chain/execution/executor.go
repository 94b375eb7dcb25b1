package execution

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"

	"github.com/dure-network/dure/chain"
	"github.com/dure-network/dure/chain/state"
)

// AuthPrefix is the executor's reserved store. Its layout:
//
//	"auth/n/" + 20-byte address → next nonce, 8 bytes big-endian
//
// An absent record means next nonce 0.
const AuthPrefix = "auth/"

const (
	authName    = "auth"
	noncePrefix = AuthPrefix + "n/"
)

// ErrInvalidBlockTx is wrapped by ExecuteBlock when a block holds a
// transaction that may never be included (bad signature, wrong chain, bad
// nonce, fee below the minimum or unpayable): the whole block is invalid.
var ErrInvalidBlockTx = errors.New("execution: invalid transaction in block")

// ErrConfig is wrapped by New for an unusable configuration.
var ErrConfig = errors.New("execution: bad config")

// ModuleEntry pairs a module with the store key it was built with.
type ModuleEntry struct {
	Module chain.Module
	Key    *chain.StoreKey
}

// Config is everything the executor depends on.
type Config struct {
	Codec   *chain.Codec
	ChainID string
	// Modules run InitGenesis and EndBlock in this order.
	Modules []ModuleEntry
	// Fees takes each transaction's MaxFee from its sender.
	Fees   chain.FeeCharger
	MinFee uint64
	// GasPerFeeUnit sets a transaction's gas limit: MaxFee × GasPerFeeUnit.
	GasPerFeeUnit uint64
	// Verified reports transactions whose signature the mempool already
	// checked; nil means verify all.
	Verified func(chain.ID) bool
}

// Executor applies blocks to state. It keeps nothing mutable, so it may
// execute several candidate blocks in turn; running two at once is as safe
// as the modules are.
type Executor struct {
	cfg     Config
	modules []ModuleEntry
	byName  map[string]chain.Module    // routing lookup only, never iterated
	keys    map[*chain.StoreKey][]byte // registered keys and their prefixes
	// Capabilities found on the module values, in module order.
	begin   []chain.Module // chain.BeginBlocker
	end     []chain.Module // chain.EndBlocker
	valSet  string         // the chain.ValidatorSetOwner's name, or ""
	modAcct map[chain.Address]bool
}

// New checks cfg and builds an executor.
func New(cfg Config) (*Executor, error) {
	switch {
	case cfg.Codec == nil:
		return nil, fmt.Errorf("%w: nil codec", ErrConfig)
	case cfg.ChainID == "" || len(cfg.ChainID) > chain.MaxChainIDLen:
		return nil, fmt.Errorf("%w: chain id %q", ErrConfig, cfg.ChainID)
	case cfg.Fees == nil:
		return nil, fmt.Errorf("%w: nil fee charger", ErrConfig)
	case cfg.GasPerFeeUnit == 0:
		return nil, fmt.Errorf("%w: GasPerFeeUnit is 0", ErrConfig)
	}
	e := &Executor{
		cfg:     cfg,
		modules: append([]ModuleEntry(nil), cfg.Modules...),
		byName:  make(map[string]chain.Module),
		keys:    make(map[*chain.StoreKey][]byte),
		modAcct: make(map[chain.Address]bool),
	}
	for i, m := range e.modules {
		if m.Module == nil || m.Key == nil {
			return nil, fmt.Errorf("%w: module %d has no module or key", ErrConfig, i)
		}
		name := m.Module.Name()
		switch {
		case name == "" || len(name) > chain.MaxNameLen:
			return nil, fmt.Errorf("%w: module %d: bad name %q", ErrConfig, i, name)
		case name == authName:
			return nil, fmt.Errorf("%w: module name %q is reserved", ErrConfig, name)
		case m.Key.Name() != name:
			return nil, fmt.Errorf("%w: module %q has store key %q", ErrConfig, name, m.Key.Name())
		case e.byName[name] != nil:
			return nil, fmt.Errorf("%w: module %q listed twice", ErrConfig, name)
		}
		for j := range name {
			if name[j] == '/' {
				return nil, fmt.Errorf("%w: module name %q contains '/'", ErrConfig, name)
			}
		}
		e.byName[name] = m.Module
		e.keys[m.Key] = []byte(name + "/")
		if _, ok := m.Module.(chain.BeginBlocker); ok {
			e.begin = append(e.begin, m.Module)
		}
		if _, ok := m.Module.(chain.EndBlocker); ok {
			e.end = append(e.end, m.Module)
		}
		if _, ok := m.Module.(chain.ValidatorSetOwner); ok {
			if e.valSet != "" {
				return nil, fmt.Errorf("%w: modules %q and %q both own the validator set", ErrConfig, e.valSet, name)
			}
			e.valSet = name
		}
		if h, ok := m.Module.(chain.ModuleAccountHolder); ok {
			for _, a := range h.ModuleAccounts() {
				e.modAcct[a] = true
			}
		}
	}
	return e, nil
}

// context builds the context module name runs in: only the validator-set
// owner's may schedule validator updates.
func (e *Executor) context(name string, info chain.BlockInfo, sender chain.Address, gas *chain.GasMeter, o *opener) *chain.Context {
	return chain.NewContextFor(chain.ContextParams{Block: info, Sender: sender, Gas: gas, Stores: o,
		ValidatorUpdates: name != "" && name == e.valSet, ModuleAccount: e.isModuleAccount})
}

func (e *Executor) isModuleAccount(a chain.Address) bool { return e.modAcct[a] }

// ModuleContext is the context the executor gives module name on br: the
// module's prefixed stores metered by gas (nil charges nothing), the
// validator-update capability only for the chain.ValidatorSetOwner, and
// every declared module account. It is for harnesses that drive modules
// below the transaction layer (chain/moduletest's direct mode) exactly as
// ExecuteBlock would.
func (e *Executor) ModuleContext(name string, info chain.BlockInfo, sender chain.Address, br *state.Branch, gas *chain.GasMeter) *chain.Context {
	return e.context(name, info, sender, gas, e.opener(br, gas))
}

// Outcome is the result of executing a block (or genesis) on a branch of
// the committed state. Pending is what the store commits if consensus
// decides the block.
type Outcome struct {
	StateRoot        chain.Hash
	Results          []chain.TxResult
	ResultsRoot      chain.Hash
	ValidatorUpdates []chain.ValidatorUpdate
	EndBlockEvents   []chain.Event
	Pending          *state.Pending
}

// Nonce returns the next nonce of addr from any reader of the full state
// (state.Reader, a Branch).
func Nonce(r chain.KVReader, addr chain.Address) (uint64, error) {
	v, err := r.Get(nonceKey(addr))
	if err != nil {
		return 0, fmt.Errorf("read nonce of %s: %w", addr, err)
	}
	return decodeNonce(v)
}

func nonceKey(addr chain.Address) []byte {
	k := make([]byte, 0, len(noncePrefix)+chain.AddressLen)
	return append(append(k, noncePrefix...), addr[:]...)
}

func decodeNonce(v []byte) (uint64, error) {
	switch len(v) {
	case 0:
		return 0, nil
	case 8:
		return binary.BigEndian.Uint64(v), nil
	}
	return 0, fmt.Errorf("execution: corrupt nonce record of %d bytes", len(v))
}

// InitGenesis runs every module's InitGenesis, in the configured order, on
// a branch of st and stages the result; the caller commits it like a block.
// Every section of appState must belong to a module.
func (e *Executor) InitGenesis(st *state.State, info chain.BlockInfo, appState map[string]json.RawMessage) (*Outcome, error) {
	names := make([]string, 0, len(appState))
	for name := range appState {
		names = append(names, name)
	}
	sort.Strings(names) // report the first unknown section deterministically
	for _, name := range names {
		if e.byName[name] == nil && name != authName {
			return nil, fmt.Errorf("genesis: app state section %q has no module", name)
		}
	}
	br := st.Branch()
	if raw, ok := appState[authName]; ok {
		if err := initAuth(br, raw); err != nil {
			return nil, fmt.Errorf("genesis: app state section %q: %w", authName, err)
		}
	}
	o := e.opener(br, nil)
	out := &Outcome{}
	for _, m := range e.modules {
		name := m.Module.Name()
		ctx := e.context(name, info, chain.Address{}, nil, o)
		if err := m.Module.InitGenesis(ctx, appState[name]); err != nil {
			return nil, fmt.Errorf("genesis: module %s: %w", name, err)
		}
		out.collect(ctx)
	}
	return e.finish(st, br, out)
}

// AuthGenesis is the executor's own genesis section, app_state.auth: the
// next nonce of every account that has sent a transaction. Only exported
// chains carry it, so their accounts cannot replay old transactions.
type AuthGenesis struct {
	Nonces []AuthNonce `json:"nonces"`
}

// AuthNonce is one account's next nonce.
type AuthNonce struct {
	Address chain.Address `json:"address"`
	Nonce   uint64        `json:"nonce"`
}

// ErrNoExport is wrapped by ExportGenesis when a module lacks the
// chain.GenesisExporter capability.
var ErrNoExport = errors.New("execution: module cannot export genesis")

func initAuth(br *state.Branch, raw json.RawMessage) error {
	var g AuthGenesis
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&g); err != nil {
		return err
	}
	seen := make(map[chain.Address]bool, len(g.Nonces))
	for i, n := range g.Nonces {
		if n.Nonce == 0 || seen[n.Address] {
			return fmt.Errorf("nonces[%d] %s: want one positive nonce per address", i, n.Address)
		}
		seen[n.Address] = true
		var nb [8]byte
		binary.BigEndian.PutUint64(nb[:], n.Nonce)
		if err := br.Set(nonceKey(n.Address), nb[:]); err != nil {
			return err
		}
	}
	return nil
}

// ExportGenesis writes the app_state of a genesis that re-creates the
// state r reads (a full-state reader at one height): every module's
// section from its chain.GenesisExporter, and the executor's "auth"
// section of nonces. InitGenesis of the result on an empty state gives the
// same state root.
func (e *Executor) ExportGenesis(r chain.KVReader) (map[string]json.RawMessage, error) {
	out := make(map[string]json.RawMessage, len(e.modules)+1)
	for _, m := range e.modules {
		name := m.Module.Name()
		ex, ok := m.Module.(chain.GenesisExporter)
		if !ok {
			return nil, fmt.Errorf("%w: %s", ErrNoExport, name)
		}
		raw, err := ex.ExportGenesis(prefixReader{r: r, prefix: []byte(name + "/")})
		if err != nil {
			return nil, fmt.Errorf("export genesis of %s: %w", name, err)
		}
		out[name] = raw
	}
	var g AuthGenesis
	err := r.Iterate([]byte(noncePrefix), func(k, v []byte) (bool, error) {
		if len(k) != len(noncePrefix)+chain.AddressLen {
			return true, fmt.Errorf("execution: corrupt nonce key %x", k)
		}
		n, err := decodeNonce(v)
		if err != nil {
			return true, err
		}
		var a chain.Address
		copy(a[:], k[len(noncePrefix):])
		g.Nonces = append(g.Nonces, AuthNonce{Address: a, Nonce: n})
		return false, nil
	})
	if err != nil {
		return nil, fmt.Errorf("export nonces: %w", err)
	}
	if len(g.Nonces) > 0 {
		raw, err := json.Marshal(g)
		if err != nil {
			return nil, err
		}
		out[authName] = raw
	}
	return out, nil
}

// prefixReader is a module's read-only view of a full-state reader.
type prefixReader struct {
	r      chain.KVReader
	prefix []byte
}

func (p prefixReader) full(k []byte) []byte { return append(append([]byte{}, p.prefix...), k...) }

func (p prefixReader) Get(k []byte) ([]byte, error) { return p.r.Get(p.full(k)) }

func (p prefixReader) Iterate(prefix []byte, fn func(k, v []byte) (bool, error)) error {
	n := len(p.prefix)
	return p.r.Iterate(p.full(prefix), func(k, v []byte) (bool, error) { return fn(k[n:], v) })
}

// ExecuteBlock runs a block's transactions and EndBlock on a branch of st.
// A block holding an invalid transaction is rejected with an error wrapping
// ErrInvalidBlockTx that names the transaction.
func (e *Executor) ExecuteBlock(st *state.State, info chain.BlockInfo, txs []*chain.DecodedTx) (*Outcome, error) {
	br, out, err := e.run(st, info, txs)
	if err != nil {
		return nil, err
	}
	return e.finish(st, br, out)
}

// run is ExecuteBlock without staging.
func (e *Executor) run(st *state.State, info chain.BlockInfo, txs []*chain.DecodedTx) (*state.Branch, *Outcome, error) {
	if info.ChainID != e.cfg.ChainID {
		return nil, nil, fmt.Errorf("execute block %d: block chain id %q, executor %q", info.Height, info.ChainID, e.cfg.ChainID)
	}
	sigOK := e.verifySignatures(txs)
	br := st.Branch()
	br.Reserve(reserveFor(len(txs)))
	out := &Outcome{Results: make([]chain.TxResult, 0, len(txs))}
	if err := e.beginBlock(br, info, out); err != nil {
		return nil, nil, fmt.Errorf("execute block %d: %w", info.Height, err)
	}
	for i, tx := range txs {
		res, invalid, err := e.deliverTx(br, info, tx, sigOK[i], out)
		if err != nil {
			return nil, nil, fmt.Errorf("execute block %d: tx %d: %w", info.Height, i, err)
		}
		if invalid != nil {
			return nil, nil, fmt.Errorf("%w: block %d tx %d (%s): %w", ErrInvalidBlockTx, info.Height, i, txID(tx), invalid)
		}
		out.Results = append(out.Results, res)
	}
	if err := e.endBlock(br, info, out); err != nil {
		return nil, nil, fmt.Errorf("execute block %d: %w", info.Height, err)
	}
	return br, out, nil
}

// PrepareBlock is ExecuteBlock for the proposer: it takes candidates in
// order, silently drops those that would make the block invalid, stops at
// maxTxs (at most chain.MaxTxsPerBlock; 0 or less means that maximum), and
// returns the included transactions with the outcome of exactly that block,
// all in one pass.
func (e *Executor) PrepareBlock(st *state.State, info chain.BlockInfo, candidates []*chain.DecodedTx, maxTxs int) ([]*chain.DecodedTx, *Outcome, error) {
	return e.PrepareBlockUntil(st, info, candidates, maxTxs, nil)
}

// stopEvery is how many candidates PrepareBlockUntil takes between two
// calls of its stop function.
const stopEvery = 32

// PrepareBlockUntil is PrepareBlock that also stops taking candidates once
// stop (if not nil) returns true; it is asked every stopEvery candidates.
// It is the proposer's own limit (the node's is a deadline, so a block is
// proposed in time on a loaded machine): the block holds exactly the
// transactions executed, so what validators execute does not depend on it.
func (e *Executor) PrepareBlockUntil(st *state.State, info chain.BlockInfo, candidates []*chain.DecodedTx, maxTxs int, stop func() bool) ([]*chain.DecodedTx, *Outcome, error) {
	if info.ChainID != e.cfg.ChainID {
		return nil, nil, fmt.Errorf("prepare block %d: block chain id %q, executor %q", info.Height, info.ChainID, e.cfg.ChainID)
	}
	if maxTxs <= 0 || maxTxs > chain.MaxTxsPerBlock {
		maxTxs = chain.MaxTxsPerBlock
	}
	sigOK := e.verifySignatures(candidates)
	br := st.Branch()
	br.Reserve(reserveFor(min(len(candidates), maxTxs)))
	out := &Outcome{Results: make([]chain.TxResult, 0, min(len(candidates), maxTxs))}
	if err := e.beginBlock(br, info, out); err != nil {
		return nil, nil, fmt.Errorf("prepare block %d: %w", info.Height, err)
	}
	var included []*chain.DecodedTx
	for i, tx := range candidates {
		if len(included) == maxTxs {
			break
		}
		if stop != nil && i > 0 && i%stopEvery == 0 && stop() {
			break
		}
		res, invalid, err := e.deliverTx(br, info, tx, sigOK[i], out)
		if err != nil {
			return nil, nil, fmt.Errorf("prepare block %d: candidate %d: %w", info.Height, i, err)
		}
		if invalid != nil {
			continue // deliverTx wrote nothing for it
		}
		included = append(included, tx)
		out.Results = append(out.Results, res)
	}
	if err := e.endBlock(br, info, out); err != nil {
		return nil, nil, fmt.Errorf("prepare block %d: %w", info.Height, err)
	}
	out, err := e.finish(st, br, out)
	if err != nil {
		return nil, nil, err
	}
	return included, out, nil
}

// reserveFor is how many keys a block of n transactions is sized for: a
// transfer reads and writes about two (nonce, balances; the fee
// collector's balance is shared).
func reserveFor(n int) int { return 2 * n }

func txID(tx *chain.DecodedTx) chain.ID {
	if tx == nil {
		return ""
	}
	return tx.ID
}

func (e *Executor) opener(br *state.Branch, gas *chain.GasMeter) *opener {
	return &opener{br: br, gas: gas, keys: e.keys}
}

// deliverTx runs one transaction on br. invalid is set (and br untouched)
// when the transaction may not be in a block; err is an internal failure
// (state read error) that stops the block. Otherwise the fee and nonce are
// taken and the messages' writes are kept only if all succeed.
func (e *Executor) deliverTx(br *state.Branch, info chain.BlockInfo, dtx *chain.DecodedTx, sigOK bool, out *Outcome) (res chain.TxResult, invalid, err error) {
	if dtx == nil || dtx.Tx == nil {
		return res, fmt.Errorf("%w: nil transaction", chain.ErrTxMalformed), nil
	}
	tx := dtx.Tx
	if err := tx.ValidateBasic(); err != nil {
		return res, err, nil
	}
	if !sigOK {
		return res, chain.ErrBadSignature, nil
	}
	if tx.ChainID != e.cfg.ChainID {
		return res, fmt.Errorf("%w: %q, want %q", chain.ErrWrongChain, tx.ChainID, e.cfg.ChainID), nil
	}
	sender := tx.Sender()
	nk := nonceKey(sender) // read here, written below
	v, err := br.Get(nk)
	if err != nil {
		return res, nil, fmt.Errorf("read nonce of %s: %w", sender, err)
	}
	next, err := decodeNonce(v)
	if err != nil {
		return res, nil, err
	}
	switch {
	case tx.Nonce < next:
		return res, fmt.Errorf("%w: %d, next is %d", chain.ErrNonceTooLow, tx.Nonce, next), nil
	case tx.Nonce > next:
		return res, fmt.Errorf("%w: %d, next is %d", chain.ErrNonceTooHigh, tx.Nonce, next), nil
	case tx.MaxFee < e.cfg.MinFee:
		return res, fmt.Errorf("%w: %d, minimum %d", chain.ErrFeeTooLow, tx.MaxFee, e.cfg.MinFee), nil
	}

	// Fee and nonce go on their own child so an unpayable fee leaves no trace.
	feeBr := br.Branch()
	feeCtx := e.context("", info, sender, nil, e.opener(feeBr, nil))
	if err := e.cfg.Fees.ChargeFee(feeCtx, sender, tx.MaxFee); err != nil {
		return res, fmt.Errorf("charge fee %d: %w", tx.MaxFee, err), nil
	}
	var nb [8]byte
	binary.BigEndian.PutUint64(nb[:], next+1)
	if err := feeBr.Set(nk, nb[:]); err != nil {
		return res, nil, err
	}
	if err := feeBr.Write(); err != nil {
		return res, nil, err
	}
	res.Events = append(res.Events, feeCtx.Events()...)

	limit := tx.MaxFee * e.cfg.GasPerFeeUnit
	if tx.MaxFee != 0 && limit/tx.MaxFee != e.cfg.GasPerFeeUnit {
		limit = math.MaxUint64
	}
	gas := &chain.GasMeter{Limit: limit}
	msgBr := br.Branch()
	o := e.opener(msgBr, gas)
	var events []chain.Event
	var updates []chain.ValidatorUpdate
	err = gas.Consume(chain.GasPerTx+chain.GasPerTxByte*uint64(len(dtx.Raw)), "tx size")
	for i := 0; err == nil && i < len(tx.Msgs); i++ {
		ctx := e.context(tx.Msgs[i].Module, info, sender, gas, o)
		err = e.deliverMsg(ctx, tx.Msgs[i])
		if err != nil {
			err = fmt.Errorf("message %d (%s/%s): %w", i, tx.Msgs[i].Module, tx.Msgs[i].Type, err)
		}
		if events == nil {
			events = ctx.Events() // the context is not used again
		} else {
			events = append(events, ctx.Events()...)
		}
		updates = append(updates, ctx.ValidatorUpdates()...)
	}
	res.GasUsed = gas.Used
	if err != nil {
		// msgBr is dropped: the messages' writes are reverted, fee and
		// nonce stay.
		res.Code, res.Log = chain.ResultCode(err), err.Error()
		return res, nil, nil
	}
	if err := msgBr.Write(); err != nil {
		return res, nil, err
	}
	if res.Events == nil && len(events) > 0 {
		res.Events = events // what the append below would copy
	} else {
		res.Events = append(res.Events, events...)
	}
	out.ValidatorUpdates = append(out.ValidatorUpdates, updates...)
	return res, nil, nil
}

// deliverMsg routes one message. A panicking module fails the transaction
// rather than the node: the panic is deterministic, so every node turns it
// into the same result.
func (e *Executor) deliverMsg(ctx *chain.Context, msg chain.Msg) (err error) {
	m := e.byName[msg.Module]
	if m == nil {
		return fmt.Errorf("%w: module %q", chain.ErrUnknownMsg, msg.Module)
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("module %s panicked: %v", msg.Module, r)
		}
	}()
	return m.Deliver(ctx, msg)
}

// beginBlock runs every chain.BeginBlocker in module order, unmetered, on
// the block branch.
func (e *Executor) beginBlock(br *state.Branch, info chain.BlockInfo, out *Outcome) error {
	o := e.opener(br, nil)
	for _, m := range e.begin {
		ctx := e.context(m.Name(), info, chain.Address{}, nil, o)
		if err := m.(chain.BeginBlocker).BeginBlock(ctx); err != nil {
			return fmt.Errorf("begin block of %s: %w", m.Name(), err)
		}
		out.collect(ctx)
	}
	return nil
}

// endBlock runs every chain.EndBlocker in module order, unmetered,
// directly on the block branch.
func (e *Executor) endBlock(br *state.Branch, info chain.BlockInfo, out *Outcome) error {
	o := e.opener(br, nil)
	for _, m := range e.end {
		ctx := e.context(m.Name(), info, chain.Address{}, nil, o)
		if err := m.(chain.EndBlocker).EndBlock(ctx); err != nil {
			return fmt.Errorf("end block of %s: %w", m.Name(), err)
		}
		out.collect(ctx)
	}
	return nil
}

// collect appends a block-level context's events and validator updates.
func (out *Outcome) collect(ctx *chain.Context) {
	out.EndBlockEvents = append(out.EndBlockEvents, ctx.Events()...)
	out.ValidatorUpdates = append(out.ValidatorUpdates, ctx.ValidatorUpdates()...)
}

func (e *Executor) finish(st *state.State, br *state.Branch, out *Outcome) (*Outcome, error) {
	p, err := st.Stage(br)
	if err != nil {
		return nil, fmt.Errorf("stage state: %w", err)
	}
	if out.Results == nil {
		out.Results = []chain.TxResult{}
	}
	out.Pending = p
	out.StateRoot = p.Root()
	out.ResultsRoot = chain.ResultsRoot(e.cfg.Codec, out.Results)
	return out, nil
}
