package cli

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dure-network/dure/chain"
	"github.com/dure-network/dure/chain/genesis"
	"github.com/dure-network/dure/node"
	"github.com/dure-network/dure/node/config"
)

// TestExportReimportsToSameStateRoot: after transactions in every module,
// `dure export` of the stopped node writes a genesis that a fresh node
// loads to exactly the state root the chain had at its last height.
func TestExportReimportsToSameStateRoot(t *testing.T) {
	home, _ := initHome(t, "export-1")
	tn := startNode(t, home)
	common := []string{"--home", home, "--keyring-backend", "test", "--node", tn.Cfg.API.ListenAddr}
	bob := newKey(t).PubKey().Address().String()
	for _, args := range [][]string{
		{"tx", "currency", "send", "--from", "validator", "--to", bob, "--amount", "1000"},
		{"tx", "currency", "create", "--from", "validator", "--denom", "nw", "--expiry", "26280h", "--hourly-rate", "700", "--transfer", "merchants"},
		{"tx", "currency", "confirm-hours", "--from", "validator", "--denom", "nw", "--volunteer", bob, "--hours", "2"},
		{"tx", "staking", "delegate", "--from", "validator", "--validator", bob, "--amount", "1"}, // refused: not a validator
		{"tx", "notes", "post", "--from", "validator", "--topic", "town", "--text", "Market on Sunday", "--ttl", "720h"},
	} {
		if code, out, errs := runCLI(append(args, common...)...); code != ExitOK && args[1] != "staking" {
			t.Fatalf("%v: exit %d\n%s\n%s", args, code, out, errs)
		}
	}
	tn.Stop()

	out := filepath.Join(t.TempDir(), "exported.json")
	code, _, errs := runCLI("export", "--home", home, "--chain-id", "export-2", "--out", out)
	if code != ExitOK || !strings.Contains(errs, "exported height") {
		t.Fatalf("export: exit %d\n%s", code, errs)
	}
	cfg, err := config.Load(filepath.Join(home, config.FileName))
	if err != nil {
		t.Fatal(err)
	}
	_, head, err := node.ExportGenesis(cfg, "")
	if err != nil {
		t.Fatal(err)
	}
	gen, err := genesis.Load(out)
	if err != nil {
		t.Fatalf("exported genesis does not load: %v", err)
	}
	for _, s := range []string{"currency", "staking", "notes", "auth"} {
		if len(gen.AppState[s]) == 0 {
			t.Errorf("exported app_state has no %s", s)
		}
	}

	home2, cfg2 := initHome(t, "export-2")
	if err := os.Rename(out, cfg2.GenesisPath()); err != nil {
		t.Fatal(err)
	}
	n, err := node.Open(context.Background(), cfg2, slog.New(slog.DiscardHandler), chain.PrivKey{})
	if err != nil {
		t.Fatalf("open %s on the exported genesis: %v", home2, err)
	}
	n.Close()
	// The store Open initialised, read back: the new chain's genesis state
	// is the exported chain's last state, and a second export of the new
	// chain at genesis is the same state again.
	_, head2, err := node.ExportGenesis(cfg2, "")
	if err != nil {
		t.Fatalf("export of the re-imported chain: %v", err)
	}
	if head2.Height != 0 || head2.StateRoot != head.StateRoot {
		t.Fatalf("re-imported state root %s at %d, exported chain's %s at %d", head2.StateRoot, head2.Height, head.StateRoot, head.Height)
	}
}
