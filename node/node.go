package node

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/dure-network/dure/chain"
	"github.com/dure-network/dure/chain/blockexec"
	"github.com/dure-network/dure/chain/execution"
	"github.com/dure-network/dure/chain/genesis"
	"github.com/dure-network/dure/chain/mempool"
	"github.com/dure-network/dure/chain/state"
	"github.com/dure-network/dure/chain/store"
	"github.com/dure-network/dure/consensus"
	"github.com/dure-network/dure/consensus/wal"
	"github.com/dure-network/dure/node/api"
	"github.com/dure-network/dure/node/config"
	"github.com/dure-network/dure/p2p"
)

// Version is the node software version (in /v1/status and `dure version`).
const Version = "0.1.0"

// Node is a running dure node: store, state, executor, mempool, p2p,
// consensus driver and API, wired together here and nowhere else.
type Node struct {
	cfg     config.Config
	gen     *genesis.Genesis
	genHash chain.Hash
	codec   *chain.Codec
	log     *slog.Logger

	store *store.Store
	state *state.State
	app   *app
	exec  *execution.Executor
	pool  *mempool.Mempool
	wal   *wal.WAL
	net   *p2p.Node // nil when the node runs on another transport (tests)
	tr    transport
	m     *metrics
	// clock is the driver's time (clock.go): systemClock but in tests.
	clock clock

	key  chain.PrivKey // zero for a full node
	self chain.Address
	// archive: nothing is ever pruned, so orphaned trie nodes are kept.
	archive bool
	// doubleSign makes this validator equivocate: for byzantine tests only.
	doubleSign bool
	// hold, when set, keeps a validator whose consensus state is missing
	// from signing (signstate.go); allowNoSignState skips that wait.
	hold             *signHold
	allowNoSignState bool

	inbox chan any // events for the driver goroutine
	// unpaid counts, per forwarding peer ID and IP, gossiped txs whose signature
	// was checked and whose fee the sender cannot pay (gossip.go).
	unpaid unpaidBudget
	// budgetNet is n.net for the gossip validators, which may run before
	// startP2P has stored n.net: the IPs behind the unpaid budget.
	budgetNet atomic.Pointer[p2p.Node]

	// view is what the API reads; the driver updates it after each commit.
	mu        sync.RWMutex
	head      store.Head
	nextVals  *chain.ValidatorSet // set signing head+1
	afterVals *chain.ValidatorSet // set signing head+2 (updates decided at head)
	headCh    chan struct{}
	syncing   bool
	consState consensus.Status
	scheds    schedules // proposer schedules for the gossip validators

	headValsCache headVals                 // under mu
	lateCommit    *chain.Commit            // driver-owned: head's commit plus late precommits
	lastSigs      api.SignatureStatus      // under mu: who signed the latest LastCommit
	missedTotal   map[chain.Address]uint64 // under mu: commits missed per validator since start

	evidence *evidencePool
	// recent are the blocks of the heights being decided, served to
	// peers filling a compact proposal (compact.go).
	recent recentBlocks

	// execNanosPerTx is the moving average of execution cost per tx,
	// which sizes the blocks this node proposes.
	execNanosPerTx atomic.Int64

	httpSrv *http.Server
	apiAddr string
	apiLn   *api.LimitListener

	disk *diskGuard
	fds  fdBudget

	// subnetWatches are the subnets whose checkpoint lag status and
	// metrics show (subnets.go).
	subnetsMu     sync.Mutex
	subnetWatches []*subnetWatch
}

