package node

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/dure-network/dure/p2p"
)

// TestCompactFillPastHungPeers: peers that take a fill request and never
// answer (sybils connected to listen, or the author of a copied compact
// message) each cost the run fillHedge, not fillPeerTimeout: with three of
// them asked before the honest peer the block still comes well within the
// run's deadline, for the txs and for the whole block.
func TestCompactFillPastHungPeers(t *testing.T) {
	s := newCompactSetup(t, 200)
	fillNet(t, s)
	cb, err := decodeCompact(s.recv.codec, s.compact(t))
	if err != nil {
		t.Fatal(err)
	}
	honest := s.prop.net.ID()
	var hung []peer.ID
	for range 3 {
		hung = append(hung, liarPeer(t, s.recv, liarFill{delay: 10 * time.Second}, nil))
	}
	peers := append(hung[:3:3], honest)
	run := func(t *testing.T, wantVia string) {
		t.Helper()
		raws, txs, missing := s.recv.fromMempool(cb)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second) // fillDeadline's floor
		defer cancel()
		start := time.Now()
		got, err := s.recv.fill(ctx, cb, raws, txs, missing, peers, hung[0], false)
		took := time.Since(start)
		if err != nil {
			t.Fatalf("no block after %s: %v", took, err)
		}
		if got.id != s.cand.id || !bytes.Equal(got.raw, s.cand.raw) || got.via != wantVia {
			t.Fatalf("got %s via %s, want the proposer's %s via %s", got.id, got.via, s.cand.id, wantVia)
		}
		if limit := 3*fillHedge + 500*time.Millisecond; took > limit {
			t.Fatalf("took %s past 3 hung peers, want < %s", took, limit)
		}
		t.Logf("%s past 3 hung peers in %s", got.via, took.Round(time.Millisecond))
	}
	t.Run("the block", func(t *testing.T) { run(t, "fetched") })
	if _, errs := s.recv.pool.AddBatch(s.raws[:150]); errs[0] != nil {
		t.Fatal(errs[0])
	}
	t.Run("the txs", func(t *testing.T) { run(t, "txs+50") })
}

// TestCompactFillPenalizesProvenFaults: a fill server that answers a tx
// that does not hash to its key, or a block that is not the one asked
// for, and the author of a tx list that does not give the header's root,
// lose gossip score as for a rejected message; a server that only lacks
// what was asked or is slow, and the honest server, do not.
func TestCompactFillPenalizesProvenFaults(t *testing.T) {
	s := newCompactSetup(t, 100)
	fillNet(t, s)
	cb, err := decodeCompact(s.recv.codec, s.compact(t))
	if err != nil {
		t.Fatal(err)
	}
	honest := s.prop.net.ID()
	liar := liarPeer(t, s.recv, liarFill{}, nil)
	slow := liarPeer(t, s.recv, liarFill{delay: 10 * time.Second}, nil)
	empty := liarPeer(t, s.recv, fillSource{s.recv}, nil) // holds nothing yet
	ctx := context.Background()

	raws, txs, missing := s.recv.fromMempool(cb)
	if _, err := s.recv.fill(ctx, cb, raws, txs, missing, []peer.ID{slow, liar, empty, honest}, slow, false); err != nil {
		t.Fatal(err)
	}
	net := s.recv.net
	if net.Penalty(liar) >= 0 {
		t.Errorf("a server answering a wrong block: penalty %v, want < 0", net.Penalty(liar))
	}
	for _, p := range []peer.ID{honest, slow, empty} {
		if v := net.Penalty(p); v != 0 {
			t.Errorf("peer %s: penalty %v, want 0", p, v)
		}
	}

	// Wrong txs.
	liar2 := liarPeer(t, s.recv, liarFill{}, nil)
	if _, errs := s.recv.pool.AddBatch(s.raws[:80]); errs[0] != nil {
		t.Fatal(errs[0])
	}
	raws, txs, missing = s.recv.fromMempool(cb)
	got, err := s.recv.fill(ctx, cb, raws, txs, missing, []peer.ID{liar2, honest}, honest, false)
	if err != nil || got.via != "txs+20" {
		t.Fatalf("fill: %v", err)
	}
	if net.Penalty(liar2) >= 0 {
		t.Errorf("a server answering wrong txs: penalty %v, want < 0", net.Penalty(liar2))
	}

	// A list that lies, published by author: the block comes whole from
	// the honest peer, and the author pays for the list.
	author := liarPeer(t, s.recv, fillSource{s.recv}, nil)
	lie := *cb
	lie.TxHashes = bytes.Clone(cb.TxHashes)
	copy(lie.TxHashes[:32], cb.TxHashes[99*32:])
	copy(lie.TxHashes[99*32:], cb.TxHashes[:32])
	raws, txs, missing = s.recv.fromMempool(&lie)
	got, err = s.recv.fill(ctx, &lie, raws, txs, missing, []peer.ID{author, honest}, author, false)
	if err != nil || got.via != "fetched" {
		t.Fatalf("fill of a lying list: %v", err)
	}
	if net.Penalty(author) >= 0 {
		t.Errorf("the author of a lying list: penalty %v, want < 0", net.Penalty(author))
	}
	if v := net.Penalty(honest); v != 0 {
		t.Errorf("honest server: penalty %v, want 0", v)
	}
}

