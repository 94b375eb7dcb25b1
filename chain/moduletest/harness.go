package moduletest

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/dure-network/dure/chain"
	"github.com/dure-network/dure/chain/execution"
	"github.com/dure-network/dure/chain/state"
)

// DefaultChainID is the chain of a harness whose Config names none.
const DefaultChainID = "moduletest-1"

// Config sets up a harness. Modules and Keys pair up by index: Keys[i] is
// the store key Modules[i] was built with.
type Config struct {
	ChainID string
	Modules []chain.Module
	Keys    []*chain.StoreKey
	// Fees charges fees; nil makes transactions free (MinFee 0). When one
	// of Modules is the fee charger, pass it here too.
	Fees chain.FeeCharger
	// MinFee is the chain's minimum fee (with Fees set).
	MinFee uint64
	// Fee is what Deliver's transactions offer; zero means MinFee, or 100
	// when that is 0 too. The gas limit is Fee × GasPerFeeUnit.
	Fee uint64
	// GasPerFeeUnit defaults to 1000.
	GasPerFeeUnit uint64
	// Genesis holds the modules' genesis sections by module name.
	Genesis map[string]json.RawMessage
	// GenesisTime is block 0's time; the zero value is 2026-01-01 UTC.
	GenesisTime time.Time
	// BlockInterval is the time between blocks; zero means one second.
	BlockInterval time.Duration
	// NumKeys is how many deterministic keys Key hands out (default 8).
	NumKeys int
}

// Harness runs modules block by block. Not safe for concurrent use.
type Harness struct {
	t      testing.TB
	cfg    Config
	codec  *chain.Codec
	db     *badger.DB
	st     *state.State
	ex     *execution.Executor
	keys   []chain.PrivKey
	nonces map[chain.Address]uint64
	height uint64
	time   time.Time
	next   time.Duration // added to the next block's time once
	// The direct mode's open block: its state, inputs, BeginBlock events,
	// the validator updates so far, and the latest DeliverAs's gas.
	blk         *state.Branch
	blkSigners  []chain.Address
	blkEvidence []chain.Evidence
	blkEvents   []chain.Event
	updates     []chain.ValidatorUpdate
	gasUsed     uint64
	// sets[i] is the validator set signing height i (index 0 unused),
	// known up to height+2; nil without a chain.ValidatorSetOwner.
	sets []*chain.ValidatorSet
	// Last is the outcome of the latest block (or genesis).
	Last *execution.Outcome
}

// freeFees charges nothing: modules under test need not hold a bank.
type freeFees struct{}

func (freeFees) ChargeFee(*chain.Context, chain.Address, uint64) error { return nil }

// New opens a fresh database, runs genesis and commits it as version 1.
// A genesis the modules refuse fails the test.
func New(t testing.TB, cfg Config) *Harness {
	t.Helper()
	h, err := TryNew(t, cfg)
	if err != nil {
		t.Fatalf("genesis: %v", err)
	}
	return h
}

// TryNew is New returning the genesis error instead.
func TryNew(t testing.TB, cfg Config) (*Harness, error) {
	t.Helper()
	if cfg.ChainID == "" {
		cfg.ChainID = DefaultChainID
	}
	if cfg.GenesisTime.IsZero() {
		cfg.GenesisTime = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	if cfg.BlockInterval == 0 {
		cfg.BlockInterval = time.Second
	}
	if cfg.NumKeys == 0 {
		cfg.NumKeys = 8
	}
	if cfg.Fee == 0 {
		cfg.Fee = max(cfg.MinFee, 100)
	}
	if cfg.GasPerFeeUnit == 0 {
		cfg.GasPerFeeUnit = 1000
	}
	h := &Harness{t: t, cfg: cfg, codec: chain.MustCodec(), nonces: map[chain.Address]uint64{}, time: cfg.GenesisTime}
	for i := 0; i < cfg.NumKeys; i++ {
		h.keys = append(h.keys, KeyFromIndex(i))
	}
	if err := h.open(cfg.Genesis); err != nil {
		return nil, err
	}
	return h, nil
}

// KeyFromIndex is the deterministic test key number i.
func KeyFromIndex(i int) chain.PrivKey {
	var seed [chain.SeedLen]byte
	copy(seed[:], "dure/moduletest/")
	binary.BigEndian.PutUint64(seed[chain.SeedLen-8:], uint64(i))
	k, err := chain.PrivKeyFromSeed(seed[:])
	if err != nil {
		panic(err) // a fixed-size seed cannot fail
	}
	return k
}

func (h *Harness) open(gen map[string]json.RawMessage) error {
	h.t.Helper()
	db, err := badger.OpenManaged(badger.DefaultOptions(h.t.TempDir()).WithLogger(nil))
	if err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() { db.Close() })
	// As new chains do (genesis range_proofs), so list answers are proven
	// complete by Query.
	st, err := state.Open(db, 0, chain.Hash{}, state.Options{RangeProofs: true})
	if err != nil {
		h.t.Fatal(err)
	}
	h.db, h.st = db, st
	if len(h.cfg.Modules) != len(h.cfg.Keys) {
		h.t.Fatalf("moduletest: %d modules, %d keys", len(h.cfg.Modules), len(h.cfg.Keys))
	}
	entries := make([]execution.ModuleEntry, len(h.cfg.Modules))
	for i, m := range h.cfg.Modules {
		entries[i] = execution.ModuleEntry{Module: m, Key: h.cfg.Keys[i]}
	}
	fees, minFee := h.cfg.Fees, h.cfg.MinFee
	if fees == nil {
		fees, minFee = freeFees{}, 0
	}
	h.ex, err = execution.New(execution.Config{Codec: h.codec, ChainID: h.cfg.ChainID, Modules: entries,
		Fees: fees, MinFee: minFee, GasPerFeeUnit: h.cfg.GasPerFeeUnit})
	if err != nil {
		h.t.Fatal(err)
	}
	if gen == nil {
		gen = map[string]json.RawMessage{}
	}
	out, err := h.ex.InitGenesis(h.st, h.info(), gen)
	if err != nil {
		return err
	}
	if err := h.genesisValidators(gen, out.ValidatorUpdates); err != nil {
		return err
	}
	h.commit(out)
	return nil
}

