package testnet

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/pnet"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/dure-network/dure/chain/genesis"
	"github.com/dure-network/dure/node/api"
	"github.com/dure-network/dure/node/config"
)

// The operations end-to-end test: a parent of four validators whose
// first three processes also run, through [[subnets]] in their
// config.toml, the three validators of a private subnet (pre-shared key,
// power 40/30/30, checkpoint period 2). The subnet validators sign in
// their processes; only the third relays. It checks: checkpoints land
// every period; the parent's `dure status` and /metrics show the lag; a
// libp2p host without the key cannot dial a subnet node (one with it can)
// and a dure node without it receives no block; a process killed (parent
// validator and subnet validator 30 together) leaves both chains going
// and checkpoints landing; the relaying process killed while the subnet
// makes 20 more checkpoints' worth of blocks, restarted, catches up with
// one submission.

const opsPeriod = 2

// setPowers gives the generated network's validators these powers (in
// genesis.json's set and staking's self-stakes), in manifest order.
func setPowers(t *testing.T, n *e2eNet, powers []uint64) {
	t.Helper()
	for _, nd := range n.Manifest.Nodes {
		path := filepath.Join(nd.Home, "genesis.json")
		g, err := genesis.Load(path)
		if err != nil {
			t.Fatal(err)
		}
		if len(g.Validators) != len(powers) {
			t.Fatalf("%d validators, %d powers", len(g.Validators), len(powers))
		}
		stake := map[string]uint64{}
		for i := range g.Validators {
			g.Validators[i].Power = powers[i]
			stake[g.Validators[i].PubKey.String()] = powers[i] * 1_000_000
		}
		var st map[string]any
		if err := json.Unmarshal(g.AppState["staking"], &st); err != nil {
			t.Fatal(err)
		}
		for _, v := range st["validators"].([]any) {
			v := v.(map[string]any)
			s, ok := stake[v["pub_key"].(string)]
			if !ok {
				t.Fatalf("staking validator %v not in the set", v["pub_key"])
			}
			v["self_stake"] = s
		}
		raw, err := json.Marshal(st)
		if err != nil {
			t.Fatal(err)
		}
		g.AppState["staking"] = raw
		if err := g.Write(path); err != nil {
			t.Fatal(err)
		}
	}
}

// addSubnetEntry writes a [[subnets]] table into a parent node's config.
func addSubnetEntry(t *testing.T, home string, e config.Subnet) {
	t.Helper()
	path := filepath.Join(home, config.FileName)
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Subnets = append(cfg.Subnets, e)
	if err := config.Write(path, cfg); err != nil {
		t.Fatal(err)
	}
	if _, err := config.Load(path); err != nil {
		t.Fatalf("config with [[subnets]]: %v", err)
	}
}

// subnetRow is the parent's /v1/status row of subnet id.
func subnetRow(ctx context.Context, t *testing.T, cl *api.Client, id string) (api.SubnetStatus, bool) {
	t.Helper()
	st, err := cl.Status(ctx)
	if err != nil {
		return api.SubnetStatus{}, false
	}
	for _, s := range st.Subnets {
		if s.ID == id {
			return s, true
		}
	}
	return api.SubnetStatus{}, false
}

