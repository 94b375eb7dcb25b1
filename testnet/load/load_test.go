package load_test

import (
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/dure-network/dure/chain"
	"github.com/dure-network/dure/node/keystore"
	"github.com/dure-network/dure/testnet"
	"github.com/dure-network/dure/testnet/load"
)

// freeBase finds a base port whose API and p2p ports for n nodes are free.
func freeBase(t *testing.T, n int) int {
	t.Helper()
	for try := 0; try < 50; try++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		base := ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		if base+10*n > 65000 {
			continue
		}
		ok := true
		for i := 0; i < n && ok; i++ {
			for _, p := range []int{base + 10*i, base + 10*i + 1} {
				l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
				if err != nil {
					ok = false
					break
				}
				l.Close()
			}
		}
		if ok {
			return base
		}
	}
	t.Fatal("no free port range")
	return 0
}

// startNet builds dure, generates an n-validator network and starts it.
func startNet(t *testing.T, n int) (*testnet.Net, []chain.PrivKey) {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "dure")
	build := exec.Command("go", "build", "-o", bin, "github.com/dure-network/dure")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build dure: %v\n%s", err, out)
	}
	netDir := filepath.Join(dir, "net")
	gen := exec.Command(bin, "testnet", "--generate-only", "--dir", netDir, "--validators", strconv.Itoa(n),
		"--base-port", strconv.Itoa(freeBase(t, n)), "--heartbeat", "200ms")
	if out, err := gen.CombinedOutput(); err != nil {
		t.Fatalf("generate testnet: %v\n%s", err, out)
	}
	tn, err := testnet.Open(bin, netDir)
	if err != nil {
		t.Fatal(err)
	}
	if err := tn.StartAll(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		tn.StopAll(5 * time.Second)
		if t.Failed() {
			for _, p := range tn.Procs {
				b, _ := os.ReadFile(filepath.Join(p.Node.Home, "node.log"))
				if len(b) > 4000 {
					b = b[len(b)-4000:]
				}
				t.Logf("%s log tail:\n%s", p.Node.Name, b)
			}
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := testnet.WaitHeight(ctx, 1, tn.Procs...); err != nil {
		t.Fatal(err)
	}
	ks, err := keystore.Open(filepath.Join(netDir, "keys"), keystore.BackendTest, nil)
	if err != nil {
		t.Fatal(err)
	}
	var keys []chain.PrivKey
	for _, name := range tn.Manifest.Accounts {
		k, err := ks.Signer(name)
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k)
	}
	return tn, keys
}

// TestRunFourValidators drives a real 4-validator network for a few
// seconds and checks the generator's central promise: every accepted tx is
// seen committed, none is lost, and the figures are consistent.
func TestRunFourValidators(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a 4-process network")
	}
	tn, keys := startNet(t, 4)
	var nodes []string
	for _, n := range tn.Manifest.Nodes {
		nodes = append(nodes, n.API)
	}
	// One POST per tx at 150 tx/s, then batches of up to 32 in closed loop
	// (at most 600 awaiting a block) with 2 txs per account signed before
	// the load and the rest signed ahead during it, each run with its own
	// accounts.
	for _, c := range []load.Config{
		{Seed: "dure-load", Rate: 150, Concurrency: 16},
		{Seed: "dure-load-batch", Batch: 32, Concurrency: 4, MaxPending: 600, PreSign: 2},
	} {
		t.Run(c.Seed, func(t *testing.T) { checkRun(t, tn, nodes, keys, c) })
	}
}

