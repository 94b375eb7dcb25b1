package node

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/dure-network/dure/chain"
	"github.com/dure-network/dure/node/api"
	"github.com/dure-network/dure/node/config"
	"github.com/dure-network/dure/node/keystore"
	"github.com/dure-network/dure/node/nodetest"
	"github.com/dure-network/dure/testnet"
)

func freePort(t testing.TB) int { return nodetest.FreePort(t) }

// initHome makes a node home as `dure init --keyring-backend test` does
// (node/cli: config defaults, a "validator" key, a genesis with it as the
// only validator), then points it at loopback only: a free API port, an
// ephemeral p2p port, no DHT/NAT/relay/hole punching, and a short heartbeat.
func initHome(t testing.TB, chainID string) (string, config.Config) {
	t.Helper()
	home := filepath.Join(t.TempDir(), "home")
	cfg := config.Default(home)
	cfg.Keyring.Backend = string(keystore.BackendTest)
	cfg.PrivValidatorKey = "validator"
	if err := os.MkdirAll(home, 0o700); err != nil {
		t.Fatal(err)
	}
	ks, err := keystore.Open(cfg.KeysPath(), keystore.BackendTest, nil)
	if err != nil {
		t.Fatal(err)
	}
	info, err := ks.Add(cfg.PrivValidatorKey)
	if err != nil {
		t.Fatal(err)
	}
	gen, err := BuildGenesis(chainID, time.Now(), []GenesisValidator{{PubKey: info.PubKey, Stake: DefaultValidatorStake}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := gen.Write(cfg.GenesisPath()); err != nil {
		t.Fatal(err)
	}
	if err := config.Write(filepath.Join(home, config.FileName), cfg); err != nil {
		t.Fatal(err)
	}
	return home, nodetest.LoopbackConfig(t, home)
}

// lockedBuffer is a log sink shared by the node's goroutines.
type lockedBuffer = nodetest.LockedBuffer

// testNode is an in-process single-validator node.
type testNode = nodetest.Node

// startNode opens home's node and runs it until the test ends. It returns
// once the first block is committed.
func startNode(t testing.TB, home string) *testNode {
	t.Helper()
	return nodetest.Start(t, home, func(ctx context.Context, cfg config.Config, log *slog.Logger, key chain.PrivKey) (nodetest.Runner, string, error) {
		n, err := Open(ctx, cfg, log, key)
		if err != nil {
			return nil, "", err
		}
		return n, n.gen.ChainID, nil
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
	return nodetest.SendTx(t, chainID, key, nonce, fee, to, NativeDenom, amount)
}

// newKey makes a fresh random key.
func newKey(t testing.TB) chain.PrivKey { t.Helper(); return nodetest.NewKey(t) }

// balanceOf reads addr's native balance, nonce and the height they are at.
func balanceOf(t testing.TB, base string, addr chain.Address) (bal, nonce, height uint64) {
	t.Helper()
	return nodetest.BalanceOf(t, base, NativeDenom, addr)
}

// getJSON GETs url, decodes the JSON body into out and returns the status.
func getJSON(t testing.TB, url string, out any) int { t.Helper(); return nodetest.GetJSON(t, url, out) }

// errCode returns the API error's status and stable code, or fails.
func errCode(t testing.TB, err error) (int, string) {
	t.Helper()
	var ae *api.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("want an API error, got %v", err)
	}
	return ae.Status, ae.Code
}

func mustExist(t testing.TB, path string) { t.Helper(); nodetest.MustExist(t, path) }

// The dure process's exit codes (node/cli's ExitUsage and so on), which
// the process tests compare.
const (
	ExitOK       = 0
	ExitError    = 1
	ExitUsage    = 2
	ExitDiskFull = 5
)

// checkSnake fails the test for any JSON object key in v that is not
// snake_case.
func checkSnake(t *testing.T, where string, v any) { t.Helper(); nodetest.CheckSnake(t, where, v) }

func must(t *testing.T, errs ...error) {
	t.Helper()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
}

// stoppedHome makes a single-validator home that has committed a few
// blocks and was stopped cleanly.
func stoppedHome(t *testing.T, bin, chainID string) string {
	t.Helper()
	home, cfg := initHome(t, chainID)
	p := newProc(bin, home, cfg)
	t.Cleanup(func() { _ = p.Kill() })
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := testnet.WaitHeight(ctx, 3, p); err != nil {
		t.Fatalf("%v\n%s", err, procLog(home))
	}
	if err := p.Stop(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Exited(); err != nil {
		t.Fatalf("clean stop: %v\n%s", err, procLog(home))
	}
	return home
}
