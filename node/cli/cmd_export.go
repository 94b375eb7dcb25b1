package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/dure-network/dure/node"
	"github.com/dure-network/dure/node/config"
)

func newExportCmd(g *globals) *cobra.Command {
	var chainID, out string
	cmd := &cobra.Command{
		Use:   "export",
		Short: "Write a genesis.json that restarts the chain from this node's last committed state",
		Long: `export reads a stopped node's data directory and writes a genesis whose
app_state re-creates the committed state exactly (every module's exported
section and the accounts' nonces): a chain started from it has the same
state root at genesis as this chain at its last height. Its validators are
the set the validator-set module (staking) holds; its genesis_time is the
last block's time. Stop the node first: the data directory is locked.`,
		Example: `  dure export --home ~/.dure > exported.json
  dure export --chain-id my-town-2 --out /tmp/my-town-2.json`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			cfg, err := config.Load(filepath.Join(g.home, config.FileName))
			if err != nil {
				return withCode(ExitUsage, err)
			}
			gen, head, err := node.ExportGenesis(cfg, chainID)
			if err != nil {
				return nodeErr(err)
			}
			raw, err := json.MarshalIndent(gen, "", "  ")
			if err != nil {
				return err
			}
			raw = append(raw, '\n')
			if out == "" {
				_, err = g.stdout.Write(raw)
			} else {
				err = os.WriteFile(out, raw, 0o644)
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(g.stderr, "exported height %d (state root %s) of chain %s\n", head.Height, head.StateRoot, gen.ChainID)
			return nil
		},
	}
	cmd.Flags().StringVar(&chainID, "chain-id", "", "chain ID of the exported genesis (default: this chain's)")
	cmd.Flags().StringVar(&out, "out", "", "write the genesis to this file instead of stdout")
	return cmd
}
