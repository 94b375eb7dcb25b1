package cli

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/dure-network/dure/apps/subnet"
	"github.com/dure-network/dure/chain"
	"github.com/dure-network/dure/chain/genesis"
)

// TestTopDownCatchUpOverRounds: a parent node holding more deposits for
// a subnet than one topdown carries (112 > 100) and a subnet node following
// it, both real nodes in this process: one relay call (what a poll of
// `dure start --subnet` or `dure subnet topdown` does) reads them through
// the parent's API with their proofs, sends two topdowns one after the
// other, and every deposit is minted once; the next call has nothing to do.
func TestTopDownCatchUpOverRounds(t *testing.T) {
	if testing.Short() {
		t.Skip("runs two nodes for a few seconds")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	phome, pcfg := initHome(t, "parent-1")
	tnP := startNode(t, phome)

	// The subnet follows the parent from its genesis.
	shome, scfg := subnetHome(t, "garden-coop", 5)
	pg, err := genesis.Load(pcfg.GenesisPath())
	if err != nil {
		t.Fatal(err)
	}
	pvs, err := pg.ValidatorSet()
	if err != nil {
		t.Fatal(err)
	}
	sg, err := genesis.Load(scfg.GenesisPath())
	if err != nil {
		t.Fatal(err)
	}
	var sec map[string]any
	if err := json.Unmarshal(sg.AppState["subnet"], &sec); err != nil {
		t.Fatal(err)
	}
	sec["topdown"] = subnet.TopDownGenesis{Subnet: "garden-coop", ParentChainID: pg.ChainID, Time: chain.TimeOf(pg.GenesisTime), Validators: pvs.Validators}
	if sg.AppState["subnet"], err = json.Marshal(sec); err != nil {
		t.Fatal(err)
	}
	if err := sg.Write(scfg.GenesisPath()); err != nil {
		t.Fatal(err)
	}

	// Register it on the parent and deposit 112 times (7 txs of 16).
	reg := subnetGenesis(t, shome)
	if code, out, errs := runCLI("subnet", "create", "--from", "validator", "--id", "garden-coop", "--genesis-hash", reg.Hash,
		"--period", "5", "--validators", reg.Vals, "--home", phome, "--keyring-backend", "test", "--node", pcfg.API.ListenAddr); code != ExitOK {
		t.Fatalf("subnet create: %d %s %s", code, out, errs)
	}
	to := newKey(t).PubKey().Address()
	c := chain.MustCodec()
	for i := 0; i < 7; i++ {
		var msgs []chain.Msg
		for range chain.MaxMsgsPerTx {
			m, err := subnet.MsgDeposit(c, "garden-coop", to, 3)
			if err != nil {
				t.Fatal(err)
			}
			msgs = append(msgs, m)
		}
		if _, err := submitSigned(ctx, tnP.Client, tnP.Key, 100, msgs...); err != nil {
			t.Fatalf("deposits %d: %v", i, err)
		}
	}

	tnS := startNode(t, shome)
	ag := &subnetAgent{id: "garden-coop", sub: tnS.Client, parent: tnP.Client, key: tnS.Key, fee: 1}
	res, err := ag.topdown(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rounds, _ := res.(map[string]any)["rounds"].([]any)
	if len(rounds) != 2 {
		t.Fatalf("one relay call sent %d topdowns, want 2: %v", len(rounds), res)
	}
	var td subnet.TopDownState
	if _, err := provenQuery(ctx, tnS.Client, subnet.ModuleName, "topdown", nil, &td); err != nil {
		t.Fatal(err)
	}
	if td.Applied != 112 || td.Minted != 3*112 {
		t.Fatalf("subnet applied %d deposits, minted %d; want 112 and 336", td.Applied, td.Minted)
	}
	if again, err := ag.topdown(ctx); err != nil || again != nil {
		t.Fatalf("a second call: %v %v, want nothing to do", again, err)
	}
	for i, r := range rounds {
		t.Logf("topdown %d: %d headers, %d deposits, fee %v", i, r.(map[string]any)["blocks"], r.(map[string]any)["deposits"], r.(map[string]any)["fee"])
	}
}
