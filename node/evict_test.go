package node

import (
	"context"
	"errors"
	"testing"
	"time"
)

// A tx from an account that cannot pay its fee passes admission (the
// mempool checks nonces, not balances), but the proposer cannot include
// it. It must leave the pool, not be reaped for every block, and it is
// never committed.
func TestUnpayableTxIsEvicted(t *testing.T) {
	home, _ := initHome(t, "evict-1")
	tn := startNode(t, home)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	broke := newKey(t)
	raw := sendTx(t, tn.chainID, broke, 0, 10, tn.key.PubKey().Address(), 1)
	res, err := tn.cl.Submit(ctx, raw, false)
	if err != nil {
		t.Fatalf("submit: %v", err)
	}
	st, err := tn.cl.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := waitHeight(ctx, tn.cl, st.Height+3); err != nil {
		t.Fatal(err)
	}
	st, err = tn.cl.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mempool.Txs != 0 {
		t.Fatalf("unpayable tx still pending after 3 blocks (%d txs in the mempool)", st.Mempool.Txs)
	}
	if _, err := tn.cl.Tx(ctx, res.ID, false); err == nil {
		t.Fatal("unpayable tx was committed")
	} else if code, _ := errCode(t, err); code != 404 {
		t.Fatalf("looking up the evicted tx: %v", err)
	}
	// The chain keeps its pace: a funded transfer still commits.
	ok := sendTx(t, tn.chainID, tn.key, 0, 10, broke.PubKey().Address(), 100)
	if _, err := tn.cl.Submit(ctx, ok, true); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("funded transfer: %v", err)
	}
}
