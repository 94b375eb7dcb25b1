package p2p

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/dure-network/dure/chain"
	"github.com/libp2p/go-libp2p/core/peer"
)

// recorder collects what a node's handlers receive.
type recorder struct {
	mu        sync.Mutex
	txs       [][]byte
	consensus [][]byte
	blocks    [][]byte
	evidence  [][]byte
}

func (r *recorder) add(dst *[][]byte, items ...[]byte) {
	r.mu.Lock()
	*dst = append(*dst, items...)
	r.mu.Unlock()
}

func (r *recorder) has(kind string, want []byte) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	var list [][]byte
	switch kind {
	case "tx":
		list = r.txs
	case "consensus":
		list = r.consensus
	case "block":
		list = r.blocks
	case "evidence":
		list = r.evidence
	}
	for _, b := range list {
		if bytes.Equal(b, want) {
			return true
		}
	}
	return false
}

func (r *recorder) count(kind string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch kind {
	case "tx":
		return len(r.txs)
	case "consensus":
		return len(r.consensus)
	case "block":
		return len(r.blocks)
	}
	return len(r.evidence)
}

// txValidator is what a real node does with a gossiped tx: decode with the
// canonical codec, check the chain ID, verify the signature.
func txValidator(codec *chain.Codec, chainID string) func([]byte) Verdict {
	return func(raw []byte) Verdict {
		tx, err := chain.DecodeTx(codec, raw)
		if err != nil || tx.ChainID != chainID || tx.VerifySignature(codec) != nil {
			return Reject
		}
		return Accept
	}
}

// prefixValidator accepts payloads that start with "<chain>|".
func prefixValidator(chainID string) func(peer.ID, []byte) Verdict {
	return func(_ peer.ID, data []byte) Verdict {
		if bytes.HasPrefix(data, []byte(chainID+"|")) {
			return Accept
		}
		return Reject
	}
}

func acceptAll(peer.ID, []byte) Verdict { return Accept }

type testNode struct {
	*Node
	rec *recorder
}

type nodeOpt func(*Config, *Deps)

func withBootstrap(n *testNode) nodeOpt {
	return func(c *Config, _ *Deps) { c.Bootstrap = append(c.Bootstrap, n.Addrs()[0]) }
}

func withPSK(psk []byte) nodeOpt { return func(c *Config, _ *Deps) { c.PrivateNetworkPSK = psk } }

func withBlocks(b BlockSource) nodeOpt { return func(_ *Config, d *Deps) { d.Blocks = b } }

// permissive makes a node that validates nothing: the attacker in tests.
func permissive() nodeOpt {
	return func(_ *Config, d *Deps) {
		d.ValidateTxs = PerTx(func([]byte) Verdict { return Accept })
		d.ValidateConsensus, d.ValidateBlock, d.ValidateEvidence = acceptAll, acceptAll, acceptAll
		d.ValidateCompact = acceptAll
	}
}

func newTestNode(t testing.TB, chainID string, opts ...nodeOpt) *testNode {
	t.Helper()
	codec := chain.MustCodec()
	rec := &recorder{}
	cfg := Config{
		ChainID:              chainID,
		ListenAddrs:          []string{"/ip4/127.0.0.1/tcp/0"},
		ScoreInspectInterval: 100 * time.Millisecond,
		SyncTimeout:          10 * time.Second,
	}
	deps := Deps{
		ValidateTxs:       PerTx(txValidator(codec, chainID)),
		ValidateConsensus: prefixValidator(chainID),
		ValidateBlock:     prefixValidator(chainID),
		ValidateEvidence:  prefixValidator(chainID),
		ValidateCompact:   prefixValidator(chainID),
		OnTx:              func(_ peer.ID, txs [][]byte) { rec.add(&rec.txs, txs...) },
		OnConsensus:       func(_ peer.ID, b []byte) { rec.add(&rec.consensus, b) },
		OnBlock:           func(_ peer.ID, b []byte) { rec.add(&rec.blocks, b) },
		OnEvidence:        func(_ peer.ID, b []byte) { rec.add(&rec.evidence, b) },
	}
	for _, o := range opts {
		o(&cfg, &deps)
	}
	n, err := New(context.Background(), cfg, deps)
	if err != nil {
		t.Fatalf("new node: %v", err)
	}
	t.Cleanup(func() { _ = n.Close() })
	return &testNode{Node: n, rec: rec}
}

// eventually polls cond until it holds or the timeout passes.
func eventually(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// never checks that cond stays false for d.
func never(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if cond() {
			t.Fatalf("unexpectedly: %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitMesh waits until every node has at least min mesh peers on every
// topic, so a single publish reaches everyone.
func waitMesh(t testing.TB, min int, nodes ...*testNode) {
	t.Helper()
	eventually(t, 15*time.Second, "gossip mesh", func() bool {
		for _, n := range nodes {
			for _, ti := range n.Topics() {
				if ti.MeshPeers < min {
					return false
				}
			}
		}
		return true
	})
}

// signedTx makes a real signed transaction for chainID.
func signedTx(t testing.TB, chainID string, nonce uint64) []byte {
	t.Helper()
	codec := chain.MustCodec()
	key, err := chain.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	body, err := codec.Marshal([]any{"to", nonce})
	if err != nil {
		t.Fatal(err)
	}
	tx := &chain.Tx{ChainID: chainID, Nonce: nonce, MaxFee: 10,
		Msgs: []chain.Msg{{Module: "currency", Type: "send", Body: body}}}
	raw, err := tx.Sign(codec, key)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// memBlocks is an in-memory BlockSource with fake block and commit bytes.
type memBlocks struct {
	head    uint64
	corrupt bool // serve wrong bytes: a faulty or malicious peer
}

func fakeBlock(h uint64) []byte {
	b := bytes.Repeat([]byte{byte(h)}, 1024)
	copy(b, fmt.Sprintf("block-%d|", h))
	return b
}

func fakeCommit(h uint64) []byte { return []byte(fmt.Sprintf("commit-%d", h)) }

var errNoBlock = errors.New("no such block")

func (m *memBlocks) Head() uint64 { return m.head }

func (m *memBlocks) BlockAndCommit(h uint64) ([]byte, []byte, error) {
	if h == 0 || h > m.head {
		return nil, nil, fmt.Errorf("height %d: %w", h, errNoBlock)
	}
	if m.corrupt {
		return []byte("garbage"), fakeCommit(h), nil
	}
	return fakeBlock(h), fakeCommit(h), nil
}

// checkItem is the Apply a test node uses: the bytes must be what the
// honest source holds.
func checkItem(it SyncItem) error {
	if !bytes.Equal(it.Block, fakeBlock(it.Height)) || !bytes.Equal(it.Commit, fakeCommit(it.Height)) {
		return fmt.Errorf("height %d: block does not verify", it.Height)
	}
	return nil
}
