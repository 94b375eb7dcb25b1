// Package node is the dure node: it wires store, state, executor,
// mempool, consensus, p2p and the API together, drives consensus and
// serves the API. The command line is node/cli, which builds a node with
// Open and Run and reaches a running one only through node/api; nothing
// else in the project imports node, and node never imports node/cli.
//
// Exported surface (what node/cli and tests use):
//
//	Open, Option, AllowMissingSignState, FlagAllowMissingSignState
//	                 build a node from config, genesis and key; (*Node).Run,
//	                 (*Node).Close
//	ErrSetup, ErrDiskLow, Kind, IsDiskLow, DiskFree
//	                 what an error means for the operator (the CLI's exit
//	                 codes 2 and 5), free space for dure doctor
//	Modules          the registry's modules (their declarations)
//	BuildGenesis, GenesisValidator, GenesisAccount, NativeDenom,
//	DefaultValidatorStake, DefaultDemoFunds
//	                 generated genesis files (dure init, dure testnet)
//	ExportGenesis, ProveStored
//	                 reads of a stopped node's store (dure export, dure
//	                 subnet escape)
//	Version
//
// Map of the package:
//
//	Wiring
//	  node.go        Node: Open builds every part from a home directory
//	                 (config, genesis, keys), Run starts p2p, API, driver
//	  app.go         the module registry (registerModules: one line per app,
//	                 in order) and the capabilities found on the modules;
//	                 genesis generation for init and testnet (BuildGenesis)
//	  errors.go      ErrSetup and Kind: the marks on Open's and Run's errors
//	  export.go      ExportGenesis and ProveStored: a stopped node's store
//	  transport.go   the driver's seam to the network; gossipTransport
//	  backend.go     api.Backend over the node (status, txs, blocks,
//	                 accounts, validators, module queries with proofs
//	                 of every key read and every list iterated (next-key
//	                 records: state.ProveReads),
//	                 the module list with each module's description)
//	  apijson.go     snake_case JSON forms of consensus and p2p values
//	  admission.go   mempool admission: can the sender pay the fee
//	  signatures.go  late precommits added to the commit; who signed it
//	  metrics.go     Prometheus series
//	  disk*.go       the free-space guard ([storage] min_free_disk)
//	  fdlimit*.go    the open-file limit and the descriptor budget
//	  subnets.go     [[subnets]]: the subnet nodes run beside this one in
//	                 one process (SubnetConfig, StartSubnets, the CLI's
//	                 signer/relayer as a SubnetAgent), each subnet's
//	                 checkpoint lag for /v1/status and dure_subnet_* metrics
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
//	  compact.go     compact proposals: the proposer gossips header, parent
//	                 commit, evidence and each tx's SHA-256 (/compact/1);
//	                 a receiver rebuilds the block from its mempool, checks
//	                 the tx root, fetches what it lacks (txs, else the whole
//	                 block by ID) off the driver goroutine over
//	                 p2p's blockfill protocol, and serves fills from its
//	                 mempool and recent blocks (fillSource). A fill asks
//	                 the next peer after 250 ms without an answer (8 at
//	                 most at once); proven faults (a list its header
//	                 refutes, a tx that does not hash to its key, a block
//	                 not the one asked) are penalised as a rejected
//	                 message (p2p Penalize); a compact message for a block
//	                 held here with another list is rejected at the
//	                 validator, and copies past 4 are not relayed; with a
//	                 peer that knows only whole blocks (WholeBlockPeers)
//	                 the proposer publishes the whole block too; the
//	                 root it checked goes with the candidate, so
//	                 validation does not hash the txs again (also for
//	                 synced and fetched blocks, whose root DecodeBlock
//	                 checked)
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
// Subpackages: api (HTTP API, SSE, Go client), config (config.toml),
// keystore (encrypted keyring), cli (the command line).
//
// Adding an app module touches none of this but one line in app.go: the
// executor, genesis, API queries and node/cli's `dure tx` and `dure query`
// find what they need on the module value (chain.Module and the optional
// capabilities in chain/module.go and chain/describe.go).
package node
