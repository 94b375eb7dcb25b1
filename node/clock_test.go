package node

import (
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dure-network/dure/chain"
	"github.com/dure-network/dure/consensus"
	"github.com/dure-network/dure/node/config"
	"github.com/dure-network/dure/node/keystore"
)

// TestDecidedBlockAheadOfLocalClock: a proposal whose time is beyond this
// node's clock bound is refused while it is fresh (the node prevotes nil),
// but once more than 2/3 have committed it the node must apply it: the
// clock bound is not a validity rule of the chain. Otherwise a validator
// with a slow clock halts for good.
func TestDecidedBlockAheadOfLocalClock(t *testing.T) {
	home, _ := initHome(t, "clock-1")
	cfg, err := config.Load(filepath.Join(home, config.FileName))
	if err != nil {
		t.Fatal(err)
	}
	ks, _ := keystore.Open(cfg.KeysPath(), keystore.BackendTest, nil)
	key, err := ks.Signer("validator")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	n, err := Open(ctx, cfg, slog.New(slog.DiscardHandler), key)
	if err != nil {
		t.Fatal(err)
	}
	defer n.closeStorage()
	codec := n.codec

	// Block 1 made by a proposer whose clock is a minute ahead.
	mk := func() *candidate {
		b := &chain.Block{Txs: make([][]byte, 0)}
		b.Header = chain.Header{ChainID: n.gen.ChainID, Height: 1, Time: chain.TimeOf(time.Now().Add(time.Minute)),
			Parent: n.head.BlockID, ValidatorsHash: n.nextVals.Hash(codec), NextValidatorsHash: n.afterVals.Hash(codec),
			Proposer: n.self, LastCommitHash: chain.CommitHash(codec, nil), EvidenceHash: chain.EvidenceHash(codec, nil)}
		_, out, err := n.exec.PrepareBlock(n.state, n.blockInfo(&b.Header, b), nil, 1)
		if err != nil {
			t.Fatal(err)
		}
		b.Header.TxRoot, b.Header.StateRoot, b.Header.ResultsRoot = chain.TxRoot(b.Txs), out.StateRoot, out.ResultsRoot
		raw, err := b.Encode(codec)
		if err != nil {
			t.Fatal(err)
		}
		return &candidate{id: b.Header.ID(codec), block: b, raw: raw}
	}
	c := mk()
	// The block is valid by the chain's rules...
	if _, err := n.checkBlock(&candidate{id: c.id, block: c.block, raw: c.raw}, false); err != nil {
		t.Fatalf("block is not valid even without the clock bound: %v", err)
	}
	// ...but too far ahead to vote for while fresh.
	d := &driver{n: n, ctx: ctx, cands: map[chain.ID]*candidate{c.id: c}, pendingValidate: map[chain.ID]bool{}}
	defer func() {
		if d.gateTimer != nil {
			d.gateTimer.Stop()
		}
	}()
	c.out, c.err = n.checkBlock(c, true)
	if c.err == nil || !strings.Contains(c.err.Error(), "ahead of this node's clock") {
		t.Fatalf("fresh check of a block a minute ahead: %v", c.err)
	}
	vote := chain.Vote{Type: chain.Precommit, Height: 1, BlockID: c.id, Validator: n.self}
	vote.Sig = key.Sign(vote.SignBytes(codec, n.gen.ChainID))
	commit := &chain.Commit{Height: 1, BlockID: c.id, Sigs: []chain.CommitSig{{Validator: n.self, Sig: vote.Sig}}}
	if err := chain.VerifyCommit(codec, n.gen.ChainID, n.nextVals, commit, 1, c.id); err != nil {
		t.Fatal(err)
	}
	err = d.decide(consensus.Decision{Height: 1, BlockID: c.id, Commit: commit})
	if err != nil || n.head.Height != 1 || n.head.BlockID != c.id {
		t.Fatalf("decided block not applied: err %v, head %d %s", err, n.head.Height, n.head.BlockID)
	}
}
