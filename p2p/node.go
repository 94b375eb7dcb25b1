package p2p

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dure-network/dure/chain"
	"github.com/libp2p/go-libp2p"
	dht "github.com/libp2p/go-libp2p-kad-dht"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

// BlockSource is what the sync and status servers read from; the node's
// block store implements it. Head is the latest committed height (0 when
// empty). BlockAndCommit returns the encoded block at h and the encoded
// commit that finalised it.
type BlockSource interface {
	Head() uint64
	BlockAndCommit(h uint64) (blockRaw, commitRaw []byte, err error)
}

// Deps are the node's callbacks. Validators must be cheap and must not
// block (they run on pubsub's validation workers): decode and check shape,
// and for transactions the signature if the node wants it there. Handlers
// run on one goroutine per topic, in arrival order; a slow handler slows
// that topic only.
type Deps struct {
	// ValidateTxs judges a gossiped batch of raw txs as a whole, so the
	// node can verify their signatures as one parallel batch before the
	// batch is forwarded. It returns the txs to hand to OnTx (those it
	// accepted) and the batch's verdict: Reject if any tx is one no honest
	// peer would forward. PerTx adapts a one-tx-at-a-time check.
	ValidateTxs       func(from peer.ID, txs [][]byte) (accepted [][]byte, v Verdict)
	ValidateConsensus func(from peer.ID, data []byte) Verdict
	ValidateBlock     func(from peer.ID, data []byte) Verdict
	ValidateEvidence  func(from peer.ID, data []byte) Verdict
	// ValidateCompact judges a compact proposal; nil leaves the compact
	// topic unjoined, as a version without compact proposals (its peers
	// then publish whole blocks too: WholeBlockPeers).
	ValidateCompact func(from peer.ID, data []byte) Verdict

	// OnTx gets the txs of a batch that ValidateTxs accepted.
	OnTx        func(from peer.ID, txs [][]byte)
	OnConsensus func(from peer.ID, data []byte)
	OnBlock     func(from peer.ID, data []byte)
	OnEvidence  func(from peer.ID, data []byte)
	// OnCompact gets a compact proposal with the peer that sent it and
	// the host that published it (the one to ask first for what is
	// missing).
	OnCompact func(from, author peer.ID, data []byte)

	// Blocks serves block sync and status; nil serves neither.
	Blocks BlockSource
	// Snapshots serves state sync; nil serves nothing.
	Snapshots SnapshotSource
	// Fill serves BlockFillProtocol; nil serves nothing.
	Fill   FillSource
	Logger *slog.Logger
}

// Node is a running libp2p host with the chain's gossip topics, discovery
// and the block-sync protocol.
type Node struct {
	cfg  Config
	deps Deps
	log  *slog.Logger

	host    host.Host
	gater   *denyGater
	routers [numRouters]router
	dht     *dht.IpfsDHT
	closer  []func() error

	topicNames [numKinds]string
	topics     [numKinds]*pubsub.Topic
	counters   [numKinds]topicCounters
	ipBook     *ipBook
	serve      *serveBudget    // paces block-sync serving (servebudget.go)
	refusals   *streamRefusals // sync streams refused per peer (servebudget.go)
	batcher    *txBatcher
	snapSem    chan struct{} // bounds snapshot streams served at once
	syncBad    syncBadBook   // peers dropped by recent sync runs (syncer.go)

	txsPublished atomic.Uint64
	txsReceived  atomic.Uint64

	bootstrap []peer.AddrInfo
	kick      chan struct{}
	reach     reachWatch

	ctx       context.Context
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	closeOnce sync.Once
}

// New starts a node: the host listens, the topics are joined and
// subscribed, the sync servers registered, and discovery runs in the
// background until Close or until ctx ends.
func New(ctx context.Context, cfg Config, deps Deps) (*Node, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if deps.ValidateTxs == nil || deps.ValidateConsensus == nil || deps.ValidateBlock == nil || deps.ValidateEvidence == nil {
		return nil, fmt.Errorf("%w: all four gossip validators are required", ErrConfig)
	}
	boot, err := parseAddrInfos(cfg.Bootstrap)
	if err != nil {
		return nil, err
	}
	n := &Node{cfg: cfg, deps: deps, log: deps.Logger, gater: newDenyGater(),
		ipBook:    newIPBook(time.Now, exemptNets()),
		serve:     newServeBudget(time.Now, cfg.SyncServeRate, exemptNets()),
		refusals:  newStreamRefusals(time.Now, SyncProtocol(cfg.ChainID), StatusProtocol(cfg.ChainID), BlockFillProtocol(cfg.ChainID)),
		bootstrap: boot, kick: make(chan struct{}, 1)}
	if n.log == nil {
		n.log = discardLogger()
	}
	for _, s := range cfg.DenyPeers {
		p, _ := peer.Decode(s) // checked in withDefaults
		n.gater.deny(p)
	}
	for k := range numKinds {
		n.topicNames[k] = TopicName(cfg.ChainID, kindNames[k])
	}
	for r := range numRouters {
		n.routers[r].tracer = newMeshTracer()
	}
	opts, err := hostOptions(cfg, n.gater, n.refusals)
	if err != nil {
		return nil, err
	}
	h, err := libp2p.New(opts...)
	if err != nil {
		return nil, fmt.Errorf("p2p host: %w", err)
	}
	if err := listenAll(h.Network(), cfg.ListenAddrs); err != nil {
		_ = h.Close()
		return nil, err
	}
	n.host = h
	n.ctx, n.cancel = context.WithCancel(context.WithoutCancel(ctx))
	n.batcher = newTxBatcher(cfg.TxFlushCount, cfg.TxFlushBytes, cfg.TxFlushInterval, n.ctx.Done())
	if err := n.start(); err != nil {
		_ = n.Close()
		return nil, err
	}
	// The caller's ctx bounds the node's life as well as its start.
	context.AfterFunc(ctx, func() { _ = n.Close() })
	return n, nil
}

