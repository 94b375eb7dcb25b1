package p2p

import (
	"slices"
	"sync"

	"github.com/libp2p/go-libp2p/core/event"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/p2p/host/eventbus"
	ma "github.com/multiformats/go-multiaddr"
)

// Reachability is what AutoNAT found out about this node: whether peers
// can dial it (AutoNAT v1: "unknown", "public" or "private"; a private
// node with EnableRelay takes relay reservations and is reached through
// them or by hole punching) and which of its addresses AutoNAT v2 confirmed
// reachable or unreachable.
type Reachability struct {
	AutoNAT     string   `json:"autonat"`
	Reachable   []string `json:"reachable,omitempty"`
	Unreachable []string `json:"unreachable,omitempty"`
}

type reachWatch struct {
	mu sync.Mutex
	r  Reachability
}

// watchReachability follows the host's reachability events and logs each
// change, so an operator sees in the node's log whether it is reachable.
func (n *Node) watchReachability() error {
	n.reach.r.AutoNAT = reachString(network.ReachabilityUnknown)
	sub, err := n.host.EventBus().Subscribe([]any{new(event.EvtLocalReachabilityChanged), new(event.EvtHostReachableAddrsChanged)},
		eventbus.Name("dure reachability"))
	if err != nil {
		return errorf(err, "p2p reachability")
	}
	n.closer = append(n.closer, sub.Close)
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		for {
			select {
			case <-n.ctx.Done():
				return
			case e, ok := <-sub.Out():
				if !ok {
					return
				}
				n.reach.mu.Lock()
				switch e := e.(type) {
				case event.EvtLocalReachabilityChanged:
					n.reach.r.AutoNAT = reachString(e.Reachability)
				case event.EvtHostReachableAddrsChanged:
					n.reach.r.Reachable, n.reach.r.Unreachable = addrStrings(e.Reachable), addrStrings(e.Unreachable)
				}
				r := n.reach.r
				n.reach.mu.Unlock()
				n.log.Info("p2p: reachability", "autonat", r.AutoNAT, "reachable", r.Reachable, "unreachable", r.Unreachable)
			}
		}
	}()
	return nil
}

// Reachability is the latest AutoNAT verdict (see the type).
func (n *Node) Reachability() Reachability {
	n.reach.mu.Lock()
	defer n.reach.mu.Unlock()
	r := n.reach.r
	r.Reachable, r.Unreachable = slices.Clone(r.Reachable), slices.Clone(r.Unreachable)
	return r
}

func reachString(r network.Reachability) string {
	switch r {
	case network.ReachabilityPublic:
		return "public"
	case network.ReachabilityPrivate:
		return "private"
	default:
		return "unknown"
	}
}

func addrStrings(in []ma.Multiaddr) []string {
	out := make([]string, len(in))
	for i, a := range in {
		out[i] = a.String()
	}
	slices.Sort(out)
	return out
}
