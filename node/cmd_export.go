package node

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/dure-network/dure/chain"
	"github.com/dure-network/dure/chain/execution"
	"github.com/dure-network/dure/chain/genesis"
	"github.com/dure-network/dure/chain/state"
	"github.com/dure-network/dure/chain/store"
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
			gen, head, err := exportGenesis(cfg, chainID)
			if err != nil {
				return err
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

// exportGenesis builds the genesis of a chain restarting from the committed
// head of cfg's data directory, and returns that head.
func exportGenesis(cfg config.Config, chainID string) (*genesis.Genesis, store.Head, error) {
	var head store.Head
	gen, err := genesis.Load(cfg.GenesisPath())
	if err != nil {
		return nil, head, withCode(ExitUsage, err)
	}
	codec := chain.MustCodec()
	st, err := store.Open(cfg.DataPath(), store.Options{Logger: slog.New(slog.DiscardHandler), Codec: codec})
	if err != nil {
		return nil, head, withCode(ExitUsage, fmt.Errorf("open data directory %s: %w", cfg.DataPath(), err))
	}
	defer st.Close()
	if !st.Initialized() {
		return nil, head, withCode(ExitUsage, fmt.Errorf("%s holds no chain yet", cfg.DataPath()))
	}
	head = st.Head()
	sv, err := state.New(st.DB(), store.TS(head.Height), head.StateRoot)
	if err != nil {
		return nil, head, fmt.Errorf("open state at height %d: %w", head.Height, err)
	}
	a, err := newApp(codec)
	if err != nil {
		return nil, head, err
	}
	ex, err := execution.New(execution.Config{Codec: codec, ChainID: gen.ChainID, Modules: a.entries, Fees: a.fees,
		MinFee: gen.Params.MinFee, GasPerFeeUnit: gen.Params.GasPerFeeUnit})
	if err != nil {
		return nil, head, err
	}
	appState, err := ex.ExportGenesis(sv.Reader(store.TS(head.Height)))
	if err != nil {
		return nil, head, fmt.Errorf("export at height %d: %w", head.Height, err)
	}
	out := &genesis.Genesis{ChainID: gen.ChainID, GenesisTime: gen.GenesisTime, Params: gen.Params, AppState: appState,
		Validators: gen.Validators}
	if chainID != "" {
		out.ChainID = chainID
	}
	if head.Time > 0 {
		out.GenesisTime = head.Time.Std().Truncate(time.Second)
	}
	if a.valSet != nil {
		vals, err := a.valSet.GenesisValidators(appState[a.valName])
		if err != nil {
			return nil, head, fmt.Errorf("export: validators: %w", err)
		}
		out.Validators = out.Validators[:0:0]
		for _, v := range vals {
			out.Validators = append(out.Validators, genesis.Validator{PubKey: v.PubKey, Power: v.Power})
		}
	}
	// Round-trip through the file format, as a node reading it will.
	raw, err := json.Marshal(out)
	if err != nil {
		return nil, head, err
	}
	var back genesis.Genesis
	if err := json.NewDecoder(bytes.NewReader(raw)).Decode(&back); err != nil {
		return nil, head, err
	}
	if err := back.Validate(); err != nil {
		return nil, head, fmt.Errorf("export: %w", err)
	}
	if err := checkGenesisValidators(&back); err != nil {
		return nil, head, fmt.Errorf("export: %w", err)
	}
	return out, head, nil
}
