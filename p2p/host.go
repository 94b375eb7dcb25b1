package p2p

import (
	"fmt"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/pnet"
	"github.com/libp2p/go-libp2p/core/protocol"
	"github.com/libp2p/go-libp2p/p2p/host/autorelay"
	rcmgr "github.com/libp2p/go-libp2p/p2p/host/resource-manager"
	"github.com/libp2p/go-libp2p/p2p/muxer/yamux"
	"github.com/libp2p/go-libp2p/p2p/net/connmgr"
	noise "github.com/libp2p/go-libp2p/p2p/security/noise"
	tls "github.com/libp2p/go-libp2p/p2p/security/tls"
	quic "github.com/libp2p/go-libp2p/p2p/transport/quic"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"
	ma "github.com/multiformats/go-multiaddr"
)

// resourceLimits derives the resource manager's limits from the connection
// manager's high-water mark. libp2p's defaults scale with memory; on a
// small machine they can sit below HighWater, and then the resource manager
// would refuse peers the connection manager still wants (and trims only
// above HighWater anyway). So we raise the system and transient connection
// limits to 2×HighWater per direction (plus headroom for connections in
// handshake and for relayed ones), file descriptors to match, and streams
// to 64 per allowed peer. Memory keeps libp2p's auto-scaled value.
// FDLimit is the most file descriptors the host's connections may hold
// with the given high water: 2×highWater+32 connections, plus headroom for
// listeners and dials in progress.
func FDLimit(highWater int) int { return 2*highWater + 32 + 64 }

// Block-sync and status streams are limited per peer as well
// (maxSyncStreamsPerPeer): a syncer has at most 2 requests in flight per
// peer, and a flooder's further streams are refused when they name the
// protocol, before any handler runs.
func resourceLimits(chainID string, highWater int) rcmgr.ConcreteLimitConfig {
	base := rcmgr.DefaultLimits
	libp2p.SetDefaultServiceLimits(&base)
	scaled := base.AutoScale()

	conns := 2*highWater + 32
	streams := 64 * conns
	raise := func(cur, want rcmgr.LimitVal) rcmgr.LimitVal { return max(cur, want) }
	p := scaled.ToPartialLimitConfig()
	p.System.Conns = raise(p.System.Conns, rcmgr.LimitVal(conns))
	p.System.ConnsInbound = raise(p.System.ConnsInbound, rcmgr.LimitVal(conns))
	p.System.ConnsOutbound = raise(p.System.ConnsOutbound, rcmgr.LimitVal(conns))
	// Exactly FDLimit, not libp2p's auto-scaled half of the process's
	// limit: the node budgets its descriptors (store, consensus WAL, API)
	// around this figure.
	p.System.FD = rcmgr.LimitVal(FDLimit(highWater))
	p.System.Streams = raise(p.System.Streams, rcmgr.LimitVal(streams))
	p.System.StreamsInbound = raise(p.System.StreamsInbound, rcmgr.LimitVal(streams))
	p.System.StreamsOutbound = raise(p.System.StreamsOutbound, rcmgr.LimitVal(streams))
	p.Transient.Conns = raise(p.Transient.Conns, rcmgr.LimitVal(highWater/2+32))
	p.Transient.ConnsInbound = raise(p.Transient.ConnsInbound, rcmgr.LimitVal(highWater/2+32))
	p.Transient.ConnsOutbound = raise(p.Transient.ConnsOutbound, rcmgr.LimitVal(highWater/2+32))
	perPeer := rcmgr.ResourceLimits{StreamsInbound: rcmgr.LimitVal(maxSyncStreamsPerPeer)}
	p.ProtocolPeer = map[protocol.ID]rcmgr.ResourceLimits{
		SyncProtocol(chainID):   perPeer,
		StatusProtocol(chainID): perPeer,
		// Fill streams too: an honest node asks one peer at a time.
		BlockFillProtocol(chainID): perPeer,
	}
	return p.Build(scaled)
}

// maxSyncStreamsPerPeer bounds the block-sync (and, separately, status)
// streams one peer may open to this node at once.
const maxSyncStreamsPerPeer = 4

