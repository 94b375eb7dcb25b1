package p2p

import (
	"net"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
)

// serveBudget paces block-sync serving. Serving costs this node a store
// read, an encoding and the bytes on the wire per block, and nothing
// bounded it: a peer on 32 parallel streams asking for heights 1..64 over
// and over was served ≈ 9,500 blocks a second by each of four validators
// and slowed their chain from 46 to 33 blocks in 15 s. Limiting how many
// streams a peer may hold at once (the resource manager does that, see
// resourceLimits) bounds concurrency, not the rate: a peer re-opens as
// fast as it is answered.
//
// So serving is charged in units: 1 per request, and per item served
// 1 + its bytes / serveUnitBytes. Three token buckets are charged at once:
// the requesting peer ID's, its remote IP's (except the exempt loopback
// addresses a local testnet's nodes share, as in ipBook), and the whole
// node's. A bucket may go into debt; the server then waits, stream held,
// until every bucket it charged is out of debt before it writes the next
// item. An honest syncer (at most 2 requests in flight per peer) just
// gets its blocks more slowly; a flooder gets no more than the rate, and
// waiting streams count against the resource manager's per-peer stream
// limit, so it cannot open more.
type serveBudget struct {
	mu      sync.Mutex
	now     func() time.Time
	rate    float64 // units per second, per peer and per IP
	burst   float64
	global  float64 // multiple of rate for the whole node
	buckets map[string]*serveBucket
	exempt  []*net.IPNet
}

type serveBucket struct {
	tokens float64
	at     time.Time
}

const (
	// serveUnitBytes is the bytes served that cost one unit more.
	serveUnitBytes = 16 << 10
	// DefaultSyncServeRate is the units per second a peer (and an IP) is
	// served: ≈ 500 small blocks, or ≈ 7.5 MiB of 1 MiB blocks. Serving
	// an empty block cost ≈ 48 µs of CPU on a loaded 2-core VM (store
	// read, encoding, noise and yamux), so one peer at this rate costs a
	// node ≈ 2.5 % of a core; a catching-up node syncs from all its peers
	// at once.
	DefaultSyncServeRate = 500
	// serveGlobalFactor: the whole node serves at most this many peers'
	// worth at once.
	serveGlobalFactor = 4
	serveBucketsMax   = 4096
)

func newServeBudget(now func() time.Time, rate int, exempt []*net.IPNet) *serveBudget {
	r := float64(rate)
	return &serveBudget{now: now, rate: r, burst: 2 * (MaxSyncRange + 1), global: serveGlobalFactor,
		buckets: make(map[string]*serveBucket), exempt: exempt}
}

// keys are the buckets a request from p at ips is charged to.
func (b *serveBudget) keys(p peer.ID, ips []net.IP) []string {
	keys := []string{"all", "peer/" + string(p)}
	for _, ip := range ips {
		exempt := false
		for _, n := range b.exempt {
			exempt = exempt || n.Contains(ip)
		}
		if !exempt {
			keys = append(keys, "ip/"+ip.String())
		}
	}
	return keys
}

// charge takes cost units from every bucket in keys and returns how long
// the caller must wait before serving more (zero if none is in debt).
func (b *serveBudget) charge(keys []string, cost float64) time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	t := b.now()
	var wait time.Duration
	for _, k := range keys {
		rate, burst := b.rate, b.burst
		if k == "all" {
			rate, burst = rate*b.global, burst*b.global
		}
		bk := b.buckets[k]
		if bk == nil {
			if len(b.buckets) >= serveBucketsMax {
				b.forgetFullLocked(t)
			}
			bk = &serveBucket{tokens: burst, at: t}
			b.buckets[k] = bk
		}
		if dt := t.Sub(bk.at); dt > 0 {
			bk.tokens = min(burst, bk.tokens+rate*dt.Seconds())
		}
		bk.at = t
		bk.tokens -= cost
		if bk.tokens < 0 {
			wait = max(wait, time.Duration(-bk.tokens/rate*float64(time.Second)))
		}
	}
	return wait
}

