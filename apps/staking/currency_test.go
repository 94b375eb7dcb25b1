package staking

import (
	"encoding/json"
	"testing"

	"github.com/dure-network/dure/apps/currency"
	"github.com/dure-network/dure/chain"
)

// TestWithRealCurrency wires the real currency module as the Bank: genesis
// stakes come out of currency balances, fees charged by currency are paid
// out as rewards, and unbonded tokens come back as spendable currency.
func TestWithRealCurrency(t *testing.T) {
	c := chain.MustCodec()
	cur := currency.New(chain.NewStoreKey("currency"), c, currency.Params{MaxExpiryPerBlock: 256,
		ModuleAccounts: []chain.Address{BondedPool(), UnbondingPool(), SlashedPool()}})
	e := newEnv(t)
	e.bank = cur
	e.m = New(chain.NewStoreKey(ModuleName), c, cur)

	payer, joiner := addr(t, 7), 5
	cg := currency.Genesis{NativeDenom: "dure"}
	for _, a := range []chain.Address{addr(t, 0), addr(t, 1), addr(t, joiner), payer} {
		cg.Balances = append(cg.Balances, currency.GenesisBalance{Address: a, Denom: "dure", Amount: 10_000})
	}
	raw, err := json.Marshal(cg)
	if err != nil {
		t.Fatal(err)
	}
	if err := cur.InitGenesis(e.ctx(chain.Address{}), raw); err != nil {
		t.Fatalf("currency genesis: %v", err)
	}
	p := testParams()
	p.BondDenom = "dure"
	p.RewardSource = currency.FeeCollector()
	g := GenesisState{Params: p, Validators: []GenesisValidator{
		{Address: addr(t, 0), PubKey: key(t, 0).PubKey(), SelfStake: 1000},
		{Address: addr(t, 1), PubKey: key(t, 1).PubKey(), SelfStake: 3000},
	}}
	raw, _ = json.Marshal(g)
	gctx := e.ctx(chain.Address{})
	if err := e.m.InitGenesis(gctx, raw); err != nil {
		t.Fatalf("staking genesis: %v", err)
	}
	if n := len(gctx.ValidatorUpdates()); n != 2 {
		t.Fatalf("genesis reported %d validators", n)
	}
	bal := func(a chain.Address) uint64 {
		t.Helper()
		b, err := cur.Balance(e.ctx(chain.Address{}), a, "dure")
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	if bal(BondedPool()) != 4000 || bal(addr(t, 0)) != 9000 {
		t.Fatalf("after genesis: pool %d, validator 0 %d", bal(BondedPool()), bal(addr(t, 0)))
	}

	// Block 2: currency charges a fee; a new validator bonds.
	e.advance(e.activeAddrs())
	if err := cur.ChargeFee(e.ctx(payer), payer, 401); err != nil {
		t.Fatalf("charge fee: %v", err)
	}
	e.mustDeliver(addr(t, joiner), e.msg(MsgBond(c, key(t, joiner).PubKey(), 2000)))
	if err := e.deliver(addr(t, joiner), e.msg(MsgBond(c, key(t, joiner).PubKey(), 9000))); err == nil {
		t.Fatal("bond beyond the currency balance accepted")
	}
	ups := e.endBlock()
	if pw, ok := powerOf(ups, key(t, joiner).PubKey()); !ok || pw != 200 {
		t.Fatalf("joiner update %+v", ups)
	}
	if bal(currency.FeeCollector()) != 0 {
		t.Fatalf("fees not distributed: collector holds %d", bal(currency.FeeCollector()))
	}
	// 401 over powers 100 and 300: 100 and 300, remainder 1 to the larger.
	if v0, v1 := e.validator(addr(t, 0)).Tokens, e.validator(addr(t, 1)).Tokens; v0 != 1100 || v1 != 3301 {
		t.Fatalf("rewards: %d and %d, want 1100 and 3301", v0, v1)
	}
	if got, want := bal(BondedPool()), e.stakeSum(); got != want {
		t.Fatalf("bonded pool %d, stake %d", got, want)
	}

	// Unbond all: released as spendable currency after the period.
	e.advance(e.activeAddrs())
	e.mustDeliver(addr(t, 0), e.msg(MsgUnbondAll(c)))
	e.endBlock()
	e.time += 10e9
	e.advance(e.activeAddrs())
	e.endBlock()
	if got := bal(addr(t, 0)); got != 9000+1100 {
		t.Fatalf("validator 0 holds %d after unbonding, want 10100", got)
	}
}
