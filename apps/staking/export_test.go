package staking

import (
	"testing"
	"time"

	"github.com/dure-network/dure/apps/currency"
	"github.com/dure-network/dure/chain"
)

// TestExportReimportsWithCurrency runs staking with the real currency on
// the shared harness in Block mode (signed transactions, fees charged by
// currency): the pools are exempt from holding rules through the
// module-account capability alone (currency's params name none), blocks
// carry liveness inputs to BeginBlock, and the exported genesis of both
// modules (and the nonces) re-imports to the same state root.
func TestExportReimportsWithCurrency(t *testing.T) {
	g := GenesisState{Params: testParams(), Validators: []GenesisValidator{
		{Address: addr(0), PubKey: key(0).PubKey(), SelfStake: 1000},
		{Address: addr(1), PubKey: key(1).PubKey(), SelfStake: 3000},
	}}
	h, err := build(t, g, map[int]uint64{0: 1_000_000, 1: 1_000_000, 2: 1_000_000, 3: 1_000_000}, 10)
	if err != nil {
		t.Fatal(err)
	}
	c := h.c
	if n := len(h.Last.ValidatorUpdates); n != 2 {
		t.Fatalf("genesis reported %d validators", n)
	}

	h.MustDeliver(h.Key(2), h.Built(currency.MsgSend(c, h.Addr(3), denom, 500)))
	h.MustDeliver(h.Key(2), h.Built(currency.MsgCreate(c, "nw", 0, currency.Rules{HoldingCap: 50_000, ExpirySeconds: 3 * 365 * 86400,
		Transfer: currency.TransferMerchants, Redeemable: true, HourlyRate: 700})))
	h.MustDeliver(h.Key(2), h.Built(currency.MsgGrant(c, "nw", "coordinator", h.Addr(3))))
	h.MustDeliver(h.Key(3), h.Built(currency.MsgConfirmHours(c, "nw", h.Addr(1), 2, 30)))
	h.MustDeliver(h.Key(2), h.Built(MsgDelegate(c, h.Addr(1), 20_000)))
	h.MustDeliver(h.Key(1), h.Built(MsgUnbond(c, 100)))
	signers := func(bi *chain.BlockInfo) { bi.LastCommitSigners = []chain.Address{h.Addr(1)} } // validator 0 misses
	for i := 0; i < 3; i++ {
		if _, err := h.TryBlock(signers); err != nil {
			t.Fatal(err)
		}
	}
	h.Advance(20 * time.Second) // past UnbondingSeconds: the unbonding is released
	h.Block()
	pool := h.MustQuery(currency.ModuleName, "balance", map[string]string{"address": BondedPool().String(), "denom": denom})
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
	vals, err := h.m.GenesisValidators(gen[ModuleName])
	if err != nil || len(vals) != 2 {
		t.Fatalf("validators from the exported section: %v %v", vals, err)
	}
}