func checkRun(t *testing.T, tn *testnet.Net, nodes []string, keys []chain.PrivKey, c load.Config) {
	seed := c.Seed
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	rep, err := load.Run(ctx, load.Config{
		Nodes: nodes, Keys: keys, Accounts: 200, Rate: c.Rate, Seed: seed, Batch: c.Batch, MaxPending: c.MaxPending, PreSign: c.PreSign,
		Warmup: time.Second, Duration: 4 * time.Second, Concurrency: c.Concurrency, Grace: 20 * time.Second,
		Logf: t.Logf,
	})
	if err != nil {
		t.Fatalf("run: %v (report %+v)", err, rep)
	}
	t.Logf("report: %+v", rep)
	switch {
	case rep.Accepted == 0:
		t.Fatalf("nothing accepted: rejected %v", rep.Rejected)
	case rep.Lost != 0:
		t.Fatalf("lost %d accepted txs, e.g. %v", rep.Lost, rep.LostIDs)
	case rep.Committed != rep.Accepted:
		t.Fatalf("committed %d != accepted %d", rep.Committed, rep.Accepted)
	case rep.CommittedFailed != 0:
		t.Fatalf("%d transfers failed in their blocks", rep.CommittedFailed)
	case rep.Unanswered != 0 || rep.RetiredAccounts != 0:
		t.Fatalf("unanswered %d, retired accounts %d", rep.Unanswered, rep.RetiredAccounts)
	}
	// The offered 150 tx/s for 5 s is far below capacity: nearly all of it
	// must have gone in, and the window must have seen blocks with our txs.
	if want := int64(150 * 5 * 9 / 10); rep.Accepted < want { // closed loop: at least as much
		t.Errorf("accepted %d, want ≥ %d of the offered load", rep.Accepted, want)
	}
	if rep.TPS <= 0 || rep.Latency.Samples == 0 || rep.Latency.P50 <= 0 || rep.Latency.P99 < rep.Latency.P50 {
		t.Errorf("figures inconsistent: tps %.1f latency %+v", rep.TPS, rep.Latency)
	}
	if c.Batch > 1 && rep.Posts*4 > rep.Submitted {
		t.Errorf("%d posts for %d txs: batches of %d were not used", rep.Posts, rep.Submitted, c.Batch)
	}
	if rep.BlocksInWindow < 2 || rep.BlockInterval <= 0 {
		t.Errorf("blocks in window %d, interval %s", rep.BlocksInWindow, rep.BlockInterval)
	}

	// Balances add up: every committed transfer moved exactly 1 between
	// derived accounts, so their total is what funding put in minus fees.
	var total, nonces uint64
	for _, k := range load.DeriveKeys(seed, 200) {
		a, err := tn.Procs[0].Client.Account(ctx, k.PubKey().Address(), false)
		if err != nil {
			t.Fatal(err)
		}
		total += balance(t, a.Balances, "dure")
		nonces += a.Nonce
	}
	if nonces != uint64(rep.Committed) {
		t.Errorf("sum of account nonces %d, committed %d", nonces, rep.Committed)
	}
	if want := 200*uint64(10_000_000) - 10*nonces; total != want {
		t.Errorf("derived accounts hold %d, want %d (funding − fees)", total, want)
	}
}

// balance reads one denom from the API's balances answer (a JSON object or
// list, depending on the currency module's query shape).
func balance(t *testing.T, v any, denom string) uint64 {
	t.Helper()
	switch b := v.(type) {
	case map[string]any:
		return num(t, b[denom])
	case []any:
		for _, e := range b {
			if m, ok := e.(map[string]any); ok && m["denom"] == denom {
				return num(t, m["amount"])
			}
		}
		return 0
	case nil:
		return 0
	}
	t.Fatalf("unexpected balances shape %T: %v", v, v)
	return 0
}

func num(t *testing.T, v any) uint64 {
	switch x := v.(type) {
	case float64:
		return uint64(x)
	case string:
		n, err := strconv.ParseUint(x, 10, 64)
		if err != nil {
			t.Fatalf("balance %q: %v", x, err)
		}
		return n
	case nil:
		return 0
	}
	t.Fatalf("unexpected balance %T %v", v, v)
	return 0
}

func TestConfigErrors(t *testing.T) {
	k := load.DeriveKeys("x", 1)
	for _, tc := range []struct {
		name string
		cfg  load.Config
	}{
		{"no nodes", load.Config{Keys: k}},
		{"no keys", load.Config{Nodes: []string{"127.0.0.1:1"}}},
		{"one account", load.Config{Nodes: []string{"127.0.0.1:1"}, Keys: k, Accounts: 1}},
		{"negative rate", load.Config{Nodes: []string{"127.0.0.1:1"}, Keys: k, Rate: -1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := load.Run(context.Background(), tc.cfg)
			if err == nil {
				t.Fatal("want an error")
			}
			if tc.name != "unreachable" && !errors.Is(err, load.ErrConfig) {
				t.Fatalf("want ErrConfig, got %v", err)
			}
		})
	}
	t.Run("unreachable", func(t *testing.T) {
		_, err := load.Run(context.Background(), load.Config{Nodes: []string{"127.0.0.1:1"}, Keys: k})
		if err == nil || errors.Is(err, load.ErrConfig) {
			t.Fatalf("want a connection error, got %v", err)
		}
	})
}

func TestDeriveKeysDeterministic(t *testing.T) {
	a, b := load.DeriveKeys("s", 5), load.DeriveKeys("s", 5)
	c := load.DeriveKeys("t", 5)
	seen := map[chain.Address]bool{}
	for i := range a {
		if a[i].PubKey() != b[i].PubKey() {
			t.Fatalf("key %d differs between derivations", i)
		}
		if a[i].PubKey() == c[i].PubKey() {
			t.Fatalf("key %d same for different seeds", i)
		}
		seen[a[i].PubKey().Address()] = true
	}
	if len(seen) != 5 {
		t.Fatalf("got %d distinct addresses, want 5", len(seen))
	}

}
