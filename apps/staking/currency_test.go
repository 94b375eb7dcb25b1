package staking

import (
	"testing"
	"time"

	"github.com/dure-network/dure/apps/currency"
	"github.com/dure-network/dure/chain"
)

// TestWithRealCurrency follows the Bank's side: genesis stakes come out of
// currency balances, fees charged by currency are paid out as rewards,
// and unbonded tokens come back as spendable currency.
func TestWithRealCurrency(t *testing.T) {
	c := chain.MustCodec()
	payer, joiner := addr(7), 5
	g := GenesisState{Params: testParams(), Validators: []GenesisValidator{
		{Address: addr(0), PubKey: key(0).PubKey(), SelfStake: 1000},
		{Address: addr(1), PubKey: key(1).PubKey(), SelfStake: 3000},
	}}
	e, err := build(t, g, map[int]uint64{0: 10_000, 1: 10_000, joiner: 10_000, 7: 10_000}, 0)
	if err != nil {
		t.Fatalf("genesis: %v", err)
	}
	cur := e.cur
	if n := len(e.Last.ValidatorUpdates); n != 2 {
		t.Fatalf("genesis reported %d validators", n)
	}
	bal := e.balance
	if bal(BondedPool()) != 4000 || bal(addr(0)) != 9000 {
		t.Fatalf("after genesis: pool %d, validator 0 %d", bal(BondedPool()), bal(addr(0)))
	}

	// Block 1: currency charges a fee; a new validator bonds.
	e.advance(nobody)
	if err := cur.ChargeFee(e.Context(currency.ModuleName, payer), payer, 401); err != nil {
		t.Fatalf("charge fee: %v", err)
	}
	e.MustDeliverAs(addr(joiner), e.Built(MsgBond(c, key(joiner).PubKey(), 2000)))
	if err := e.deliver(addr(joiner), e.Built(MsgBond(c, key(joiner).PubKey(), 9000))); err == nil {
		t.Fatal("bond beyond the currency balance accepted")
	}
	ups := e.endBlock()
	if pw, ok := powerOf(ups, key(joiner).PubKey()); !ok || pw != 200 {
		t.Fatalf("joiner update %+v", ups)
	}
	if bal(currency.FeeCollector()) != 0 {
		t.Fatalf("fees not distributed: collector holds %d", bal(currency.FeeCollector()))
	}
	// 401 over powers 100 and 300: 100 and 300, remainder 1 to the larger.
	if v0, v1 := e.validator(addr(0)).Tokens, e.validator(addr(1)).Tokens; v0 != 1100 || v1 != 3301 {
		t.Fatalf("rewards: %d and %d, want 1100 and 3301", v0, v1)
	}
	if got, want := bal(BondedPool()), e.stakeSum(); got != want {
		t.Fatalf("bonded pool %d, stake %d", got, want)
	}

	// Unbond all: released as spendable currency after the period.
	e.advance(nobody)
	e.MustDeliverAs(addr(0), e.Built(MsgUnbondAll(c)))
	e.endBlock()
	e.Advance(10 * time.Second)
	e.advance(nobody)
	e.endBlock()
	if got := bal(addr(0)); got != 9000+1100 {
		t.Fatalf("validator 0 holds %d after unbonding, want 10100", got)
	}
}
