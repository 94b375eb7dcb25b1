package p2p

import (
	"sort"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/control"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

// denyGater is a libp2p connection gater that refuses a mutable set of
// peer IDs at every stage where the peer is known (dial, secured handshake,
// upgrade). Anonymous inbound accepts pass: the peer ID is learnt only
// after the security handshake.
type denyGater struct {
	mu     sync.RWMutex
	denied map[peer.ID]struct{}
	// banned are refused until a time: peers that flooded the block-sync
	// streams (see streamRefusals). Not listed, not persisted.
	banned map[peer.ID]time.Time
}

func newDenyGater() *denyGater {
	return &denyGater{denied: make(map[peer.ID]struct{}), banned: make(map[peer.ID]time.Time)}
}

// ban refuses p until until.
func (g *denyGater) ban(p peer.ID, until time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	now := time.Now()
	for q, t := range g.banned {
		if now.After(t) {
			delete(g.banned, q)
		}
	}
	g.banned[p] = until
}

func (g *denyGater) deny(p peer.ID) {
	g.mu.Lock()
	g.denied[p] = struct{}{}
	g.mu.Unlock()
}

func (g *denyGater) allow(p peer.ID) {
	g.mu.Lock()
	delete(g.denied, p)
	g.mu.Unlock()
}

func (g *denyGater) isDenied(p peer.ID) bool {
	g.mu.RLock()
	_, ok := g.denied[p]
	until, banned := g.banned[p]
	g.mu.RUnlock()
	return ok || (banned && time.Now().Before(until))
}

func (g *denyGater) list() []peer.ID {
	g.mu.RLock()
	out := make([]peer.ID, 0, len(g.denied))
	for p := range g.denied {
		out = append(out, p)
	}
	g.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

func (g *denyGater) InterceptPeerDial(p peer.ID) bool { return !g.isDenied(p) }

func (g *denyGater) InterceptAddrDial(p peer.ID, _ ma.Multiaddr) bool { return !g.isDenied(p) }

func (g *denyGater) InterceptAccept(network.ConnMultiaddrs) bool { return true }

func (g *denyGater) InterceptSecured(_ network.Direction, p peer.ID, _ network.ConnMultiaddrs) bool {
	return !g.isDenied(p)
}

func (g *denyGater) InterceptUpgraded(c network.Conn) (bool, control.DisconnectReason) {
	return !g.isDenied(c.RemotePeer()), 0
}
