package node

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/dure-network/dure/apps/currency"
	"github.com/dure-network/dure/apps/energy"
	"github.com/dure-network/dure/apps/notes"
	"github.com/dure-network/dure/apps/royalty"
	"github.com/dure-network/dure/apps/staking"
	"github.com/dure-network/dure/apps/subnet"
	"github.com/dure-network/dure/chain"
	"github.com/dure-network/dure/chain/blockexec"
	"github.com/dure-network/dure/chain/execution"
	"github.com/dure-network/dure/chain/genesis"
)

// NativeDenom is the stake and fee token of chains made by `dure init`.
const NativeDenom = "dure"

// registerModules is the node's module registry: every app module of the
// chain, in order. The order is the genesis, BeginBlock and EndBlock order,
// and part of consensus. Adding an app is one line here; everything else
// (execution, genesis, queries with proofs, `dure tx` and `dure query`) is
// found on the module value through the capabilities in chain/module.go.
func registerModules(r *registry, codec *chain.Codec) {
	cur := currency.New(r.key(currency.ModuleName), codec, currency.DefaultParams())
	r.add(cur)
	stk := staking.New(r.key(staking.ModuleName), codec, cur)
	r.add(stk)
	r.add(notes.New(r.key(notes.ModuleName), codec))
	r.add(royalty.New(r.key(royalty.ModuleName), codec, cur))
	r.add(energy.New(r.key(energy.ModuleName), codec, cur, energy.DefaultParams()))
	r.add(subnet.New(r.key(subnet.ModuleName), codec, cur, cur).WithValidators(stk))
}

// registry collects the modules and the store keys made for them.
type registry struct {
	keys    map[string]*chain.StoreKey
	entries []execution.ModuleEntry
	err     error
}

// key makes the store key of the module called name.
func (r *registry) key(name string) *chain.StoreKey {
	k := chain.NewStoreKey(name)
	if r.keys[name] != nil && r.err == nil {
		r.err = fmt.Errorf("module registry: two store keys for %q", name)
	}
	r.keys[name] = k
	return k
}

// add lists m, which must have been built with the key of its name.
func (r *registry) add(m chain.Module) {
	k := r.keys[m.Name()]
	if k == nil && r.err == nil {
		r.err = fmt.Errorf("module registry: %q was built without r.key(%q)", m.Name(), m.Name())
	}
	r.entries = append(r.entries, execution.ModuleEntry{Module: m, Key: k})
}

// app is the node's module list and the capabilities found on it.
type app struct {
	entries []execution.ModuleEntry
	fees    chain.FeeCharger // the module charging fees (currency)
	funds   chain.FeeFunds   // its read side, for admission, or nil
	feeName string
	valSet  chain.ValidatorSetOwner // the module owning the validator set (staking), or nil
	valName string
	bank    chain.AccountReporter // answers /v1/accounts balances, or nil
	bankNm  string
}

func newApp(codec *chain.Codec) (*app, error) {
	r := &registry{keys: map[string]*chain.StoreKey{}}
	registerModules(r, codec)
	if r.err != nil {
		return nil, r.err
	}
	a := &app{entries: r.entries}
	for _, e := range a.entries {
		if f, ok := e.Module.(chain.FeeCharger); ok && a.fees == nil {
			a.fees, a.feeName = f, e.Module.Name()
			a.funds, _ = e.Module.(chain.FeeFunds)
		}
		if v, ok := e.Module.(chain.ValidatorSetOwner); ok && a.valSet == nil {
			a.valSet, a.valName = v, e.Module.Name()
		}
		if b, ok := e.Module.(chain.AccountReporter); ok && a.bank == nil {
			a.bank, a.bankNm = b, e.Module.Name()
		}
	}
	if a.fees == nil {
		return nil, fmt.Errorf("module registry: no module charges fees (chain.FeeCharger)")
	}
	return a, nil
}

