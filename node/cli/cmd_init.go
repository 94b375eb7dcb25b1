package cli

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/dure-network/dure/node"
	"github.com/dure-network/dure/node/config"
	"github.com/dure-network/dure/node/keystore"
)

func newInitCmd(g *globals) *cobra.Command {
	var (
		chainID, moniker, backend, passFile string
		overwrite                           bool
	)
	cmd := &cobra.Command{
		Use:   "init",
		Short: "Create a node home: config.toml, a validator key and a one-validator genesis.json",
		Long: `init writes a new home directory with working defaults:
  config.toml    every setting, commented (API on 127.0.0.1:26657, p2p on 26656)
  keys/          the keyring, with a new "validator" key
  genesis.json   a new chain whose only validator is this node, funded with
                 stake and ` + node.NativeDenom + ` tokens for fees

To join an existing chain instead, replace genesis.json with that chain's file
and add its peers to [p2p] bootstrap_peers in config.toml.`,
		Example: `  dure init --chain-id my-town-1
  DURE_KEYRING_PASSPHRASE=... dure init --chain-id my-town-1 --home /srv/dure
  dure init --chain-id dev-1 --keyring-backend test   # plaintext keys, development only`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if chainID == "" {
				return usageErr("--chain-id is required, e.g. --chain-id my-town-1")
			}
			cfgPath := filepath.Join(g.home, config.FileName)
			if _, err := os.Stat(cfgPath); err == nil && !overwrite {
				return usageErr("%s already exists: use another --home, or --overwrite to replace config and genesis (keys and data are kept)", cfgPath)
			}
			cfg := config.Default(g.home)
			if moniker != "" {
				cfg.Moniker = moniker
			}
			if backend != "" {
				cfg.Keyring.Backend = backend
			}
			cfg.PrivValidatorKey = "validator"
			if err := cfg.Validate(); err != nil {
				return usageErr("%v", err)
			}
			if err := os.MkdirAll(g.home, 0o700); err != nil {
				return err
			}
			ks, err := openKeyring(cfg, "", passFile, g.stderr)
			if err != nil {
				return err
			}
			info, err := ks.Show(cfg.PrivValidatorKey)
			if errors.Is(err, keystore.ErrNotFound) {
				info, err = ks.Add(cfg.PrivValidatorKey)
			}
			if err != nil {
				return keyErrCode(err)
			}
			gen, err := node.BuildGenesis(chainID, time.Now(), []node.GenesisValidator{{PubKey: info.PubKey, Stake: node.DefaultValidatorStake}}, nil)
			if err != nil {
				return usageErr("%v", err)
			}
			if err := gen.Write(cfg.GenesisPath()); err != nil {
				return err
			}
			if err := config.Write(cfgPath, cfg); err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "Initialized %s for chain %s\n  config:    %s\n  genesis:   %s\n  validator: %s (key %q, %s backend)\nNext: dure start --home %s\n",
				g.home, chainID, cfgPath, cfg.GenesisPath(), info.Address, cfg.PrivValidatorKey, cfg.Keyring.Backend, g.home)
			return nil
		},
	}
	cmd.Flags().StringVar(&chainID, "chain-id", "", "identifier of the new chain (lowercase letters, digits, '.', '_', '-')")
	cmd.Flags().StringVar(&moniker, "moniker", "", "human-readable node name")
	cmd.Flags().StringVar(&backend, "keyring-backend", "", `"file" (encrypted; default) or "test" (plaintext, development only)`)
	cmd.Flags().StringVar(&passFile, "passphrase-file", "", "file whose first line is the keyring passphrase")
	cmd.Flags().BoolVar(&overwrite, "overwrite", false, "replace an existing config.toml and genesis.json")
	return cmd
}
