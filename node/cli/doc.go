// Package cli is the dure command line: the cobra commands behind `dure …`,
// their flags, output (-o json|text) and exit codes. The repository's
// main.go calls Main; tests call Run with their own writers.
//
// The CLI reaches a running node only through its HTTP API (node/api's
// Client) and what the modules declare (node.Modules: chain.Describer for
// the generic tx and query commands, the modules' Query to re-run an answer
// over proven state). `dure start` builds a node with node.Open and runs
// it; `dure init` and `dure testnet` write homes around node.BuildGenesis;
// `dure export` and `dure subnet escape` read a stopped node's store through
// node.ExportGenesis and node.ProveStored. Errors of package node carry a
// mark (node.Kind) that nodeErr turns into an exit code.
//
// Map of the package:
//
//	main.go          Run/Main, the root command, exit codes (ExitOK … ExitDiskFull),
//	                 strict argument checking, `dure version`
//	modules.go       the module registry as the CLI sees it (node.Modules):
//	                 lookups by name, the bank module, prefixed readers
//	cmd_init.go      dure init: config.toml, a validator key, a one-validator genesis
//	cmd_start.go     dure start (node.Open, Run; --subnet runs the subnet agent
//	                 beside it), dure status, the flags every API command shares
//	                 (--node, -o) and the mapping of API errors to exit codes
//	cmd_keys.go      dure keys add/list/show/export/import/delete
//	keyring.go       opening the keyring (passphrase from file, env or terminal),
//	                 loading config.toml with a hint to init
//	cmd_tx.go        dure tx <module> <msg>, built from chain.Describer; fields
//	                 checked locally, signed locally, submitted; JSON and text output
//	cmd_query.go     dure query block/tx/account/validators/<module> <path>: every
//	                 answer re-checked against proofs, only verified values printed
//	lightclient.go   headers verified with chain/light (a Provider over the API
//	                 client, trust from genesis or a checkpoint, state in
//	                 <home>/light, witnesses), or --trust-node; testnet dirs as --home
//	cmd_subnet.go    dure subnet …: create/join through the subnet module's
//	                 descriptions; sign, relay, release and escape, the loops that
//	                 move checkpoints and value between a subnet and its parent
//	subnet_topdown.go the top-down relayer (dure start --subnet's loop and dure
//	                 subnet topdown: subnet.PlanTopDown over the parent's API,
//	                 fees at the subnet's own fee parameters, in topdown txs on
//	                 the subnet); dure subnet follow, retrust, reclaim
//	cmd_export.go    dure export (node.ExportGenesis)
//	cmd_testnet.go   dure testnet: N validator homes, demo keys, the manifest,
//	                 real processes and the live status line (parentdeath_*.go:
//	                 the nodes stop with their parent)
//	cmd_bench.go     dure bench: the load generator (testnet/load) against a testnet
//	cmd_doctor.go    dure doctor: config, NAT, disk, file limit (doctor_*.go) and,
//	                 if the node runs, peers, reachability, sync and clock
//	log.go           the slog logger of dure start
//
// Adding an app module touches nothing here: its commands come from its
// description.
package cli
