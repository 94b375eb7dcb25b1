package chain

import (
	"encoding/json"
	"errors"
	"fmt"
)

// KVReader reads a module's state. Get returns nil, nil for an absent key.
type KVReader interface {
	Get(key []byte) ([]byte, error)
	// Iterate visits keys with the prefix in ascending byte order until fn
	// returns stop=true or an error.
	Iterate(prefix []byte, fn func(key, value []byte) (stop bool, err error)) error
}

// KVStore is the read-write view of state a module sees during execution:
// only its own keys, metered for gas.
type KVStore interface {
	KVReader
	Set(key, value []byte) error
	Delete(key []byte) error
}

// KVWriter receives the writes of one committed block (the store's batch).
type KVWriter interface {
	Set(key, value []byte) error
	Delete(key []byte) error
}

// StoreKey is a module's capability to its own state: the node creates one
// per module and hands it to that module's constructor and to the executor.
// Another module can reach the state only through an interface the owner
// exposes (for example currency's Bank), never by naming the prefix.
type StoreKey struct{ name string }

// NewStoreKey makes the key for the module with this name.
func NewStoreKey(name string) *StoreKey { return &StoreKey{name: name} }

// Name is the module name, which is also its state prefix.
func (k *StoreKey) Name() string { return k.name }

// StoreOpener resolves a store key to a (prefixed, metered) store. The
// executor implements it; modules reach it only through Context.
type StoreOpener interface {
	Open(key *StoreKey) KVStore
}

// GasMeter counts gas and fails once the limit is passed.
type GasMeter struct {
	Limit uint64
	Used  uint64
}

// Gas schedule: what reads, writes and bytes cost. Part of consensus: change
// only with a chain upgrade.
const (
	GasPerTx        = 1000
	GasPerTxByte    = 10
	GasPerRead      = 10
	GasPerReadByte  = 1
	GasPerWrite     = 100
	GasPerWriteByte = 5
	GasPerIterStep  = 10
	GasPerEvent     = 20
)

// Consume adds n gas and returns ErrOutOfGas past the limit.
func (g *GasMeter) Consume(n uint64, what string) error {
	if g == nil {
		return nil
	}
	if g.Used+n < g.Used || g.Used+n > g.Limit {
		g.Used = g.Limit
		return fmt.Errorf("%w: %s (limit %d)", ErrOutOfGas, what, g.Limit)
	}
	g.Used += n
	return nil
}

// BlockInfo is what execution may know about the block: never the wall clock.
type BlockInfo struct {
	ChainID  string
	Height   uint64
	Time     Time // block time, from the header
	Proposer Address
	// LastCommitSigners are the validators whose precommits are in the
	// block's LastCommit (liveness tracking); Evidence is the block's
	// verified evidence of equivocation. Both are empty outside blocks.
	LastCommitSigners []Address
	Evidence          []Evidence
}

// Context is handed to a module for one message, genesis, BeginBlock or
// EndBlock. It carries no I/O beyond the stores the module holds keys to.
type Context struct {
	Block  BlockInfo
	Sender Address // zero outside transactions
	Gas    *GasMeter

	stores     StoreOpener
	events     []Event
	updates    []ValidatorUpdate
	mayUpdate  bool
	moduleAcct func(Address) bool
}

// NewContext makes a context that may schedule validator updates and knows
// no module accounts: for tests and tools that drive one module by hand.
// The executor builds its contexts with NewContextFor.
func NewContext(b BlockInfo, sender Address, gas *GasMeter, stores StoreOpener) *Context {
	return &Context{Block: b, Sender: sender, Gas: gas, stores: stores, mayUpdate: true}
}

// ContextParams are what the executor puts in a context.
type ContextParams struct {
	Block  BlockInfo
	Sender Address
	Gas    *GasMeter
	Stores StoreOpener
	// ValidatorUpdates is set only for the module holding the
	// ValidatorSetOwner capability: UpdateValidator fails for any other.
	ValidatorUpdates bool
	// ModuleAccount reports the accounts modules declared through
	// ModuleAccountHolder; nil knows none.
	ModuleAccount func(Address) bool
}

// NewContextFor builds a context from p.
func NewContextFor(p ContextParams) *Context {
	return &Context{Block: p.Block, Sender: p.Sender, Gas: p.Gas, stores: p.Stores,
		mayUpdate: p.ValidatorUpdates, moduleAcct: p.ModuleAccount}
}

// Store opens the state of the module holding key.
func (c *Context) Store(key *StoreKey) KVStore { return c.stores.Open(key) }

// Emit records an event; it is part of the tx results.
func (c *Context) Emit(typ string, attrs ...Attr) error {
	if err := c.Gas.Consume(GasPerEvent, "event"); err != nil {
		return err
	}
	c.events = append(c.events, Event{Type: typ, Attrs: attrs})
	return nil
}

// Events returns what was emitted.
func (c *Context) Events() []Event { return c.events }

// ErrNoValidatorCapability is returned by UpdateValidator in a context
// given to a module that does not hold the ValidatorSetOwner capability.
var ErrNoValidatorCapability = fmt.Errorf("%w: only the module owning the validator set updates it", ErrUnauthorized)

