package cli

import (
	"bytes"
	"context"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/dure-network/dure/chain"
	"github.com/dure-network/dure/chain/genesis"
	"github.com/dure-network/dure/node"
	"github.com/dure-network/dure/node/api"
	"github.com/dure-network/dure/node/config"
	"github.com/dure-network/dure/node/nodetest"
)

func freePort(t testing.TB) int { return nodetest.FreePort(t) }

// runCLI runs the CLI in-process and returns exit code, stdout, stderr.
func runCLI(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := Run(args, &out, &errb)
	return code, out.String(), errb.String()
}

// initHome makes a node home the way `dure init --keyring-backend test`
// does, then points it at loopback only (nodetest.LoopbackConfig).
func initHome(t testing.TB, chainID string) (string, config.Config) {
	t.Helper()
	home := filepath.Join(t.TempDir(), "home")
	code, out, errs := runCLI("init", "--chain-id", chainID, "--home", home, "--keyring-backend", "test")
	if code != ExitOK {
		t.Fatalf("init: exit %d\nstdout: %s\nstderr: %s", code, out, errs)
	}
	return home, nodetest.LoopbackConfig(t, home)
}

// lockedBuffer is a log sink shared by the node's goroutines.
type lockedBuffer = nodetest.LockedBuffer

// testNode is an in-process single-validator node.
type testNode = nodetest.Node

// startNode opens home's node with node.Open (as dure start does) and runs
// it until the test ends. It returns once the first block is committed.
func startNode(t testing.TB, home string) *testNode {
	t.Helper()
	return nodetest.Start(t, home, func(ctx context.Context, cfg config.Config, log *slog.Logger, key chain.PrivKey) (nodetest.Runner, string, error) {
		gen, err := genesis.Load(cfg.GenesisPath())
		if err != nil {
			return nil, "", err
		}
		n, err := node.Open(ctx, cfg, log, key)
		if err != nil {
			return nil, "", err
		}
		return n, gen.ChainID, nil
	})
}

func tail(s string, lines int) string { return nodetest.Tail(s, lines) }

// waitHeight polls /v1/status until the node reaches h.
func waitHeight(ctx context.Context, cl *api.Client, h uint64) error {
	return nodetest.WaitHeight(ctx, cl, h)
}

// sendTx builds and signs a one-message send of the native denomination.
func sendTx(t testing.TB, chainID string, key chain.PrivKey, nonce, fee uint64, to chain.Address, amount uint64) []byte {
	t.Helper()
	return nodetest.SendTx(t, chainID, key, nonce, fee, to, node.NativeDenom, amount)
}

// newKey makes a fresh random key.
func newKey(t testing.TB) chain.PrivKey { t.Helper(); return nodetest.NewKey(t) }

// balanceOf reads addr's native balance, nonce and the height they are at.
func balanceOf(t testing.TB, base string, addr chain.Address) (bal, nonce, height uint64) {
	t.Helper()
	return nodetest.BalanceOf(t, base, node.NativeDenom, addr)
}

// getJSON GETs url, decodes the JSON body into out and returns the status.
func getJSON(t testing.TB, url string, out any) int { t.Helper(); return nodetest.GetJSON(t, url, out) }

func mustExist(t testing.TB, path string) { t.Helper(); nodetest.MustExist(t, path) }
