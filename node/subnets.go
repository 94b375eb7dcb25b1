package node

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dure-network/dure/apps/subnet"
	"github.com/dure-network/dure/chain"
	"github.com/dure-network/dure/chain/genesis"
	"github.com/dure-network/dure/node/api"
	"github.com/dure-network/dure/node/config"
)

// Subnets in one process. A [[subnets]] table in the parent node's
// config.toml names a subnet chain whose node runs beside the parent node,
// in the same `dure start` process: each subnet node has its own home
// (genesis, keys, node key), store, WAL and sign state, its own libp2p
// host (built with the subnet's pre-shared key when it is private; the
// chain ID is in every topic name) and its own API. Beside each subnet
// validator runs the checkpoint signer (and, with relay, the relayer),
// the same loop as `dure start --subnet`, talking to the subnet node's
// API and the parent's. A watch per subnet keeps its checkpoint lag for
// the parent's /v1/status and /metrics.
//
// Failure is contained one way: a subnet node that cannot open or stops
// is logged and shown (status "running": false with the error,
// dure_subnet_up 0) while the parent node goes on; it is not restarted.
// The other way not: when the parent node stops (or fails), the subnet
// nodes are stopped, their stores closed, and the process exits with the
// parent's result. A panic in any node's goroutines ends the process.

// ErrSubnetConfig is wrapped by every error about a [[subnets]] entry
// and the subnet home it names.
var ErrSubnetConfig = errors.New("subnet config")

// SubnetConfig is the config of the subnet node a [[subnets]] entry of
// parent names: its home's config.toml (defaults when it has none) with
// the entry's overrides, checked not to share an address, store or key
// file with the parent.
func SubnetConfig(parent config.Config, e config.Subnet) (config.Config, error) {
	home := parent.SubnetHome(e)
	cfg, err := config.Load(filepath.Join(home, config.FileName))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		cfg = config.Default(home)
	case err != nil:
		return cfg, fmt.Errorf("%w: subnet %s: %w", ErrSubnetConfig, e.ID, err)
	}
	if e.APIListenAddr != "" {
		cfg.API.ListenAddr = e.APIListenAddr
	}
	if len(e.ListenAddrs) > 0 {
		cfg.P2P.ListenAddrs = slices.Clone(e.ListenAddrs)
	}
	if len(e.BootstrapPeers) > 0 {
		cfg.P2P.BootstrapPeers = slices.Clone(e.BootstrapPeers)
	}
	if e.PrivateNetworkPSKFile != "" {
		cfg.P2P.PrivateNetworkPSKFile = parent.SubnetPSKPath(e)
	}
	if err := cfg.Validate(); err != nil {
		return cfg, fmt.Errorf("%w: subnet %s (home %s): %w", ErrSubnetConfig, e.ID, home, err)
	}
	var clash []string
	if cfg.API.ListenAddr != "" && cfg.API.ListenAddr == parent.API.ListenAddr && !strings.HasSuffix(cfg.API.ListenAddr, ":0") {
		clash = append(clash, fmt.Sprintf("its [api] listen_addr %s is the parent's (set api_listen_addr in the [[subnets]] entry)", cfg.API.ListenAddr))
	}
	for _, a := range cfg.P2P.ListenAddrs {
		if slices.Contains(parent.P2P.ListenAddrs, a) && !strings.Contains(a, "/tcp/0") && !strings.Contains(a, "/udp/0/") {
			clash = append(clash, fmt.Sprintf("its [p2p] listen address %s is the parent's (set listen_addrs in the [[subnets]] entry)", a))
		}
	}
	for _, p := range []struct{ what, sub, par string }{
		{"data directory", cfg.DataPath(), parent.DataPath()},
		{"node key file", cfg.NodeKeyPath(), parent.NodeKeyPath()},
		{"genesis file", cfg.GenesisPath(), parent.GenesisPath()},
	} {
		if filepath.Clean(p.sub) == filepath.Clean(p.par) {
			clash = append(clash, fmt.Sprintf("its %s %s is the parent's", p.what, p.sub))
		}
	}
	if len(clash) > 0 {
		return cfg, fmt.Errorf("%w: subnet %s (home %s): %s", ErrSubnetConfig, e.ID, home, strings.Join(clash, "; "))
	}
	return cfg, nil
}

// SubnetAgent signs (and with relay, relays) one subnet's checkpoints
// until ctx ends: subAPI is the subnet node's API, parentAPI the parent's,
// key the subnet validator's key. The CLI supplies it (the loop of `dure
// subnet sign|relay --watch`).
type SubnetAgent func(ctx context.Context, log *slog.Logger, e config.Subnet, subAPI, parentAPI string, key chain.PrivKey)

// SubnetKeys opens the validator key a subnet node's config names (zero
// key: a full node of the subnet).
type SubnetKeys func(cfg config.Config) (chain.PrivKey, error)

