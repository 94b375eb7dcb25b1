package nattest_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"os/signal"
	"reflect"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/dure-network/dure/p2p"
	"github.com/dure-network/dure/p2p/nattest"
	"github.com/libp2p/go-libp2p/core/event"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/protocol/ping"
)

// nodeSpec is what the parent test asks a node helper to run: dure's p2p
// node with DefaultConfig (DHT, UPnP, hole punching, relay client and
// AutoNAT on), plus relay service and DHT server for public nodes.
type nodeSpec struct {
	ChainID   string
	Public    bool
	Bootstrap []string
	MDNS      bool // EnableMDNS
	DHTOnly   bool // EnableHolePunching, EnableRelay off: a plain DHT peer
}

// nodeStatus is one line a node helper prints whenever something changed.
type nodeStatus struct {
	ID          string
	Addrs       []string
	Reach       string   // AutoNAT v1 reachability: Unknown, Public, Private
	V2Reachable []string // addresses AutoNAT v2 confirmed reachable
	V2Unreach   []string // addresses AutoNAT v2 found unreachable
	Conns       []connInfo
	Txs         []string // payloads of the txs received by gossip
	// RTTms is the median round trip of the last "ping" to each peer, in
	// milliseconds, over whatever connection the host uses for it.
	RTTms map[string]float64
}

type connInfo struct {
	Peer    string
	Addr    string
	Limited bool // a relayed (circuit v2, limited) connection
}

// direct reports whether s has a direct (non-relayed) connection to p.
func (s nodeStatus) direct(p string) (connInfo, bool) {
	for _, c := range s.Conns {
		if c.Peer == p && !c.Limited && !strings.Contains(c.Addr, "/p2p-circuit") {
			return c, true
		}
	}
	return connInfo{}, false
}

func (s nodeStatus) relayed(p string) bool {
	for _, c := range s.Conns {
		if c.Peer == p && (c.Limited || strings.Contains(c.Addr, "/p2p-circuit")) {
			return true
		}
	}
	return false
}

// circuitAddrs are the node's relay addresses (…/p2p-circuit/p2p/<id>).
func (s nodeStatus) circuitAddrs() []string {
	var out []string
	for _, a := range s.Addrs {
		if strings.Contains(a, "/p2p-circuit") {
			out = append(out, a)
		}
	}
	return out
}

// nodeMain runs in a namespace: a p2p.Node that accepts everything, prints
// nodeStatus lines, and obeys stdin lines "dial <multiaddr>", "tx <text>"
// and "close <peer-id>".
func nodeMain(arg string) error {
	var spec nodeSpec
	if err := json.Unmarshal([]byte(arg), &spec); err != nil {
		return fmt.Errorf("spec: %w", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cfg := p2p.DefaultConfig(spec.ChainID)
	cfg.Bootstrap = spec.Bootstrap
	cfg.EnableNATPortMap = false // no UPnP gateway in the bed; it would only add probes
	if spec.Public {
		cfg.EnableRelayService, cfg.DHTServer = true, true
	}
	cfg.EnableMDNS = spec.MDNS
	if spec.DHTOnly {
		cfg.EnableHolePunching, cfg.EnableRelay, cfg.DHTServer = false, false, true
	}
	var mu sync.Mutex
	var txs []string
	rtts := make(map[string]float64)
	accept := func(peer.ID, []byte) p2p.Verdict { return p2p.Accept }
	n, err := p2p.New(ctx, cfg, p2p.Deps{
		ValidateTxs:       p2p.PerTx(func([]byte) p2p.Verdict { return p2p.Accept }),
		ValidateConsensus: accept, ValidateBlock: accept, ValidateEvidence: accept,
		OnTx: func(_ peer.ID, batch [][]byte) {
			mu.Lock()
			for _, tx := range batch {
				txs = append(txs, string(tx))
			}
			mu.Unlock()
		},
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo})),
	})
	if err != nil {
		return fmt.Errorf("p2p: %w", err)
	}
	defer n.Close()
	h := n.Host()
	sub, err := h.EventBus().Subscribe([]any{new(event.EvtLocalReachabilityChanged), new(event.EvtHostReachableAddrsChanged)})
	if err != nil {
		return fmt.Errorf("event bus: %w", err)
	}
	defer sub.Close()
	st := nodeStatus{ID: h.ID().String(), Reach: network.ReachabilityUnknown.String()}

	go func() {
		sc := bufio.NewScanner(os.Stdin)
		for sc.Scan() {
			cmd, rest, _ := strings.Cut(sc.Text(), " ")
			var err error
			switch cmd {
			case "dial":
				dctx, cancel := context.WithTimeout(ctx, 15*time.Second)
				err = n.Connect(network.WithAllowLimitedConn(dctx, "nattest"), rest)
				cancel()
			case "tx":
				if err = n.PublishTx(ctx, []byte(rest)); err == nil {
					err = n.FlushTx(ctx)
				}
			case "ping":
				var p peer.ID
				if p, err = peer.Decode(rest); err == nil {
					var rtt time.Duration
					if rtt, err = pingMedian(ctx, h, p, 11); err == nil {
						mu.Lock()
						rtts[rest] = float64(rtt.Microseconds()) / 1000
						mu.Unlock()
					}
				}
			case "close":
				var p peer.ID
				if p, err = peer.Decode(rest); err == nil {
					err = h.Network().ClosePeer(p)
				}
			default:
				err = fmt.Errorf("unknown command %q", cmd)
			}
			if err != nil {
				fmt.Fprintf(os.Stderr, "%s: %v\n", sc.Text(), err)
			}
		}
	}()

	var last nodeStatus
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case e := <-sub.Out():
			switch e := e.(type) {
			case event.EvtLocalReachabilityChanged:
				st.Reach = e.Reachability.String()
			case event.EvtHostReachableAddrsChanged:
				st.V2Reachable, st.V2Unreach = strs(e.Reachable), strs(e.Unreachable)
			}
		case <-tick.C:
		}
		st.Addrs = strs(h.Addrs())
		st.Conns = st.Conns[:0]
		for _, c := range h.Network().Conns() {
			st.Conns = append(st.Conns, connInfo{Peer: c.RemotePeer().String(), Addr: c.RemoteMultiaddr().String(), Limited: c.Stat().Limited})
		}
		slices.SortFunc(st.Conns, func(a, b connInfo) int { return strings.Compare(a.Peer+a.Addr, b.Peer+b.Addr) })
		mu.Lock()
		st.Txs = slices.Clone(txs)
		st.RTTms = maps.Clone(rtts)
		mu.Unlock()
		if !reflect.DeepEqual(st, last) {
			b, _ := json.Marshal(st)
			fmt.Println(string(b))
			last = st
			last.Conns = slices.Clone(st.Conns)
		}
	}
}