func TestSubnetOfThreeInParentProcesses(t *testing.T) {
	slow(t)
	parallelScenario(t)
	ctx := context.Background()
	parent := newNet(t, netOpts{validators: 4})
	sub := newSubnetNet(t, 3, "garden-coop", opsPeriod)
	// Unequal power: losing a 30 leaves 70 of 100, more than 2/3 for
	// both the subnet's consensus and the checkpoint quorum.
	setPowers(t, sub, []uint64{40, 30, 30})
	psk := make([]byte, 32)
	if _, err := rand.Read(psk); err != nil {
		t.Fatal(err)
	}
	pskFile := filepath.Join(sub.Dir, "garden.key")
	if err := os.WriteFile(pskFile, psk, 0o600); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		addSubnetEntry(t, parent.Procs[i].Node.Home, config.Subnet{ID: "garden-coop", Home: sub.Procs[i].Node.Home,
			PrivateNetworkPSKFile: pskFile, Relay: i == 2, Interval: "300ms", Fee: 10})
	}
	parent.start(ctx)
	papi := parent.Procs[0].Node.API
	pk := []string{"--home", parent.Dir, "--keyring-backend", "test"}

	// Register the subnet with its genesis set (collateral = power) and
	// fund the relaying validator's key on the parent, which pays there.
	out := mustDure(ctx, t, "subnet", "genesis", filepath.Join(sub.Procs[0].Node.Home, "genesis.json"))
	var sg struct {
		Hash string `json:"genesis_hash"`
		Vals string `json:"validators"`
	}
	if err := json.Unmarshal([]byte(out), &sg); err != nil {
		t.Fatalf("subnet genesis: %v\n%s", err, out)
	}
	if !strings.Contains(sg.Vals, ":40000000") || strings.Count(sg.Vals, ":30000000") != 2 {
		t.Fatalf("registered set %s, want powers 40/30/30", sg.Vals)
	}
	mustDure(ctx, t, append([]string{"subnet", "create", "--node", papi, "--from", "alice", "--id", "garden-coop",
		"--genesis-hash", sg.Hash, "--period", fmt.Sprint(opsPeriod), "--validators", sg.Vals, "--private"}, pk...)...)
	mustDure(ctx, t, append([]string{"tx", "currency", "send", "--node", papi, "--from", "alice",
		"--to", sub.Manifest.Nodes[2].Validator, "--amount", "10000000"}, pk...)...)

	status, waitFor := subnetWatch(ctx, t, papi, pk, false, 300*time.Millisecond)
	start := time.Now()
	st := waitFor("three checkpoints", 60*time.Second, func(s subnetStatus) bool { return s.Subnet.Last.Height >= 3*opsPeriod })
	t.Logf("checkpoint %d landed %s after registration (parent height %d)", st.Subnet.Last.Height, time.Since(start).Round(time.Millisecond), st.Subnet.Last.ParentHeight)

	// The parent's own status and metrics carry the subnet's lag (read
	// every second).
	row, ok := subnetRow(ctx, t, parent.Procs[0].Client, "garden-coop")
	for deadline := time.Now().Add(5 * time.Second); row.LastCheckpoint < 3*opsPeriod && time.Now().Before(deadline); {
		time.Sleep(200 * time.Millisecond)
		row, ok = subnetRow(ctx, t, parent.Procs[0].Client, "garden-coop")
	}
	if !ok || !row.Running || !row.Private || row.Relay || !row.Registered || row.LastCheckpoint < 3*opsPeriod ||
		row.SubnetHeight < row.LastCheckpoint || row.CheckpointLagBlocks != row.ParentHeight-row.LastCheckpointParentHeight {
		t.Fatalf("parent 0 status row: %+v (found %v)", row, ok)
	}
	if row, _ := subnetRow(ctx, t, parent.Procs[2].Client, "garden-coop"); !row.Relay {
		t.Fatalf("parent 2 does not say it relays: %+v", row)
	}
	if row, ok := subnetRow(ctx, t, parent.Procs[3].Client, "garden-coop"); ok {
		t.Fatalf("parent 3 runs no subnet but shows %+v", row)
	}
	out = mustDure(ctx, t, "status", "--node", papi, "-o", "text")
	if !strings.Contains(out, "subnet    garden-coop: height ") || !strings.Contains(out, ", private") {
		t.Fatalf("dure status -o text:\n%s", out)
	}
	metrics := func(p *Proc) string {
		resp, err := http.Get(p.Node.API + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	if m := metrics(parent.Procs[0]); !strings.Contains(m, `dure_subnet_checkpoint_lag_blocks{subnet="garden-coop"}`) ||
		!strings.Contains(m, `dure_subnet_blocks_since_checkpoint{subnet="garden-coop"}`) || !strings.Contains(m, `dure_subnet_up{subnet="garden-coop"} 1`) {
		t.Fatalf("parent metrics lack the subnet's lag:\n%s", grepLines(m, "dure_subnet"))
	}

	// Outsiders: a libp2p host without the key cannot complete a
	// handshake with a subnet node; one with the key can (so the dial
	// itself is sound).
	target := sub.Manifest.Nodes[0]
	addr, err := ma.NewMultiaddr(target.P2P)
	if err != nil {
		t.Fatal(err)
	}
	info, err := peer.AddrInfoFromP2pAddr(addr)
	if err != nil {
		t.Fatal(err)
	}
	dial := func(key []byte) error {
		opts := []libp2p.Option{libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"), libp2p.DisableRelay()}
		if key != nil {
			opts = append(opts, libp2p.PrivateNetwork(pnet.PSK(key)))
		}
		h, err := libp2p.New(opts...)
		if err != nil {
			t.Fatal(err)
		}
		defer h.Close()
		dctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		defer cancel()
		return h.Connect(dctx, *info)
	}
	if err := dial(nil); err == nil {
		t.Fatal("a host without the pre-shared key connected to a private subnet node")
	} else {
		t.Logf("outsider's dial refused: %v", err)
	}
	wrong := make([]byte, 32)
	_, _ = rand.Read(wrong)
	if err := dial(wrong); err == nil {
		t.Fatal("a host with another pre-shared key connected to a private subnet node")
	}
	if err := dial(psk); err != nil {
		t.Fatalf("a host with the pre-shared key cannot connect: %v", err)
	}
	// A dure node of the subnet's chain without the key, bootstrapping
	// from all three subnet nodes, gets no peer and no block.
	outsider := outsiderNode(ctx, t, sub)
	subAt := row.SubnetHeight
	deadline := time.Now().Add(20 * time.Second)
	for {
		if r, _ := subnetRow(ctx, t, parent.Procs[0].Client, "garden-coop"); r.SubnetHeight >= subAt+5 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("subnet made no 5 blocks in 20 s")
		}
		time.Sleep(300 * time.Millisecond)
	}
	ost, err := outsider.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if ost.Height != 0 || ost.Peers != 0 {
		t.Fatalf("the outsider node has height %d and %d peers, want 0 and 0", ost.Height, ost.Peers)
	}
	t.Logf("outsider node without the key: height 0, 0 peers while the subnet went on to %d", subAt+5)

	// One process dies: parent validator 1 and subnet validator 1 (30).
	// The parent (3 of 4) and the subnet (70 of 100) go on, and so do
	// checkpoints.
	if err := parent.Procs[1].Kill(); err != nil {
		t.Fatal(err)
	}
	was := status().Subnet.Last.Height
	st = waitFor("checkpoints with a subnet validator down", 60*time.Second, func(s subnetStatus) bool { return s.Subnet.Last.Height >= was+3*opsPeriod })
	t.Logf("process 1 killed at checkpoint %d: checkpoints went on to %d", was, st.Subnet.Last.Height)
	if err := parent.Procs[1].Start(); err != nil {
		t.Fatal(err)
	}
	// Back in the subnet's consensus: its precommit is in a commit again.
	deadline = time.Now().Add(30 * time.Second)
	for {
		st, err := sub.Procs[0].Client.Status(ctx)
		if err == nil && st.Signatures != nil && st.Signatures.Signed == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("restarted subnet validator 1 signs no commit within 30 s; subnet nodes:\n%s", sub.describe())
		}
		time.Sleep(200 * time.Millisecond)
	}

	// The only relaying process dies while the subnet makes twenty
	// checkpoints' worth of blocks (signed by 70 of 100); the parent's
	// lag rises; restarted, it catches up with one submission.
	if err := parent.Procs[2].Kill(); err != nil {
		t.Fatal(err)
	}
	// A checkpoint it sent just before may still land: the outage is
	// counted from the parent's last checkpoint once the subnet has gone
	// 21 periods past it with none landing.
	var prev uint64
	var n0 uint64
	deadline = time.Now().Add(90 * time.Second)
	for {
		r, _ := subnetRow(ctx, t, parent.Procs[0].Client, "garden-coop")
		if r.LastCheckpoint != prev || prev == 0 {
			prev = r.LastCheckpoint
		} else if r.SubnetHeight >= prev+21*opsPeriod {
			if r.SubnetBlocksSinceCheckpoint < 20*opsPeriod || r.CheckpointLagBlocks < 5 {
				t.Fatalf("with no relayer the lag did not rise: %+v", r)
			}
			t.Logf("relayer down: subnet at %d, parent's last checkpoint %d, lag %d subnet blocks, %d parent blocks",
				r.SubnetHeight, r.LastCheckpoint, r.SubnetBlocksSinceCheckpoint, r.CheckpointLagBlocks)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the subnet did not go 21 periods past the parent's last checkpoint in 90 s with one validator down: %+v\nsubnet nodes:\n%s", r, sub.describe())
		}
		time.Sleep(300 * time.Millisecond)
	}
	if m := metrics(parent.Procs[0]); !strings.Contains(m, `dure_subnet_last_checkpoint_height{subnet="garden-coop"} `+fmt.Sprint(prev)) {
		t.Fatalf("metrics:\n%s", grepLines(m, "dure_subnet"))
	}
	if held := status(); held.Subnet.Last.Height != prev {
		t.Fatalf("a checkpoint landed with the relayer down: %d, was %d", held.Subnet.Last.Height, prev)
	} else {
		n0 = held.Subnet.Checkpoints
	}
	restarted := time.Now()
	if err := parent.Procs[2].Start(); err != nil {
		t.Fatal(err)
	}
	st = waitFor("catch-up after the relayer's restart", 60*time.Second, func(s subnetStatus) bool { return s.Subnet.Checkpoints > n0 })
	caughtUpIn := time.Since(restarted)
	var list struct {
		Checkpoints []struct {
			Height       uint64 `json:"height"`
			ParentHeight uint64 `json:"parent_height"`
		} `json:"checkpoints"`
	}
	out = mustDure(ctx, t, append([]string{"subnet", "checkpoints", "garden-coop", "--node", papi}, pk...)...)
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatal(err)
	}
	var first uint64
	for _, c := range list.Checkpoints {
		if c.Height%opsPeriod != 0 {
			t.Fatalf("checkpoint at %d, not a multiple of %d", c.Height, opsPeriod)
		}
		if c.Height > prev && first == 0 {
			first = c.Height
		}
	}
	if first < prev+20*opsPeriod {
		t.Fatalf("the first checkpoint after the outage is %d, from %d: want one submission covering at least 20 periods", first, prev)
	}
	t.Logf("relayer restarted after %d missed checkpoints: one submission, checkpoint %d → %d, %s after restart; %d checkpoints in all",
		(first-prev)/opsPeriod, prev, first, caughtUpIn.Round(time.Millisecond), len(list.Checkpoints))
	// Lag from the subnet block a checkpoint names to the parent block
	// that accepted it, by the two chains' block times (one host), the
	// catch-up left out.
	var lags []time.Duration
	for _, c := range list.Checkpoints {
		if c.Height == first {
			continue
		}
		sb, err := sub.Procs[0].Client.Block(ctx, c.Height)
		if err != nil {
			t.Fatal(err)
		}
		pb, err := parent.Procs[0].Client.Block(ctx, c.ParentHeight)
		if err != nil {
			t.Fatal(err)
		}
		lags = append(lags, time.Duration(pb.Header.Time-sb.Header.Time))
	}
	slices.Sort(lags)
	t.Logf("checkpoint lag, subnet block to parent inclusion, over %d checkpoints: median %s, p95 %s, max %s",
		len(lags), lags[len(lags)/2].Round(time.Millisecond), lags[(len(lags)*95+99)/100-1].Round(time.Millisecond), lags[len(lags)-1].Round(time.Millisecond))
}

