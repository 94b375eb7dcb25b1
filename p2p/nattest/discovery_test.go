package nattest_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/dure-network/dure/p2p/nattest"
)

// TestMDNSInLAN: two nodes on one home LAN with no bootstrap peers find
// each other by mDNS; a node on another LAN (behind another router) is not
// found, because multicast does not cross the routers.
func TestMDNSInLAN(t *testing.T) {
	t.Parallel()
	bed := nattest.New(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	lan := bed.Router("rlan", nattest.Cone)
	other := bed.Router("rother", nattest.Cone)
	a := startNode(t, lan.Host("ma"), nodeSpec{ChainID: chainID, MDNS: true})
	b := startNode(t, lan.Host("mb"), nodeSpec{ChainID: chainID, MDNS: true})
	c := startNode(t, other.Host("mc"), nodeSpec{ChainID: chainID, MDNS: true})
	start := time.Now()
	bst, err := b.wait(ctx, "start", func(nodeStatus) bool { return true })
	if err != nil {
		t.Fatal(err)
	}
	cst, err := c.wait(ctx, "start", func(nodeStatus) bool { return true })
	if err != nil {
		t.Fatal(err)
	}
	st, err := a.wait(ctx, "mDNS peer on the LAN", func(s nodeStatus) bool { _, ok := s.direct(bst.ID); return ok })
	if err != nil {
		t.Fatal(err)
	}
	cn, _ := st.direct(bst.ID)
	t.Logf("mDNS: %s found %s at %s after %v", a.name, b.name, cn.Addr, time.Since(start).Round(10*time.Millisecond))
	// mDNS answers arrive within ~1 s on the LAN; give c's twice that.
	time.Sleep(2 * time.Second)
	if cs := c.status(); len(cs.Conns) > 0 {
		t.Errorf("the node on another LAN has connections: %+v", cs.Conns)
	}
	for _, s := range []nodeStatus{a.status(), b.status()} {
		for _, cn := range s.Conns {
			if cn.Peer == cst.ID {
				t.Errorf("a node on another LAN was connected: %+v", cn)
			}
		}
	}
}

// TestDHTDiscovery: a network of public DHT nodes, each given only the
// first node's address, until every node is connected to every other
// (the rendezvous lookup under the per-chain namespace finds them all).
// 12 nodes in CI; DURE_NATTEST_DHT_NODES=20 for more.
func TestDHTDiscovery(t *testing.T) {
	t.Parallel()
	n := envInt(t, "DURE_NATTEST_DHT_NODES", 12)
	bed := nattest.New(t)
	ctx, cancel := context.WithTimeout(context.Background(), 75*time.Second)
	defer cancel()
	seedHost := bed.PublicHost("dseed")
	seed := startNode(t, seedHost, nodeSpec{ChainID: chainID, DHTOnly: true})
	sst, err := seed.wait(ctx, "start", func(nodeStatus) bool { return true })
	if err != nil {
		t.Fatal(err)
	}
	boot := []string{fmt.Sprintf("/ip4/%s/tcp/26656/p2p/%s", seedHost.IP, sst.ID)}
	nodes := []*node{seed}
	start := time.Now()
	for i := 1; i < n; i++ {
		nodes = append(nodes, startNode(t, bed.PublicHost(fmt.Sprintf("d%d", i)), nodeSpec{ChainID: chainID, DHTOnly: true, Bootstrap: boot}))
	}
	ids := make([]string, n)
	for i, nd := range nodes {
		st, err := nd.wait(ctx, "start", func(nodeStatus) bool { return true })
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = st.ID
	}
	var slowest time.Duration
	for i, nd := range nodes {
		_, err := nd.wait(ctx, "a connection to every other node", func(s nodeStatus) bool {
			for j, id := range ids {
				if _, ok := s.direct(id); !ok && j != i {
					return false
				}
			}
			return true
		})
		if err != nil {
			t.Fatal(err)
		}
		slowest = max(slowest, time.Since(start))
	}
	t.Logf("DHT: all %d nodes connected to all others %v after start, from one bootstrap address", n, slowest.Round(100*time.Millisecond))
}
