package p2p

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

func TestGossipReachesAllFourNodes(t *testing.T) {
	const id = "dure-test-1"
	hub := newTestNode(t, id)
	slowFlush := func(c *Config, _ *Deps) { c.TxFlushInterval = 200 * time.Millisecond }
	a := newTestNode(t, id, withBootstrap(hub), slowFlush)
	b := newTestNode(t, id, withBootstrap(hub))
	c := newTestNode(t, id, withBootstrap(hub))
	all := []*testNode{hub, a, b, c}
	eventually(t, 10*time.Second, "bootstrap connections", func() bool { return len(hub.Peers()) == 3 })
	waitMesh(t, 1, all...)

	ctx := context.Background()
	var txs [][]byte
	for i := range 20 {
		txs = append(txs, signedTx(t, id, uint64(i)))
	}
	for _, tx := range txs {
		if err := a.PublishTx(ctx, tx); err != nil {
			t.Fatal(err)
		}
	}
	cons := []byte(id + "|vote")
	blk := []byte(id + "|block")
	ev := []byte(id + "|evidence")
	if err := b.PublishConsensus(ctx, cons); err != nil {
		t.Fatal(err)
	}
	if err := c.PublishBlock(ctx, blk); err != nil {
		t.Fatal(err)
	}
	if err := hub.PublishEvidence(ctx, ev); err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		kind   string
		data   [][]byte
		sender *testNode
	}{
		{"tx", txs, a},
		{"consensus", [][]byte{cons}, b},
		{"block", [][]byte{blk}, c},
		{"evidence", [][]byte{ev}, hub},
	}
	for _, tc := range cases {
		for i, n := range all {
			if n == tc.sender {
				continue
			}
			eventually(t, 10*time.Second, fmt.Sprintf("%s at node %d", tc.kind, i), func() bool {
				for _, d := range tc.data {
					if !n.rec.has(tc.kind, d) {
						return false
					}
				}
				return true
			})
		}
		if got := tc.sender.rec.count(tc.kind); got != 0 {
			t.Errorf("%s: sender got its own message back %d times", tc.kind, got)
		}
	}
	// 20 txs well within the flush interval make one batch.
	if st := a.Stats(); st.Tx.Published != 1 || st.TxsPublished != 20 {
		t.Errorf("sender stats: %d batches / %d txs published, want 1 / 20", st.Tx.Published, st.TxsPublished)
	}
	if st := b.Stats(); st.Tx.Accepted == 0 || st.TxsReceived != 20 || st.Consensus.Published != 1 {
		t.Errorf("receiver stats: %+v", st)
	}
	for _, pi := range hub.Peers() {
		if pi.Direction != "inbound" || len(pi.Addrs) == 0 {
			t.Errorf("hub peer %s: direction %q addrs %v", pi.ID, pi.Direction, pi.Addrs)
		}
	}
}

func TestBurstOfTenThousandTxsIsNotDropped(t *testing.T) {
	const id = "burst"
	a := newTestNode(t, id, permissive())
	b := newTestNode(t, id, withBootstrap(a), permissive())
	waitMesh(t, 1, a, b)
	ctx := context.Background()
	const n = 10000
	for i := range n {
		tx := make([]byte, 250)
		copy(tx, fmt.Sprintf("tx-%d", i))
		if err := a.PublishTx(ctx, tx); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, 20*time.Second, "all txs at b", func() bool { return b.rec.count("tx") == n })
	if st := a.Stats(); st.DroppedRPCs != 0 || st.TxsPublished != n {
		t.Errorf("sender: %d txs published, %d RPCs dropped", st.TxsPublished, st.DroppedRPCs)
	}
}