// pingMedian is the median of n libp2p pings to p (ping runs over a
// limited relayed connection too).
func pingMedian(ctx context.Context, h host.Host, p peer.ID, n int) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	res := ping.Ping(ctx, h, p)
	var rtts []time.Duration
	for len(rtts) < n {
		r, ok := <-res
		if !ok {
			return 0, fmt.Errorf("ping %s: %w", p, ctx.Err())
		}
		if r.Error != nil {
			return 0, fmt.Errorf("ping %s: %w", p, r.Error)
		}
		rtts = append(rtts, r.RTT)
	}
	slices.Sort(rtts)
	return rtts[n/2], nil
}

func strs[T fmt.Stringer](in []T) []string {
	out := make([]string, len(in))
	for i, a := range in {
		out[i] = a.String()
	}
	slices.Sort(out)
	return out
}

// node is the parent's handle on a node helper.
type node struct {
	p    *nattest.Proc
	log  *logWriter
	name string
	mu   sync.Mutex
	st   nodeStatus
	upd  chan struct{} // closed and replaced on every status line
}

func startNode(t *testing.T, h *nattest.Host, spec nodeSpec) *node {
	t.Helper()
	b, _ := json.Marshal(spec)
	// libp2p's hole-punch debug lines are counted (see logWriter).
	level := "error,p2p-holepunch=debug"
	if v := os.Getenv("DURE_NATTEST_LOG"); v != "" {
		level = v + ",p2p-holepunch=debug"
	}
	p, lw := startHelperLog(t, h, "node", string(b), "GOLOG_LOG_LEVEL="+level, "GOLOG_LOG_FORMAT=text")
	nd := &node{p: p, log: lw, name: h.Name, upd: make(chan struct{})}
	go func() {
		for l := range nd.p.Lines {
			var st nodeStatus
			if err := json.Unmarshal([]byte(l), &st); err != nil {
				continue
			}
			nd.mu.Lock()
			nd.st = st
			close(nd.upd)
			nd.upd = make(chan struct{})
			nd.mu.Unlock()
		}
	}()
	return nd
}

func (nd *node) status() nodeStatus {
	nd.mu.Lock()
	defer nd.mu.Unlock()
	return nd.st
}

// wait blocks until cond holds for the node's status or ctx ends.
func (nd *node) wait(ctx context.Context, what string, cond func(nodeStatus) bool) (nodeStatus, error) {
	for {
		nd.mu.Lock()
		st, upd := nd.st, nd.upd
		nd.mu.Unlock()
		if st.ID != "" && cond(st) {
			return st, nil
		}
		select {
		case <-upd:
		case <-nd.p.Done():
			return st, fmt.Errorf("%s exited waiting for %s: %v", nd.name, what, nd.p.Err())
		case <-ctx.Done():
			b, _ := json.Marshal(st)
			return st, fmt.Errorf("%s: %s: %w; last status %s", nd.name, what, ctx.Err(), b)
		}
	}
}

func (nd *node) send(t *testing.T, line string) {
	t.Helper()
	if err := nd.p.Send(line); err != nil {
		t.Fatal(err)
	}
}