func hostOptions(cfg Config, g *denyGater, refusals *streamRefusals) ([]libp2p.Option, error) {
	limiter := rcmgr.NewFixedLimiter(resourceLimits(cfg.ChainID, cfg.HighWater))
	rm, err := rcmgr.NewResourceManager(limiter, rcmgr.WithMetrics(refusals))
	if err != nil {
		return nil, fmt.Errorf("p2p resource manager: %w", err)
	}
	cm, err := connmgr.NewConnManager(cfg.LowWater, cfg.HighWater)
	if err != nil {
		return nil, fmt.Errorf("p2p conn manager: %w", err)
	}
	opts := []libp2p.Option{
		libp2p.NoListenAddrs, // listenAll binds them, failing on any that cannot be bound
		libp2p.Security(noise.ID, noise.New),
		libp2p.Security(tls.ID, tls.New),
		libp2p.Muxer(yamux.ID, yamux.DefaultTransport),
		libp2p.Transport(tcp.NewTCPTransport, tcp.DisableReuseport()), // a taken port must fail, not be shared
		libp2p.ResourceManager(rm),
		libp2p.ConnectionManager(cm),
		libp2p.ConnectionGater(g),
		libp2p.UserAgent("dure/" + cfg.ChainID),
	}
	if cfg.PrivKey != nil {
		opts = append(opts, libp2p.Identity(cfg.PrivKey))
	}
	if len(cfg.PrivateNetworkPSK) > 0 {
		opts = append(opts, libp2p.PrivateNetwork(pnet.PSK(cfg.PrivateNetworkPSK)))
	} else {
		opts = append(opts, libp2p.Transport(quic.NewTransport))
	}
	if cfg.MetricsRegisterer != nil {
		opts = append(opts, libp2p.PrometheusRegisterer(cfg.MetricsRegisterer))
	} else {
		opts = append(opts, libp2p.DisableMetrics())
	}
	if len(cfg.ExternalAddrs) > 0 {
		ext := make([]ma.Multiaddr, 0, len(cfg.ExternalAddrs))
		for _, s := range cfg.ExternalAddrs {
			a, err := ma.NewMultiaddr(s)
			if err != nil {
				return nil, fmt.Errorf("%w: external address %q: %v", ErrConfig, s, err)
			}
			ext = append(ext, a)
		}
		opts = append(opts, libp2p.AddrsFactory(func(in []ma.Multiaddr) []ma.Multiaddr {
			return append(append([]ma.Multiaddr(nil), in...), ext...)
		}))
	}
	if cfg.EnableNATPortMap {
		opts = append(opts, libp2p.NATPortMap())
	}
	if cfg.EnableHolePunching {
		opts = append(opts, libp2p.EnableHolePunching())
	}
	if cfg.EnableRelay {
		static, err := parseAddrInfos(cfg.Bootstrap)
		if err != nil {
			return nil, err
		}
		opts = append(opts, libp2p.EnableRelay(), libp2p.EnableAutoNATv2())
		if len(static) > 0 {
			opts = append(opts, libp2p.EnableAutoRelayWithStaticRelays(static, autorelay.WithNumRelays(min(2, len(static)))))
		}
	} else {
		opts = append(opts, libp2p.DisableRelay())
	}
	if cfg.EnableRelayService {
		// libp2p starts a relay only once AutoNAT v1 says "public", and only
		// other public nodes answer AutoNAT v1: a chain's lone seed would
		// never relay (shown in p2p/nattest). Enabling the service is the
		// operator's word that the address is public.
		opts = append(opts, libp2p.EnableRelayService(), libp2p.EnableNATService(), libp2p.ForceReachabilityPublic())
	}
	return opts, nil
}

func parseAddrInfos(addrs []string) ([]peer.AddrInfo, error) {
	out := make([]peer.AddrInfo, 0, len(addrs))
	seen := make(map[peer.ID]int)
	for _, s := range addrs {
		a, err := ma.NewMultiaddr(s)
		if err != nil {
			return nil, fmt.Errorf("%w: bootstrap %q: %v", ErrConfig, s, err)
		}
		ai, err := peer.AddrInfoFromP2pAddr(a)
		if err != nil {
			return nil, fmt.Errorf("%w: bootstrap %q must end in /p2p/<peer-id>: %v", ErrConfig, s, err)
		}
		if i, ok := seen[ai.ID]; ok {
			out[i].Addrs = append(out[i].Addrs, ai.Addrs...)
			continue
		}
		seen[ai.ID] = len(out)
		out = append(out, *ai)
	}
	return out, nil
}

func dirString(d network.Direction) string {
	switch d {
	case network.DirInbound:
		return "inbound"
	case network.DirOutbound:
		return "outbound"
	default:
		return "unknown"
	}
}