// TestMisbehavingPeerIsGraylisted sends each kind of garbage from a fresh
// attacker (one Reject on either router lowers a peer on both, through the
// shared ipBook, so after the first few messages the rest of an attacker's
// traffic is dropped unread and would not be counted per kind), then all
// kinds from one attacker until both honest neighbours graylist it.
func TestMisbehavingPeerIsGraylisted(t *testing.T) {
	const id = "dure-score"
	a := newTestNode(t, id)
	b := newTestNode(t, id, withBootstrap(a))
	c := newTestNode(t, id, withBootstrap(a))
	waitMesh(t, 1, a, b, c)

	ctx := context.Background()
	var wrongChain [][]byte
	for i := range 60 {
		batch, err := EncodeTxBatch([][]byte{signedTx(t, "other-chain", uint64(i))})
		if err != nil {
			t.Fatal(err)
		}
		wrongChain = append(wrongChain, batch)
	}
	rejected := func(n *testNode, k topicKind) uint64 {
		st := n.Stats()
		return [numKinds]uint64{st.Tx.Rejected, st.Consensus.Rejected, st.Block.Rejected, st.Evidence.Rejected}[k]
	}
	attacks := []struct {
		name string
		kind topicKind
		// send's round makes every tx message new: tx messages are
		// identified by their content, so the same junk twice is a
		// duplicate, dropped unvalidated and unscored.
		send func(bad *testNode, round int) error
	}{
		{"garbage tx batch", kindTx, func(bad *testNode, round int) error {
			return bad.topics[kindTx].Publish(ctx, fmt.Appendf(nil, "not cbor %d", round))
		}},
		{"oversized tx batch", kindTx, func(bad *testNode, round int) error {
			big := make([]byte, MaxTxBatchBytes+1)
			big[0] = byte(round)
			return bad.topics[kindTx].Publish(ctx, big)
		}},
		{"wrong-chain tx", kindTx, func(bad *testNode, round int) error {
			return bad.topics[kindTx].Publish(ctx, wrongChain[round])
		}},
		{"garbage vote", kindConsensus, func(bad *testNode, _ int) error { return bad.PublishConsensus(ctx, []byte("junk")) }},
		{"wrong-chain block", kindBlock, func(bad *testNode, _ int) error {
			return bad.PublishBlock(ctx, []byte("other-chain|block"))
		}},
	}
	newAttacker := func(what string) *testNode {
		bad := newTestNode(t, id, withBootstrap(a), withBootstrap(b), permissive())
		waitMesh(t, 1, bad)
		eventually(t, 10*time.Second, what+": attacker sees a and b on every topic", func() bool {
			for k := range numKinds {
				ps := bad.topics[k].ListPeers()
				if !slices.Contains(ps, a.ID()) || !slices.Contains(ps, b.ID()) {
					return false
				}
			}
			return true
		})
		bad.rec = &recorder{}
		return bad
	}
	// attack sends until done (the attacker keeps at it, as a real one
	// would; a single message can be lost before the peer's stream is up).
	attack := func(what string, bad *testNode, send func(round int) error, done func() bool) {
		deadline := time.Now().Add(15 * time.Second)
		for round := 0; !done(); round++ {
			if time.Now().After(deadline) || round == len(wrongChain) {
				t.Fatalf("%s: not done after %d rounds: score on a %.0f, on b %.0f; a %+v", what, round,
					a.PeerScore(bad.ID()), b.PeerScore(bad.ID()), a.Stats())
			}
			if err := send(round); err != nil {
				t.Fatalf("%s: publish: %v", what, err)
			}
			time.Sleep(300 * time.Millisecond)
		}
	}
	// Each kind alone, from a fresh attacker: rejected, counted, scored.
	for _, at := range attacks {
		bad := newAttacker(at.name)
		before := rejected(a, at.kind) + rejected(b, at.kind)
		attack(at.name, bad, func(round int) error { return at.send(bad, round) }, func() bool {
			return rejected(a, at.kind)+rejected(b, at.kind) > before &&
				(a.PeerScore(bad.ID()) < 0 || b.PeerScore(bad.ID()) < 0)
		})
	}
	// All kinds together: both honest neighbours graylist the attacker.
	bad := newAttacker("all attacks")
	attack("all attacks", bad, func(round int) error {
		for _, at := range attacks {
			if err := at.send(bad, round); err != nil {
				return err
			}
		}
		return nil
	}, func() bool {
		return a.PeerScore(bad.ID()) < GraylistThreshold && b.PeerScore(bad.ID()) < GraylistThreshold
	})
	if a.rec.count("tx")+b.rec.count("tx")+c.rec.count("tx") != 0 {
		t.Fatal("a rejected tx batch was delivered to a handler")
	}
	if s := a.PeerScore(b.ID()); s < 0 {
		t.Errorf("honest peer b scored %v on a", s)
	}

	// Honest traffic continues; the graylisted peer's valid messages are
	// no longer heard.
	good := signedTx(t, id, 7)
	if err := b.PublishTx(ctx, good); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "honest tx at a and c", func() bool {
		return a.rec.has("tx", good) && c.rec.has("tx", good)
	})
	fromBad := []byte(id + "|valid-looking vote")
	if err := bad.PublishConsensus(ctx, fromBad); err != nil {
		t.Fatal(err)
	}
	never(t, time.Second, "graylisted peer's message delivered", func() bool {
		return a.rec.has("consensus", fromBad) || b.rec.has("consensus", fromBad) || c.rec.has("consensus", fromBad)
	})
}