// Codec is the chain codec the harness uses.
func (h *Harness) Codec() *chain.Codec { return h.codec }

// Key is deterministic test key i (0 <= i < NumKeys).
func (h *Harness) Key(i int) chain.PrivKey { return h.keys[i] }

// Addr is Key(i)'s address.
func (h *Harness) Addr(i int) chain.Address { return h.keys[i].PubKey().Address() }

// Height is the last committed height (0 after genesis).
func (h *Harness) Height() uint64 { return h.height }

// Time is the last committed block's time.
func (h *Harness) Time() time.Time { return h.time }

// StateRoot is the committed state root.
func (h *Harness) StateRoot() chain.Hash {
	_, root := h.st.Head()
	return root
}

// Advance makes the next block d later than it would otherwise be.
func (h *Harness) Advance(d time.Duration) { h.next += d }

func (h *Harness) info() chain.BlockInfo {
	return chain.BlockInfo{ChainID: h.cfg.ChainID, Height: h.height, Time: chain.TimeOf(h.time)}
}

func (h *Harness) commit(out *execution.Outcome) {
	h.t.Helper()
	v, _ := h.st.Head()
	wb := h.db.NewWriteBatchAt(v + 1)
	if err := out.Pending.WriteTo(writer{wb}); err != nil {
		h.t.Fatal(err)
	}
	if err := wb.Flush(); err != nil {
		h.t.Fatal(err)
	}
	if err := h.st.Committed(out.Pending, v+1); err != nil {
		h.t.Fatal(err)
	}
	h.Last = out
}

type writer struct{ wb *badger.WriteBatch }

func (w writer) Set(k, v []byte) error { return w.wb.Set(bytes.Clone(k), bytes.Clone(v)) }
func (w writer) Delete(k []byte) error { return w.wb.Delete(bytes.Clone(k)) }

// Tx signs msgs from key with its next nonce and fee, and returns it ready
// for Block. The nonce advances only when a block includes the tx.
func (h *Harness) Tx(key chain.PrivKey, fee uint64, msgs ...chain.Msg) *chain.DecodedTx {
	h.t.Helper()
	tx := chain.Tx{ChainID: h.cfg.ChainID, Nonce: h.nonces[key.PubKey().Address()], MaxFee: fee, Msgs: msgs}
	raw, err := tx.Sign(h.codec, key)
	if err != nil {
		h.t.Fatal(err)
	}
	d, err := chain.DecodeTx(h.codec, raw)
	if err != nil {
		h.t.Fatal(err)
	}
	return &chain.DecodedTx{Tx: d, Raw: raw, ID: chain.IDOf(raw)}
}

// BlockInfo overrides what TryBlock passes to modules beyond height and
// time. It starts from the default inputs (every validator of the set
// that signed the previous height in LastCommitSigners, no evidence);
// whatever it leaves is checked as a node would (signers members of that
// set, evidence verified); nil keeps the defaults.
type BlockInfo func(*chain.BlockInfo)

