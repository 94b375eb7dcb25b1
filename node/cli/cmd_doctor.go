package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/dure-network/dure/node"
	"github.com/dure-network/dure/node/config"
	"github.com/spf13/cobra"
)

// finding is one check of `dure doctor`.
type finding struct {
	Check  string `json:"check"`
	Level  string `json:"level"` // "ok", "warn" or "fail"
	Detail string `json:"detail"`
	Fix    string `json:"fix,omitempty"`
}

func newDoctorCmd(g *globals) *cobra.Command {
	f := &clientFlags{}
	cmd := &cobra.Command{
		Use:   "doctor",
		Short: "Check what keeps a node from peering, being reached or keeping up, and say how to fix it",
		Long: `doctor checks the home directory (config, genesis, free disk, open-file limit, peering settings)
and, when the node is running, what it sees: peers, AutoNAT reachability (is this node reachable from
outside, or only through a relay), sync, and the latest block's time against this machine's clock.
Each finding is ok, warn or fail, with the fix. Exit code 1 when anything fails.`,
		Example: `  dure doctor
  dure doctor --home /var/lib/dure -o json`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			ctx, cancel := context.WithTimeout(c.Context(), 10*time.Second)
			defer cancel()
			fs := doctorHome(g.home)
			fs = append(fs, doctorNode(ctx, f, g)...)
			failed := false
			for _, x := range fs {
				failed = failed || x.Level == "fail"
			}
			if f.output == "json" {
				if err := printJSON(g.stdout, fs); err != nil {
					return err
				}
			} else {
				for _, x := range fs {
					fmt.Fprintf(g.stdout, "%-4s  %-13s %s\n", x.Level, x.Check, x.Detail)
					if x.Fix != "" {
						fmt.Fprintf(g.stdout, "      %-13s fix: %s\n", "", x.Fix)
					}
				}
			}
			if failed {
				return withCode(ExitError, fmt.Errorf("doctor: some checks failed"))
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&f.node, "node", "", "API address of the node (default: [api] listen_addr of --home, else 127.0.0.1:26657)")
	cmd.Flags().StringVarP(&f.output, "output", "o", "text", `output format: "text" or "json"`)
	return cmd
}

// doctorHome checks the files and settings under home.
func doctorHome(home string) []finding {
	var out []finding
	path := filepath.Join(home, config.FileName)
	cfg, err := config.Load(path)
	if err != nil {
		return append(out, finding{"config", "fail", err.Error(), "fix the key named above, or create a home with `dure init`"})
	}
	out = append(out, finding{"config", "ok", path, ""})
	if _, err := os.Stat(cfg.GenesisPath()); err != nil {
		out = append(out, finding{"genesis", "fail", err.Error(), "put the chain's genesis.json there (from the chain's operators)"})
	}
	p := cfg.P2P
	switch {
	case len(p.BootstrapPeers) == 0 && !p.EnableMDNS:
		out = append(out, finding{"peering", "warn", "no [p2p] bootstrap_peers and mDNS off: this node will find no peers (fine only for a chain of its own)",
			"add the chain's seed addresses (…/p2p/<peer-id>) to [p2p] bootstrap_peers"})
	default:
		out = append(out, finding{"peering", "ok", fmt.Sprintf("%d bootstrap peers, DHT %t, mDNS %t", len(p.BootstrapPeers), p.EnableDHT, p.EnableMDNS), ""})
	}
	quic := false
	for _, a := range p.ListenAddrs {
		quic = quic || strings.Contains(a, "/quic")
	}
	if !quic && p.PrivateNetworkPSKFile == "" {
		out = append(out, finding{"nat", "warn", "no QUIC listen address: hole punching through home routers works over QUIC",
			"add '/ip4/0.0.0.0/udp/26656/quic-v1' to [p2p] listen_addrs"})
	}
	if !p.EnableRelay && !p.EnableRelayService && len(p.ExternalAddrs) == 0 {
		out = append(out, finding{"nat", "warn", "enable_relay is off: behind NAT no peer can reach this node",
			"set [p2p] enable_relay = true (and enable_hole_punching = true), or forward port 26656 and list it in external_addrs"})
	}
	if free, err := node.DiskFree(cfg.DataPath()); err == nil {
		min := uint64(cfg.Storage.MinFreeDisk)
		lvl, fix := "ok", ""
		switch {
		case free < min:
			lvl, fix = "fail", "free space on that filesystem, move data_dir to a larger disk, or set [storage] keep_blocks to prune"
		case free < 4*min:
			lvl, fix = "warn", "the node stops signing below min_free_disk; free space or prune ([storage] keep_blocks)"
		}
		out = append(out, finding{"disk", lvl, fmt.Sprintf("%s free for %s (min_free_disk %s)", ibytes(free), cfg.DataPath(), ibytes(min)), fix})
	}
	if soft, ok := fileLimit(); ok {
		if soft < 4096 {
			out = append(out, finding{"file limit", "warn", fmt.Sprintf("open-file limit %d: the node raises it to the hard limit at start, and needs about 2 per peer", soft),
				"raise it: LimitNOFILE=65536 in the systemd unit (scripts/dure.service), or ulimit -n 65536"})
		} else {
			out = append(out, finding{"file limit", "ok", fmt.Sprintf("open-file limit %d", soft), ""})
		}
	}
	return out
}

// doctorNode asks the running node (if any) what it sees.
func doctorNode(ctx context.Context, f *clientFlags, g *globals) []finding {
	st, err := f.client(g).Status(ctx)
	if err != nil {
		return []finding{{"node", "warn", fmt.Sprintf("no running node answered (%v): only the home directory was checked", err), "start it with `dure start`, or point --node at its API"}}
	}
	out := []finding{{"node", "ok", fmt.Sprintf("%s at height %d", st.ChainID, st.Height), ""}}
	if st.Peers == 0 {
		out = append(out, finding{"peers", "fail", "no peers connected",
			"check that the bootstrap_peers are up and that outbound TCP/UDP 26656 is allowed; `dure status` shows the addresses this node listens on"})
	} else {
		out = append(out, finding{"peers", "ok", fmt.Sprintf("%d peers", st.Peers), ""})
	}
	var reach, relay string
	if m, ok := st.P2P.(map[string]any); ok {
		if r, ok := m["reachability"].(map[string]any); ok {
			reach, _ = r["autonat"].(string)
		}
	}
	for _, a := range st.ListenAddrs {
		if strings.Contains(a, "/p2p-circuit") {
			relay = a
			break
		}
	}
	switch {
	case reach == "public":
		out = append(out, finding{"reachability", "ok", "public: peers can dial this node directly", ""})
	case reach == "private" && relay != "":
		out = append(out, finding{"reachability", "ok", "behind NAT, reachable through a relay (" + relay + "); peers behind a cone NAT get a direct connection by hole punching", ""})
	case reach == "private":
		out = append(out, finding{"reachability", "warn", "behind NAT and no relay reservation: peers cannot dial this node",
			"keep enable_relay = true and ask the chain's public nodes to set enable_relay_service = true; or forward port 26656 (TCP and UDP) and list it in external_addrs"})
	default:
		out = append(out, finding{"reachability", "warn", "not known yet (AutoNAT answers about 15 s after start, and only peers with enable_relay_service answer it)",
			"run doctor again in a minute; if it stays unknown, the chain has no node with enable_relay_service"})
	}
	if st.Syncing {
		out = append(out, finding{"sync", "warn", fmt.Sprintf("syncing, at height %d", st.Height), "wait; `dure status` shows progress"})
	} else if st.BlockTime > 0 {
		off := time.Since(st.BlockTime.Std())
		if off < -5*time.Second || off > 10*time.Minute {
			out = append(out, finding{"clock", "warn", fmt.Sprintf("the latest block's time is %v from this machine's clock", off.Round(time.Second)),
				"if the chain is making blocks, this clock is off: enable NTP (timedatectl set-ntp true); else the chain is idle or stalled"})
		} else {
			out = append(out, finding{"clock", "ok", fmt.Sprintf("latest block %v ago", off.Round(time.Second)), ""})
		}
	}
	return out
}