// Modules returns the registry's modules, in order, built with the default
// codec: the declarations (chain.Describer) `dure tx` and `dure query` are
// made from, and the code the CLI re-runs a query with over proven state.
// They are not a running node's modules; use them only to describe and to
// read. The registry is fixed at build time, so an error in it is a
// programming error caught by every test: Modules panics on it.
func Modules() []chain.Module {
	a, err := newApp(chain.MustCodec())
	if err != nil {
		panic(err)
	}
	out := make([]chain.Module, len(a.entries))
	for i, e := range a.entries {
		out[i] = e.Module
	}
	return out
}

// module returns the module called name.
func (a *app) module(name string) (chain.Module, bool) {
	for _, e := range a.entries {
		if e.Module.Name() == name {
			return e.Module, true
		}
	}
	return nil, false
}

// GenesisValidator and GenesisAccount describe who a generated genesis
// funds (BuildGenesis: `dure init`, `dure testnet`).
type GenesisValidator struct {
	PubKey chain.PubKey
	Stake  uint64
}

type GenesisAccount struct {
	Addr   chain.Address
	Amount uint64
}

// Default amounts for generated genesis files (the validator funds are
// what BuildGenesis adds to each validator's stake for fees).
const (
	DefaultValidatorStake = 10_000_000        // 10 units of power
	defaultValidatorFunds = 1_000_000_000     // spare balance for fees
	DefaultDemoFunds      = 1_000_000_000_000 // per demo account
)

// BuildGenesis makes a genesis document with the given validators (their
// accounts funded with stake plus spare) and funded accounts.
func BuildGenesis(chainID string, at time.Time, vals []GenesisValidator, accts []GenesisAccount) (*genesis.Genesis, error) {
	cg := currency.Genesis{NativeDenom: NativeDenom}
	sp := staking.DefaultParams(NativeDenom)
	sp.RewardSource = currency.FeeCollector()
	sg := staking.GenesisState{Params: sp}
	g := &genesis.Genesis{ChainID: chainID, GenesisTime: at.UTC().Truncate(time.Second), Params: genesis.DefaultParams()}
	for _, v := range vals {
		addr := v.PubKey.Address()
		cg.Balances = append(cg.Balances, currency.GenesisBalance{Address: addr, Denom: NativeDenom, Amount: currency.Amount(v.Stake + defaultValidatorFunds)})
		sg.Validators = append(sg.Validators, staking.GenesisValidator{Address: addr, PubKey: v.PubKey, SelfStake: v.Stake})
		g.Validators = append(g.Validators, genesis.Validator{PubKey: v.PubKey, Power: v.Stake / sp.PowerReduction})
	}
	for _, a := range accts {
		cg.Balances = append(cg.Balances, currency.GenesisBalance{Address: a.Addr, Denom: NativeDenom, Amount: currency.Amount(a.Amount)})
	}
	cj, err := json.Marshal(cg)
	if err != nil {
		return nil, err
	}
	sj, err := json.Marshal(sg)
	if err != nil {
		return nil, err
	}
	g.AppState = map[string]json.RawMessage{"currency": cj, "staking": sj}
	if err := g.Validate(); err != nil {
		return nil, err
	}
	if err := checkGenesisValidators(g); err != nil {
		return nil, err
	}
	return g, nil
}

// checkGenesisValidators makes sure the consensus set in genesis.json is
// the one the validator-set owner (staking) derives from its own section:
// two lists that disagree would split the chain at its first block.
func checkGenesisValidators(g *genesis.Genesis) error {
	a, err := newApp(chain.MustCodec())
	if err != nil {
		return err
	}
	if a.valSet == nil {
		return nil
	}
	want, err := a.valSet.GenesisValidators(g.AppState[a.valName])
	if err != nil {
		return fmt.Errorf("genesis app_state.%s: %w", a.valName, err)
	}
	return blockexec.CheckGenesisValidators(g, a.valName, want)
}