// BlockWith is Block with inputs (absent signers, evidence).
func (h *Harness) BlockWith(in Inputs, txs ...*chain.DecodedTx) *execution.Outcome {
	h.t.Helper()
	signers, evidence := h.inputs(h.height+1, in)
	out, err := h.TryBlock(func(bi *chain.BlockInfo) { bi.LastCommitSigners, bi.Evidence = signers, evidence }, txs...)
	if err != nil {
		h.t.Fatal(err)
	}
	return out
}

// Block executes and commits the next block with txs, and returns its
// outcome (results, block events, validator updates). A block the
// executor refuses fails the test; use TryBlock to expect that.
func (h *Harness) Block(txs ...*chain.DecodedTx) *execution.Outcome {
	h.t.Helper()
	out, err := h.TryBlock(nil, txs...)
	if err != nil {
		h.t.Fatal(err)
	}
	return out
}

// TryBlock is Block with block inputs, returning the executor's error (the
// block is then not committed and the height stays).
func (h *Harness) TryBlock(edit BlockInfo, txs ...*chain.DecodedTx) (*execution.Outcome, error) {
	h.t.Helper()
	if h.blk != nil {
		h.t.Fatalf("moduletest: block %d is open in the direct mode: end it before Block", h.height+1)
	}
	at := h.time.Add(h.cfg.BlockInterval + h.next)
	info := chain.BlockInfo{ChainID: h.cfg.ChainID, Height: h.height + 1, Time: chain.TimeOf(at)}
	info.LastCommitSigners, info.Evidence = h.inputs(info.Height, Inputs{})
	if edit != nil {
		edit(&info)
		h.checkInputs(info)
	}
	out, err := h.ex.ExecuteBlock(h.st, info, txs)
	if err != nil {
		return nil, err
	}
	h.commit(out)
	h.rotate(out.ValidatorUpdates)
	h.height, h.time, h.next = info.Height, at, 0
	for _, tx := range txs {
		h.nonces[tx.Tx.Sender()]++
	}
	return out, nil
}

// Deliver sends msgs from key in one tx (offering Config.Fee) in its own block and
// returns the tx's result, whatever its code.
func (h *Harness) Deliver(key chain.PrivKey, msgs ...chain.Msg) chain.TxResult {
	h.t.Helper()
	out := h.Block(h.Tx(key, h.cfg.Fee, msgs...))
	return out.Results[0]
}

// MustDeliver is Deliver that fails the test unless the tx succeeded.
func (h *Harness) MustDeliver(key chain.PrivKey, msgs ...chain.Msg) chain.TxResult {
	h.t.Helper()
	res := h.Deliver(key, msgs...)
	if res.Code != chain.CodeOK {
		h.t.Fatalf("tx failed: code %d: %s", res.Code, res.Log)
	}
	return res
}

// Msg builds a message of module with body, failing the test on error.
func (h *Harness) Msg(module, typ string, body any) chain.Msg {
	h.t.Helper()
	m, err := chain.NewMsg(h.codec, module, typ, body)
	if err != nil {
		h.t.Fatal(err)
	}
	return m
}

// Built unwraps a message constructor's result (an app's MsgX(codec, …)),
// failing the test on its error.
func (h *Harness) Built(m chain.Msg, err error) chain.Msg {
	h.t.Helper()
	if err != nil {
		h.t.Fatalf("build msg: %v", err)
	}
	return m
}

func (h *Harness) module(name string) (chain.Module, int) {
	for i, m := range h.cfg.Modules {
		if m.Name() == name {
			return m, i
		}
	}
	h.t.Fatalf("moduletest: no module %q", name)
	return nil, 0
}

// ErrMismatch is returned by Query when the answer recomputed over the
// proven values differs from the answer over the full state.
var ErrMismatch = errors.New("moduletest: answer over proven state differs")

// Query answers a module query at the committed height, as the API does,
// then checks it as `dure query` does: every key the query read and every
// range it iterated (by next-key records, so a list is proven complete)
// is proven against the committed state root, and the query re-run over
// the proven values alone must give the same JSON. Query errors are returned (a
// failed proof fails the test); the result is the answer's JSON decoded
// into a generic value.
func (h *Harness) Query(module, path string, args map[string]string) (any, error) {
	h.t.Helper()
	m, _ := h.module(module)
	version, root := h.st.Head()
	rec := &recorder{r: h.st.Reader(version), prefix: []byte(module + "/")}
	res, err := m.Query(rec, path, args)
	if err != nil {
		return nil, err
	}
	proofs, err := h.st.ProveReads(version, rec.reads)
	if err != nil {
		h.t.Fatalf("prove the reads of %s/%s: %v", module, path, err)
	}
	proven := state.NewProven(root)
	for _, kp := range proofs {
		if err := proven.Add(kp.Key, kp.Value, kp.Proof); err != nil {
			h.t.Fatalf("proof of %q does not verify: %v", kp.Key, err)
		}
	}
	again, err := m.Query(&recorder{r: proven, prefix: []byte(module + "/")}, path, args)
	if err != nil {
		return nil, fmt.Errorf("%w: re-run over proven state: %w", ErrMismatch, err)
	}
	a, b := jsonOf(h.t, res), jsonOf(h.t, again)
	if a != b {
		return nil, fmt.Errorf("%w: full %s, proven %s", ErrMismatch, a, b)
	}
	var out any
	if err := json.Unmarshal([]byte(a), &out); err != nil {
		h.t.Fatal(err)
	}
	return out, nil
}