// ApplyMemoryLimit sets the Go runtime's soft memory limit from [storage]
// memory_limit, for the whole process (`dure start` calls it once, before
// Open; nodes of [[subnets]] in the same process share it, and tests that
// run several nodes in one process do not call it). GOMEMLIMIT in the
// environment, if set, wins, as does memory_limit = 0 (no limit). It
// returns the limit in force afterwards (math.MaxInt64: none).
func ApplyMemoryLimit(cfg config.Config, log *slog.Logger) int64 {
	if env := os.Getenv("GOMEMLIMIT"); env != "" {
		cur := debug.SetMemoryLimit(-1)
		log.Info("memory limit from GOMEMLIMIT; [storage] memory_limit ignored", "GOMEMLIMIT", env, "bytes", cur)
		return cur
	}
	if cfg.Storage.MemoryLimit <= 0 {
		return debug.SetMemoryLimit(-1)
	}
	debug.SetMemoryLimit(int64(cfg.Storage.MemoryLimit))
	log.Debug("memory limit", "memory_limit", cfg.Storage.MemoryLimit.String())
	return int64(cfg.Storage.MemoryLimit)
}

// Open builds a node from a home directory's config, genesis and keys
// (`dure start`). It does not start networking; Run does. Errors the
// operator fixes (config, genesis, a damaged, locked or foreign data
// directory, consensus state) are marked ErrSetup, a disk below [storage]
// min_free_disk ErrDiskLow (see Kind).
func Open(ctx context.Context, cfg config.Config, log *slog.Logger, signer chain.PrivKey, opts ...Option) (_ *Node, err error) {
	defer func() { err = markStoreErr(err) }()
	gen, err := genesis.Load(cfg.GenesisPath())
	if err != nil {
		return nil, setupErr(err)
	}
	if err := checkGenesisValidators(gen); err != nil {
		return nil, setupErr(fmt.Errorf("%s: %w", cfg.GenesisPath(), err))
	}
	genHash, err := gen.Hash()
	if err != nil {
		return nil, err
	}
	codec := chain.MustCodec()
	n := &Node{cfg: cfg, gen: gen, genHash: genHash, codec: codec, log: log, key: signer,
		inbox: make(chan any, 4096), headCh: make(chan struct{}), evidence: newEvidencePool(), clock: systemClock{}}
	for _, o := range opts {
		o(n)
	}
	if !signer.IsZero() {
		n.self = signer.PubKey().Address()
		n.doubleSign = testDoubleSign(log)
	}
	// The store prunes blocks and state versions together (prune.go).
	keep := storageKeep(cfg, !signer.IsZero())
	n.archive = keep == 0
	// Before Badger opens: on a full disk its mmap writes are a SIGBUS.
	n.disk = newDiskGuard(cfg.DataPath(), uint64(cfg.Storage.MinFreeDisk), log)
	if err := checkDiskAtStart(n.disk); err != nil {
		return nil, err
	}
	if n.fds, err = planFDs(cfg, log); err != nil {
		return nil, err
	}
	n.store, err = store.Open(cfg.DataPath(), store.Options{Logger: log, KeepRecent: keep, Codec: codec})
	if err != nil {
		// Nothing has run yet: any failure here is the data directory's.
		return nil, setupErr(fmt.Errorf("open data directory %s: %w", cfg.DataPath(), err))
	}
	ok := false
	defer func() {
		if !ok {
			n.closeStorage()
		}
	}()
	if n.app, err = newApp(codec); err != nil {
		return nil, err
	}
	n.exec, err = execution.New(execution.Config{
		Codec: codec, ChainID: gen.ChainID, Modules: n.app.entries, Fees: n.app.fees,
		MinFee: gen.Params.MinFee, GasPerFeeUnit: gen.Params.GasPerFeeUnit,
		Verified: func(id chain.ID) bool { return n.pool != nil && n.pool.Verified(id) },
	})
	if err != nil {
		return nil, err
	}
	if err := n.stateSync(ctx); err != nil { // statesync.go: an empty store may start from a snapshot
		return nil, err
	}
	if err := n.initChain(); err != nil {
		return nil, err
	}
	n.pool = mempool.New(mempool.Config{Codec: codec, ChainID: gen.ChainID, MaxTxs: cfg.Mempool.MaxTxs,
		MaxBytes: int(cfg.Mempool.MaxBytes), MaxPerSender: cfg.Mempool.MaxPerSender, MinFee: gen.Params.MinFee},
		nonceReader{n})
	n.m = newMetrics(func() float64 { c, _ := n.pool.Size(); return float64(c) })
	n.m.addDisk(n.disk)
	n.m.height.Set(float64(n.head.Height))
	n.wal, err = wal.Open(filepath.Join(cfg.DataPath(), "cs.wal"), wal.Options{})
	if err != nil {
		return nil, setupErr(fmt.Errorf("open consensus WAL in %s: %w", cfg.DataPath(), err))
	}
	// Check the last-signed state now, not after the network is up: if it
	// is unreadable the validator must not start (guessing risks a double
	// sign).
	raw, err := n.wal.LoadLastSigned()
	if err != nil {
		return nil, setupErr(fmt.Errorf("%s: consensus last-signed state: %w; restore it from a backup (deleting it risks double-signing)", cfg.DataPath(), err))
	}
	var ls consensus.LastSigned
	if raw != nil {
		if ls, err = consensus.DecodeLastSigned(codec, raw); err != nil {
			return nil, setupErr(fmt.Errorf("%w: %s: consensus last-signed state: %v; restore it from a backup (deleting it risks double-signing)", store.ErrCorrupt, cfg.DataPath(), err))
		}
	}
	if err := n.checkSignState(ls, raw != nil); err != nil {
		return nil, err
	}
	ok = true
	return n, nil
}