// forgetFullLocked drops the buckets that have refilled (they start full
// when next made), or, if none has, the fullest one.
func (b *serveBudget) forgetFullLocked(t time.Time) {
	fullest, most := "", -1.0
	for k, bk := range b.buckets {
		if k == "all" {
			continue
		}
		lvl := bk.tokens + b.rate*t.Sub(bk.at).Seconds()
		if lvl >= b.burst {
			delete(b.buckets, k)
			continue
		}
		if lvl > most {
			fullest, most = k, lvl
		}
	}
	if len(b.buckets) >= serveBucketsMax {
		delete(b.buckets, fullest)
	}
}

// itemCost is what serving an item of size bytes costs.
func itemCost(size int) float64 { return 1 + float64(size/serveUnitBytes) }

// A peer that keeps opening sync or status streams past
// maxSyncStreamsPerPeer is refused each time by the resource manager, at
// once, and a flooder re-opens as fast as it is refused: 28 spinning
// streams per node cost four validators more CPU than the items they
// were served. An honest syncer never goes past the limit (2 requests in
// flight per peer), so streamFloodRefusals refusals within
// streamFloodWindow close the peer's connections and refuse it for
// streamFloodBan.
const (
	streamFloodRefusals = 32
	streamFloodWindow   = 10 * time.Second
	streamFloodBan      = time.Minute
)

// streamRefusals counts, per peer, the sync and status streams the
// resource manager refused. It is the resource manager's metrics
// reporter; only BlockProtocolPeer counts.
type streamRefusals struct {
	protos   map[protocol.ID]bool
	mu       sync.Mutex
	now      func() time.Time
	m        map[peer.ID]*refusalCount
	flooders chan peer.ID // to the node's dropFlooders loop
}

type refusalCount struct {
	n    int
	from time.Time
}

func newStreamRefusals(now func() time.Time, protos ...protocol.ID) *streamRefusals {
	r := &streamRefusals{protos: map[protocol.ID]bool{}, now: now, m: map[peer.ID]*refusalCount{}, flooders: make(chan peer.ID, 16)}
	for _, p := range protos {
		r.protos[p] = true
	}
	return r
}

// refused counts one refusal of p and reports whether p just became a
// flooder.
func (r *streamRefusals) refused(p peer.ID) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	t := r.now()
	c := r.m[p]
	if c == nil || t.Sub(c.from) > streamFloodWindow {
		if len(r.m) >= serveBucketsMax {
			for q, o := range r.m {
				if t.Sub(o.from) > streamFloodWindow {
					delete(r.m, q)
				}
			}
		}
		c = &refusalCount{from: t}
		r.m[p] = c
	}
	c.n++
	return c.n == streamFloodRefusals
}

func (r *streamRefusals) BlockProtocolPeer(proto protocol.ID, p peer.ID) {
	if r.protos[proto] && r.refused(p) {
		select {
		case r.flooders <- p:
		default:
		}
	}
}

func (*streamRefusals) AllowConn(network.Direction, bool)      {}
func (*streamRefusals) BlockConn(network.Direction, bool)      {}
func (*streamRefusals) AllowStream(peer.ID, network.Direction) {}
func (*streamRefusals) BlockStream(peer.ID, network.Direction) {}
func (*streamRefusals) AllowPeer(peer.ID)                      {}
func (*streamRefusals) BlockPeer(peer.ID)                      {}
func (*streamRefusals) AllowProtocol(protocol.ID)              {}
func (*streamRefusals) BlockProtocol(protocol.ID)              {}
func (*streamRefusals) AllowService(string)                    {}
func (*streamRefusals) BlockService(string)                    {}
func (*streamRefusals) BlockServicePeer(string, peer.ID)       {}
func (*streamRefusals) AllowMemory(int)                        {}
func (*streamRefusals) BlockMemory(int)                        {}

// dropFlooders closes the connections of each peer streamRefusals names
// and refuses it for streamFloodBan.
func (n *Node) dropFlooders() {
	defer n.wg.Done()
	for {
		select {
		case <-n.ctx.Done():
			return
		case p := <-n.refusals.flooders:
			n.log.Warn("p2p: peer floods block-sync streams; disconnected", "peer", p, "for", streamFloodBan)
			n.gater.ban(p, time.Now().Add(streamFloodBan))
			_ = n.host.Network().ClosePeer(p)
		}
	}
}