func TestChainsDoNotMix(t *testing.T) {
	x1 := newTestNode(t, "chain-x")
	x2 := newTestNode(t, "chain-x", withBootstrap(x1))
	y1 := newTestNode(t, "chain-y", withBootstrap(x1), permissive())
	y2 := newTestNode(t, "chain-y", withBootstrap(y1), withBootstrap(x2), permissive())
	waitMesh(t, 1, x1, x2, y1, y2)
	ctx := context.Background()

	mx := []byte("chain-x|vote")
	my := []byte("chain-y|vote")
	if err := x1.PublishConsensus(ctx, mx); err != nil {
		t.Fatal(err)
	}
	if err := y1.PublishConsensus(ctx, my); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "same-chain delivery", func() bool {
		return x2.rec.has("consensus", mx) && y2.rec.has("consensus", my)
	})
	never(t, time.Second, "a message crossed chains", func() bool {
		return y1.rec.count("consensus")+y2.rec.count("consensus") != 1 || x1.rec.count("consensus")+x2.rec.count("consensus") != 1
	})
	// Topics and protocols are per chain, even over a shared connection.
	for _, ti := range y2.Topics() {
		if !bytes.Contains([]byte(ti.Name), []byte("/chain-y/")) {
			t.Errorf("chain-y node joined %s", ti.Name)
		}
	}
	if _, err := y2.PeerHead(ctx, x2.ID()); err == nil {
		t.Error("status protocol answered across chains")
	}
}

func TestPrivateNetworkNeedsTheKey(t *testing.T) {
	psk := bytes.Repeat([]byte{7}, 32)
	other := bytes.Repeat([]byte{8}, 32)
	member := newTestNode(t, "private-1", withPSK(psk))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	tests := []struct {
		name    string
		psk     []byte
		connect bool
	}{
		{"same key", psk, true},
		{"wrong key", other, false},
		{"no key", nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n := newTestNode(t, "private-1", withPSK(tc.psk))
			dctx, dcancel := context.WithTimeout(ctx, 1500*time.Millisecond)
			defer dcancel()
			err := n.Connect(dctx, member.Addrs()[0])
			if tc.connect && err != nil {
				t.Fatalf("member could not connect: %v", err)
			}
			if !tc.connect && err == nil {
				t.Fatal("outsider connected to a private network")
			}
		})
	}
}

func TestDenyPartitionsAndAllowHeals(t *testing.T) {
	const id = "dure-gate"
	a := newTestNode(t, id)
	b := newTestNode(t, id, withBootstrap(a))
	waitMesh(t, 1, a, b)
	ctx := context.Background()

	a.Deny(b.ID())
	if d := a.Denied(); len(d) != 1 || d[0] != b.ID() {
		t.Fatalf("Denied() = %v", d)
	}
	eventually(t, 5*time.Second, "disconnect", func() bool { return !a.connected(b.ID()) && !b.connected(a.ID()) })
	// b keeps redialling its bootstrap peer; the gater keeps refusing. (A
	// dial from b may briefly succeed on b's side, since the muxer is agreed
	// inside the handshake, but a drops it before it is ever used.)
	dctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	_ = b.Connect(dctx, a.Addrs()[0])
	cancel()
	never(t, time.Second, "denied peer connected", func() bool { return a.connected(b.ID()) })
	m1 := []byte(id + "|during partition")
	if err := a.PublishConsensus(ctx, m1); err != nil {
		t.Fatal(err)
	}
	never(t, time.Second, "message crossed the partition", func() bool { return b.rec.has("consensus", m1) })

	a.Allow(b.ID())
	if d := a.Denied(); len(d) != 0 {
		t.Fatalf("Denied() after Allow = %v", d)
	}
	eventually(t, 10*time.Second, "reconnect", func() bool { return a.connected(b.ID()) && b.connected(a.ID()) })
	// b's pubsub may still be in its reconnect backoff (it grows to 10 s
	// while b's redials were refused), so healing takes up to that long.
	waitMesh(t, 1, a, b)
	m2 := []byte(id + "|healed")
	if err := a.PublishConsensus(ctx, m2); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, "delivery after heal", func() bool { return b.rec.has("consensus", m2) })
}