func (n *Node) start() error {
	for _, b := range n.bootstrap {
		n.host.ConnManager().Protect(b.ID, "bootstrap")
	}
	if err := n.watchReachability(); err != nil {
		return err
	}
	if n.cfg.EnableDHT {
		if err := n.startDHT(); err != nil {
			return err
		}
	}
	for r := range numRouters {
		ps, err := pubsub.NewGossipSub(n.ctx, n.host, n.gossipOptions(r)...)
		if err != nil {
			return fmt.Errorf("p2p gossipsub (router %d): %w", r, err)
		}
		n.routers[r].ps = ps
	}
	checks := [numKinds]func(peer.ID, *pubsub.Message) Verdict{
		kindTx:        n.checkTxBatch,
		kindConsensus: func(from peer.ID, m *pubsub.Message) Verdict { return n.deps.ValidateConsensus(from, m.Data) },
		kindBlock:     func(from peer.ID, m *pubsub.Message) Verdict { return n.deps.ValidateBlock(from, m.Data) },
		kindEvidence:  func(from peer.ID, m *pubsub.Message) Verdict { return n.deps.ValidateEvidence(from, m.Data) },
		kindCompact: func(from peer.ID, m *pubsub.Message) Verdict {
			if n.deps.ValidateCompact == nil {
				return Ignore
			}
			return n.deps.ValidateCompact(from, m.Data)
		},
	}
	timeouts := [numKinds]time.Duration{5 * time.Second, 5 * time.Second, 20 * time.Second, 5 * time.Second, 5 * time.Second}
	for k := range numKinds {
		if k == kindCompact && n.deps.ValidateCompact == nil {
			continue // as a version without compact proposals: not subscribed
		}
		name := n.topicNames[k]
		ps := n.routers[routerOf(k)].ps
		if err := ps.RegisterTopicValidator(name, n.validator(k, checks[k]), pubsub.WithValidatorTimeout(timeouts[k])); err != nil {
			return fmt.Errorf("p2p validator %s: %w", name, err)
		}
		t, err := ps.Join(name)
		if err != nil {
			return fmt.Errorf("p2p join %s: %w", name, err)
		}
		n.topics[k] = t
		sub, err := t.Subscribe(pubsub.WithBufferSize(4096))
		if err != nil {
			return fmt.Errorf("p2p subscribe %s: %w", name, err)
		}
		n.wg.Add(1)
		go n.readLoop(k, sub)
	}
	n.wg.Add(1)
	go n.publisher()
	n.wg.Add(1)
	go n.dropFlooders()
	if n.deps.Blocks != nil {
		n.host.SetStreamHandler(SyncProtocol(n.cfg.ChainID), n.serveSync)
		n.host.SetStreamHandler(StatusProtocol(n.cfg.ChainID), n.serveStatus)
	}
	if n.deps.Fill != nil {
		n.host.SetStreamHandler(BlockFillProtocol(n.cfg.ChainID), n.serveFill)
	}
	if n.deps.Snapshots != nil {
		n.snapSem = make(chan struct{}, MaxSnapshotStreams)
		n.host.SetStreamHandler(SnapshotProtocol(n.cfg.ChainID), n.serveSnapshot)
	}
	if n.cfg.EnableMDNS {
		if err := n.startMDNS(); err != nil {
			return err
		}
	}
	n.wg.Add(1)
	go n.bootstrapLoop()
	return nil
}

// Close stops discovery, gossip and the host. It is safe to call twice.
func (n *Node) Close() error {
	var err error
	n.closeOnce.Do(func() {
		if n.batcher != nil {
			fctx, cancel := context.WithTimeout(context.Background(), time.Second)
			_ = n.batcher.flush(fctx)
			cancel()
			// Give the publisher a moment to send what is queued.
			deadline := time.Now().Add(time.Second)
			for len(n.batcher.out) > 0 && time.Now().Before(deadline) {
				time.Sleep(5 * time.Millisecond)
			}
		}
		if n.cancel != nil {
			n.cancel()
		}
		for i := len(n.closer) - 1; i >= 0; i-- {
			err = errors.Join(err, n.closer[i]())
		}
		if n.dht != nil {
			err = errors.Join(err, n.dht.Close())
		}
		if n.host != nil {
			err = errors.Join(err, n.host.Close())
		}
		n.wg.Wait()
	})
	return err
}

