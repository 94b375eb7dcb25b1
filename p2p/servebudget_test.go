package p2p

import (
	"bufio"
	"context"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

func TestServeBudgetCharges(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	clock := func() time.Time { return now }
	ipA, ipB, lo := net.ParseIP("10.0.0.1"), net.ParseIP("10.0.0.2"), net.ParseIP("127.0.0.1")
	// rate 100 units/s per key, burst 130, whole node 400/s, burst 520.
	type step struct {
		p        peer.ID
		ip       net.IP
		cost     float64
		advance  time.Duration // before the charge
		wantWait time.Duration
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"within the burst", []step{{"a", ipA, 130, 0, 0}}},
		{"past the burst the peer waits", []step{{"a", ipA, 130, 0, 0}, {"a", ipA, 50, 0, 500 * time.Millisecond}}},
		{"refill pays the debt", []step{{"a", ipA, 180, 0, 500 * time.Millisecond}, {"a", ipA, 0, 500 * time.Millisecond, 0}}},
		{"another peer ID on the same IP shares its budget", []step{{"a", ipA, 130, 0, 0}, {"b", ipA, 50, 0, 500 * time.Millisecond}}},
		{"another IP is a budget of its own", []step{{"a", ipA, 130, 0, 0}, {"b", ipB, 50, 0, 0}}},
		{"the exempt loopback is budgeted per peer ID only", []step{{"a", lo, 130, 0, 0}, {"b", lo, 50, 0, 0}, {"a", lo, 10, 0, 100 * time.Millisecond}}},
		{"the whole node's budget binds across IPs", []step{
			{"a", net.ParseIP("10.0.1.1"), 130, 0, 0}, {"b", net.ParseIP("10.0.1.2"), 130, 0, 0},
			{"c", net.ParseIP("10.0.1.3"), 130, 0, 0}, {"d", net.ParseIP("10.0.1.4"), 130, 0, 0},
			{"e", net.ParseIP("10.0.1.5"), 40, 0, 100 * time.Millisecond}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := newServeBudget(clock, 100, exemptNets())
			for i, s := range tc.steps {
				now = now.Add(s.advance)
				got := b.charge(b.keys(s.p, []net.IP{s.ip}), s.cost)
				if d := got - s.wantWait; d < -time.Millisecond || d > time.Millisecond {
					t.Fatalf("step %d (%s from %s, cost %.0f): wait %v, want %v", i, s.p, s.ip, s.cost, got, s.wantWait)
				}
			}
		})
	}
}

func TestItemCost(t *testing.T) {
	for _, tc := range []struct {
		size int
		want float64
	}{{0, 1}, {1024, 1}, {16<<10 - 1, 1}, {16 << 10, 2}, {1 << 20, 65}} {
		if got := itemCost(tc.size); got != tc.want {
			t.Errorf("itemCost(%d) = %v, want %v", tc.size, got, tc.want)
		}
	}
}

// flood asks p for heights 1..64 on parallel streams until ctx ends and
// returns the items received.
func flood(ctx context.Context, c *testNode, p peer.ID, chainID string, streams int) uint64 {
	var got atomic.Uint64
	var wg sync.WaitGroup
	for range streams {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				s, err := c.host.NewStream(ctx, p, SyncProtocol(chainID))
				if err != nil {
					time.Sleep(5 * time.Millisecond)
					continue
				}
				if dl, ok := ctx.Deadline(); ok {
					_ = s.SetDeadline(dl)
				}
				if writeFrame(s, encodeSyncRequest(1, MaxSyncRange)) != nil || s.CloseWrite() != nil {
					_ = s.Reset()
					time.Sleep(5 * time.Millisecond)
					continue
				}
				r := bufio.NewReader(s)
				for {
					if _, err := readFrame(r, maxItemFrame); err != nil {
						break
					}
					got.Add(1)
				}
				_ = s.Close()
			}
		}()
	}
	wg.Wait()
	return got.Load()
}

