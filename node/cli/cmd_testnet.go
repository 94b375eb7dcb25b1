package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/spf13/cobra"

	"github.com/dure-network/dure/node"
	"github.com/dure-network/dure/node/api"
	"github.com/dure-network/dure/node/config"
	"github.com/dure-network/dure/node/keystore"
	"github.com/dure-network/dure/p2p"
	"github.com/dure-network/dure/testnet"
)

// demoAccounts are funded in every generated testnet (keys in <dir>/keys).
var demoAccounts = []string{"alice", "bob", "carol", "dave"}

type testnetOpts struct {
	validators int
	dir        string
	chainID    string
	basePort   int
	heartbeat  time.Duration
}

// generateTestnet writes N validator homes, a shared genesis, demo keys
// and the manifest.
func generateTestnet(o testnetOpts) (*testnet.Manifest, error) {
	if o.validators < 1 || o.validators > 64 {
		return nil, usageErr("--validators %d: use 1 to 64", o.validators)
	}
	for i := 0; i < o.validators; i++ {
		for _, port := range []int{o.basePort + 10*i, o.basePort + 10*i + 1} {
			ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
			if err != nil {
				return nil, usageErr("port %d is in use: pick another --base-port", port)
			}
			ln.Close()
		}
	}
	if err := os.MkdirAll(o.dir, 0o700); err != nil {
		return nil, err
	}
	demo, err := keystore.Open(filepath.Join(o.dir, "keys"), keystore.BackendTest, nil)
	if err != nil {
		return nil, err
	}
	var accts []node.GenesisAccount
	for _, name := range demoAccounts {
		in, err := demo.Add(name)
		if err != nil {
			return nil, err
		}
		accts = append(accts, node.GenesisAccount{Addr: in.Address, Amount: node.DefaultDemoFunds})
	}
	type nodeGen struct {
		cfg  config.Config
		pid  peer.ID
		info keystore.Info
	}
	nodes := make([]nodeGen, o.validators)
	var vals []node.GenesisValidator
	for i := range nodes {
		home := filepath.Join(o.dir, fmt.Sprintf("node%d", i))
		if err := os.MkdirAll(home, 0o700); err != nil {
			return nil, err
		}
		cfg := config.Default(home)
		cfg.Moniker = fmt.Sprintf("node%d", i)
		cfg.PrivValidatorKey = "validator"
		cfg.Keyring.Backend = string(keystore.BackendTest)
		cfg.API.ListenAddr = fmt.Sprintf("127.0.0.1:%d", o.basePort+10*i)
		cfg.P2P.ListenAddrs = []string{fmt.Sprintf("/ip4/127.0.0.1/tcp/%d", o.basePort+10*i+1)}
		cfg.P2P.EnableDHT, cfg.P2P.EnableMDNS, cfg.P2P.EnableNATPortMap = false, false, false
		cfg.P2P.EnableHolePunching, cfg.P2P.EnableRelay = false, false
		if o.heartbeat > 0 {
			cfg.Consensus.HeartbeatInterval = config.Duration(o.heartbeat.String())
		}
		ks, err := keystore.Open(cfg.KeysPath(), keystore.BackendTest, nil)
		if err != nil {
			return nil, err
		}
		info, err := ks.Add("validator")
		if err != nil {
			return nil, err
		}
		key, err := p2p.LoadOrCreateKey(cfg.NodeKeyPath())
		if err != nil {
			return nil, err
		}
		pid, err := peer.IDFromPrivateKey(key)
		if err != nil {
			return nil, err
		}
		nodes[i] = nodeGen{cfg: cfg, pid: pid, info: info}
		vals = append(vals, node.GenesisValidator{PubKey: info.PubKey, Stake: node.DefaultValidatorStake})
	}
	gen, err := node.BuildGenesis(o.chainID, time.Now(), vals, accts)
	if err != nil {
		return nil, err
	}
	m := &testnet.Manifest{ChainID: o.chainID, Accounts: demoAccounts}
	for i, ng := range nodes {
		for j, other := range nodes {
			if j != i {
				ng.cfg.P2P.BootstrapPeers = append(ng.cfg.P2P.BootstrapPeers, fmt.Sprintf("%s/p2p/%s", other.cfg.P2P.ListenAddrs[0], other.pid))
			}
		}
		if err := gen.Write(ng.cfg.GenesisPath()); err != nil {
			return nil, err
		}
		if err := config.Write(filepath.Join(ng.cfg.Home, config.FileName), ng.cfg); err != nil {
			return nil, err
		}
		m.Nodes = append(m.Nodes, testnet.ManifestNode{Name: ng.cfg.Moniker, Home: ng.cfg.Home, API: "http://" + ng.cfg.API.ListenAddr,
			P2P: ng.cfg.P2P.ListenAddrs[0] + "/p2p/" + ng.pid.String(), PeerID: ng.pid.String(), Validator: ng.info.Address.String()})
	}
	b, _ := json.MarshalIndent(m, "", "  ")
	if err := os.WriteFile(filepath.Join(o.dir, "testnet.json"), append(b, '\n'), 0o644); err != nil {
		return nil, err
	}
	return m, nil
}