// MustQuery is Query failing the test on error.
func (h *Harness) MustQuery(module, path string, args map[string]string) any {
	h.t.Helper()
	v, err := h.Query(module, path, args)
	if err != nil {
		h.t.Fatalf("query %s/%s %v: %v", module, path, args, err)
	}
	return v
}

func jsonOf(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// Events returns the events of the given type in a block outcome: those of
// its transactions in order, then the block's own.
func Events(out *execution.Outcome, typ string) []chain.Event {
	var evs []chain.Event
	for _, r := range out.Results {
		for _, e := range r.Events {
			if e.Type == typ {
				evs = append(evs, e)
			}
		}
	}
	for _, e := range out.EndBlockEvents {
		if e.Type == typ {
			evs = append(evs, e)
		}
	}
	return evs
}

// Attr is the value of key in e ("" when absent).
func Attr(e chain.Event, key string) string {
	for _, a := range e.Attrs {
		if a.Key == key {
			return a.Value
		}
	}
	return ""
}

// Export is the app_state of a genesis re-creating the committed state:
// every module's chain.GenesisExporter section and the executor's nonces
// (execution.Executor.ExportGenesis). A module without the capability
// fails the test.
func (h *Harness) Export() map[string]json.RawMessage {
	h.t.Helper()
	version, _ := h.st.Head()
	out, err := h.ex.ExportGenesis(h.st.Reader(version))
	if err != nil {
		h.t.Fatal(err)
	}
	return out
}

// CheckExport exports the genesis, runs it as the genesis of a fresh chain
// with the same modules, and fails the test unless that chain has this
// one's state root (and, for a readable failure, the same keys and values).
// It returns the exported app_state.
func (h *Harness) CheckExport() map[string]json.RawMessage {
	h.t.Helper()
	gen := h.Export()
	fresh := &Harness{t: h.t, cfg: h.cfg, codec: h.codec, nonces: map[chain.Address]uint64{}, time: h.time}
	if err := fresh.open(gen); err != nil {
		h.t.Fatalf("re-import exported genesis: %v", err)
	}
	if got, want := fresh.StateRoot(), h.StateRoot(); got != want {
		h.t.Fatalf("re-imported genesis has state root %s, want %s\ngot state:\n%s\nwant state:\n%s", got, want, fresh.Dump(), h.Dump())
	}
	return gen
}

// Dump lists every key and value of the state, one "key"=hex line each in
// key order: the open block's when one is open, else the committed
// state's. Two equal dumps are equal states (for a failure message, or
// to check that a refused message left nothing behind).
func (h *Harness) Dump() string {
	h.t.Helper()
	var r chain.KVReader = h.blk
	if h.blk == nil {
		version, _ := h.st.Head()
		r = h.st.Reader(version)
	}
	var b strings.Builder
	err := r.Iterate(nil, func(k, v []byte) (bool, error) {
		fmt.Fprintf(&b, "%q=%x\n", k, v)
		return false, nil
	})
	if err != nil {
		h.t.Fatal(err)
	}
	return b.String()
}

// recorder is a module's prefixed read-only view that remembers every
// full key read and range iterated, so a query can be answered with
// proofs.
type recorder struct {
	r      chain.KVReader
	prefix []byte
	reads  state.Reads
}

func (p *recorder) full(k []byte) []byte { return append(append([]byte{}, p.prefix...), k...) }

func (p *recorder) Get(k []byte) ([]byte, error) {
	fk := p.full(k)
	p.reads.Keys = append(p.reads.Keys, fk)
	return p.r.Get(fk)
}

func (p *recorder) Iterate(prefix []byte, fn func(k, v []byte) (bool, error)) error {
	rr := state.RangeRead{Prefix: p.full(prefix)}
	err := p.r.Iterate(rr.Prefix, func(k, v []byte) (bool, error) {
		p.reads.Keys = append(p.reads.Keys, bytes.Clone(k))
		rr.Through = bytes.Clone(k)
		return fn(k[len(p.prefix):], v)
	})
	p.reads.Ranges = append(p.reads.Ranges, rr)
	return err
}