// ID is the node's peer ID.
func (n *Node) ID() peer.ID { return n.host.ID() }

// Host exposes the libp2p host for what this package does not wrap.
func (n *Node) Host() host.Host { return n.host }

// Addrs are the node's dialable addresses, each ending in /p2p/<id>.
func (n *Node) Addrs() []string {
	ai := peer.AddrInfo{ID: n.host.ID(), Addrs: n.host.Addrs()}
	full, err := peer.AddrInfoToP2pAddrs(&ai)
	if err != nil {
		return nil
	}
	out := make([]string, len(full))
	for i, a := range full {
		out[i] = a.String()
	}
	return out
}

// Connect dials a peer given as a full multiaddr (…/p2p/<id>).
func (n *Node) Connect(ctx context.Context, addr string) error {
	a, err := ma.NewMultiaddr(addr)
	if err != nil {
		return fmt.Errorf("%w: address %q: %v", ErrConfig, addr, err)
	}
	ai, err := peer.AddrInfoFromP2pAddr(a)
	if err != nil {
		return fmt.Errorf("%w: address %q: %v", ErrConfig, addr, err)
	}
	if err := n.host.Connect(ctx, *ai); err != nil {
		return fmt.Errorf("connect %s: %w", ai.ID, err)
	}
	return nil
}

// PublishTx queues one raw transaction for the next tx batch. It blocks
// only when the publisher is behind (back-pressure, not loss).
func (n *Node) PublishTx(ctx context.Context, raw []byte) error {
	if len(raw) == 0 || len(raw) > chain.MaxTxBytes {
		return fmt.Errorf("%w: tx of %d bytes (1..%d)", ErrMessageTooLarge, len(raw), chain.MaxTxBytes)
	}
	if n.ctx.Err() != nil {
		return ErrClosed
	}
	return n.batcher.add(ctx, raw)
}

// FlushTx sends the pending tx batch now instead of at the next tick.
func (n *Node) FlushTx(ctx context.Context) error { return n.batcher.flush(ctx) }

// PublishConsensus gossips a consensus message (proposal, vote).
func (n *Node) PublishConsensus(ctx context.Context, data []byte) error {
	return n.publish(ctx, kindConsensus, data)
}

// PublishBlock gossips an encoded block.
func (n *Node) PublishBlock(ctx context.Context, data []byte) error {
	return n.publish(ctx, kindBlock, data)
}

// PublishCompact gossips an encoded compact proposal.
func (n *Node) PublishCompact(ctx context.Context, data []byte) error {
	return n.publish(ctx, kindCompact, data)
}

// PublishEvidence gossips encoded evidence.
func (n *Node) PublishEvidence(ctx context.Context, data []byte) error {
	return n.publish(ctx, kindEvidence, data)
}

// Deny refuses the peer from now on and closes its connections.
func (n *Node) Deny(p peer.ID) {
	n.gater.deny(p)
	_ = n.host.Network().ClosePeer(p)
}

// Allow lifts a Deny and redials the peer if its address is known.
func (n *Node) Allow(p peer.ID) {
	n.gater.allow(p)
	addrs := n.host.Peerstore().Addrs(p)
	if len(addrs) > 0 {
		n.wg.Add(1)
		go func() {
			defer n.wg.Done()
			ctx, cancel := context.WithTimeout(n.ctx, 10*time.Second)
			defer cancel()
			_ = n.host.Connect(ctx, peer.AddrInfo{ID: p, Addrs: addrs})
		}()
	}
	select {
	case n.kick <- struct{}{}:
	default:
	}
}

// Denied lists the denied peers, sorted.
func (n *Node) Denied() []peer.ID { return n.gater.list() }

// PeerInfo describes one connected peer.
type PeerInfo struct {
	ID        peer.ID
	Addrs     []string
	Score     float64
	Direction string // "inbound" or "outbound" (of the first connection)
}

// Peers lists the connected peers, sorted by ID.
func (n *Node) Peers() []PeerInfo {
	ids := n.host.Network().Peers()
	out := make([]PeerInfo, 0, len(ids))
	for _, p := range ids {
		conns := n.host.Network().ConnsToPeer(p)
		if len(conns) == 0 {
			continue
		}
		pi := PeerInfo{ID: p, Score: n.PeerScore(p), Direction: dirString(conns[0].Stat().Direction)}
		for _, c := range conns {
			pi.Addrs = append(pi.Addrs, c.RemoteMultiaddr().String())
		}
		out = append(out, pi)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

func (n *Node) connected(p peer.ID) bool {
	return n.host.Network().Connectedness(p) == network.Connected
}

func errorf(err error, format string, args ...any) error {
	return fmt.Errorf(format+": %w", append(args, err)...)
}