// initChain loads the head, or writes genesis into an empty store.
func (n *Node) initChain() error {
	vals, err := n.gen.ValidatorSet()
	if err != nil {
		return err
	}
	if !n.store.Initialized() {
		st, err := state.Open(n.store.DB(), 0, chain.Hash{}, state.Options{RangeProofs: n.gen.Params.RangeProofs})
		if err != nil {
			return err
		}
		root, err := blockexec.CommitGenesis(n.codec, n.exec, n.store, st, n.gen, n.genHash)
		if errors.Is(err, blockexec.ErrBadGenesis) {
			return setupErr(err)
		} else if err != nil {
			return err
		}
		n.log.Info("wrote genesis", "chain_id", n.gen.ChainID, "state_root", root, "validators", vals.Len())
	} else if err := n.store.CheckGenesis(n.genHash); err != nil {
		return setupErr(fmt.Errorf("%w: the data directory %s belongs to another chain; use a fresh --home or the genesis.json it was made with", err, n.cfg.DataPath()))
	}
	n.head = n.store.Head()
	n.state, err = state.New(n.store.DB(), store.TS(n.head.Height), n.head.StateRoot)
	if err != nil {
		return fmt.Errorf("open state at height %d: %w", n.head.Height, err)
	}
	if got, err := n.state.Root(store.TS(n.head.Height)); err != nil || got != n.head.StateRoot {
		return fmt.Errorf("%w: state root at height %d is %s, header says %s (%v)", store.ErrCorrupt, n.head.Height, got, n.head.StateRoot, err)
	}
	cs, err := blockexec.Load(n.gen.ChainID, n.store)
	if err != nil {
		return err
	}
	n.nextVals, n.afterVals = cs.Validators, cs.NextValidators
	return nil
}

// nonceReader gives the mempool each account's next nonce from committed state.
type nonceReader struct{ n *Node }

func (r nonceReader) NextNonce(a chain.Address) (uint64, error) {
	h, _ := r.n.state.Head()
	return execution.Nonce(r.n.state.Reader(h), a)
}

