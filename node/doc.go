// Package node is the dure executable: it wires store, state, executor,
// mempool, consensus, p2p and the API together, drives consensus, and
// holds the CLI. Nothing else in the project imports it.
//
// Map of the package:
//
//	Wiring
//	  node.go        Node: Open builds every part from a home directory
//	                 (config, genesis, keys), Run starts p2p, API, driver
//	  app.go         the module registry (registerModules: one line per app,
//	                 in order) and the capabilities found on the modules;
//	                 genesis generation for init and testnet
//	  transport.go   the driver's seam to the network; gossipTransport
//	  backend.go     api.Backend over the node (status, txs, blocks,
//	                 accounts, validators, module queries with proofs,
//	                 the module list with each module's description)
//	  apijson.go     snake_case JSON forms of consensus and p2p values
//	  metrics.go     Prometheus series; log.go the slog logger
//
//	Consensus driver
//	  driver.go      the goroutine owning the consensus state machine:
//	                 inbox events in, WAL/sign/gossip/apply out
//	  clock.go       the driver's clock (gating of heights, heartbeat,
//	                 timeouts, rebroadcast tick, sync rate limit, the clock
//	                 bound on proposals); systemClock in production, a
//	                 hand-moved fake in tests
//	  sync.go        block sync, one path at start-up and whenever peers
//	                 are ahead: fetched off the driver goroutine, every block
//	                 verified by its commit and applied on it
//	  gossip.go      pubsub validators (cheap checks on pubsub goroutines)
//	  blocks.go      the driver's handles on chain/blockexec (build, check,
//	                 apply a block on the committed view; evidence pool;
//	                 block stash), block size from measured execution
//	                 cost and the build deadline, mempool eviction of
//	                 unincludable txs
//	  signatures.go  late precommits gathered in the commit pause, which
//	                 ends once every validator's is in
//	  trace.go       where a height's wall time goes (phases on the
//	                 committed-block line, dure_height_phase_seconds)
//	  signstate.go   start-up checks of the store against the consensus
//	                 state; the hold on signing they may set
//	  statesync.go   state sync inside Open: an empty store joins from a
//	                 peer's snapshot, verified with chain/light and the
//	                 header's state root; snapshotSource serves peers
//	  prune.go       how many heights the store keeps (non-validators prune)
//	  testhooks*.go  the e2e byzantine switches (double sign, forged
//	                 snapshots), only with -tags dure_testhooks
//
//	CLI (cobra)
//	  main.go        root command, exit codes, strict argument checking
//	  cmd_tx.go      dure tx <module> <msg>, built from chain.Describer
//	  cmd_query.go   dure query …, module paths built from chain.Describer;
//	                 every answer re-checked against proofs, only verified
//	                 values printed (and checked by the module, when it
//	                 verifies answers: subnet checkpoints)
//	  lightclient.go headers verified with chain/light (a Provider over the
//	                 API client, trust from genesis or a checkpoint, state in
//	                 <home>/light), or --trust-node; testnet dirs as --home
//	  cmd_subnet.go  dure subnet …: create/join through the subnet module's
//	                 descriptions; sign, relay, release and escape, the
//	                 loops that move checkpoints and value between a subnet
//	                 and its parent (also run by dure start --subnet)
//	  cmd_init.go, cmd_start.go, cmd_keys.go, cmd_export.go,
//	  cmd_testnet.go, cmd_bench.go, keyring.go
//
// Subpackages: api (HTTP API, SSE, Go client), config (config.toml),
// keystore (encrypted keyring).
//
// Adding an app module touches none of this but one line in app.go: the
// executor, genesis, API queries, `dure tx` and `dure query` find what they
// need on the module value (chain.Module and the optional capabilities in
// chain/module.go and chain/describe.go).
package node