// Real hosts: a server paced at 200 units/s per peer and per IP (each
// 1 KiB item costs one unit) is flooded for 2 s, 4 streams at a time, by
// two peer IDs on 127.0.0.2 and one on 127.0.0.3 (the server dials them,
// so it sees those addresses). The two on one IP share one budget; the
// third has its own. Without the budget each got thousands of items a
// second. Meanwhile an honest syncer on the exempt 127.0.0.1 still gets
// all 300 blocks.
func TestSyncServingPacedPerPeerAndIP(t *testing.T) {
	const id = "serve-budget"
	const rate = 200
	srv := newTestNode(t, id, withBlocks(&memBlocks{head: 300}), func(c *Config, _ *Deps) { c.SyncServeRate = rate })
	on := func(ip string) *testNode {
		c := newTestNode(t, id, func(c *Config, _ *Deps) { c.ListenAddrs = []string{"/ip4/" + ip + "/tcp/0"} })
		if err := srv.Connect(context.Background(), c.Addrs()[0]); err != nil {
			t.Fatalf("server dials %s: %v", ip, err)
		}
		return c
	}
	a1, a2, b := on("127.0.0.2"), on("127.0.0.2"), on("127.0.0.3")
	honest := newTestNode(t, id)
	if err := honest.Connect(context.Background(), srv.Addrs()[0]); err != nil {
		t.Fatal(err)
	}

	const window = 2 * time.Second
	ctx, cancel := context.WithTimeout(context.Background(), window)
	defer cancel()
	var ga1, ga2, gb uint64
	var wg sync.WaitGroup
	for _, f := range []struct {
		c   *testNode
		out *uint64
	}{{a1, &ga1}, {a2, &ga2}, {b, &gb}} {
		wg.Add(1)
		go func() { defer wg.Done(); *f.out = flood(ctx, f.c, srv.ID(), id, 4) }()
	}
	start := time.Now()
	rep, applied := runSync(t, honest, []peer.ID{srv.ID()})
	took := time.Since(start)
	wg.Wait()
	// Budget per key: burst 130 + rate × window; one unit per request too.
	most := uint64(130 + rate*window.Seconds() + rate/4) // slack for the scheduler
	t.Logf("items in %v: %d + %d from 127.0.0.2, %d from 127.0.0.3 (at most %d per IP); honest sync of %d blocks in %v",
		window, ga1, ga2, gb, most, rep.Applied, took.Round(time.Millisecond))
	if ga1+ga2 > most {
		t.Errorf("two peer IDs on one IP got %d items, budget %d", ga1+ga2, most)
	}
	if gb > most {
		t.Errorf("peer on 127.0.0.3 got %d items, budget %d", gb, most)
	}
	if gb < most/3 {
		t.Errorf("peer on 127.0.0.3 got only %d items: its IP's budget was taken by another IP", gb)
	}
	wantHeights(t, applied, 300)
}

// The resource manager refuses a fifth sync stream from one peer while
// four are open, before any handler runs; the next one after they close
// is served. A peer that keeps opening past the limit is disconnected and
// refused for a while.
func TestSyncStreamsPerPeerLimited(t *testing.T) {
	client, srv := syncCluster(t, &memBlocks{head: 10})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	p := srv[0].ID()
	hold := func() []interface{ Reset() error } {
		var held []interface{ Reset() error }
		for i := range maxSyncStreamsPerPeer {
			s, err := client.host.NewStream(ctx, p, SyncProtocol("dure-sync"))
			if err != nil {
				t.Fatalf("stream %d: %v", i, err)
			}
			// The length of a 5-byte request and no request: the server's
			// handler waits for the rest.
			if _, err := s.Write([]byte{5}); err != nil {
				t.Fatalf("stream %d: %v", i, err)
			}
			held = append(held, s)
		}
		time.Sleep(300 * time.Millisecond) // the server accepts the four
		return held
	}
	held := hold()
	if items, err := client.FetchBlocks(ctx, p, 1, 5); err == nil {
		t.Fatalf("fifth stream was served %d items while four were open", len(items))
	}
	for _, s := range held {
		_ = s.Reset()
	}
	eventually(t, 5*time.Second, "served again once the streams closed", func() bool {
		items, err := client.FetchBlocks(ctx, p, 1, 5)
		return err == nil && len(items) == 5
	})
	if !srv[0].connected(client.ID()) {
		t.Fatal("an honest client was disconnected")
	}

	// Now flood: four held, and stream after stream past them.
	hold()
	for i := 0; i < 4*streamFloodRefusals && client.connected(p); i++ {
		_, _ = client.FetchBlocks(ctx, p, 1, 5)
	}
	eventually(t, 5*time.Second, "flooder disconnected", func() bool { return !srv[0].connected(client.ID()) })
	if err := client.Connect(ctx, srv[0].Addrs()[0]); err == nil {
		// The dial may succeed before the server's gater closes it.
		never(t, time.Second, "flooder reconnected", func() bool { return srv[0].connected(client.ID()) })
	}
}
