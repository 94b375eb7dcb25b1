package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/dure-network/dure/chain"
	"github.com/dure-network/dure/node"
	"github.com/dure-network/dure/node/api"
)

func newStartCmd(g *globals) *cobra.Command {
	var passFile string
	var allowNoSignState bool
	var sub subnetStart
	cmd := &cobra.Command{
		Use:   "start",
		Short: "Run the node: join the network, validate (with a validator key) and serve the API",
		Long: `start runs the node in the foreground until Ctrl-C or SIGTERM. It syncs missing
blocks from peers, then takes part in consensus if config.toml's
priv_validator_key names a key in the keyring (empty: a full node).

The API listens on [api] listen_addr (127.0.0.1:26657 by default): see
/v1/status, /v1/blocks/latest and /metrics.

Each [[subnets]] table of config.toml runs a subnet's node in this process,
from its own home (store, keys, libp2p host, API), signing (and with
relay = true, relaying) its checkpoints; a subnet node that fails is logged
and shown in status while this node goes on. Status and /metrics show each
subnet's checkpoint lag.

A validator whose data directory has blocks but no consensus state
(data/cs.wal/last_signed) does not sign until the network has committed a
block made after this start; where the others cannot commit without it (a
lone validator) it exits 2. --allow-missing-sign-state skips that check.
A store behind the consensus state (damaged, rolled back) exits 2.

Exit codes: 0 stopped cleanly, 1 the node failed while running, 2 bad config,
genesis or data directory, or a p2p/API listen address that cannot be bound
(the message names what to fix), 5 the data directory's filesystem has less
free space than [storage] min_free_disk (at start, or when a write runs out
of space regardless; while running the node instead stops signing and
committing below min_free_disk, keeps serving reads, and resumes once space
is freed).`,
		Example: `  dure start
  dure start --home /srv/dure
  DURE_KEYRING_PASSPHRASE=... dure start   # unattended validator`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			cfg, err := loadConfig(g.home)
			if err != nil {
				return err
			}
			log, err := newLogger(g.stderr, cfg.LogLevel, cfg.LogFormat)
			if err != nil {
				return usageErr("config: %v", err)
			}
			node.ApplyMemoryLimit(cfg, log)
			var key chain.PrivKey
			if cfg.PrivValidatorKey != "" {
				ks, err := openKeyring(cfg, "", passFile, g.stderr)
				if err != nil {
					return err
				}
				if key, err = ks.Signer(cfg.PrivValidatorKey); err != nil {
					return withCode(ExitUsage, fmt.Errorf("validator key (priv_validator_key = %q): %w", cfg.PrivValidatorKey, err))
				}
			}
			var opts []node.Option
			if allowNoSignState {
				opts = append(opts, node.AllowMissingSignState())
			}
			n, err := node.Open(c.Context(), cfg, log, key, opts...)
			if err != nil {
				return nodeErr(err)
			}
			if sub.id != "" {
				if key.IsZero() {
					return usageErr("--subnet needs a validator: set priv_validator_key in config.toml")
				}
				if sub.parent == "" {
					return usageErr("--subnet needs --subnet-parent, the parent chain's API address")
				}
				ag := &subnetAgent{id: sub.id, sub: api.NewClient(cfg.API.ListenAddr), parent: api.NewClient(sub.parent), key: key, fee: sub.fee}
				n.WatchSubnet(sub.id, sub.relay, remoteSubnetSource(ag.parent, sub.id))
				go func() {
					if n.WaitCaughtUp(c.Context(), sub.every) { // as beside a [[subnets]] node
						runSubnetAgent(c.Context(), log, ag, sub.relay, sub.every)
					}
				}()
			}
			// [[subnets]]: their nodes run beside this one (subnets.go)
			// and stop after it.
			subCtx, stopSubnets := context.WithCancel(c.Context())
			waitSubnets := n.StartSubnets(subCtx, subnetKeys(g.stderr), runConfiguredSubnetAgent)
			defer func() { stopSubnets(); waitSubnets() }()
			if err := n.Run(c.Context()); err != nil {
				log.Error("node stopped", "err", err)
				if node.IsDiskLow(err) {
					return withCode(ExitDiskFull, err)
				}
				return nodeErr(err)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&passFile, "passphrase-file", "", "file whose first line is the keyring passphrase")
	cmd.Flags().StringVar(&sub.id, "subnet", "", "this chain is the subnet with this id: sign its checkpoints with the validator key (see dure subnet)")
	cmd.Flags().StringVar(&sub.parent, "subnet-parent", "", "API address of a node of the parent chain (with --subnet)")
	cmd.Flags().BoolVar(&sub.relay, "subnet-relay", false, "also submit collected checkpoints to the parent, paying fees from the validator key's account there")
	cmd.Flags().DurationVar(&sub.every, "subnet-interval", time.Second, "how often to look for a checkpoint to sign or relay")
	cmd.Flags().Uint64Var(&sub.fee, "subnet-fee", 10, "fee offered by endorse and checkpoint transactions")
	cmd.Flags().BoolVar(&allowNoSignState, node.FlagAllowMissingSignState, false,
		"a validator whose data has blocks but no cs.wal/last_signed signs at once instead of waiting for the network to commit a block made after this start (unsafe unless it signed nothing above its store's head)")
	return cmd
}

// clientFlags are shared by commands that talk to a node's API.
type clientFlags struct {
	node   string
	output string
}

func (f *clientFlags) register(c *cobra.Command) {
	c.PersistentFlags().StringVar(&f.node, "node", "", "API address of the node (default: [api] listen_addr of --home, else 127.0.0.1:26657)")
	c.PersistentFlags().StringVarP(&f.output, "output", "o", "json", `output format: "json" or "text"`)
	// Refused before anything is signed, sent or asked.
	c.PersistentPreRunE = func(*cobra.Command, []string) error {
		if f.output != "json" && f.output != "text" {
			return usageErr("-o %q: use \"json\" or \"text\"", f.output)
		}
		return nil
	}
}

// print writes v as -o asks: indented JSON, or text lines of
// "field.path  value".
func (f *clientFlags) print(w io.Writer, v any) error {
	if f.output == "text" {
		return printText(w, v)
	}
	return printJSON(w, v)
}

func (f *clientFlags) client(g *globals) *api.Client {
	addr := f.node
	if addr == "" {
		addr = loadClientHome(g.home).cfg.API.ListenAddr
	}
	if addr == "" {
		addr = "127.0.0.1:26657"
	}
	return api.NewClient(addr)
}

// apiErr maps client errors to exit codes.
func apiErr(err error) error {
	if err == nil {
		return nil
	}
	var ae *api.APIError
	if errors.As(err, &ae) {
		if ae.Status == 404 {
			return withCode(ExitNotFound, err)
		}
		return withCode(ExitError, err)
	}
	return withCode(ExitNoNode, fmt.Errorf("%w (is the node running? see --node)", err))
}

func newStatusCmd(g *globals) *cobra.Command {
	f := &clientFlags{}
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show a running node's height, peers, sync state and mempool",
		Example: `  dure status
  dure status --node 127.0.0.1:26657 -o text`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			ctx, cancel := context.WithTimeout(c.Context(), 10*time.Second)
			defer cancel()
			st, err := f.client(g).Status(ctx)
			if err != nil {
				return apiErr(err)
			}
			if f.output == "text" {
				fmt.Fprintf(g.stdout, "chain     %s\nmoniker   %s\nheight    %d (%s)\nsyncing   %t\npeers     %d\npeer id   %s\nmempool   %d txs, %d bytes\n",
					st.ChainID, st.Moniker, st.Height, st.BlockID, st.Syncing, st.Peers, st.PeerID, st.Mempool.Txs, st.Mempool.Bytes)
				if st.Validator != nil {
					fmt.Fprintf(g.stdout, "validator %s (power %d)\n", st.Validator.Address, st.Validator.Power)
				}
				if st.Health.OK {
					fmt.Fprintf(g.stdout, "health    ok (api %d/%d connections, %d/%d event streams)\n",
						st.Health.Connections, st.Health.MaxConnections, st.Health.EventStreams, st.Health.MaxEventStreams)
				} else {
					fmt.Fprintf(g.stdout, "health    %s: %s\n", st.Health.Code, st.Health.Message)
				}
				for _, s := range st.Subnets {
					fmt.Fprintf(g.stdout, "subnet    %s\n", s.Summary())
				}
				if p2pInfo, ok := st.P2P.(map[string]any); ok {
					topics, _ := p2pInfo["topics"].([]any)
					for _, t := range topics {
						if tm, ok := t.(map[string]any); ok {
							fmt.Fprintf(g.stdout, "topic     %v: %v peers, %v in mesh\n", tm["name"], tm["peers"], tm["mesh_peers"])
						}
					}
				}
				return nil
			}
			return printJSON(g.stdout, st)
		},
	}
	f.register(cmd)
	return cmd
}
