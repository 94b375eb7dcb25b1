package p2p

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	dht "github.com/libp2p/go-libp2p-kad-dht"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	"github.com/libp2p/go-libp2p/p2p/discovery/mdns"
	drouting "github.com/libp2p/go-libp2p/p2p/discovery/routing"
	dutil "github.com/libp2p/go-libp2p/p2p/discovery/util"
)

// Bootstrap redial backoff: doubling from min to max, with jitter so a
// restarted testnet does not redial in lockstep.
const (
	bootstrapBackoffMin = time.Second
	bootstrapBackoffMax = time.Minute
	discoveryInterval   = 30 * time.Second
)

// Rendezvous is the DHT rendezvous string under which a chain's nodes
// advertise themselves.
func Rendezvous(chainID string) string { return "dure/" + chainID }

type dialState struct {
	next    time.Time
	backoff time.Duration
	busy    bool
}

// bootstrapLoop keeps the bootstrap peers connected, redialling each with
// its own backoff, and (with the DHT) periodically looks up the chain's
// rendezvous for more peers.
func (n *Node) bootstrapLoop() {
	defer n.wg.Done()
	state := make(map[peer.ID]*dialState, len(n.bootstrap))
	for _, b := range n.bootstrap {
		state[b.ID] = &dialState{backoff: bootstrapBackoffMin}
	}
	type result struct {
		id  peer.ID
		err error
	}
	results := make(chan result, len(n.bootstrap))
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var rd *drouting.RoutingDiscovery
	var nextFind time.Time
	if n.dht != nil {
		rd = drouting.NewRoutingDiscovery(n.dht)
		nextFind = time.Now().Add(2 * time.Second)
		n.wg.Add(1)
		go func() {
			defer n.wg.Done()
			dutil.Advertise(n.ctx, rd, Rendezvous(n.cfg.ChainID))
		}()
	}
	for {
		now := time.Now()
		for _, b := range n.bootstrap {
			st := state[b.ID]
			if st.busy || now.Before(st.next) || n.connected(b.ID) || n.gater.isDenied(b.ID) {
				continue
			}
			st.busy = true
			n.wg.Add(1)
			go func(ai peer.AddrInfo) {
				defer n.wg.Done()
				ctx, cancel := context.WithTimeout(n.ctx, 10*time.Second)
				err := n.host.Connect(ctx, ai)
				cancel()
				results <- result{ai.ID, err}
			}(b)
		}
		if rd != nil && !now.Before(nextFind) {
			nextFind = now.Add(discoveryInterval)
			n.wg.Add(1)
			go func() {
				defer n.wg.Done()
				n.findPeers(rd)
			}()
		}
		select {
		case <-n.ctx.Done():
			return
		case r := <-results:
			st := state[r.id]
			st.busy = false
			if r.err == nil {
				st.backoff = bootstrapBackoffMin
				st.next = time.Time{}
				if n.dht != nil {
					_ = n.dht.Bootstrap(n.ctx)
				}
				continue
			}
			n.log.Debug("p2p: bootstrap dial failed", "peer", r.id, "retry_in", st.backoff, "err", r.err)
			jitter := time.Duration(rand.Int64N(int64(st.backoff) / 4))
			st.next = time.Now().Add(st.backoff + jitter)
			st.backoff = min(2*st.backoff, bootstrapBackoffMax)
		case <-n.kick:
			for _, st := range state {
				st.next, st.backoff = time.Time{}, bootstrapBackoffMin
			}
		case <-tick.C:
		}
	}
}

// findPeers dials rendezvous peers while we are below the low-water mark.
func (n *Node) findPeers(rd *drouting.RoutingDiscovery) {
	if len(n.host.Network().Peers()) >= n.cfg.LowWater {
		return
	}
	ctx, cancel := context.WithTimeout(n.ctx, 20*time.Second)
	defer cancel()
	found, err := dutil.FindPeers(ctx, rd, Rendezvous(n.cfg.ChainID))
	if err != nil {
		n.log.Debug("p2p: rendezvous lookup failed", "err", err)
		return
	}
	for _, ai := range found {
		if ai.ID == n.host.ID() || len(ai.Addrs) == 0 || n.connected(ai.ID) || n.gater.isDenied(ai.ID) {
			continue
		}
		if err := n.host.Connect(ctx, ai); err != nil {
			n.log.Debug("p2p: rendezvous dial failed", "peer", ai.ID, "err", err)
		}
	}
}

func (n *Node) startDHT() error {
	mode := dht.ModeAuto
	if n.cfg.DHTServer {
		mode = dht.ModeServer
	}
	d, err := dht.New(n.host,
		dht.Mode(mode),
		dht.ProtocolPrefix(protocol.ID("/dure/"+n.cfg.ChainID)),
		dht.BootstrapPeers(n.bootstrap...),
	)
	if err != nil {
		return fmt.Errorf("p2p dht: %w", err)
	}
	n.dht = d
	return nil
}

// startMDNS starts LAN discovery: peers of the same chain announce a
// per-chain service name and connect to each other when found.
func (n *Node) startMDNS() error {
	svc := mdns.NewMdnsService(n.host, mdnsServiceName(n.cfg.ChainID), mdnsNotifee{n})
	if err := svc.Start(); err != nil {
		return fmt.Errorf("%w: enable_mdns: %v", ErrConfig, err)
	}
	n.closer = append(n.closer, svc.Close)
	return nil
}

// mdnsServiceName is a DNS-SD-safe service name per chain ID.
func mdnsServiceName(chainID string) string {
	name := "dure-" + strings.NewReplacer(".", "-", "_", "-").Replace(chainID)
	if len(name) > 63 {
		name = name[:63]
	}
	return name
}

type mdnsNotifee struct{ n *Node }

// HandlePeerFound dials a peer announced on the LAN (the gater still
// applies: denied peers are not connected).
func (m mdnsNotifee) HandlePeerFound(pi peer.AddrInfo) {
	if pi.ID == m.n.host.ID() || m.n.ctx.Err() != nil {
		return
	}
	go func() {
		ctx, cancel := context.WithTimeout(m.n.ctx, 10*time.Second)
		defer cancel()
		if err := m.n.host.Connect(ctx, pi); err != nil {
			m.n.log.Debug("p2p: mdns peer", "peer", pi.ID, "err", err)
		}
	}()
}
