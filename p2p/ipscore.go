package p2p

import (
	"math"
	"net"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	manet "github.com/multiformats/go-multiaddr/net"
)

// ipBook remembers rejected gossip per remote IP, so that an attacker who
// reconnects under a fresh peer ID does not start with a clean score:
// gossipsub's own penalties (P4 invalid deliveries, P7 behaviour) are kept
// per peer ID, and RetainScore only helps while that ID is reused.
//
// Each Reject adds one unit to the sending IP; units halve every
// ipPenaltyHalfLife. A peer's app-specific score is -ipPenaltyWeight × u²
// for the units u of its worst IP, so two fresh rejects put every peer ID
// from that IP below GraylistThreshold, and the mark fades within the
// hour once the IP behaves. The exempt nets (127.0.0.1 and ::1, where a
// local testnet's nodes share one address) are never penalised by IP;
// their peers still get gossipsub's per-ID penalties.
type ipBook struct {
	mu     sync.Mutex
	now    func() time.Time
	marks  map[string]*ipMark
	exempt []*net.IPNet
}

type ipMark struct {
	units float64
	at    time.Time
}

const (
	ipPenaltyHalfLife = 10 * time.Minute
	ipPenaltyWeight   = 200.0
	ipBookMax         = 4096 // IPs remembered; the lightest marks go first
)

func newIPBook(now func() time.Time, exempt []*net.IPNet) *ipBook {
	return &ipBook{now: now, marks: make(map[string]*ipMark), exempt: exempt}
}

func (b *ipBook) isExempt(ip net.IP) bool {
	for _, n := range b.exempt {
		if n.Contains(ip) {
			return true
		}
	}
	return false
}

// decayed returns m's units at t.
func decayed(m *ipMark, t time.Time) float64 {
	age := t.Sub(m.at)
	if age <= 0 {
		return m.units
	}
	return m.units * math.Exp2(-float64(age)/float64(ipPenaltyHalfLife))
}

// penalize adds one unit to each IP the peer is connected from.
func (b *ipBook) penalize(ips []net.IP) {
	b.mu.Lock()
	defer b.mu.Unlock()
	t := b.now()
	for _, ip := range ips {
		if b.isExempt(ip) {
			continue
		}
		k := ip.String()
		m := b.marks[k]
		if m == nil {
			if len(b.marks) >= ipBookMax {
				b.evictLocked(t)
			}
			m = &ipMark{}
			b.marks[k] = m
		}
		m.units, m.at = decayed(m, t)+1, t
	}
}

// evictLocked drops the lightest mark to make room.
func (b *ipBook) evictLocked(t time.Time) {
	var worst string
	least := math.Inf(1)
	for k, m := range b.marks {
		if u := decayed(m, t); u < least {
			worst, least = k, u
		}
	}
	delete(b.marks, worst)
}

// score is the app-specific score of a peer connected from ips.
func (b *ipBook) score(ips []net.IP) float64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	t := b.now()
	var u float64
	for _, ip := range ips {
		if m := b.marks[ip.String()]; m != nil {
			u = max(u, decayed(m, t))
		}
	}
	if u < 0.01 {
		return 0
	}
	return -ipPenaltyWeight * u * u
}

// peerIPs lists the remote IPs of the peer's open connections.
func peerIPs(nw network.Network, p peer.ID) []net.IP {
	conns := nw.ConnsToPeer(p)
	ips := make([]net.IP, 0, len(conns))
	for _, c := range conns {
		if ip, err := manet.ToIP(c.RemoteMultiaddr()); err == nil {
			ips = append(ips, ip)
		}
	}
	return ips
}

// exemptNets are the addresses a local testnet's nodes share.
func exemptNets() []*net.IPNet {
	return []*net.IPNet{
		{IP: net.IPv4(127, 0, 0, 1), Mask: net.CIDRMask(32, 32)},
		{IP: net.IPv6loopback, Mask: net.CIDRMask(128, 128)},
	}
}
