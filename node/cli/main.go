package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/dure-network/dure/node"
)

// Exit codes. Scripts branch on them.
const (
	ExitOK       = 0
	ExitError    = 1 // the command ran and failed (node crashed, tx rejected, proof invalid)
	ExitUsage    = 2 // bad flags, arguments or config: fix the invocation
	ExitNotFound = 3 // the thing asked for does not exist (key, tx, block)
	ExitNoNode   = 4 // could not reach the node's API
	// ExitDiskFull: dure start found the data directory's filesystem
	// below [storage] min_free_disk (or out of space while writing).
	ExitDiskFull = 5
)

// exitError carries an exit code through cobra.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func usageErr(format string, a ...any) error {
	return &exitError{code: ExitUsage, err: fmt.Errorf(format, a...)}
}

func withCode(code int, err error) error {
	if err == nil {
		return nil
	}
	return &exitError{code: code, err: err}
}

// nodeErr gives an error of package node the exit code of the mark node
// put on it (node.Kind): 2 for what the operator fixes in config, genesis
// or data directory, 5 for a disk below [storage] min_free_disk.
func nodeErr(err error) error {
	switch node.Kind(err) {
	case node.ErrSetup:
		return withCode(ExitUsage, err)
	case node.ErrDiskLow:
		return withCode(ExitDiskFull, err)
	}
	return err
}

// Main runs the CLI and exits with its status.
func Main() { os.Exit(Run(os.Args[1:], os.Stdout, os.Stderr)) }

// Run executes the CLI with args and returns the exit code.
func Run(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root := newRootCmd(stdout, stderr)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	fmt.Fprintln(stderr, "Error:", err)
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	return ExitError
}

// globals are the flags every command shares.
type globals struct {
	home   string
	stdout io.Writer
	stderr io.Writer
}

func defaultHome() string {
	if h := os.Getenv("DURE_HOME"); h != "" {
		return h
	}
	dir, err := os.UserHomeDir()
	if err != nil {
		return ".dure"
	}
	return dir + "/.dure"
}

func newRootCmd(stdout, stderr io.Writer) *cobra.Command {
	g := &globals{stdout: stdout, stderr: stderr}
	root := &cobra.Command{
		Use:   "dure",
		Short: "dure: a peer-to-peer node for community blockchains",
		Long: `dure runs a node of a community blockchain: open proof-of-stake validators (no
mining), transactions and blocks gossiped over libp2p, a Merkle chain in Badger,
and app modules for local currencies, vouchers, energy trading and royalties.

Start a local four-validator network:   dure testnet
Run your own node:                      dure init --chain-id my-town-1 && dure start
Send tokens:                            dure tx currency send --from alice --to dure1... --amount 100`,
		Example: `  dure testnet
  dure init --chain-id my-town-1 && dure start
  dure status -o text`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.PersistentFlags().StringVar(&g.home, "home", defaultHome(), "node home directory (config.toml, genesis.json, keys, data); env DURE_HOME")
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usageErr("%v\nSee '%s --help'.", err, c.CommandPath())
	})
	for _, add := range []func(*globals) *cobra.Command{
		newInitCmd, newStartCmd, newStatusCmd, newKeysCmd, newTxCmd, newQueryCmd, newExportCmd, newTestnetCmd, newVersionCmd, newBenchCmd, newDoctorCmd, newSubnetCmd,
	} {
		root.AddCommand(add(g))
	}
	strictArgs(root)
	return root
}

// strictArgs makes wrong argument counts and unknown subcommands usage
// errors (exit 2) everywhere. Cobra reports unknown subcommands only for
// runnable commands, so a group without RunE would print help and exit 0
// on a typo: here such groups refuse arguments instead.
func strictArgs(c *cobra.Command) {
	if c.HasSubCommands() && c.RunE == nil && c.Run == nil {
		c.Args = func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usageErr("unknown command %q for %q\nSee '%s --help'.", args[0], cmd.CommandPath(), cmd.CommandPath())
			}
			return nil
		}
		c.RunE = func(cmd *cobra.Command, _ []string) error { return cmd.Help() }
	} else if a := c.Args; a != nil {
		c.Args = func(cmd *cobra.Command, args []string) error {
			if err := a(cmd, args); err != nil {
				return usageErr("%v\nSee '%s --help'.", err, cmd.CommandPath())
			}
			return nil
		}
	}
	for _, sub := range c.Commands() {
		strictArgs(sub)
	}
}

func newVersionCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:     "version",
		Short:   "Print the dure version",
		Example: "  dure version",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fmt.Fprintln(g.stdout, "dure", node.Version)
			return nil
		},
	}
}
