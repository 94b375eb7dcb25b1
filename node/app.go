package node

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/dure-network/dure/apps/currency"
	"github.com/dure-network/dure/apps/staking"
	"github.com/dure-network/dure/chain"
	"github.com/dure-network/dure/chain/execution"
	"github.com/dure-network/dure/chain/genesis"
)

// NativeDenom is the stake and fee token of chains made by `dure init`.
const NativeDenom = "dure"

// app is the node's module list, built explicitly in this one place: the
// order is the genesis and EndBlock order, and part of consensus.
type app struct {
	currency *currency.Module
	staking  *staking.Module
	entries  []execution.ModuleEntry
}

func newApp(codec *chain.Codec) *app {
	curKey, stkKey := chain.NewStoreKey("currency"), chain.NewStoreKey("staking")
	cp := currency.DefaultParams()
	// Staking's pools are module accounts: no holding caps or transfer
	// policies apply to them.
	cp.ModuleAccounts = []chain.Address{staking.BondedPool(), staking.UnbondingPool(), staking.SlashedPool()}
	cur := currency.New(curKey, codec, cp)
	stk := staking.New(stkKey, codec, cur)
	return &app{
		currency: cur,
		staking:  stk,
		entries: []execution.ModuleEntry{
			{Module: cur, Key: curKey},
			{Module: stk, Key: stkKey},
		},
	}
}

// genValidator and genAccount describe who a generated genesis funds.
type genValidator struct {
	PubKey chain.PubKey
	Stake  uint64
}

type genAccount struct {
	Addr   chain.Address
	Amount uint64
}

// Default amounts for generated genesis files.
const (
	defaultValidatorStake = 10_000_000        // 10 units of power
	defaultValidatorFunds = 1_000_000_000     // spare balance for fees
	defaultDemoFunds      = 1_000_000_000_000 // per demo account
)

// buildGenesis makes a genesis document with the given validators (their
// accounts funded with stake plus spare) and funded accounts.
func buildGenesis(chainID string, at time.Time, vals []genValidator, accts []genAccount) (*genesis.Genesis, error) {
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
// the one staking derives from its own section: two lists that disagree
// would split the chain at its first block.
func checkGenesisValidators(g *genesis.Genesis) error {
	want, err := staking.GenesisValidators(g.AppState["staking"])
	if err != nil {
		return fmt.Errorf("genesis app_state.staking: %w", err)
	}
	vs, err := g.ValidatorSet()
	if err != nil {
		return err
	}
	if len(want) != vs.Len() {
		return fmt.Errorf("%w: validators lists %d, app_state.staking gives %d", genesis.ErrInvalid, vs.Len(), len(want))
	}
	for i, w := range want {
		got := vs.Validators[i]
		if got.Address != w.Address || got.Power != w.Power || got.PubKey != w.PubKey {
			return fmt.Errorf("%w: validator %s: validators has power %d, app_state.staking gives %d", genesis.ErrInvalid, got.Address, got.Power, w.Power)
		}
	}
	return nil
}

// beginBlock hands staking the liveness and evidence inputs of a block.
func (a *app) beginBlock(ctx *chain.Context) error {
	return a.staking.BeginBlock(ctx, ctx.Block.LastCommitSigners, ctx.Block.Evidence)
}