func newTestnetCmd(g *globals) *cobra.Command {
	o := testnetOpts{}
	var keep, generateOnly bool
	cmd := &cobra.Command{
		Use:   "testnet",
		Short: "Run a local network of validators on loopback (4 by default)",
		Long: `testnet generates keys and a genesis for N validators with funded demo
accounts (alice, bob, carol, dave), starts N 'dure start' processes of this
binary on 127.0.0.1, waits for the first block, prints where each node
listens, and shows live height, peers and tx rate. Ctrl-C stops every node.

Each node's home is <dir>/nodeI (log in <dir>/nodeI/node.log); the demo keys
are in <dir>/keys with the plaintext "test" backend: for development only.
Use them with --home-less commands like:
  dure tx currency send --keyring-backend test --home <dir> --from alice --to bob --amount 100 --node 127.0.0.1:26600`,
		Example: `  go run . testnet
  dure testnet --validators 7 --dir /tmp/net
  dure testnet --keep          # restart the previous network where it stopped`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if o.dir == "" {
				o.dir = filepath.Join(os.TempDir(), "dure-testnet")
			}
			_, err := os.Stat(filepath.Join(o.dir, "testnet.json"))
			reuse := keep && err == nil
			if !reuse {
				if err := os.RemoveAll(o.dir); err != nil {
					return err
				}
				if _, err := generateTestnet(o); err != nil {
					return err
				}
			}
			if generateOnly {
				fmt.Fprintln(g.stdout, "generated", o.dir)
				return nil
			}
			bin, err := os.Executable()
			if err != nil {
				return err
			}
			exitWithParent()
			return runTestnet(c.Context(), g.stdout, bin, o.dir)
		},
	}
	f := cmd.Flags()
	f.IntVar(&o.validators, "validators", 4, "number of validator processes")
	f.StringVar(&o.dir, "dir", "", "network directory (default $TMPDIR/dure-testnet)")
	f.StringVar(&o.chainID, "chain-id", "dure-testnet-1", "chain ID of the new network")
	f.IntVar(&o.basePort, "base-port", 26600, "node i serves its API on base+10i and p2p on base+10i+1")
	f.DurationVar(&o.heartbeat, "heartbeat", 5*time.Second, "interval of empty blocks when there are no transactions")
	f.BoolVar(&keep, "keep", false, "reuse the network directory and resume where it stopped")
	f.BoolVar(&generateOnly, "generate-only", false, "write the network directory and exit (for scripts and tests)")
	return cmd
}

func runTestnet(ctx context.Context, out io.Writer, bin, dir string) error {
	tn, err := testnet.Open(bin, dir)
	if err != nil {
		return err
	}
	if err := tn.StartAll(); err != nil {
		return err
	}
	defer func() {
		fmt.Fprintln(out, "\nstopping nodes...")
		if err := tn.StopAll(10 * time.Second); err != nil {
			fmt.Fprintln(out, "stop:", err)
		}
		fmt.Fprintln(out, "all nodes stopped; data kept in", dir, "(resume with --keep)")
	}()
	wctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	err = testnet.WaitHeight(wctx, 1, tn.Procs...)
	cancel()
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("network did not make its first block: %w (see %s/node*/node.log)", err, dir)
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "chain %s is running with %d validators (dir %s)\n\n", tn.Manifest.ChainID, len(tn.Procs), dir)
	fmt.Fprintln(tw, "NAME\tAPI\tPEER ID\tVALIDATOR\tLOG")
	for _, p := range tn.Procs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", p.Node.Name, p.Node.API, p.Node.PeerID, p.Node.Validator, filepath.Join(p.Node.Home, "node.log"))
	}
	tw.Flush()
	fmt.Fprintf(out, "\ndemo accounts (keys in %s/keys, test backend): %s\n", dir, strings.Join(tn.Manifest.Accounts, ", "))
	fmt.Fprintf(out, "try: dure tx currency send --home %s --keyring-backend test --from alice --to bob --amount 100 --node %s\n", dir, tn.Procs[0].Node.API)
	fmt.Fprintln(out, "press Ctrl-C to stop")
	return watchTestnet(ctx, out, tn)
}

// watchTestnet prints one status line every 2 s until ctx ends, and fails
// if every node has died.
func watchTestnet(ctx context.Context, out io.Writer, tn *testnet.Net) error {
	tick := time.NewTicker(2 * time.Second)
	defer tick.Stop()
	var lastTxs float64
	var lastAt time.Time
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		var parts []string
		alive := 0
		var txs float64
		for _, p := range tn.Procs {
			part, up, st := liveState(ctx, p.Node.Name, p.Running(), p.Client)
			parts = append(parts, part)
			if up {
				alive++
			}
			if st != nil && st.Mempool.Txs > 0 {
				txs += float64(st.Mempool.Txs)
			}
		}
		if alive == 0 {
			return fmt.Errorf("every node has exited; see %s/node*/node.log", tn.Dir)
		}
		rate := ""
		if c, err := committedTxs(ctx, tn.Procs[0]); err == nil {
			if !lastAt.IsZero() {
				rate = fmt.Sprintf(" %.0f tx/s", (c-lastTxs)/time.Since(lastAt).Seconds())
			}
			lastTxs, lastAt = c, time.Now()
		}
		fmt.Fprintf(out, "%s %s%s\n", time.Now().Format("15:04:05"), strings.Join(parts, " "), rate)
	}
}

// liveState is one node's part of the live line. A node is asked even
// when the process this command started has exited: one restarted by
// hand (`dure start --home <dir>/nodeI`) answers on the same API address
// and shows as up, not "down".
func liveState(ctx context.Context, name string, running bool, cl *api.Client) (string, bool, *api.Status) {
	sctx, cancel := context.WithTimeout(ctx, time.Second)
	st, err := cl.Status(sctx)
	cancel()
	switch {
	case err == nil:
		return fmt.Sprintf("%s=h%d/p%d", name, st.Height, st.Peers), true, &st
	case running:
		return name + "=?", true, nil
	}
	return name + "=down", false, nil
}

// committedTxs reads dure_txs_committed_total from a node's metrics.
func committedTxs(ctx context.Context, p *testnet.Proc) (float64, error) {
	return testnet.ScrapeCounter(ctx, p.Node.API+"/metrics", "dure_txs_committed_total")
}
