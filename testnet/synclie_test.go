package testnet

import (
	"context"
	"encoding/binary"
	"math"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"

	"github.com/dure-network/dure/chain"
	"github.com/dure-network/dure/p2p"
)

// rssMiB is a process's resident set from /proc (0 where unreadable).
func rssMiB(pid int) uint64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseUint(f[1], 10, 64)
			return kb >> 10
		}
	}
	return 0
}

// A connected peer with no validator key answers the status protocol with
// head 2^64-1, refuses every block-sync request, and publishes votes for
// head+3 (which make every node start a catch-up before any signature is
// checked). Before the fix every node's syncer planned all ranges up to
// that head at once and died out of memory within seconds of the first
// catch-up. Now the nodes keep running at their unattacked pace and
// their memory stays near its unattacked size.
func TestPeerLyingAboutItsHeadCannotCrashNodes(t *testing.T) {
	long(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	n := newNet(t, netOpts{})
	n.start(ctx)
	n.waitHeight(ctx, 30*time.Second, 3, n.Procs...)

	const window = 10 * time.Second
	h0 := maxHeight(ctx, n.Procs...)
	time.Sleep(window)
	normal := maxHeight(ctx, n.Procs...) - h0
	if normal < 3 {
		t.Fatalf("only %d blocks in %v before any attack", normal, window)
	}
	rss0 := map[string]uint64{}
	for _, p := range n.Procs {
		rss0[p.Node.Name] = rssMiB(p.PID())
	}

	a := newAttacker(ctx, t, n)
	a.Host().SetStreamHandler(p2p.StatusProtocol(n.chainID), func(s network.Stream) {
		defer s.Close()
		head := binary.AppendUvarint(nil, math.MaxUint64)
		_, _ = s.Write(append(binary.AppendUvarint(nil, uint64(len(head))), head...))
	})
	a.Host().SetStreamHandler(p2p.SyncProtocol(n.chainID), func(s network.Stream) { _ = s.Reset() })
	eventually(ctx, t, 20*time.Second, "attacker connected to every node", func() bool {
		return len(a.Peers()) == len(n.Procs)
	}, nil)
	time.Sleep(2 * time.Second) // topic subscriptions and mesh

	const attack = 20 * time.Second
	start := time.Now()
	hStart := maxHeight(ctx, n.Procs...)
	votes := 0
	for i := 0; time.Since(start) < attack; i++ {
		head := maxHeight(ctx, n.Procs...)
		val := a.vals[i%len(a.vals)].Address
		if a.PublishConsensus(ctx, a.forgedVote(head+3, val, chain.Prevote)) == nil {
			votes++
		}
		for _, p := range n.Procs {
			if !p.Running() {
				t.Fatalf("%s exited under the attack after %v", p.Node.Name, time.Since(start).Round(time.Second))
			}
		}
		time.Sleep(250 * time.Millisecond)
	}
	made := maxHeight(ctx, n.Procs...) - hStart
	expect := uint64(float64(normal) * float64(attack) / float64(window))
	t.Logf("attack: %d votes for head+3 over %v, status head 2^64-1; %d blocks (unattacked pace %d per %v, %d expected)", votes, attack, made, normal, window, expect)
	if made < expect/2 {
		t.Errorf("chain slowed under attack: %d blocks in %v, normal pace gives %d", made, attack, expect)
	}
	for _, p := range n.Procs {
		r := rssMiB(p.PID())
		t.Logf("%s: RSS %d MiB before, %d MiB after", p.Node.Name, rss0[p.Node.Name], r)
		if r > rss0[p.Node.Name]+512 {
			t.Errorf("%s: RSS grew from %d to %d MiB under the attack", p.Node.Name, rss0[p.Node.Name], r)
		}
	}
	top := n.minHeight(ctx, n.Procs...)
	n.checkAgreement(ctx, 1, top, n.Procs...)
}
