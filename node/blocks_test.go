package node

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/dure-network/dure/chain"
	"github.com/dure-network/dure/node/config"
	"github.com/dure-network/dure/node/nodetest"
)

// A proposer on a machine slower than its measured cost says still
// proposes in time: the build stops at its deadline (a sixth of
// timeout_propose; here 1 ms, so after the first stopEvery candidates),
// the block holds what was executed, and the reaped txs never tried stay
// in the mempool for the next block instead of being evicted as dropped.
func TestBuildStopsAtDeadlineAndKeepsUntriedTxs(t *testing.T) {
	_, cfg := initHome(t, "cut-1")
	cfg.Consensus.TimeoutPropose = "1ms"
	n, vkey := openIdle(t, cfg)
	const txs = 900 // under the mempool's 1,000 per sender
	to := newKey(t).PubKey().Address()
	raws := make([][]byte, txs)
	for i := range raws {
		raws[i] = sendTx(t, n.gen.ChainID, vkey, uint64(i), 10, to, 1)
	}
	if _, errs := n.pool.AddBatch(raws); errs[0] != nil || errs[txs-1] != nil {
		t.Fatalf("admission: %v, %v", errs[0], errs[txs-1])
	}
	c, err := n.buildBlock(1, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := len(c.block.Txs); got == 0 || got >= txs {
		t.Fatalf("block holds %d of %d txs: the deadline did not cut it", got, txs)
	}
	if cnt, _ := n.pool.Size(); cnt != txs {
		t.Errorf("mempool holds %d txs after the build, want all %d (none was dropped)", cnt, txs)
	}
	if _, err := n.checkBlock(&candidate{id: c.id, block: c.block, raw: c.raw}, false); err != nil {
		t.Fatalf("a validator rejects the cut block: %v", err)
	}
}

// A block is written to the stash (a file write and two fsyncs) once: the
// proposer stashes its block before proposing and consensus then asks it
// to validate that same block, and a block may be validated again in a
// later round. The second stashBlock must not write again; a block loaded
// back from the stash is already durable.
func TestBlockStashedOnce(t *testing.T) {
	_, cfg := initHome(t, "stash-1")
	n, _ := openIdle(t, cfg)
	c, err := n.buildBlock(1, nil)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(cfg.DataPath(), "cs.blocks")
	files := func() int {
		ents, _ := os.ReadDir(dir)
		return len(ents)
	}
	if err := n.stashBlock(c); err != nil {
		t.Fatal(err)
	}
	if files() != 1 {
		t.Fatalf("%d stash files after the first stash, want 1", files())
	}
	got := n.stashed(1)
	if len(got) != 1 || got[0].id != c.id || !got[0].stashed {
		t.Fatalf("stash holds %+v", got)
	}
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := n.stashBlock(c); err != nil {
		t.Fatal(err)
	}
	if files() != 0 {
		t.Fatal("the block was written to the stash a second time")
	}
}

// openIdle opens cfg's node with its validator key without running it; its
// storage is closed when the test ends.
func openIdle(t *testing.T, cfg config.Config) (*Node, chain.PrivKey) {
	t.Helper()
	_, vkey := nodetest.ValidatorKey(t, cfg)
	n, err := Open(context.Background(), cfg, slog.New(slog.DiscardHandler), vkey)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.closeStorage)
	return n, vkey
}
