package p2p

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"runtime"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
)

func syncCluster(t *testing.T, sources ...*memBlocks) (*testNode, []*testNode) {
	t.Helper()
	client := newTestNode(t, "dure-sync")
	var servers []*testNode
	for _, src := range sources {
		s := newTestNode(t, "dure-sync", withBlocks(src))
		if err := client.Connect(context.Background(), s.Addrs()[0]); err != nil {
			t.Fatal(err)
		}
		servers = append(servers, s)
	}
	return client, servers
}

func TestFetchBlocks(t *testing.T) {
	client, srv := syncCluster(t, &memBlocks{head: 300})
	ctx := context.Background()
	p := srv[0].ID()
	tests := []struct {
		name     string
		from, to uint64
		want     int
		err      error
	}{
		{"first range", 1, 64, 64, nil},
		{"one block", 300, 300, 1, nil},
		{"past head is cut short", 290, 320, 11, nil},
		{"beyond head", 301, 310, 0, nil},
		{"height zero", 0, 10, 0, ErrSyncRange},
		{"reversed", 10, 5, 0, ErrSyncRange},
		{"too many", 1, 65, 0, ErrSyncRange},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			items, err := client.FetchBlocks(ctx, p, tc.from, tc.to)
			if !errors.Is(err, tc.err) {
				t.Fatalf("err = %v, want %v", err, tc.err)
			}
			if len(items) != tc.want {
				t.Fatalf("got %d items, want %d", len(items), tc.want)
			}
			for i, it := range items {
				if it.Height != tc.from+uint64(i) || checkItem(it) != nil {
					t.Fatalf("item %d: height %d, check %v", i, it.Height, checkItem(it))
				}
			}
		})
	}
	if h, err := client.PeerHead(ctx, p); err != nil || h != 300 {
		t.Fatalf("PeerHead = %d, %v; want 300", h, err)
	}
}

func TestSyncServerRejectsBadRequest(t *testing.T) {
	client, srv := syncCluster(t, &memBlocks{head: 10})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := client.host.NewStream(ctx, srv[0].ID(), SyncProtocol("dure-sync"))
	if err != nil {
		t.Fatal(err)
	}
	// A range of 1000 blocks: the server must reset, not serve.
	if err := writeFrame(s, encodeSyncRequest(1, 1000)); err != nil {
		t.Fatal(err)
	}
	_ = s.CloseWrite()
	buf := make([]byte, 1)
	if _, err := s.Read(buf); err == nil {
		t.Fatal("server answered an out-of-bounds request")
	}
}

