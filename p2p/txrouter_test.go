package p2p

import (
	"context"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
)

// rawTxRouter is a gossipsub instance on a fresh host that speaks the tx
// router's protocol with the given signing policy: an attacker (or an old
// node) that does not follow the tx topic's StrictNoSign rule.
func rawTxRouter(t *testing.T, chainID string, opts ...pubsub.Option) (*pubsub.Topic, peer.ID, func(to *testNode)) {
	t.Helper()
	h, err := libp2p.New(libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.Close() })
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	// Flood publish: send to every subscribed peer at once, mesh or not.
	opts = append(opts, pubsub.WithFloodPublish(true),
		pubsub.WithGossipSubProtocols([]protocol.ID{TxGossipProtocol(chainID)}, txRouterFeatures(chainID)))
	ps, err := pubsub.NewGossipSub(ctx, h, opts...)
	if err != nil {
		t.Fatal(err)
	}
	top, err := ps.Join(TopicName(chainID, "tx"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := top.Subscribe(); err != nil {
		t.Fatal(err)
	}
	connect := func(to *testNode) {
		if err := h.Connect(ctx, peer.AddrInfo{ID: to.ID(), Addrs: to.Host().Addrs()}); err != nil {
			t.Fatal(err)
		}
	}
	return top, h.ID(), connect
}

// TestTxTopicIsStrictNoSign: tx batches travel unsigned, without author or
// sequence number; a valid batch that carries a host signature (what every
// tx message was before) or an author is refused and costs its sender
// score, while the same txs unsigned are delivered.
func TestTxTopicIsStrictNoSign(t *testing.T) {
	const id = "dure-nosign"
	cases := []struct {
		name      string
		opts      []pubsub.Option
		delivered bool
	}{
		{"signed by the host (StrictSign)", nil, false},
		{"author and seqno, unsigned", []pubsub.Option{pubsub.WithMessageSignaturePolicy(pubsub.StrictNoSign)}, false},
		{"unsigned, no author", []pubsub.Option{pubsub.WithMessageSignaturePolicy(pubsub.StrictNoSign), pubsub.WithNoAuthor(),
			pubsub.WithMessageIdFn(txMessageID)}, true},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := newTestNode(t, id)
			top, sender, connect := rawTxRouter(t, id, tc.opts...)
			connect(a)
			eventually(t, 10*time.Second, "a sees the sender on the tx topic", func() bool {
				for _, p := range a.topics[kindTx].ListPeers() {
					if p == sender {
						return true
					}
				}
				return false
			})
			tx := signedTx(t, id, uint64(i))
			batch, err := EncodeTxBatch([][]byte{tx})
			if err != nil {
				t.Fatal(err)
			}
			if err := top.Publish(context.Background(), batch); err != nil {
				t.Fatal(err)
			}
			if tc.delivered {
				eventually(t, 10*time.Second, "unsigned batch delivered", func() bool { return a.rec.has("tx", tx) })
				if s := a.PeerScore(sender); s < 0 {
					t.Errorf("sender of a valid unsigned batch scored %.0f", s)
				}
				return
			}
			eventually(t, 10*time.Second, "sender penalised", func() bool { return a.PeerScore(sender) < 0 })
			if a.rec.has("tx", tx) {
				t.Error("batch with a host signature or author was delivered")
			}
		})
	}
}

// TestSameTxBatchDeliveredOnce: tx messages are identified by their
// content, so the same batch published by two nodes reaches a third
// node's handler once (with host signatures and sequence numbers it was
// two messages, each verified and handed to the mempool).
func TestSameTxBatchDeliveredOnce(t *testing.T) {
	const id = "dure-content-id"
	a := newTestNode(t, id)
	b := newTestNode(t, id, withBootstrap(a))
	c := newTestNode(t, id, withBootstrap(a))
	waitMesh(t, 1, a, b, c)
	tx := signedTx(t, id, 1)
	ctx := context.Background()
	for _, n := range []*testNode{b, c} {
		if err := n.PublishTx(ctx, tx); err != nil {
			t.Fatal(err)
		}
		if err := n.FlushTx(ctx); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, 10*time.Second, "tx at a", func() bool { return a.rec.has("tx", tx) })
	never(t, time.Second, "tx delivered twice", func() bool { return a.rec.count("tx") > 1 })
	if st := b.Stats(); st.Tx.Published != 1 {
		t.Errorf("b published %d batches, want 1", st.Tx.Published)
	}
}
