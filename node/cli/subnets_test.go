package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dure-network/dure/chain/genesis"
	"github.com/dure-network/dure/node"
	"github.com/dure-network/dure/node/api"
	"github.com/dure-network/dure/node/config"
	"github.com/dure-network/dure/node/keystore"
)

// subnetHome makes a single-validator subnet home (checkpoint period k).
func subnetHome(t *testing.T, chainID string, k uint64) (string, config.Config) {
	t.Helper()
	home, cfg := initHome(t, chainID)
	g, err := genesis.Load(cfg.GenesisPath())
	if err != nil {
		t.Fatal(err)
	}
	g.AppState["subnet"] = json.RawMessage(fmt.Sprintf(`{"params": {"min_collateral": 1000000, "power_reduction": 1000000, "escape_after": 1000, "unbonding_blocks": 1000, "slash_bp": 10000, "checkpoint_period": %d}}`, k))
	if err := g.Write(cfg.GenesisPath()); err != nil {
		t.Fatal(err)
	}
	return home, cfg
}

// TestSubnetsInOneProcess runs a parent validator and, through
// [[subnets]], a subnet validator in one process, as `dure start` does:
// the subnet is registered on the parent, its node signs and relays
// checkpoints, and the parent's status and metrics show the lag. A second
// entry whose home is broken is reported and does not stop the parent.
func TestSubnetsInOneProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("runs two nodes for ~10 s")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	phome, pcfg := initHome(t, "parent-1")
	shome, _ := subnetHome(t, "garden-coop", 2)
	broken := filepath.Join(t.TempDir(), "broken") // no genesis
	pcfg.Subnets = []config.Subnet{
		{ID: "garden-coop", Home: shome, Relay: true, Interval: "200ms", Fee: 10},
		{ID: "ghost", Home: broken, APIListenAddr: fmt.Sprintf("127.0.0.1:%d", freePort(t)), Interval: "200ms", Fee: 10},
	}
	if err := config.Write(filepath.Join(phome, config.FileName), pcfg); err != nil {
		t.Fatal(err)
	}
	pcfg, err := config.Load(filepath.Join(phome, config.FileName))
	if err != nil {
		t.Fatal(err)
	}
	pks, err := keystore.Open(pcfg.KeysPath(), keystore.BackendTest, nil)
	if err != nil {
		t.Fatal(err)
	}
	pkey, err := pks.Signer(pcfg.PrivValidatorKey)
	if err != nil {
		t.Fatal(err)
	}
	logs := &lockedBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	n, err := node.Open(ctx, pcfg, log, pkey)
	if err != nil {
		t.Fatal(err)
	}
	wait := n.StartSubnets(ctx, subnetKeys(io.Discard), runConfiguredSubnetAgent)
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("parent Run: %v", err)
		}
		wait()
		if t.Failed() {
			t.Logf("log:\n%s", tail(logs.String(), 80))
		}
	}()
	pcl := api.NewClient(pcfg.API.ListenAddr)
	wctx, wcancel := context.WithTimeout(ctx, 30*time.Second)
	defer wcancel()
	if err := waitHeight(wctx, pcl, 1); err != nil {
		t.Fatal(err)
	}

	// Register the subnet (its validator, power 10) and fund its key on
	// the parent, which pays for relaying.
	sg := subnetGenesis(t, shome)
	pflags := []string{"--home", phome, "--keyring-backend", "test", "--node", pcfg.API.ListenAddr}
	if code, out, errs := runCLI(append([]string{"subnet", "create", "--from", "validator", "--id", "garden-coop",
		"--genesis-hash", sg.Hash, "--period", "2", "--validators", sg.Vals}, pflags...)...); code != ExitOK {
		t.Fatalf("subnet create: %d %s %s", code, out, errs)
	}
	sks, err := keystore.Open(filepath.Join(shome, "keys"), keystore.BackendTest, nil)
	if err != nil {
		t.Fatal(err)
	}
	skey, err := sks.Signer("validator")
	if err != nil {
		t.Fatal(err)
	}
	if code, out, errs := runCLI(append([]string{"tx", "currency", "send", "--from", "validator", "--to", skey.PubKey().Address().String(),
		"--amount", "1000000"}, pflags...)...); code != ExitOK {
		t.Fatalf("fund the subnet validator: %d %s %s", code, out, errs)
	}

	statusOf := func(id string) api.SubnetStatus {
		st, err := pcl.Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range st.Subnets {
			if s.ID == id {
				return s
			}
		}
		t.Fatalf("no subnet %s in status %+v", id, st.Subnets)
		return api.SubnetStatus{}
	}
	deadline := time.Now().Add(40 * time.Second)
	var s api.SubnetStatus
	for {
		s = statusOf("garden-coop")
		if s.LastCheckpoint >= 4 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no second checkpoint on the parent: %+v", s)
		}
		time.Sleep(200 * time.Millisecond)
	}
	for _, c := range []struct {
		name string
		ok   bool
	}{
		{"running", s.Running},
		{"registered", s.Registered && s.ParentError == ""},
		{"relaying, public", s.Relay && !s.Private},
		{"a checkpoint height is a multiple of K", s.LastCheckpoint%2 == 0},
		{"subnet height past the checkpoint", s.SubnetHeight >= s.LastCheckpoint && s.SubnetBlocksSinceCheckpoint == s.SubnetHeight-s.LastCheckpoint},
		{"parent lag counted from the checkpoint's parent block", s.ParentHeight >= s.LastCheckpointParentHeight && s.CheckpointLagBlocks == s.ParentHeight-s.LastCheckpointParentHeight},
	} {
		if !c.ok {
			t.Errorf("%s: %+v", c.name, s)
		}
	}
	ghost := statusOf("ghost")
	if ghost.Running || !strings.Contains(ghost.Error, "genesis") || ghost.Registered {
		t.Errorf("broken subnet: %+v", ghost)
	}

	// Metrics, labelled by subnet.
	resp, err := http.Get("http://" + pcfg.API.ListenAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	body := string(raw)
	for _, m := range []string{
		`dure_subnet_checkpoint_lag_blocks{subnet="garden-coop"}`, `dure_subnet_blocks_since_checkpoint{subnet="garden-coop"}`,
		`dure_subnet_last_checkpoint_height{subnet="garden-coop"}`, `dure_subnet_up{subnet="garden-coop"}`, `dure_subnet_up{subnet="ghost"}`,
	} {
		if v := metricValue(body, m); v < 0 {
			t.Errorf("no %s in /metrics", m)
		}
	}
	if v := metricValue(body, `dure_subnet_up{subnet="ghost"}`); v != 0 {
		t.Errorf("ghost up = %v", v)
	}
	if v := metricValue(body, `dure_subnet_last_checkpoint_height{subnet="garden-coop"}`); v < 4 {
		t.Errorf("last checkpoint height metric %v", v)
	}

	// `dure status`, both outputs.
	if code, out, errs := runCLI("status", "--node", pcfg.API.ListenAddr, "-o", "text"); code != ExitOK ||
		!strings.Contains(out, "subnet    garden-coop: height ") || !strings.Contains(out, "relaying") || !strings.Contains(out, "subnet    ghost: not running") {
		t.Errorf("status text: %d\n%s%s", code, out, errs)
	}
	if code, out, _ := runCLI("status", "--node", pcfg.API.ListenAddr); code != ExitOK || !strings.Contains(out, `"checkpoint_lag_blocks"`) ||
		!strings.Contains(out, `"subnet_blocks_since_checkpoint"`) {
		t.Errorf("status json: %d\n%s", code, out)
	}
	// The parent keeps committing with a broken subnet beside it.
	h0, _ := pcl.Status(ctx)
	wctx2, wcancel2 := context.WithTimeout(ctx, 20*time.Second)
	defer wcancel2()
	if err := waitHeight(wctx2, pcl, h0.Height+2); err != nil {
		t.Fatalf("parent stalled: %v", err)
	}
}

// metricValue is the value of the series written exactly as name, or -1.
func metricValue(body, name string) float64 {
	for _, l := range strings.Split(body, "\n") {
		if strings.HasPrefix(l, name+" ") {
			v, err := strconv.ParseFloat(strings.TrimSpace(l[len(name):]), 64)
			if err == nil {
				return v
			}
		}
	}
	return -1
}

// registration is what `dure subnet genesis` prints for `dure subnet create`.
type registration struct {
	Hash string `json:"genesis_hash"`
	Vals string `json:"validators"`
}

// subnetGenesis runs `dure subnet genesis` on the genesis of the subnet
// home shome.
func subnetGenesis(t *testing.T, shome string) registration {
	t.Helper()
	code, out, errs := runCLI("subnet", "genesis", filepath.Join(shome, "genesis.json"))
	if code != ExitOK {
		t.Fatalf("subnet genesis: %d %s %s", code, out, errs)
	}
	var reg registration
	if err := json.Unmarshal([]byte(out), &reg); err != nil {
		t.Fatal(err)
	}
	return reg
}