func runSync(t *testing.T, client *testNode, peers []peer.ID) (SyncReport, []uint64) {
	t.Helper()
	var applied []uint64
	sy := client.NewSyncer(func(it SyncItem) error {
		if err := checkItem(it); err != nil {
			return err
		}
		applied = append(applied, it.Height)
		return nil
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var rep SyncReport
	var err error
	if peers == nil {
		rep, err = sy.Run(ctx, 1)
	} else {
		rep, err = sy.RunPeers(ctx, 1, peers)
	}
	if err != nil {
		t.Fatalf("sync: %v (report %+v)", err, rep)
	}
	return rep, applied
}

func wantHeights(t *testing.T, got []uint64, n uint64) {
	t.Helper()
	if uint64(len(got)) != n {
		t.Fatalf("applied %d items, want %d", len(got), n)
	}
	for i, h := range got {
		if h != uint64(i)+1 {
			t.Fatalf("item %d applied at height %d: out of order", i, h)
		}
	}
}

func TestSyncerFromOnePeer(t *testing.T) {
	client, srv := syncCluster(t, &memBlocks{head: 300})
	rep, applied := runSync(t, client, []peer.ID{srv[0].ID()})
	wantHeights(t, applied, 300)
	if rep.Next != 301 || rep.Target != 300 || rep.Applied != 300 || len(rep.BadPeers) != 0 {
		t.Fatalf("report %+v", rep)
	}
}

func TestSyncerFromThreePeers(t *testing.T) {
	// One peer is behind: it can serve only the low ranges.
	client, _ := syncCluster(t, &memBlocks{head: 300}, &memBlocks{head: 300}, &memBlocks{head: 130})
	rep, applied := runSync(t, client, nil)
	wantHeights(t, applied, 300)
	if rep.Target != 300 || len(rep.BadPeers) != 0 {
		t.Fatalf("report %+v", rep)
	}
}

func TestSyncerRefetchesFromAnotherPeer(t *testing.T) {
	client, srv := syncCluster(t, &memBlocks{head: 300}, &memBlocks{head: 300}, &memBlocks{head: 300, corrupt: true})
	rep, applied := runSync(t, client, nil)
	wantHeights(t, applied, 300)
	if !slices.Equal(rep.BadPeers, []peer.ID{srv[2].ID()}) {
		t.Fatalf("bad peers %v, want only %s", rep.BadPeers, srv[2].ID())
	}
}

func TestSyncerNoUsablePeers(t *testing.T) {
	client, _ := syncCluster(t, &memBlocks{head: 100, corrupt: true})
	sy := client.NewSyncer(checkItem)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rep, err := sy.Run(ctx, 1)
	if !errors.Is(err, ErrNoPeers) || rep.Next != 1 {
		t.Fatalf("err %v, report %+v; want ErrNoPeers at 1", err, rep)
	}
	// Already at the head: nothing to do.
	rep, err = client.NewSyncer(checkItem).Run(ctx, 101)
	if err != nil || rep.Applied != 0 {
		t.Fatalf("up-to-date sync: %v, %+v", err, rep)
	}
}

// A peer that claims an absurd head (here the largest height there is)
// must cost the syncer no more than an honest one: the ranges it could
// serve are planned as they come into the lookahead window, not all up
// front (which never ended for a head of 2^64-1: it ran out of memory).
// The honest peer's blocks are applied and the liar ends up bad.
func TestSyncerPeerLyingAboutHead(t *testing.T) {
	client, srv := syncCluster(t, &memBlocks{head: 300}, &memBlocks{head: math.MaxUint64, corrupt: true})
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	var applied []uint64
	sy := client.NewSyncer(func(it SyncItem) error {
		if err := checkItem(it); err != nil {
			return err
		}
		applied = append(applied, it.Height)
		return nil
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rep, err := sy.Run(ctx, 1)
	runtime.ReadMemStats(&after)
	if !errors.Is(err, ErrNoPeers) {
		t.Fatalf("err %v, want ErrNoPeers once only the liar claims more (report %+v)", err, rep)
	}
	wantHeights(t, applied, 300)
	if rep.Target != math.MaxUint64 || !slices.Contains(rep.BadPeers, srv[1].ID()) || slices.Contains(rep.BadPeers, srv[0].ID()) {
		t.Fatalf("report %+v; want the liar %s bad, the honest %s not", rep, srv[1].ID(), srv[0].ID())
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 256<<20 {
		t.Fatalf("sync allocated %d MiB against a lying head", grew>>20)
	}
}

// A peer claiming a higher head than everyone else (a liar, or just one
// block ahead and then gone) must not keep the others from serving the
// blocks below their own heads: ranges were cut at the highest head, so
// the last partial range was never asked of the honest peer and the node
// stayed up to 63 blocks behind after every run.
func TestSyncerFetchesTailBelowAHigherHead(t *testing.T) {
	client, srv := syncCluster(t, &memBlocks{head: 300}, &memBlocks{head: 10_000, corrupt: true})
	var applied []uint64
	sy := client.NewSyncer(func(it SyncItem) error {
		if err := checkItem(it); err != nil {
			return err
		}
		applied = append(applied, it.Height)
		return nil
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rep, err := sy.Run(ctx, 1)
	if !errors.Is(err, ErrNoPeers) || rep.Next != 301 {
		t.Fatalf("err %v, report %+v; want ErrNoPeers at 301", err, rep)
	}
	wantHeights(t, applied, 300)
	if !slices.Equal(rep.BadPeers, []peer.ID{srv[1].ID()}) {
		t.Fatalf("bad peers %v, want only the liar %s", rep.BadPeers, srv[1].ID())
	}
}

// bigBlocks serves blocks of size bytes, the first 8 bytes the height.
type bigBlocks struct {
	head uint64
	size int
}

func (b *bigBlocks) Head() uint64 { return b.head }

func (b *bigBlocks) BlockAndCommit(h uint64) ([]byte, []byte, error) {
	blk := make([]byte, b.size)
	binary.BigEndian.PutUint64(blk, h)
	return blk, fakeCommit(h), nil
}

// A sync server that answers one request with 64 items of 16 MiB each (a
// gigabyte, every frame within the per-item bound) made the client buffer
// all of it before a single item was verified. The client now stops at
// MaxSyncResponseBytes and drops the peer.
func TestFetchBlocksBoundsResponseBytes(t *testing.T) {
	client := newTestNode(t, "dure-sync")
	evil := newTestNode(t, "dure-sync")
	const item = 16 << 20
	blk := make([]byte, item)
	var sent atomic.Int64
	evil.host.SetStreamHandler(SyncProtocol("dure-sync"), func(s network.Stream) {
		defer s.Close()
		_ = s.SetDeadline(time.Now().Add(20 * time.Second))
		req, err := readFrame(bufio.NewReader(s), maxRequestFrame)
		if err != nil {
			_ = s.Reset()
			return
		}
		from, to, _ := decodeSyncRequest(req)
		for h := from; h <= to; h++ {
			if writeFrame(s, encodeSyncItem(SyncItem{Height: h, Block: blk, Commit: fakeCommit(h)})) != nil {
				return
			}
			sent.Add(1)
		}
	})
	if err := client.Connect(context.Background(), evil.Addrs()[0]); err != nil {
		t.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	items, err := client.FetchBlocks(context.Background(), evil.ID(), 1, 64)
	runtime.ReadMemStats(&after)
	if !errors.Is(err, ErrMessageTooLarge) {
		t.Fatalf("err %v after %d items, want ErrMessageTooLarge", err, len(items))
	}
	if len(items) > MaxSyncResponseBytes/item+1 {
		t.Fatalf("kept %d items of %d MiB, budget %d MiB", len(items), item>>20, MaxSyncResponseBytes>>20)
	}
	// Both ends are in this process; the server reuses one buffer.
	grew := (after.TotalAlloc - before.TotalAlloc) >> 20
	t.Logf("client kept %d items; server wrote %d; %d MiB allocated", len(items), sent.Load(), grew)
	if grew > 3*MaxSyncResponseBytes>>20 {
		t.Fatalf("fetch allocated %d MiB, budget %d MiB", grew, MaxSyncResponseBytes>>20)
	}
}

// An honest server stops at MaxSyncResponseBytes; the syncer keeps the
// items that came and asks again for the rest, without marking it bad.
func TestSyncerLargeBlocksAcrossResponses(t *testing.T) {
	const size = 9 << 20
	client := newTestNode(t, "dure-sync")
	srcNode := newTestNode(t, "dure-sync", withBlocks(&bigBlocks{head: 20, size: size}))
	if err := client.Connect(context.Background(), srcNode.Addrs()[0]); err != nil {
		t.Fatal(err)
	}
	var applied []uint64
	sy := client.NewSyncer(func(it SyncItem) error {
		if len(it.Block) != size || binary.BigEndian.Uint64(it.Block) != it.Height {
			return fmt.Errorf("height %d: wrong block", it.Height)
		}
		applied = append(applied, it.Height)
		return nil
	})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	rep, err := sy.RunPeers(ctx, 1, []peer.ID{srcNode.ID()})
	if err != nil || len(rep.BadPeers) != 0 {
		t.Fatalf("sync: %v, report %+v", err, rep)
	}
	wantHeights(t, applied, 20)
}

// A peer that claims a high head and then never answers a sync request
// held a run for the whole sync timeout; it is dropped, and later runs
// (the driver starts one every few seconds while peers are ahead) leave
// it out instead of waiting on it again.
func TestSyncerRemembersBadPeersAcrossRuns(t *testing.T) {
	client, srv := syncCluster(t, &memBlocks{head: 300}, &memBlocks{head: 10_000})
	var asked atomic.Int64
	done := make(chan struct{})
	t.Cleanup(func() { close(done) })
	srv[1].host.SetStreamHandler(SyncProtocol("dure-sync"), func(s network.Stream) {
		asked.Add(1)
		_, _ = io.Copy(io.Discard, s)
		select { // never answers; the client gives up after its sync timeout
		case <-done:
		case <-time.After(30 * time.Second):
		}
		_ = s.Reset()
	})
	run := func() (SyncReport, time.Duration) {
		sy := client.NewSyncer(checkItem)
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		start := time.Now()
		rep, _ := sy.Run(ctx, 1)
		return rep, time.Since(start)
	}
	rep, took := run()
	if rep.Next != 301 || !slices.Contains(rep.BadPeers, srv[1].ID()) || asked.Load() == 0 {
		t.Fatalf("first run: %+v after %v (liar asked %d times)", rep, took, asked.Load())
	}
	before := asked.Load()
	rep2, took2 := run()
	t.Logf("first run %v, second %v", took.Round(time.Millisecond), took2.Round(time.Millisecond))
	if rep2.Next != 301 || asked.Load() != before {
		t.Fatalf("second run: %+v after %v; the silent peer was asked %d more times", rep2, took2, asked.Load()-before)
	}
}