func TestDenyPeersFromConfig(t *testing.T) {
	a := newTestNode(t, "dure-deny")
	b := newTestNode(t, "dure-deny", func(c *Config, _ *Deps) { c.DenyPeers = []string{a.ID().String()} })
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := b.Connect(ctx, a.Addrs()[0]); err == nil {
		t.Fatal("dialled a peer from deny_peers")
	}
	if d := b.Denied(); len(d) != 1 || d[0] != a.ID() {
		t.Fatalf("Denied() = %v", d)
	}
}

func TestPublishLimits(t *testing.T) {
	n := newTestNode(t, "dure-limits")
	ctx := context.Background()
	if err := n.PublishTx(ctx, nil); err == nil {
		t.Error("empty tx accepted")
	}
	if err := n.PublishTx(ctx, make([]byte, 64<<10+1)); err == nil {
		t.Error("oversized tx accepted")
	}
	if err := n.PublishEvidence(ctx, make([]byte, 1<<20+1)); err == nil {
		t.Error("oversized evidence accepted")
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	if err := n.PublishTx(ctx, []byte{1}); err == nil {
		t.Error("publish after close accepted")
	}
}

var _ = peer.ID("")

// A home-node configuration (DHT, NAT port mapping, hole punching, relay
// client, QUIC) starts, gossips and shuts down cleanly.
func TestDefaultConfigNodesGossip(t *testing.T) {
	home := func(c *Config, _ *Deps) {
		def := DefaultConfig(c.ChainID)
		def.ListenAddrs = []string{"/ip4/127.0.0.1/tcp/0", "/ip4/127.0.0.1/udp/0/quic-v1"}
		def.Bootstrap, def.ScoreInspectInterval = c.Bootstrap, c.ScoreInspectInterval
		def.DHTServer = true
		*c = def
	}
	a := newTestNode(t, "dure-home", home)
	b := newTestNode(t, "dure-home", withBootstrap(a), home)
	waitMesh(t, 1, a, b)
	msg := []byte("dure-home|vote")
	if err := b.PublishConsensus(context.Background(), msg); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "delivery", func() bool { return a.rec.has("consensus", msg) })
	if err := b.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
}

// A consensus-topic message over MaxConsensusBytes is a Reject before the
// node's validator sees it (the topic admitted 32 MiB, and a node decoded
// and re-encoded a peer's 25 MiB commits in full before refusing them).
func TestOversizedConsensusMessageRejected(t *testing.T) {
	const id = "dure-consize"
	a := newTestNode(t, id)
	bad := newTestNode(t, id, withBootstrap(a), permissive())
	eventually(t, 10*time.Second, "attacker sees a on the consensus topic", func() bool {
		return slices.Contains(bad.topics[kindConsensus].ListPeers(), a.ID())
	})
	big := append([]byte(id+"|"), make([]byte, 2<<20)...) // passes the prefix check
	ok := []byte(id + "|small vote")
	eventually(t, 10*time.Second, "a rejects the oversized message and takes the small one", func() bool {
		_ = bad.topics[kindConsensus].Publish(context.Background(), big)
		_ = bad.topics[kindConsensus].Publish(context.Background(), append(ok, byte(time.Now().UnixNano())))
		time.Sleep(100 * time.Millisecond)
		return a.Stats().Consensus.Rejected > 0 && a.rec.count("consensus") > 0
	})
	if a.rec.has("consensus", big) {
		t.Fatal("a delivered a consensus message over MaxConsensusBytes")
	}
}