// UpdateValidator schedules a validator power change (0 removes). Only the
// module implementing ValidatorSetOwner (staking) may: in any other
// module's context the update is dropped and ErrNoValidatorCapability
// returned. The executor returns the updates to consensus.
func (c *Context) UpdateValidator(u ValidatorUpdate) error {
	if !c.mayUpdate {
		return ErrNoValidatorCapability
	}
	c.updates = append(c.updates, u)
	return nil
}

// ValidatorUpdates returns the scheduled updates.
func (c *Context) ValidatorUpdates() []ValidatorUpdate { return c.updates }

// IsModuleAccount reports whether a is an account some module declared
// (ModuleAccountHolder): no key holds it, only module code moves its funds,
// and holding rules such as caps and transfer policies do not apply to it.
func (c *Context) IsModuleAccount(a Address) bool {
	return c != nil && c.moduleAcct != nil && c.moduleAcct(a)
}

// Module is an application state machine plugged into the executor. A
// module sees only its own state (through the key given at construction),
// the context and the message. Execution must be deterministic: no maps
// iterated, no floats, no clock, no goroutines, no I/O.
//
// Everything beyond these four methods is an optional capability, a small
// interface the executor and node look for on the module value:
// BeginBlocker, EndBlocker, GenesisExporter, ModuleAccountHolder,
// ValidatorSetOwner, FeeCharger, AccountReporter and Describer.
type Module interface {
	// Name is the routing name of messages ("currency") and the state prefix.
	Name() string
	// InitGenesis loads the module's section of genesis.json (nil when the
	// genesis has none).
	InitGenesis(ctx *Context, state json.RawMessage) error
	// Deliver executes one message. An error reverts the tx's writes (the
	// fee and nonce stay charged) and becomes the tx result's log.
	Deliver(ctx *Context, msg Msg) error
	// Query answers a read-only question about committed state; the result
	// is JSON for the API.
	Query(store KVReader, path string, args map[string]string) (any, error)
}

// BeginBlocker runs before a block's first transaction, unmetered, with
// ctx.Block carrying the last commit's signers and the block's verified
// evidence (staking: liveness and slashing). Its events lead the block's
// events.
type BeginBlocker interface {
	BeginBlock(ctx *Context) error
}

// EndBlocker runs after a block's last transaction, unmetered, in module
// order.
type EndBlocker interface {
	EndBlock(ctx *Context) error
}

// GenesisExporter writes the module's genesis section from its committed
// state (r is the module's own prefix). InitGenesis of the exported section
// on an empty state must give back exactly the same keys and values, so a
// chain restarted from an export has the same state root.
type GenesisExporter interface {
	ExportGenesis(r KVReader) (json.RawMessage, error)
}

// ModuleAccountHolder declares accounts the module owns (pools, escrows):
// addresses no key hashes to. Every context then reports them through
// Context.IsModuleAccount, so the module holding balances can exempt them
// from holding caps and transfer policies without naming the owner.
type ModuleAccountHolder interface {
	ModuleAccounts() []Address
}

// ValidatorSetOwner is the capability to change the consensus validator
// set; at most one module of a chain holds it (staking). Only its contexts
// accept UpdateValidator. GenesisValidators is the set its genesis section
// gives, which must equal genesis.json's validators.
type ValidatorSetOwner interface {
	GenesisValidators(section json.RawMessage) ([]Validator, error)
}

// AccountReporter answers what an account holds, for the API's account
// endpoint (the module holding balances: currency). The result must be
// computed only from r, so clients can recompute it over proven values.
type AccountReporter interface {
	AccountBalances(r KVReader, a Address) (any, error)
}

// FeeCharger takes the fee from a payer before messages run. The module
// holding the native token implements it.
type FeeCharger interface {
	ChargeFee(ctx *Context, payer Address, amount uint64) error
}

// FeeFunds is the fee charger's read-only side: how much payer could pay
// in fees at a committed state, without a block. The mempool refuses a tx
// whose whole max fee (it is charged in full) exceeds it, so a tx that can
// never be included is not accepted only to be evicted.
type FeeFunds interface {
	FeeFunds(r KVReader, payer Address) (uint64, error)
}

// ErrNotFound is returned by queries for absent objects.
var ErrNotFound = errors.New("not found")

// Codes for TxResult.Code; 0 is success.
const (
	CodeOK           uint32 = 0
	CodeInternal     uint32 = 1
	CodeOutOfGas     uint32 = 2
	CodeInsufficent  uint32 = 3
	CodeUnknownMsg   uint32 = 4
	CodeInvalidMsg   uint32 = 5
	CodeUnauthorized uint32 = 6
)

// ResultCode maps a Deliver error to a stable result code.
func ResultCode(err error) uint32 {
	switch {
	case err == nil:
		return CodeOK
	case errors.Is(err, ErrOutOfGas):
		return CodeOutOfGas
	case errors.Is(err, ErrInsufficient):
		return CodeInsufficent
	case errors.Is(err, ErrUnknownMsg):
		return CodeUnknownMsg
	case errors.Is(err, ErrUnauthorized):
		return CodeUnauthorized
	case errors.Is(err, ErrInvalidMsg):
		return CodeInvalidMsg
	}
	return CodeInternal
}