// Run starts networking, the API and consensus, and blocks until ctx ends.
func (n *Node) Run(ctx context.Context) error {
	defer n.closeStorage()
	if err := n.startP2P(ctx); err != nil {
		return err
	}
	defer n.net.Close()
	if err := n.startAPI(); err != nil {
		return err
	}
	defer n.stopAPI()
	if err := n.startPprof(ctx); err != nil {
		return err
	}
	go n.watchFDs(ctx, 30*time.Second)
	go n.watchSubnets(ctx)
	role := "full node"
	if !n.key.IsZero() {
		role = "validator " + n.self.String()
	}
	n.log.Info("node started", "chain_id", n.gen.ChainID, "height", n.head.Height, "peer_id", n.net.ID(),
		"api", n.apiAddr, "role", role)
	if n.hold.holding() {
		go n.remindHold(ctx)
	}
	return n.drive(ctx)
}

// Close releases the store and the consensus WAL of a node that was
// opened but will not Run (Run releases them itself when it returns).
func (n *Node) Close() { n.closeStorage() }

func (n *Node) closeStorage() {
	if n.wal != nil {
		_ = n.wal.Close()
	}
	if n.store != nil {
		if err := n.store.Close(); err != nil {
			n.log.Error("close store", "err", err)
		}
	}
}

func (n *Node) startAPI() error {
	if n.cfg.API.ListenAddr == "" {
		return nil
	}
	var metricsH http.Handler
	if n.cfg.API.EnableMetrics {
		metricsH = n.m.handler()
	}
	streams := n.cfg.API.MaxEventStreams
	if streams == 0 {
		streams = -1 // config 0: no event streams; api 0 would mean no bound
	}
	srv := api.New(backend{n}, api.Config{MaxBodyBytes: int64(n.cfg.API.MaxBodyBytes), MaxEventStreams: streams,
		Metrics: metricsH, Logger: n.log})
	ln, err := net.Listen("tcp", n.cfg.API.ListenAddr)
	if err != nil {
		return setupErr(fmt.Errorf("[api] listen_addr %q: %w", n.cfg.API.ListenAddr, err))
	}
	n.apiAddr = ln.Addr().String()
	// Bounded so clients can never take the descriptors the consensus
	// path needs (see fdlimit.go); idle keep-alives are closed so they do
	// not hold slots.
	n.apiLn = api.NewLimitListener(ln, n.cfg.API.MaxConnections)
	n.m.addAPI(n.apiLn, srv)
	n.httpSrv = &http.Server{Handler: withCORS(srv, n.cfg.API.CORSAllowedOrigins), ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout: time.Minute}
	go func() {
		if err := n.httpSrv.Serve(n.apiLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
			n.log.Error("api server", "err", err)
		}
	}()
	return nil
}

func (n *Node) stopAPI() {
	if n.httpSrv == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = n.httpSrv.Shutdown(ctx)
}

func withCORS(h http.Handler, origins []string) http.Handler {
	if len(origins) == 0 {
		return h
	}
	allowed := map[string]bool{}
	for _, o := range origins {
		allowed[o] = true
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if o := r.Header.Get("Origin"); o != "" && (allowed["*"] || allowed[o]) {
			w.Header().Set("Access-Control-Allow-Origin", o)
			w.Header().Set("Access-Control-Allow-Methods", "GET, POST, DELETE")
			w.Header().Set("Access-Control-Allow-Headers", "Content-Type")
			if r.Method == http.MethodOptions {
				w.WriteHeader(http.StatusNoContent)
				return
			}
		}
		h.ServeHTTP(w, r)
	})
}

