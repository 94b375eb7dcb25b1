package node

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/dure-network/dure/apps/currency"
	"github.com/dure-network/dure/chain"
	"github.com/dure-network/dure/node/config"
	"github.com/dure-network/dure/node/keystore"
	"github.com/dure-network/dure/p2p"
)

// hub is an in-process transport for several nodes in one test process:
// what one node publishes is validated and posted to the others' drivers,
// with an optional loss rate for consensus messages. It exercises the same
// driver, store, executor and validators as gossipsub does, minus libp2p.
type hub struct {
	mu    sync.Mutex
	nodes []*Node
	rng   *rand.Rand
	loss  float64
	ctx   context.Context
	// frozenSync makes every peer a frozen one for block sync: Sync
	// answers nothing until its context ends.
	frozenSync bool
	// prepare, if set, runs on the opened nodes before their drivers
	// start (to give them another transport, say).
	prepare func(ctx context.Context, nodes []*Node)
}

type hubPort struct {
	h    *hub
	self int
}

func (h *hub) drop() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.rng.Float64() < h.loss
}

// deliver posts without blocking: a full inbox is one more lost message,
// which rebroadcast must survive (and blocking could deadlock two drivers).
func deliver(n *Node, ev any) {
	select {
	case n.inbox <- ev:
	default:
	}
}

func (p hubPort) each(fn func(n *Node)) {
	for i, n := range p.h.nodes {
		if i != p.self {
			fn(n)
		}
	}
}

func (p hubPort) PublishTx(_ context.Context, raw []byte) error {
	p.each(func(n *Node) {
		if acc, v := n.validateTxsGossip("", [][]byte{raw}); v == p2p.Accept {
			n.onTxGossip("", acc)
		}
	})
	return nil
}

func (p hubPort) PublishConsensus(_ context.Context, data []byte) error {
	p.each(func(n *Node) {
		if !p.h.drop() && n.validateConsensusGossip("", data) == p2p.Accept {
			deliver(n, gossipConsensus{data: data})
		}
	})
	return nil
}

func (p hubPort) PublishBlock(_ context.Context, data []byte) error {
	p.each(func(n *Node) {
		if n.validateBlockGossip("", data) == p2p.Accept {
			deliver(n, gossipBlock{data: data})
		}
	})
	return nil
}

func (p hubPort) PublishEvidence(_ context.Context, data []byte) error {
	p.each(func(n *Node) {
		if n.validateEvidenceGossip("", data) == p2p.Accept {
			deliver(n, gossipEvidence{data: data})
		}
	})
	return nil
}

func (p hubPort) PeerCount() int { return len(p.h.nodes) - 1 }

// Sync serves committed blocks from the peer with the highest head.
func (p hubPort) Sync(ctx context.Context, from uint64, apply func(p2p.SyncItem) error) (p2p.SyncReport, error) {
	if p.h.frozenSync {
		<-ctx.Done()
		return p2p.SyncReport{Next: from}, ctx.Err()
	}
	var best *Node
	p.each(func(n *Node) {
		if best == nil || (blockSource{n}).Head() > (blockSource{best}).Head() {
			best = n
		}
	})
	src := blockSource{best}
	rep := p2p.SyncReport{Next: from, Target: src.Head()}
	for h := from; h <= rep.Target && ctx.Err() == nil; h++ {
		raw, cm, err := src.BlockAndCommit(h)
		if err != nil {
			return rep, err
		}
		if err := apply(p2p.SyncItem{Height: h, Block: raw, Commit: cm}); err != nil {
			return rep, err
		}
		rep.Applied++
		rep.Next = h + 1
	}
	return rep, nil
}

// hubNet starts four in-process validators over a hub losing the given
// share of consensus messages; their drivers stop when the test ends. The
// payer account holds 1,000,000 of the native denom.
func hubNet(t *testing.T, loss float64) (h *hub, keys []chain.PrivKey, payer chain.PrivKey, ctx context.Context) {
	t.Helper()
	return hubNetOn(t, loss, systemClock{}, nil)
}

// hubNetOn is hubNet with the drivers on clk, and tune applied to each
// node's configuration after the hub's short timeouts.
func hubNetOn(t *testing.T, loss float64, clk clock, tune func(*config.Config)) (h *hub, keys []chain.PrivKey, payer chain.PrivKey, ctx context.Context) {
	t.Helper()
	return hubNetWith(t, &hub{loss: loss}, clk, tune)
}