// StartSubnets opens and runs, each on its own goroutine, the subnet node
// of every [[subnets]] entry in n's config, with the agent beside each
// subnet validator, until ctx ends. The returned wait blocks until every
// subnet node has stopped and closed its store. Failures of a subnet are
// logged and kept in its watch; they never reach n.
func (n *Node) StartSubnets(ctx context.Context, keys SubnetKeys, agent SubnetAgent) (wait func()) {
	var wg sync.WaitGroup
	for _, e := range n.cfg.Subnets {
		w := n.watchSubnet(e.ID, e.Relay, n.localSubnetSource(e.ID))
		log := n.log.With("subnet", e.ID)
		wg.Add(1)
		go func() {
			defer wg.Done()
			n.runSubnet(ctx, log, e, w, keys, agent)
		}()
	}
	return wg.Wait
}

func (n *Node) runSubnet(ctx context.Context, log *slog.Logger, e config.Subnet, w *subnetWatch, keys SubnetKeys, agent SubnetAgent) {
	fail := func(what string, err error) {
		w.setDown(fmt.Sprintf("%s: %v", what, err))
		log.Error("subnet node "+what+"; the parent node goes on without it", "err", err)
	}
	cfg, err := SubnetConfig(n.cfg, e)
	if err != nil {
		fail("not started", err)
		return
	}
	if _, err := genesis.Load(cfg.GenesisPath()); err != nil {
		fail("not started", err)
		return
	}
	key, err := keys(cfg)
	if err != nil {
		fail("not started", fmt.Errorf("validator key (priv_validator_key = %q in %s): %w", cfg.PrivValidatorKey, cfg.Home, err))
		return
	}
	sn, err := Open(ctx, cfg, log, key)
	if err != nil {
		fail("not started", err)
		return
	}
	w.setNode(sn, cfg.P2P.PrivateNetworkPSKFile != "")
	done := make(chan error, 1)
	go func() { done <- sn.Run(ctx) }()
	// The agent stops with the subnet node, not only with the process.
	actx, stopAgent := context.WithCancel(ctx)
	defer stopAgent()
	if !key.IsZero() && agent != nil {
		go func() {
			if !waitFresh(actx, max(e.Interval.Duration(), 100*time.Millisecond), n, sn) {
				return
			}
			// Both APIs are up by now (a node's API starts before its
			// first commit; waitFresh read its head under its lock), so
			// their bound addresses are known, port 0 included.
			parentAPI := e.ParentAPI
			if parentAPI == "" {
				parentAPI = cmp.Or(n.apiAddr, n.cfg.API.ListenAddr)
			}
			agent(actx, n.log, e, cmp.Or(sn.apiAddr, sn.cfg.API.ListenAddr), parentAPI, key) // the agent's lines name the subnet
		}()
	}
	err = <-done
	switch {
	case err != nil && ctx.Err() == nil:
		fail("stopped", err)
	case err != nil:
		w.setDown("stopped with the parent node: " + err.Error())
	default:
		w.setDown("stopped with the parent node")
	}
}

// WaitCaughtUp is waitFresh for n alone: `dure start --subnet` waits so
// before its agent starts.
func (n *Node) WaitCaughtUp(ctx context.Context, every time.Duration) bool {
	return waitFresh(ctx, max(every, 100*time.Millisecond), n)
}

// waitFresh waits until each node has committed a block made after this
// call (by its block time), so that a node restarted behind its chain
// catches up before the agent signs or relays: a relayer that submitted
// from a stale head would spend one submission per period it missed
// instead of one for all. After 30 heartbeats it goes on regardless (a
// chain that makes no blocks has nothing new to sign). false: ctx ended.
func waitFresh(ctx context.Context, every time.Duration, nodes ...*Node) bool {
	start := chain.Time(time.Now().UnixNano())
	giveUp := time.Now().Add(max(30*every, 30*time.Second))
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		fresh := true
		for _, x := range nodes {
			x.mu.RLock()
			ok := x.head.Time > start && !x.syncing
			x.mu.RUnlock()
			fresh = fresh && ok
		}
		if fresh || time.Now().After(giveUp) {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
		}
	}
}

// SubnetSource reads a subnet's record on the parent and the parent
// height it was read at.
type SubnetSource func(ctx context.Context) (subnet.Subnet, uint64, error)

// localSubnetSource reads the record from n's own state: n is the parent.
func (n *Node) localSubnetSource(id string) SubnetSource {
	return func(ctx context.Context) (subnet.Subnet, uint64, error) {
		res, err := backend{n}.Query(ctx, subnet.ModuleName, "subnet", map[string]string{"subnet": id}, false)
		if err != nil {
			return subnet.Subnet{}, 0, err
		}
		s, ok := res.Result.(*subnet.Subnet)
		if !ok {
			return subnet.Subnet{}, 0, fmt.Errorf("subnet record is a %T", res.Result)
		}
		return *s, res.Height, nil
	}
}

// subnetWatch is one subnet's row in status and metrics.
type subnetWatch struct {
	mu   sync.Mutex
	st   api.SubnetStatus
	node *Node // the subnet node, when it runs in this process
	src  SubnetSource
	// warned: the parent records the subnet as private but its node has
	// no pre-shared key (logged once).
	warned bool
}

