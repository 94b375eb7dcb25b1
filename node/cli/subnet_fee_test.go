package cli

import (
	"context"
	"testing"
	"time"

	"github.com/dure-network/dure/apps/subnet"
	"github.com/dure-network/dure/chain"
	"github.com/dure-network/dure/chain/genesis"
	"github.com/dure-network/dure/node/api"
)

// The relayer's topdown fee is the gas estimate at the subnet's own fee
// parameters, read from a real node's API, never below its min_fee or
// --subnet-fee; a node that reports none is assumed to run the defaults.
func TestTopDownFeeFromChainParams(t *testing.T) {
	home, cfg := initHome(t, "fee-coop")
	gen, err := genesis.Load(cfg.GenesisPath())
	if err != nil {
		t.Fatal(err)
	}
	gen.Params.MinFee, gen.Params.GasPerFeeUnit = 3, 2_500
	if err := gen.Write(cfg.GenesisPath()); err != nil {
		t.Fatal(err)
	}
	tn := startNode(t, home)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := tn.Client.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Fees == nil || st.Fees.MinFee != 3 || st.Fees.GasPerFeeUnit != 2_500 {
		t.Fatalf("status reports fees %+v, genesis has min_fee 3, gas_per_fee_unit 2500", st.Fees)
	}

	// One parent header signed by 4 and 64 deposits: 11,000 + 10·(6,700+200)
	// + 4·2,000 + 64·1,000 = 152,000 gas.
	msg := &subnet.TopDown{Blocks: []subnet.ParentBlock{{Commit: chain.Commit{Sigs: make([]chain.CommitSig, 4)}}}, Deposits: make([]subnet.Deposit, 64)}
	gas := subnet.TopDownGas(6_700, 4, 64)
	if gas != 152_000 {
		t.Fatalf("estimate %d gas, want 152000", gas)
	}
	for _, tc := range []struct {
		name  string
		floor uint64
		want  uint64
	}{
		{"the estimate at 2,500 gas a unit", 1, 61}, // ⌈152,000 / 2,500⌉
		{"--subnet-fee above it", 500, 500},
	} {
		a := &subnetAgent{sub: tn.Client, fee: tc.floor}
		got, err := a.topdownFee(ctx, msg, 6_700)
		if err != nil || got != tc.want {
			t.Errorf("%s: fee %d (%v), want %d", tc.name, got, err, tc.want)
		}
	}
	for _, tc := range []struct {
		name  string
		fp    *api.FeeParams
		gas   uint64
		floor uint64
		want  uint64
	}{
		{"defaults when the node reports none", nil, 152_000, 1, 16},
		{"min_fee above the estimate", &api.FeeParams{MinFee: 50, GasPerFeeUnit: 10_000}, 152_000, 1, 50},
		{"a cheap chain", &api.FeeParams{MinFee: 1, GasPerFeeUnit: 1_000_000}, 152_000, 1, 1},
		{"an expensive chain", &api.FeeParams{MinFee: 1, GasPerFeeUnit: 100}, 152_000, 1, 1_520},
	} {
		if got := feeFor(tc.gas, tc.fp, tc.floor); got != tc.want {
			t.Errorf("%s: fee %d, want %d", tc.name, got, tc.want)
		}
	}
}
