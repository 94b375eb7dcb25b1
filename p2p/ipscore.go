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

// ipBook remembers rejected gossip per peer ID and per remote IP, so that
// an attacker stays graylisted and does not start clean under a fresh
// peer ID. Gossipsub's own invalid-delivery penalty (P4) stops growing the
// moment a peer is graylisted (its messages are then dropped unread) and
// decays within a minute back above the threshold, so a flooder would be
// heard again every minute; and RetainScore only helps while an ID is
// reused.
//
// Each Reject adds one unit to the sending peer ID and one to each IP it
// is connected from; units halve every ipPenaltyHalfLife. A peer's
// app-specific score is -ipPenaltyWeight × u² for the largest units u of
// its ID or its IPs, so two rejects put the peer, and every peer ID from
// that IP, below GraylistThreshold for about five minutes, and the mark
// fades within the hour once the sender behaves. The exempt nets
// (127.0.0.1 and ::1, where a local testnet's nodes share one address) are
// never penalised by IP; their peers are still penalised by ID.
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

// penalize adds one unit to the peer and to each IP it is connected from.
func (b *ipBook) penalize(p peer.ID, ips []net.IP) {
	b.mu.Lock()
	defer b.mu.Unlock()
	t := b.now()
	keys := make([]string, 0, len(ips)+1)
	if p != "" {
		keys = append(keys, "peer/"+string(p))
	}
	for _, ip := range ips {
		if !b.isExempt(ip) {
			keys = append(keys, "ip/"+ip.String())
		}
	}
	for _, k := range keys {
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

// score is the app-specific score of peer p connected from ips.
func (b *ipBook) score(p peer.ID, ips []net.IP) float64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	t := b.now()
	var u float64
	if m := b.marks["peer/"+string(p)]; m != nil {
		u = decayed(m, t)
	}
	for _, ip := range ips {
		if m := b.marks["ip/"+ip.String()]; m != nil {
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

// BudgetIPs are the remote IPs of p's open connections that a per-IP
// budget counts (the node's unpaid-tx budget; block-sync serving here):
// the exempt loopback addresses a local testnet's nodes share are left
// out, as for the IP penalty.
func (n *Node) BudgetIPs(p peer.ID) []net.IP {
	ips := peerIPs(n.host.Network(), p)
	out := ips[:0]
	for _, ip := range ips {
		if !n.ipBook.isExempt(ip) {
			out = append(out, ip)
		}
	}
	return out
}

// Penalize counts a fault of p proven after its gossip was accepted or in
// a stream answer (a compact proposal whose tx list does not give its
// header's tx root, a fill answer that does not hash to its key) as one
// rejected message: the same unit against p and its IPs as a Reject,
// which lowers it on both routers. The host itself and "" are ignored.
func (n *Node) Penalize(p peer.ID) {
	if p == "" || p == n.host.ID() {
		return
	}
	n.ipBook.penalize(p, peerIPs(n.host.Network(), p))
}

// Penalty is p's app-specific score now (≤ 0): what its rejected gossip
// and proven faults cost it, before gossipsub's own counters.
func (n *Node) Penalty(p peer.ID) float64 {
	return n.ipBook.score(p, peerIPs(n.host.Network(), p))
}
