package testnet

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/dure-network/dure/p2p"
)

// cpuTicks is a process's user+system time from /proc, in clock ticks
// (1/100 s on Linux); 0 where unreadable.
func cpuTicks(pid int) uint64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(s[i+1:]) // f[0] is field 3 (state): utime is field 14, stime 15
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseUint(f[11], 10, 64)
	st, _ := strconv.ParseUint(f[12], 10, 64)
	return u + st
}

// syncFlood opens streams parallel block-sync streams to every peer of a,
// each asking for heights 1..64 over and over and reading every answer as
// fast as it comes, until ctx ends. It returns the items received.
func syncFlood(ctx context.Context, a *attacker, chainID string, streams int) uint64 {
	var items atomic.Uint64
	var wg sync.WaitGroup
	req := binary.AppendUvarint(nil, 1)
	req = binary.AppendUvarint(req, p2p.MaxSyncRange)
	frame := append(binary.AppendUvarint(nil, uint64(len(req))), req...)
	for _, p := range a.Peers() {
		for range streams {
			wg.Add(1)
			go func(p peer.ID) {
				defer wg.Done()
				for ctx.Err() == nil {
					s, err := a.Host().NewStream(ctx, p, p2p.SyncProtocol(chainID))
					if err != nil {
						time.Sleep(time.Millisecond)
						continue
					}
					_ = s.SetDeadline(time.Now().Add(5 * time.Second))
					if _, err := s.Write(frame); err != nil {
						_ = s.Reset()
						continue
					}
					_ = s.CloseWrite()
					r := bufio.NewReaderSize(s, 64<<10)
					for {
						l, err := binary.ReadUvarint(r)
						if err != nil {
							break
						}
						if _, err := r.Discard(int(l)); err != nil {
							break
						}
						items.Add(1)
					}
					_ = s.Close()
				}
			}(p.ID)
		}
	}
	wg.Wait()
	return items.Load()
}

// A connected peer with no validator key floods every validator with
// block-sync requests for heights 1..64 on parallel streams, reading each
// answer as fast as it comes. Before the serving budget 32 streams per
// node cut a 4-validator testnet from 48 to 6 blocks in 15 s (the nodes
// served ≈ 330,000 blocks in each window). The test alternates unattacked
// windows of 15 s with windows of the strongest flood a peer can keep up
// (4 streams per node, the most the nodes let a peer hold, so it is never
// disconnected), three of each, and compares medians: the chain must keep
// at least 90 % of its unattacked pace. Then 32 streams per node: the
// nodes disconnect the attacker. Opt-in (≈ 2.5 min): DURE_E2E_LONG=1.
func TestSyncRequestFloodKeepsPace(t *testing.T) {
	long(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	n := newNet(t, netOpts{})
	n.start(ctx)
	n.waitHeight(ctx, 30*time.Second, 70, n.Procs...) // more than one full range to serve

	a := newAttacker(ctx, t, n)
	eventually(ctx, t, 20*time.Second, "attacker connected to every node", func() bool {
		return len(a.Peers()) == len(n.Procs)
	}, nil)

	const window = 15 * time.Second
	const streams = 4 // per node: maxSyncStreamsPerPeer
	rounds := 3
	var calm, flood []uint64
	var calmCPU, floodCPU []uint64
	cpu := func() uint64 {
		var sum uint64
		for _, p := range n.Procs {
			sum += cpuTicks(p.PID())
		}
		return sum
	}
	for r := range rounds {
		h0, c0 := maxHeight(ctx, n.Procs...), cpu()
		time.Sleep(window)
		h1, c1 := maxHeight(ctx, n.Procs...), cpu()
		calm = append(calm, h1-h0)
		calmCPU = append(calmCPU, c1-c0)

		fctx, fcancel := context.WithTimeout(ctx, window)
		served := syncFlood(fctx, a, n.chainID, streams)
		fcancel()
		h2, c2 := maxHeight(ctx, n.Procs...), cpu()
		flood = append(flood, h2-h1)
		floodCPU = append(floodCPU, c2-c1)
		t.Logf("round %d: %d blocks unattacked (nodes' CPU %d ticks), %d under the flood (CPU %d ticks, %d blocks served to the attacker)",
			r+1, h1-h0, c1-c0, h2-h1, c2-c1, served)
		for _, p := range n.Procs {
			if !p.Running() {
				t.Fatalf("%s exited under the flood", p.Node.Name)
			}
		}
	}
	med := func(v []uint64) uint64 { w := slices.Clone(v); slices.Sort(w); return w[len(w)/2] }
	mc, mf := med(calm), med(flood)
	t.Logf("median blocks per %v: %d unattacked, %d under the flood (%.2f×); median CPU of the 4 nodes: %d vs %d ticks",
		window, mc, mf, float64(mf)/float64(max(mc, 1)), med(calmCPU), med(floodCPU))
	if mc < 5 {
		t.Fatalf("only %d blocks per %v unattacked", mc, window)
	}
	if mf*10 < mc*9 {
		t.Errorf("chain slowed under the sync-request flood: median %d blocks per %v against %d unattacked", mf, window, mc)
	}

	// Past the stream limit the attacker is disconnected (and refused
	// for a minute) by every node.
	fctx, fcancel := context.WithTimeout(ctx, 10*time.Second)
	defer fcancel()
	go syncFlood(fctx, a, n.chainID, 32)
	eventually(ctx, t, 10*time.Second, "32-stream flooder disconnected by every node", func() bool {
		return len(a.Peers()) == 0
	}, func() string { return fmt.Sprintf("%d nodes still connected", len(a.Peers())) })
	fcancel()

	top := n.minHeight(ctx, n.Procs...)
	n.checkAgreement(ctx, 1, top, n.Procs...)
}
