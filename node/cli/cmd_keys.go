package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/dure-network/dure/node/keystore"
)

type keyFlags struct {
	backend  string
	passFile string
	output   string
}

func (f *keyFlags) register(c *cobra.Command) {
	c.PersistentFlags().StringVar(&f.backend, "keyring-backend", "", `"file" (encrypted, default from config) or "test" (plaintext, local testnets only)`)
	c.PersistentFlags().StringVar(&f.passFile, "passphrase-file", "", "file whose first line is the keyring passphrase (else $DURE_KEYRING_PASSPHRASE, else a prompt)")
	c.PersistentFlags().StringVarP(&f.output, "output", "o", "text", `output format: "text" or "json"`)
}

func keyErrCode(err error) error {
	switch {
	case errors.Is(err, keystore.ErrNotFound):
		return withCode(ExitNotFound, err)
	case errors.Is(err, keystore.ErrBadName), errors.Is(err, keystore.ErrExists), errors.Is(err, keystore.ErrNoPassphrase):
		return withCode(ExitUsage, err)
	}
	return err
}

func printInfos(w io.Writer, format string, infos ...keystore.Info) error {
	if format == "json" {
		type row struct {
			Name    string `json:"name"`
			Address string `json:"address"`
			PubKey  string `json:"pub_key"`
			Backend string `json:"backend"`
		}
		rows := make([]row, len(infos))
		for i, in := range infos {
			rows[i] = row{in.Name, in.Address.String(), in.PubKey.String(), string(in.Backend)}
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		if len(rows) == 1 {
			return enc.Encode(rows[0])
		}
		return enc.Encode(rows)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tADDRESS\tPUBKEY\tBACKEND")
	for _, in := range infos {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", in.Name, in.Address, in.PubKey, in.Backend)
	}
	return tw.Flush()
}

func newKeysCmd(g *globals) *cobra.Command {
	f := &keyFlags{}
	cmd := &cobra.Command{
		Use:   "keys",
		Short: "Manage account and validator keys (ed25519, encrypted at rest)",
		Long: `Keys live in <home>/keys, one file per key, encrypted with a passphrase
(scrypt + XChaCha20-Poly1305). The passphrase comes from --passphrase-file,
else $DURE_KEYRING_PASSPHRASE, else a terminal prompt. For a throwaway local
testnet, --keyring-backend test stores keys in plaintext.`,
		Example: `  dure keys add alice
  dure keys list
  dure keys show alice -o json
  dure keys export alice > alice.pem
  dure keys import alice2 alice.pem`,
	}
	f.register(cmd)
	open := func() (*keystore.Keystore, error) {
		return openKeyring(keyringCfg(g.home), f.backend, f.passFile, g.stderr)
	}
	cmd.AddCommand(&cobra.Command{
		Use:     "add <name>",
		Short:   "Create a new random key",
		Example: "  dure keys add alice",
		Args:    cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			ks, err := open()
			if err != nil {
				return err
			}
			in, err := ks.Add(args[0])
			if err != nil {
				return keyErrCode(err)
			}
			return printInfos(g.stdout, f.output, in)
		},
	}, &cobra.Command{
		Use:     "list",
		Short:   "List keys with their addresses",
		Example: "  dure keys list\n  dure keys list -o json",
		Args:    cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			ks, err := open()
			if err != nil {
				return err
			}
			infos, err := ks.List()
			if perr := printInfos(g.stdout, f.output, infos...); perr != nil {
				return perr
			}
			return err
		},
	}, &cobra.Command{
		Use:     "show <name>",
		Short:   "Show a key's address and public key",
		Example: "  dure keys show alice\n  dure keys show alice -o json | jq -r .address",
		Args:    cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			ks, err := open()
			if err != nil {
				return err
			}
			in, err := ks.Show(args[0])
			if err != nil {
				return keyErrCode(err)
			}
			return printInfos(g.stdout, f.output, in)
		},
	}, &cobra.Command{
		Use:     "export <name>",
		Short:   "Print a key as encrypted PEM text (encrypted with the keyring passphrase)",
		Example: "  dure keys export alice > alice.pem",
		Args:    cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			ks, err := open()
			if err != nil {
				return err
			}
			pem, err := ks.Export(args[0])
			if err != nil {
				return keyErrCode(err)
			}
			_, err = g.stdout.Write(pem)
			return err
		},
	}, &cobra.Command{
		Use:     "import <name> <file>",
		Short:   "Import a key exported with 'dure keys export' (same passphrase)",
		Example: "  dure keys import alice alice.pem",
		Args:    cobra.ExactArgs(2),
		RunE: func(c *cobra.Command, args []string) error {
			data, err := os.ReadFile(args[1])
			if err != nil {
				return withCode(ExitUsage, err)
			}
			ks, err := open()
			if err != nil {
				return err
			}
			in, err := ks.Import(args[0], data)
			if err != nil {
				return keyErrCode(err)
			}
			return printInfos(g.stdout, f.output, in)
		},
	}, &cobra.Command{
		Use:     "delete <name>",
		Short:   "Delete a key file (there is no undo: export it first)",
		Example: "  dure keys export old > old.pem && dure keys delete old",
		Args:    cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			ks, err := open()
			if err != nil {
				return err
			}
			return keyErrCode(ks.Delete(args[0]))
		},
	})
	return cmd
}
