package nattest_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dure-network/dure/p2p/nattest"
)

const chainID = "nattest-1"

// publicNodes starts n public p2p nodes (relay service, AutoNAT service,
// DHT server), each bootstrapping to the ones before it, and returns them
// with their full addresses.
func publicNodes(ctx context.Context, t *testing.T, bed *nattest.Bed, n int) ([]*node, []string) {
	t.Helper()
	var nodes []*node
	var addrs []string
	for i := range n {
		h := bed.PublicHost(fmt.Sprintf("pub%d", i))
		nd := startNode(t, h, nodeSpec{ChainID: chainID, Public: true, Bootstrap: slices.Clone(addrs)})
		st, err := nd.wait(ctx, "start", func(nodeStatus) bool { return true })
		if err != nil {
			t.Fatal(err)
		}
		nodes = append(nodes, nd)
		addrs = append(addrs, "/ip4/"+h.IP+"/udp/26656/quic-v1/p2p/"+st.ID, "/ip4/"+h.IP+"/tcp/26656/p2p/"+st.ID)
	}
	return nodes, addrs
}

// TestNATTraversal is the home-node story on one bed: two public nodes
// (the chain's seeds: relay and AutoNAT service, DHT servers), two homes
// behind cone NATs and two behind symmetric NATs, all with dure's default
// p2p config and the public nodes as bootstrap peers.
//
//   - AutoNAT: every public node finds itself Public, every home node
//     Private, and each home node gets a relay reservation.
//   - Cone: home B dials home A through the relay; DCUtR hole punching
//     must leave a direct, non-relayed connection between them (checked on
//     both sides, and that its address is the other router's public one).
//   - Symmetric: the same dial stays relayed (no direct connection appears
//     within the hole-punch window), and a tx gossiped by one home node
//     still reaches the other.
func TestNATTraversal(t *testing.T) {
	t.Parallel()
	bed := nattest.New(t)
	punches := 1
	if v := os.Getenv("DURE_NATTEST_PUNCHES"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("DURE_NATTEST_PUNCHES=%q: want a positive count", v)
		}
		if _, err := exec.LookPath("conntrack"); err != nil && n > 1 {
			t.Fatalf("DURE_NATTEST_PUNCHES=%d needs conntrack(8) to forget the NAT mappings between tries (apt-get install -y conntrack): %v", n, err)
		}
		punches = n
	}
	ctx, cancel := context.WithTimeout(context.Background(), 80*time.Second+time.Duration(punches-1)*40*time.Second)
	defer cancel()
	start := time.Now()
	// Two seeds; DURE_NATTEST_PUBLIC=n tries another count (1, 3 and 4
	// pass as well).
	pubs, seeds := publicNodes(ctx, t, bed, envInt(t, "DURE_NATTEST_PUBLIC", 2))

	type home struct {
		r  *nattest.Router
		h  *nattest.Host
		nd *node
	}
	mk := func(name string, nat nattest.NAT) *home {
		r := bed.Router("r"+name, nat)
		h := r.Host(name)
		return &home{r: r, h: h, nd: startNode(t, h, nodeSpec{ChainID: chainID, Bootstrap: seeds})}
	}
	ca, cb := mk("ca", nattest.Cone), mk("cb", nattest.Cone)
	sa, sb := mk("sa", nattest.Symmetric), mk("sb", nattest.Symmetric)
	homes := []*home{ca, cb, sa, sb}

	// AutoNAT and relay reservations, all nodes in parallel.
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	// The public nodes run the relay service, which declares them public
	// (AutoNAT v1 is forced); AutoNAT v2 must confirm it by dialling back.
	for _, p := range pubs {
		wg.Go(func() {
			want := "/ip4/" + p.p.Host.IP + "/"
			_, err := p.wait(ctx, "AutoNAT Public, v2 reachable "+want, func(s nodeStatus) bool {
				return s.Reach == "Public" && slices.ContainsFunc(s.V2Reachable, func(a string) bool { return strings.HasPrefix(a, want) })
			})
			errs <- err
		})
	}
	reserved := make(map[*home]time.Duration)
	var mu sync.Mutex
	for _, hm := range homes {
		wg.Go(func() {
			st, err := hm.nd.wait(ctx, "AutoNAT Private and a relay address", func(s nodeStatus) bool {
				return s.Reach == "Private" && len(s.circuitAddrs()) > 0
			})
			if err == nil && st.Reach != "Private" {
				err = fmt.Errorf("%s: reachability %s", hm.h.Name, st.Reach)
			}
			mu.Lock()
			reserved[hm] = time.Since(start)
			mu.Unlock()
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	for i, p := range pubs {
		t.Logf("pub%d: AutoNAT %s, v2 reachable %v", i, p.status().Reach, p.status().V2Reachable)
	}
	for _, hm := range homes {
		st := hm.nd.status()
		t.Logf("%s (%s NAT): AutoNAT %s, relay addresses after %v: %v", hm.h.Name, hm.r.NAT, st.Reach, reserved[hm].Round(100*time.Millisecond), st.circuitAddrs())
	}

	// Cone: dial through the relay, expect DCUtR to make it direct.
	dialStart := time.Now()
	ca0 := ca.nd.status()
	cb.nd.send(t, "dial "+ca0.circuitAddrs()[0]+"/p2p/"+ca0.ID)
	sa0 := sa.nd.status()
	sb.nd.send(t, "dial "+sa0.circuitAddrs()[0]+"/p2p/"+sa0.ID)

	cbID := cb.nd.status().ID
	st, err := ca.nd.wait(ctx, "direct connection to cb", func(s nodeStatus) bool { _, ok := s.direct(cbID); return ok })
	if err != nil {
		t.Fatal(err)
	}
	took := time.Since(dialStart)
	c, _ := st.direct(cbID)
	if !strings.Contains(c.Addr, "/ip4/"+cb.r.WANIP+"/") {
		t.Errorf("ca's direct connection to cb is from %s, want cb's router %s", c.Addr, cb.r.WANIP)
	}
	if _, err := cb.nd.wait(ctx, "direct connection to ca", func(s nodeStatus) bool { _, ok := s.direct(ca0.ID); return ok }); err != nil {
		t.Fatal(err)
	}
	// The NATs drop unsolicited packets, so only a simultaneous open can
	// have made this connection; libp2p's DCUtR log says it did.
	punched := func() int { return ca.nd.log.count("hole punch successful") + cb.nd.log.count("hole punch successful") }
	for deadline := time.Now().Add(3 * time.Second); punched() == 0 && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
	}
	if punched() == 0 {
		t.Errorf("direct connection without a successful DCUtR hole punch logged by either side")
	}
	t.Logf("cone: hole punched (DCUtR), direct connection %s after %v from the relayed dial", c.Addr, took.Round(10*time.Millisecond))
	if punches > 1 {
		repeatPunch(ctx, t, punches, took, punched, ca.nd, cb.nd, ca.r, cb.r, ca0.circuitAddrs()[0]+"/p2p/"+ca0.ID)
	}

	// Symmetric: relayed, and no direct connection within the window the
	// cone pair needed plus a margin.
	sbID := sb.nd.status().ID
	if _, err := sa.nd.wait(ctx, "relayed connection to sb", func(s nodeStatus) bool { return s.relayed(sbID) }); err != nil {
		t.Fatal(err)
	}
	window, wcancel := context.WithTimeout(ctx, max(took+5*time.Second, 10*time.Second))
	st, err = sa.nd.wait(window, "direct connection to sb", func(s nodeStatus) bool { _, ok := s.direct(sbID); return ok })
	wcancel()
	if err == nil {
		c, _ := st.direct(sbID)
		t.Fatalf("symmetric NAT: a direct connection appeared (%s); the bed's symmetric NAT is not symmetric", c.Addr)
	}
	if !sa.nd.status().relayed(sbID) {
		t.Fatalf("symmetric NAT: the relayed connection to sb is gone: %+v", sa.nd.status().Conns)
	}
	t.Logf("symmetric: still relayed only after the hole-punch window; DCUtR attempts failed: %d, succeeded: %d",
		sa.nd.log.count("hole punch attempt with peer failed")+sb.nd.log.count("hole punch attempt with peer failed"),
		sa.nd.log.count("hole punch successful")+sb.nd.log.count("hole punch successful"))

	// Round trips: relayed (symmetric pair) against hole-punched (cone pair).
	sa.nd.send(t, "ping "+sbID)
	ca.nd.send(t, "ping "+cbID)
	relayRTT, err := sa.nd.wait(ctx, "relayed ping", func(s nodeStatus) bool { _, ok := s.RTTms[sbID]; return ok })
	if err != nil {
		t.Fatal(err)
	}
	directRTT, err := ca.nd.wait(ctx, "direct ping", func(s nodeStatus) bool { _, ok := s.RTTms[cbID]; return ok })
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("ping round trip, median of 11: relayed %.2f ms, hole-punched direct %.2f ms", relayRTT.RTTms[sbID], directRTT.RTTms[cbID])

	// Gossip still flows between the homes (through the public nodes' mesh).
	gossipStart := time.Now()
	sa.nd.send(t, "tx from-sa")
	ca.nd.send(t, "tx from-ca")
	for _, c := range []struct {
		nd   *node
		want string
	}{{sb.nd, "from-sa"}, {cb.nd, "from-ca"}} {
		if _, err := c.nd.wait(ctx, "tx "+c.want, func(s nodeStatus) bool { return slices.Contains(s.Txs, c.want) }); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("gossip between the homes in %v; whole test %v", time.Since(gossipStart).Round(time.Millisecond), time.Since(start).Round(100*time.Millisecond))
}

// repeatPunch measures hole punching over more tries: each try closes the
// pair's connections, makes both routers forget every NAT mapping between
// them (conntrack -D), dials through the relay again and waits up to 30 s
// for a direct connection.
func repeatPunch(ctx context.Context, t *testing.T, tries int, first time.Duration, punched func() int, a, b *node, ra, rb *nattest.Router, aCircuit string) {
	t.Helper()
	aID, bID := a.status().ID, b.status().ID
	times := []time.Duration{first}
	failed, viaDCUtR := 0, 1
	for i := 1; i < tries; i++ {
		a.send(t, "close "+bID)
		b.send(t, "close "+aID)
		gone := func(p string) func(nodeStatus) bool {
			return func(s nodeStatus) bool {
				for _, c := range s.Conns {
					if c.Peer == p {
						return false
					}
				}
				return true
			}
		}
		if _, err := a.wait(ctx, "no connection to b", gone(bID)); err != nil {
			t.Fatal(err)
		}
		if _, err := b.wait(ctx, "no connection to a", gone(aID)); err != nil {
			t.Fatal(err)
		}
		for _, pair := range [][2]*nattest.Router{{ra, rb}, {rb, ra}} {
			for _, dir := range []string{"-s", "-d"} {
				// exit status 1 means no entry matched: fine
				_ = exec.CommandContext(ctx, "ip", "netns", "exec", pair[0].NS, "conntrack", "-D", dir, pair[1].WANIP).Run()
			}
		}
		before := punched()
		t0 := time.Now()
		b.send(t, "dial "+aCircuit)
		wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		st, err := a.wait(wctx, "direct connection", func(s nodeStatus) bool { _, ok := s.direct(bID); return ok })
		cancel()
		if err != nil {
			failed++
			t.Logf("punch %d: no direct connection within 30 s", i+1)
			continue
		}
		c, _ := st.direct(bID)
		times = append(times, time.Since(t0))
		for deadline := time.Now().Add(2 * time.Second); punched() == before && time.Now().Before(deadline); {
			time.Sleep(50 * time.Millisecond)
		}
		if punched() > before {
			viaDCUtR++
		}
		t.Logf("punch %d: direct %s after %v", i+1, c.Addr, times[len(times)-1].Round(10*time.Millisecond))
	}
	sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
	t.Logf("hole punching behind cone NATs: %d of %d tries direct (%d with a DCUtR success logged); time from relayed dial to direct connection: min %v, median %v, max %v",
		len(times), tries, viaDCUtR, times[0].Round(10*time.Millisecond), times[len(times)/2].Round(10*time.Millisecond), times[len(times)-1].Round(10*time.Millisecond))
	if failed*2 > tries {
		t.Errorf("hole punching failed in %d of %d tries", failed, tries)
	}
}
