package node

import (
	"context"
	"log/slog"
	"testing"

	"github.com/dure-network/dure/node/keystore"
)

// A proposer on a machine slower than its measured cost says still
// proposes in time: the build stops at its deadline (a sixth of
// timeout_propose; here 1 ms, so after the first stopEvery candidates),
// the block holds what was executed, and the reaped txs never tried stay
// in the mempool for the next block instead of being evicted as dropped.
func TestBuildStopsAtDeadlineAndKeepsUntriedTxs(t *testing.T) {
	_, cfg := initHome(t, "cut-1")
	cfg.Consensus.TimeoutPropose = "1ms"
	ks, err := keystore.Open(cfg.KeysPath(), keystore.BackendTest, nil)
	if err != nil {
		t.Fatal(err)
	}
	vkey, err := ks.Signer("validator")
	if err != nil {
		t.Fatal(err)
	}
	n, err := Open(context.Background(), cfg, slog.New(slog.DiscardHandler), vkey)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.closeStorage)
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