func (n *Node) startP2P(ctx context.Context) error {
	pcfg, err := n.p2pConfig()
	if err != nil {
		return err
	}
	pcfg.MetricsRegisterer = n.m.reg
	n.net, err = p2p.New(ctx, pcfg, p2p.Deps{
		ValidateTxs:       n.validateTxsGossip,
		ValidateConsensus: n.validateConsensusGossip,
		ValidateBlock:     n.validateBlockGossip,
		ValidateEvidence:  n.validateEvidenceGossip,
		ValidateCompact:   n.validateCompactGossip,
		OnCompact:         func(from, author peer.ID, data []byte) { n.post(ctx, gossipCompact{from, author, data}) },
		Fill:              fillSource{n},
		OnTx:              n.onTxGossip,
		OnConsensus:       func(from peer.ID, data []byte) { n.post(ctx, gossipConsensus{from, data}) },
		OnBlock:           func(from peer.ID, data []byte) { n.post(ctx, gossipBlock{from, data}) },
		OnEvidence:        func(from peer.ID, data []byte) { n.post(ctx, gossipEvidence{from, data}) },
		Blocks:            blockSource{n},
		Snapshots:         newSnapshotSource(n),
		Logger:            n.log,
	})
	if errors.Is(err, p2p.ErrListen) {
		return setupErr(fmt.Errorf("[p2p] listen_addrs: %w", err))
	}
	if err != nil {
		return setupErr(fmt.Errorf("start p2p: %w", err))
	}
	n.m.addGossip(n.net.Stats)
	n.tr = gossipTransport{n.net}
	n.budgetNet.Store(n.net)
	return nil
}

// p2pConfig is the p2p configuration from config.toml (without metrics).
func (n *Node) p2pConfig() (p2p.Config, error) {
	pcfg := p2p.DefaultConfig(n.gen.ChainID)
	key, err := p2p.LoadOrCreateKey(n.cfg.NodeKeyPath())
	if err != nil {
		return p2p.Config{}, fmt.Errorf("node key %s: %w", n.cfg.NodeKeyPath(), err)
	}
	c := n.cfg.P2P
	pcfg.PrivKey = key
	pcfg.ListenAddrs, pcfg.ExternalAddrs, pcfg.Bootstrap, pcfg.DenyPeers = c.ListenAddrs, c.ExternalAddrs, c.BootstrapPeers, c.DenyPeers
	pcfg.LowWater, pcfg.HighWater = c.LowWater, c.HighWater
	pcfg.EnableDHT, pcfg.EnableMDNS, pcfg.EnableNATPortMap = c.EnableDHT, c.EnableMDNS, c.EnableNATPortMap
	pcfg.EnableHolePunching, pcfg.EnableRelay, pcfg.EnableRelayService = c.EnableHolePunching, c.EnableRelay, c.EnableRelayService
	if c.PrivateNetworkPSKFile != "" {
		psk, err := readPSK(n.cfg.PSKPath())
		if err != nil {
			return p2p.Config{}, setupErr(fmt.Errorf("[p2p] private_network_psk_file: %w", err))
		}
		pcfg.PrivateNetworkPSK = psk
	}
	return pcfg, nil
}

// readPSK reads a private network's pre-shared key file, refusing one
// other users may read or write (on Windows, modes say nothing of that).
func readPSK(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if runtime.GOOS != "windows" && st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%w: %s has mode %04o; run: chmod 600 %s", ErrInsecurePSK, path, st.Mode().Perm(), path)
	}
	return io.ReadAll(io.LimitReader(f, 1024))
}

// post hands an event to the driver; it blocks only while the driver is
// saturated, and gives up when the node stops.
func (n *Node) post(ctx context.Context, ev any) {
	select {
	case n.inbox <- ev:
	case <-ctx.Done():
	}
}

// blockSource serves committed blocks to syncing peers.
type blockSource struct{ n *Node }

func (b blockSource) Head() uint64 {
	b.n.mu.RLock()
	defer b.n.mu.RUnlock()
	return b.n.head.Height
}

func (b blockSource) BlockAndCommit(h uint64) ([]byte, []byte, error) {
	raw, err := b.n.store.BlockRaw(h)
	if err != nil {
		return nil, nil, err
	}
	cm, err := b.n.store.SeenCommit(h)
	if err != nil {
		return nil, nil, err
	}
	cb, err := b.n.codec.Marshal(cm)
	if err != nil {
		return nil, nil, err
	}
	return raw, cb, nil
}
