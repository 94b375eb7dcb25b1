package staking

import (
	"encoding/json"
	"sort"
	"testing"
	"time"

	"github.com/dure-network/dure/apps/currency"
	"github.com/dure-network/dure/chain"
	"github.com/dure-network/dure/chain/moduletest"
)

// world is staking with the real currency module as its Bank on the
// shared harness (chain/moduletest, direct mode): real sparse-Merkle state
// in Badger, every message in its own revertible branch, blocks opened
// with their last-commit signers and verified evidence, and the consensus
// set rotated at H+2 from the updates staking reports.
type world struct {
	*moduletest.Harness
	t   testing.TB
	c   *chain.Codec
	cur *currency.Module
	m   *Module
}

const denom = "stake"

// feeCollector is currency's fee account, staking's reward source.
var feeCollector = currency.FeeCollector()

// faucet holds the rest of the genesis supply; fund pays from it.
var faucet = chain.Address{0xfa, 0xfa}

func testParams() Params {
	return Params{BondDenom: denom, MinSelfStake: 100, MaxValidators: 3, UnbondingSeconds: 10,
		DowntimeWindow: 10, MinSignedPerWindow: 5, JailSeconds: 60, DoubleSignSlashBps: 500,
		DowntimeSlashBps: 100, PowerReduction: 10, RewardSource: feeCollector}
}

func key(i int) chain.PrivKey  { return moduletest.KeyFromIndex(i) }
func addr(i int) chain.Address { return key(i).PubKey().Address() }

// build starts a chain of currency (denom funded to bals and the faucet)
// and staking (genesis g), returning the genesis error. With minFee > 0
// currency charges the fees of the harness's transactions (Block mode).
func build(t testing.TB, g GenesisState, bals map[int]uint64, minFee uint64) (*world, error) {
	t.Helper()
	c := chain.MustCodec()
	curKey, key := chain.NewStoreKey(currency.ModuleName), chain.NewStoreKey(ModuleName)
	cur := currency.New(curKey, c, currency.DefaultParams())
	w := &world{t: t, c: c, cur: cur, m: New(key, c, cur)}
	cg := currency.Genesis{NativeDenom: denom, Balances: []currency.GenesisBalance{{Address: faucet, Denom: denom, Amount: 1 << 50}}}
	idx := make([]int, 0, len(bals))
	for i := range bals {
		idx = append(idx, i)
	}
	sort.Ints(idx) // key order, not map order
	for _, i := range idx {
		cg.Balances = append(cg.Balances, currency.GenesisBalance{Address: addr(i), Denom: denom, Amount: currency.Amount(bals[i])})
	}
	craw, err := json.Marshal(cg)
	if err != nil {
		t.Fatal(err)
	}
	sraw, err := json.Marshal(g)
	if err != nil {
		t.Fatal(err)
	}
	cfg := moduletest.Config{Modules: []chain.Module{cur, w.m}, Keys: []*chain.StoreKey{curKey, key},
		Genesis: map[string]json.RawMessage{currency.ModuleName: craw, ModuleName: sraw}, GenesisTime: time.Unix(1000, 0)}
	if minFee > 0 {
		cfg.Fees, cfg.MinFee = cur, minFee
	}
	w.Harness, err = moduletest.TryNew(t, cfg)
	return w, err
}

// newWorld loads genesis validators 0..len(stakes)-1, each funded with
// its stake plus 1,000,000.
func newWorld(t testing.TB, p Params, stakes ...uint64) *world {
	t.Helper()
	g := GenesisState{Params: p}
	bals := map[int]uint64{}
	for i, s := range stakes {
		bals[i] = s + 1_000_000
		g.Validators = append(g.Validators, GenesisValidator{Address: addr(i), PubKey: key(i).PubKey(), SelfStake: s})
	}
	w, err := build(t, g, bals, 0)
	if err != nil {
		t.Fatalf("genesis: %v", err)
	}
	return w
}

// fund pays amt from the faucet to a in the open block.
func (w *world) fund(a chain.Address, amt uint64) {
	w.t.Helper()
	if err := w.cur.Transfer(w.Context(currency.ModuleName, faucet), faucet, a, denom, amt); err != nil {
		w.t.Fatal(err)
	}
}

func (w *world) balance(a chain.Address) uint64 {
	w.t.Helper()
	r, err := w.QueryOpen(currency.ModuleName, "balance", map[string]string{"address": a.String(), "denom": denom})
	if err != nil {
		w.t.Fatal(err)
	}
	return uint64(r.(currency.BalanceResult).Amount)
}

// deliver runs a message in the open block; a failed one leaves nothing.
func (w *world) deliver(sender chain.Address, msg chain.Msg) error {
	w.t.Helper()
	_, err := w.DeliverAs(sender, msg)
	return err
}

// endBlock ends the open block (opening it first if need be); the next
// is a second later. It returns the block's validator updates.
func (w *world) endBlock() []chain.ValidatorUpdate {
	w.t.Helper()
	_, ups := w.EndBlock(time.Second)
	return ups
}

// advance ends the open block, if any, and begins the next one with the
// given last-commit absentees and evidence; the caller delivers txs, then
// endBlock.
func (w *world) advance(absent []chain.Address, ev ...chain.Evidence) {
	w.t.Helper()
	if _, open := w.OpenBlock(); open {
		w.endBlock()
	}
	w.BeginBlock(moduletest.Inputs{Absent: absent, Evidence: ev})
}

// height is the open block's height (the next one's when none is open).
func (w *world) height() uint64 {
	info, _ := w.OpenBlock()
	return info.Height
}

func (w *world) view() *store { return &store{kv: w.Read(ModuleName), c: w.c} }

// activeAddrs lists the stored active set.
func (w *world) activeAddrs() []chain.Address {
	w.t.Helper()
	a, _, err := w.view().activeSet()
	if err != nil {
		w.t.Fatal(err)
	}
	return a
}

func (w *world) validator(a chain.Address) ValidatorInfo {
	w.t.Helper()
	v, err := w.QueryOpen(ModuleName, "validator", map[string]string{"address": a.String()})
	if err != nil {
		w.t.Fatalf("query validator %s: %v", a, err)
	}
	return v.(ValidatorInfo)
}

// stakeSum is the sum of all validators' tokens, which must always equal
// the bonded pool's balance.
func (w *world) stakeSum() uint64 {
	w.t.Helper()
	vs, err := w.QueryOpen(ModuleName, "validators", nil)
	if err != nil {
		w.t.Fatal(err)
	}
	var sum uint64
	for _, v := range vs.([]ValidatorInfo) {
		sum += v.Tokens
	}
	return sum
}

func (w *world) checkPools() {
	w.t.Helper()
	if got, want := w.balance(BondedPool()), w.stakeSum(); got != want {
		w.t.Fatalf("bonded pool holds %d, validators' tokens sum to %d", got, want)
	}
}

func updateOf(i int, power uint64) chain.ValidatorUpdate {
	return chain.ValidatorUpdate{PubKey: key(i).PubKey(), Power: power}
}

func powerOf(ups []chain.ValidatorUpdate, pub chain.PubKey) (uint64, bool) {
	for _, u := range ups {
		if u.PubKey == pub {
			return u.Power, true
		}
	}
	return 0, false
}