// TestCompactGossipOfAHeldBlock: once a node holds a block, a compact
// message for it with another tx list is a proven lie (Reject, so its
// author is scored and it is not relayed), and copies of the true one
// past maxCompactCopies are not relayed (Ignore).
func TestCompactGossipOfAHeldBlock(t *testing.T) {
	s := newCompactSetup(t, 20)
	c := s.recv.codec
	data := s.compact(t)
	cb, err := decodeCompact(c, data)
	if err != nil {
		t.Fatal(err)
	}
	swapped := *cb
	swapped.TxHashes = bytes.Clone(cb.TxHashes)
	copy(swapped.TxHashes[:32], cb.TxHashes[32:64])
	copy(swapped.TxHashes[32:64], cb.TxHashes[:32])
	lie, _ := c.Marshal(swapped)
	short := *cb
	short.TxHashes = cb.TxHashes[:32*19]
	dropped, _ := c.Marshal(short)
	// Not held yet: the list cannot be judged before the txs are at hand.
	if v := s.recv.validateCompactGossip("", lie); v != p2p.Accept {
		t.Fatalf("a wrong list for a block not held: verdict %v, want Accept", v)
	}
	s.recv.recent.put(&candidate{id: s.cand.id, block: s.cand.block, raw: s.cand.raw}) // as from the block topic: no tx IDs
	for i := range maxCompactCopies + 1 {
		if v := s.recv.validateCompactGossip("", data); v != p2p.Accept {
			t.Fatalf("copy %d of the true message: verdict %v, want Accept", i+1, v)
		}
	}
	if v := s.recv.validateCompactGossip("", data); v != p2p.Ignore {
		t.Errorf("copy %d of the true message: verdict %v, want Ignore", maxCompactCopies+2, v)
	}
	for name, d := range map[string][]byte{"swapped": lie, "one dropped": dropped} {
		if v := s.recv.validateCompactGossip("", d); v != p2p.Reject {
			t.Errorf("%s list of a held block: verdict %v, want Reject", name, v)
		}
	}
	// Built here, with tx IDs known: the same list.
	s.prop.recent.put(s.cand)
	if v := s.prop.validateCompactGossip("", data); v != p2p.Accept {
		t.Errorf("the true list at its proposer: verdict %v, want Accept", v)
	}
	if v := s.prop.validateCompactGossip("", lie); v != p2p.Reject {
		t.Errorf("a swapped list at its proposer: verdict %v, want Reject", v)
	}
}
