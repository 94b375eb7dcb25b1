package staking

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/dure-network/dure/apps/currency"
	"github.com/dure-network/dure/chain"
	"github.com/dure-network/dure/chain/moduletest"
)

// TestExportReimportsWithCurrency runs staking with the real currency on
// the shared harness: the pools are exempt from holding rules through the
// module-account capability alone (currency's params name none), blocks
// carry liveness inputs to BeginBlock, and the exported genesis of both
// modules (and the nonces) re-imports to the same state root.
func TestExportReimportsWithCurrency(t *testing.T) {
	c := chain.MustCodec()
	curKey, stkKey := chain.NewStoreKey(currency.ModuleName), chain.NewStoreKey(ModuleName)
	cur := currency.New(curKey, c, currency.DefaultParams())
	stk := New(stkKey, c, cur)
	k := moduletest.KeyFromIndex
	cg := currency.Genesis{NativeDenom: "dure"}
	for i := 0; i < 4; i++ {
		cg.Balances = append(cg.Balances, currency.GenesisBalance{Address: k(i).PubKey().Address(), Denom: "dure", Amount: 1_000_000})
	}
	p := testParams()
	p.BondDenom, p.RewardSource = "dure", currency.FeeCollector()
	sg := GenesisState{Params: p, Validators: []GenesisValidator{
		{Address: k(0).PubKey().Address(), PubKey: k(0).PubKey(), SelfStake: 1000},
		{Address: k(1).PubKey().Address(), PubKey: k(1).PubKey(), SelfStake: 3000},
	}}
	craw, _ := json.Marshal(cg)
	sraw, _ := json.Marshal(sg)
	h := moduletest.New(t, moduletest.Config{Modules: []chain.Module{cur, stk}, Keys: []*chain.StoreKey{curKey, stkKey},
		Fees: cur, MinFee: 10, Genesis: map[string]json.RawMessage{currency.ModuleName: craw, ModuleName: sraw}})
	if n := len(h.Last.ValidatorUpdates); n != 2 {
		t.Fatalf("genesis reported %d validators", n)
	}

	must := func(m chain.Msg, err error) chain.Msg {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	h.MustDeliver(h.Key(2), must(currency.MsgSend(c, h.Addr(3), "dure", 500)))
	h.MustDeliver(h.Key(2), must(currency.MsgCreate(c, "nw", 0, currency.Rules{HoldingCap: 50_000, ExpirySeconds: 3 * 365 * 86400,
		Transfer: currency.TransferMerchants, Redeemable: true, HourlyRate: 700})))
	h.MustDeliver(h.Key(2), must(currency.MsgGrant(c, "nw", "coordinator", h.Addr(3))))
	h.MustDeliver(h.Key(3), must(currency.MsgConfirmHours(c, "nw", h.Addr(1), 2, 30)))
	h.MustDeliver(h.Key(2), must(MsgDelegate(c, h.Addr(1), 20_000)))
	h.MustDeliver(h.Key(1), must(MsgUnbond(c, 100)))
	signers := func(bi *chain.BlockInfo) { bi.LastCommitSigners = []chain.Address{h.Addr(1)} } // validator 0 misses
	for i := 0; i < 3; i++ {
		if _, err := h.TryBlock(signers); err != nil {
			t.Fatal(err)
		}
	}
	h.Advance(20 * time.Second) // past UnbondingSeconds: the unbonding is released
	h.Block()
	pool := h.MustQuery(currency.ModuleName, "balance", map[string]string{"address": BondedPool().String(), "denom": "dure"})
	if pool.(map[string]any)["amount"] == "0" {
		t.Fatalf("bonded pool empty: %v", pool)
	}
	h.MustQuery(ModuleName, "validators", nil)

	gen := h.CheckExport()
	for _, name := range []string{currency.ModuleName, ModuleName, "auth"} {
		if len(gen[name]) == 0 {
			t.Errorf("export has no %s section", name)
		}
	}
	vals, err := stk.GenesisValidators(gen[ModuleName])
	if err != nil || len(vals) != 2 {
		t.Fatalf("validators from the exported section: %v %v", vals, err)
	}
}
