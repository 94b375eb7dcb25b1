package p2p

import (
	"context"
	"crypto/rand"
	"sync/atomic"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

// BenchmarkProposalGossip is the network side of a proposal on four
// connected hosts: one publishes a block-sized message, the whole block on
// the block topic or its compact form on the compact topic, and the
// iteration ends when the three others have it. Sizes are those of a
// 5,000-transfer block (160 bytes a tx whole, 32 bytes a tx compact, plus
// about 600 bytes of proposal, header and commit, as measured in
// node.TestCompactProposalRebuildsTheProposersBlock). It reports the
// process CPU (all four hosts: noise, yamux, gossipsub, forwarding) per
// block and per tx, and publish → last delivery time.
func BenchmarkProposalGossip(b *testing.B) {
	const txs = 5000
	for _, c := range []struct {
		name    string
		compact bool
		size    int
	}{{"block", false, txs*160 + 600}, {"compact", true, txs*32 + 600}} {
		b.Run(c.name, func(b *testing.B) { benchProposalGossip(b, c.compact, c.size, txs) })
	}
}

func benchProposalGossip(b *testing.B, compact bool, size, txs int) {
	id := "bench-proposal"
	var got atomic.Int64
	recv := func(_ *Config, d *Deps) {
		d.ValidateCompact = acceptAll
		d.OnBlock = func(peer.ID, []byte) { got.Add(1) }
		d.OnCompact = func(peer.ID, peer.ID, []byte) { got.Add(1) }
	}
	nodes := []*testNode{newTestNode(b, id, permissive(), recv)}
	for range 3 {
		nodes = append(nodes, newTestNode(b, id, permissive(), recv, withBootstrap(nodes[0])))
	}
	for i := 1; i < 4; i++ {
		for j := i + 1; j < 4; j++ {
			if err := nodes[i].Connect(context.Background(), nodes[j].Addrs()[0]); err != nil {
				b.Fatal(err)
			}
		}
	}
	waitMesh(b, 3, nodes...)
	msg := make([]byte, size)
	_, _ = rand.Read(msg)
	ctx := context.Background()
	var wall time.Duration
	b.ResetTimer()
	cpu0 := processCPU()
	for it := range b.N {
		msg[0], msg[1] = byte(it), byte(it>>8)
		start := time.Now()
		var err error
		if compact {
			err = nodes[1].PublishCompact(ctx, msg)
		} else {
			err = nodes[1].PublishBlock(ctx, msg)
		}
		if err != nil {
			b.Fatal(err)
		}
		want := int64(3 * (it + 1))
		for got.Load() < want {
			time.Sleep(100 * time.Microsecond)
		}
		wall += time.Since(start)
	}
	cpu := processCPU() - cpu0
	b.StopTimer()
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N)/1000, "cpu-ms/block")
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N*txs)/1000, "cpu-µs/tx")
	b.ReportMetric(float64(wall.Microseconds())/float64(b.N)/1000, "ms-to-all")
	b.ReportMetric(float64(size), "bytes/msg")
}