// outsiderNode starts a full node of the subnet's chain with its genesis
// but without the pre-shared key, bootstrapping from every subnet node.
func outsiderNode(ctx context.Context, t *testing.T, sub *e2eNet) *api.Client {
	t.Helper()
	home := filepath.Join(t.TempDir(), "outsider")
	mustDure(ctx, t, "init", "--chain-id", "garden-coop", "--home", home, "--keyring-backend", "test")
	g, err := os.ReadFile(filepath.Join(sub.Procs[0].Node.Home, "genesis.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(home, "genesis.json"), g, 0o644); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(home, config.FileName)
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	base := freeBasePort(t, 1)
	cfg.PrivValidatorKey = ""
	cfg.API.ListenAddr = fmt.Sprintf("127.0.0.1:%d", base)
	cfg.P2P.ListenAddrs = []string{fmt.Sprintf("/ip4/127.0.0.1/tcp/%d", base+1)}
	cfg.P2P.BootstrapPeers = nil
	for _, nd := range sub.Manifest.Nodes {
		cfg.P2P.BootstrapPeers = append(cfg.P2P.BootstrapPeers, nd.P2P)
	}
	cfg.P2P.EnableDHT, cfg.P2P.EnableMDNS, cfg.P2P.EnableNATPortMap, cfg.P2P.EnableHolePunching, cfg.P2P.EnableRelay = false, false, false, false, false
	cfg.StateSync.Enable = "off"
	if err := config.Write(path, cfg); err != nil {
		t.Fatal(err)
	}
	background(t, "outsider", "start", "--home", home)
	cl := api.NewClient(cfg.API.ListenAddr)
	deadline := time.Now().Add(20 * time.Second)
	for {
		if _, err := cl.Status(ctx); err == nil {
			return cl
		}
		if time.Now().After(deadline) {
			t.Fatal("outsider node's API did not come up")
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