// hubNetWith starts the nodes on h (its loss and sync behaviour set).
func hubNetWith(t *testing.T, h *hub, clk clock, tune func(*config.Config)) (_ *hub, keys []chain.PrivKey, payer chain.PrivKey, ctx context.Context) {
	t.Helper()
	const vals = 4
	var nodesCfg []struct {
		home string
		key  chain.PrivKey
	}
	var gvals []GenesisValidator
	for i := 0; i < vals; i++ {
		home, cfg := initHome(t, "hub-1")
		ks, err := keystore.Open(cfg.KeysPath(), keystore.BackendTest, nil)
		if err != nil {
			t.Fatal(err)
		}
		k, err := ks.Signer("validator")
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k)
		gvals = append(gvals, GenesisValidator{PubKey: k.PubKey(), Stake: DefaultValidatorStake})
		nodesCfg = append(nodesCfg, struct {
			home string
			key  chain.PrivKey
		}{home, k})
	}
	payer, _ = chain.PrivKeyFromSeed(make([]byte, chain.SeedLen))
	gen, err := BuildGenesis("hub-1", time.Now().Add(-time.Minute), gvals, []GenesisAccount{{Addr: payer.PubKey().Address(), Amount: 1_000_000}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	h.rng, h.ctx = rand.New(rand.NewPCG(7, 7)), ctx
	var wg sync.WaitGroup
	for i, nc := range nodesCfg {
		cfg, err := config.Load(filepath.Join(nc.home, config.FileName))
		if err != nil {
			t.Fatal(err)
		}
		cfg.Consensus.TimeoutPropose, cfg.Consensus.TimeoutPrevote, cfg.Consensus.TimeoutPrecommit = "400ms", "200ms", "200ms"
		cfg.Consensus.TimeoutDelta, cfg.Consensus.TimeoutCommit, cfg.Consensus.HeartbeatInterval = "200ms", "10ms", "100ms"
		if tune != nil {
			tune(&cfg)
		}
		if err := gen.Write(cfg.GenesisPath()); err != nil {
			t.Fatal(err)
		}
		n, err := Open(ctx, cfg, slog.New(slog.DiscardHandler), nc.key, withClock(clk))
		if err != nil {
			t.Fatal(err)
		}
		n.tr = hubPort{h: h, self: i}
		h.nodes = append(h.nodes, n)
	}
	if h.prepare != nil {
		h.prepare(ctx, h.nodes)
	}
	for _, n := range h.nodes {
		wg.Add(1)
		go func(n *Node) {
			defer wg.Done()
			defer n.closeStorage()
			if err := n.drive(ctx); err != nil {
				t.Errorf("driver: %v", err)
			}
		}(n)
	}
	t.Cleanup(func() { cancel(); wg.Wait() })
	return h, keys, payer, ctx
}

// Four validators driven in one process over the hub, with 20% of
// consensus messages lost: every node commits the same blocks, with the
// same state roots, and every submitted transfer is committed everywhere.
func TestInProcessValidatorsOverHub(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-validator run: skipped with -short")
	}
	h, keys, payer, ctx := hubNet(t, 0.2)
	const vals = 4
	// Twenty transfers from one account, submitted round-robin.
	var ids []chain.ID
	c := chain.MustCodec()
	to := keys[0].PubKey().Address()
	for nonce := uint64(0); nonce < 20; nonce++ {
		m, _ := currency.MsgSend(c, to, NativeDenom, 1)
		tx := chain.Tx{ChainID: "hub-1", Nonce: nonce, MaxFee: 10, Msgs: []chain.Msg{m}}
		raw, err := tx.Sign(c, payer)
		if err != nil {
			t.Fatal(err)
		}
		id, err := backend{h.nodes[int(nonce)%vals]}.SubmitTx(ctx, raw)
		if err != nil {
			t.Fatalf("submit nonce %d: %v", nonce, err)
		}
		ids = append(ids, id)
	}
	for _, n := range h.nodes {
		for _, id := range ids {
			wctx, wcancel := context.WithTimeout(ctx, 60*time.Second)
			info, err := backend{n}.WaitTx(wctx, id)
			wcancel()
			if err != nil {
				t.Fatalf("tx %s never committed on a node: %v", id, err)
			}
			if info.Result == nil || info.Result.Code != chain.CodeOK {
				t.Fatalf("tx %s failed: %+v", id, info.Result)
			}
		}
	}
	// Fees are paid out as rewards in EndBlock, and those block-level events
	// reach the event stream with the block that paid them.
	first, err := backend{h.nodes[0]}.Tx(ctx, ids[0], false)
	if err != nil {
		t.Fatal(err)
	}
	evs, err := backend{h.nodes[0]}.EventsAt(ctx, first.Height)
	if err != nil {
		t.Fatal(err)
	}
	paid := false
	for _, e := range evs.Block {
		for _, a := range e.Attrs {
			if a.Key == "from" && a.Value == currency.FeeCollector().String() {
				paid = true
			}
		}
	}
	if !paid {
		t.Fatalf("block %d: no reward payout from the fee collector among its block events %+v", first.Height, evs.Block)
	}
	// Liveness under loss: every node keeps committing (heartbeat blocks).
	const want = 8
	for i, n := range h.nodes {
		for n.headHeight() < want {
			select {
			case <-ctx.Done():
				t.Fatalf("node %d stuck at height %d under 20%% loss", i, n.headHeight())
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
	// Agreement at every height all nodes have.
	top := ^uint64(0)
	for _, n := range h.nodes {
		top = min(top, n.headHeight())
	}
	for height := uint64(1); height <= top; height++ {
		var want chain.ID
		var root chain.Hash
		for i, n := range h.nodes {
			b, err := n.store.Block(height)
			if err != nil {
				t.Fatalf("node %d height %d: %v", i, height, err)
			}
			id := b.Header.ID(c)
			if i == 0 {
				want, root = id, b.Header.StateRoot
			} else if id != want || b.Header.StateRoot != root {
				t.Fatalf("height %d: node %d has block %s (state %s), node 0 has %s (state %s)", height, i, id, b.Header.StateRoot, want, root)
			}
		}
	}
	t.Logf("4 in-process validators, 20%% consensus loss: %d heights agreed, 20 txs committed everywhere", top)
}

// With every validator up and no message lost, the commit each block
// carries has all four signatures, not just the first +2/3 that decided
// it: the late precommits are gathered during timeout_commit. Status and
// metrics report who signed.
func TestCommitsCarryEverySignature(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-validator run: skipped with -short")
	}
	// The drivers run on a clock only the test moves, with a heartbeat of
	// a minute and round timeouts of an hour: a height starts when the test
	// advances the clock by a heartbeat, no round times out, and the late
	// precommits are in every inbox before the commit pause ends.
	const heartbeat = time.Minute
	clk := newFakeClock(time.Now())
	h, _, _, ctx := hubNetOn(t, 0, clk, func(c *config.Config) {
		c.Consensus.TimeoutPropose, c.Consensus.TimeoutPrevote, c.Consensus.TimeoutPrecommit = "1h", "1h", "1h"
		c.Consensus.HeartbeatInterval = config.Duration(heartbeat.String())
	})
	const top = 12
	start, t0 := clk.Now(), time.Now()
	if err := h.runOnClock(ctx, clk, heartbeat, top); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d heights in %s, %s on the driver clock", top, time.Since(t0).Round(time.Millisecond), clk.Now().Sub(start))
	n := h.nodes[0]
	// Heights were gated by the injected clock: each heartbeat block is
	// at least a heartbeat after its parent, on that clock.
	for height := uint64(2); height <= top; height++ {
		b, err := n.store.Block(height)
		if err != nil {
			t.Fatal(err)
		}
		p, err := n.store.Block(height - 1)
		if err != nil {
			t.Fatal(err)
		}
		if gap := time.Duration(b.Header.Time - p.Header.Time); gap < heartbeat {
			t.Errorf("block %d made %s after its parent, before the heartbeat (%s)", height, gap, heartbeat)
		}
	}
	full := 0
	for height := uint64(3); height <= top; height++ {
		b, err := n.store.Block(height)
		if err != nil {
			t.Fatal(err)
		}
		if len(b.LastCommit.Sigs) == 4 {
			full++
		}
	}
	// A commit may still close before the fourth precommit arrives when
	// the machine is slow; nearly all must be complete.
	if want := top - 3; full < want {
		t.Errorf("%d of %d commits carry all 4 signatures", full, top-2)
	}
	st, err := backend{n}.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Signatures == nil || st.Signatures.Validators != 4 || st.Signatures.Height == 0 {
		t.Fatalf("status signatures: %+v", st.Signatures)
	}
}

// runOnClock moves clk by step each time all nodes have committed the same
// height (they then wait for the heartbeat on the clock), until every node
// has committed top. If nothing is committed for a while after a move (a
// driver read the clock just before it moved, and its commit pause now
// ends on the clock too), the clock moves again: that only spaces the
// blocks further apart on the clock.
func (h *hub) runOnClock(ctx context.Context, clk *fakeClock, step time.Duration, top uint64) error {
	moved, idle := false, 0 // moved: since the last commit
	for {
		low, high, lowest := ^uint64(0), uint64(0), h.nodes[0]
		for _, n := range h.nodes {
			if hh := n.headHeight(); hh < low {
				low, lowest = hh, n
			}
			high = max(high, n.headHeight())
		}
		if low >= top {
			return nil
		}
		if low == high && !moved {
			// Every node precommitted before it committed, so each late
			// precommit is already in an inbox: let the drivers take them
			// before the commit pause ends on the moved clock.
			h.drainInboxes(ctx)
			clk.Advance(step)
			moved, idle = true, 0
		}
		lowest.mu.RLock()
		ch := lowest.headCh
		lowest.mu.RUnlock()
		select {
		case <-ctx.Done():
			return fmt.Errorf("heights %d..%d of %d when the test ran out of time: %w", low, high, top, ctx.Err())
		case <-ch:
			moved = false
		case <-time.After(100 * time.Millisecond):
			if idle++; low == high || idle >= 5 {
				clk.Advance(step)
				idle = 0
			}
		}
	}
}

// drainInboxes waits (at most a second) until every node's driver has
// taken all delivered messages out of its inbox. A driver handles one event
// at a time, so one it took is handled before any timer the test fires
// next.
func (h *hub) drainInboxes(ctx context.Context) {
	deadline := time.Now().Add(time.Second)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		empty := true
		for _, n := range h.nodes {
			if len(n.inbox) > 0 {
				empty = false
			}
		}
		if empty {
			return
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// Block sync never holds consensus up: with bootstrap peers configured
// every node starts a catch-up at once, and here every peer is frozen for
// sync (it never answers), yet the four validators keep committing while
// those catch-ups hang. Before sync was one path, start-up sync ran on the
// driver goroutine and such a peer held a node's consensus until it
// answered.
func TestFrozenSyncPeerDoesNotHoldConsensus(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-validator run: skipped with -short")
	}
	h, _, _, ctx := hubNetWith(t, &hub{frozenSync: true}, systemClock{}, func(c *config.Config) {
		c.P2P.BootstrapPeers = []string{"/ip4/127.0.0.1/tcp/1/p2p/hub"}
	})
	const top = 5
	for i, n := range h.nodes {
		for n.headHeight() < top {
			select {
			case <-ctx.Done():
				t.Fatalf("node %d stuck at height %d while its block sync hangs", i, n.headHeight())
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
	for i, n := range h.nodes {
		n.mu.RLock()
		syncing := n.syncing
		n.mu.RUnlock()
		if !syncing {
			t.Errorf("node %d: no catch-up running (the start-up sync never started)", i)
		}
	}
}

// The commit pause (timeout_commit) exists to gather the late precommits;
// once every validator's is in, it has nothing left to wait for. Here the
// pause is an hour, the driver clock moves a millisecond at a time (block
// times must grow) and empty blocks are due at once: the chain advances
// only because each pause ends when the commit is full, and every block
// still carries all four signatures of its parent. Before, the pause ran
// out its hour and no second block was made.
func TestCommitPauseEndsWhenEveryPrecommitIsIn(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-validator run: skipped with -short")
	}
	clk := newFakeClock(time.Now())
	h, _, _, ctx := hubNetOn(t, 0, clk, func(c *config.Config) {
		c.Consensus.TimeoutPropose, c.Consensus.TimeoutPrevote, c.Consensus.TimeoutPrecommit = "1h", "1h", "1h"
		c.Consensus.TimeoutCommit, c.Consensus.HeartbeatInterval = "1h", "0s"
	})
	go func() {
		for ctx.Err() == nil {
			clk.Advance(time.Millisecond)
			time.Sleep(time.Millisecond)
		}
	}()
	const top = 8
	for _, n := range h.nodes {
		for n.headHeight() < top {
			n.mu.RLock()
			ch := n.headCh
			n.mu.RUnlock()
			select {
			case <-ch:
			case <-ctx.Done():
				t.Fatalf("height %d of %d with the clock still: the commit pause did not end", n.headHeight(), top)
			}
		}
	}
	n := h.nodes[0]
	for height := uint64(2); height <= top; height++ {
		b, err := n.store.Block(height)
		if err != nil {
			t.Fatal(err)
		}
		if got := len(b.LastCommit.Sigs); got != 4 {
			t.Errorf("block %d carries %d of 4 signatures of block %d", height, got, height-1)
		}
	}
}