// WatchSubnet adds to n's status and metrics the checkpoint lag of the
// subnet n itself is a node of (`dure start --subnet`), its record on the
// parent read by src. Call it before Run.
func (n *Node) WatchSubnet(id string, relay bool, src SubnetSource) {
	w := n.watchSubnet(id, relay, src)
	w.setNode(n, n.cfg.P2P.PrivateNetworkPSKFile != "")
}

// watchSubnet adds a subnet to n's status and metrics; its height is read
// from the node setNode gives.
func (n *Node) watchSubnet(id string, relay bool, src SubnetSource) *subnetWatch {
	w := &subnetWatch{src: src, st: api.SubnetStatus{ID: id, Relay: relay, Error: "starting"}}
	n.subnetsMu.Lock()
	n.subnetWatches = append(n.subnetWatches, w)
	n.subnetsMu.Unlock()
	n.m.addSubnet(w)
	return w
}

func (w *subnetWatch) setNode(sn *Node, private bool) {
	w.mu.Lock()
	w.node, w.st.Running, w.st.Private, w.st.Error = sn, true, private, ""
	w.mu.Unlock()
}

func (w *subnetWatch) setDown(why string) {
	w.mu.Lock()
	w.st.Running, w.st.Error = false, why
	w.mu.Unlock()
}

func (w *subnetWatch) status() api.SubnetStatus {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.st
}

// refresh reads the parent's record and the subnet's height.
func (w *subnetWatch) refresh(ctx context.Context) {
	s, ph, err := w.src(ctx)
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.node != nil && w.st.Running {
		w.st.SubnetHeight = w.node.headHeight()
	}
	if err != nil {
		w.st.Registered = false
		if errors.Is(err, subnet.ErrNoSubnet) {
			w.st.ParentError = "not registered on the parent"
		} else {
			w.st.ParentError = "parent: " + err.Error()
		}
		return
	}
	w.st.ParentError = ""
	w.st.Registered, w.st.Halted, w.st.ParentHeight = true, s.Halted, ph
	w.st.LastCheckpoint, w.st.LastCheckpointParentHeight = s.Last.Height, s.Last.ParentHeight
	since := max(s.Last.ParentHeight, s.Registered)
	w.st.CheckpointLagBlocks = ph - min(since, ph)
	w.st.SubnetBlocksSinceCheckpoint = w.st.SubnetHeight - min(s.Last.Height, w.st.SubnetHeight)
	if s.Private && w.node != nil && !w.st.Private && !w.warned {
		w.warned = true
		w.node.log.Warn("the parent records this subnet as private, but its node has no pre-shared key: outsiders can connect",
			"fix", "set private_network_psk_file in the [[subnets]] entry")
	}
}

// watchSubnets refreshes every watch each second until ctx ends.
func (n *Node) watchSubnets(ctx context.Context) {
	n.subnetsMu.Lock()
	ws := slices.Clone(n.subnetWatches)
	n.subnetsMu.Unlock()
	if len(ws) == 0 {
		return
	}
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		for _, w := range ws {
			rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			w.refresh(rctx)
			cancel()
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// subnetStatuses is the "subnets" list of /v1/status (nil: none).
func (n *Node) subnetStatuses() []api.SubnetStatus {
	n.subnetsMu.Lock()
	defer n.subnetsMu.Unlock()
	if len(n.subnetWatches) == 0 {
		return nil
	}
	out := make([]api.SubnetStatus, len(n.subnetWatches))
	for i, w := range n.subnetWatches {
		out[i] = w.status()
	}
	return out
}

// addSubnet exports one subnet's lag, labelled subnet=<id>.
func (m *metrics) addSubnet(w *subnetWatch) {
	labels := prometheus.Labels{"subnet": w.st.ID}
	for _, g := range []struct {
		name, help string
		get        func(api.SubnetStatus) float64
	}{
		{"dure_subnet_checkpoint_lag_blocks", "Parent blocks since the subnet's last checkpoint the parent accepted (since its registration before the first).",
			func(s api.SubnetStatus) float64 { return float64(s.CheckpointLagBlocks) }},
		{"dure_subnet_blocks_since_checkpoint", "Subnet height minus the height of the subnet's last checkpoint the parent accepted.",
			func(s api.SubnetStatus) float64 { return float64(s.SubnetBlocksSinceCheckpoint) }},
		{"dure_subnet_height", "The subnet node's latest committed height.",
			func(s api.SubnetStatus) float64 { return float64(s.SubnetHeight) }},
		{"dure_subnet_last_checkpoint_height", "Subnet height of the last checkpoint the parent accepted.",
			func(s api.SubnetStatus) float64 { return float64(s.LastCheckpoint) }},
		{"dure_subnet_up", "1 while the subnet's node runs (in this process, or this node is the subnet).",
			func(s api.SubnetStatus) float64 {
				if s.Running {
					return 1
				}
				return 0
			}},
	} {
		get := g.get
		// Register, not MustRegister: a second watch of one subnet (start
		// --subnet on a node whose [[subnets]] names the same id) keeps
		// the first one's series instead of panicking.
		_ = m.reg.Register(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: g.name, Help: g.help, ConstLabels: labels},
			func() float64 { return get(w.status()) }))
	}
}
