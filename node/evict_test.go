package node

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"testing"
	"time"

	"github.com/dure-network/dure/chain"
)

// A tx whose max fee the sender cannot pay from its balance at the head is
// refused at admission with 422 fee_unpayable (fee = 2^64-1 used to be
// accepted, then silently evicted: wait=commit answered 504).
func TestUnpayableFeeRefusedAtAdmission(t *testing.T) {
	home, _ := initHome(t, "unpayable-1")
	tn := startNode(t, home)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	broke := newKey(t)
	self := tn.Key.PubKey().Address()
	bal, nonce, _ := balanceOf(t, tn.Base, self)
	for _, c := range []struct {
		name string
		raw  []byte
	}{
		{"funded sender, max fee 2^64-1", sendTx(t, tn.ChainID, tn.Key, nonce, math.MaxUint64, broke.PubKey().Address(), 1)},
		{"funded sender, max fee balance+1", sendTx(t, tn.ChainID, tn.Key, nonce, bal+1, broke.PubKey().Address(), 1)},
		{"empty account, max fee 10", sendTx(t, tn.ChainID, broke, 0, 10, self, 1)},
	} {
		_, err := tn.Client.Submit(ctx, c.raw, true)
		if err == nil {
			t.Errorf("%s: accepted", c.name)
			continue
		}
		if status, code := errCode(t, err); status != 422 || code != "fee_unpayable" {
			t.Errorf("%s: %d %s (%v), want 422 fee_unpayable", c.name, status, code, err)
		}
	}
	if st, err := tn.Client.Status(ctx); err != nil || st.Mempool.Txs != 0 {
		t.Fatalf("mempool after refusals: %+v %v", st.Mempool, err)
	}
	// A fee the balance covers still commits.
	if _, err := tn.Client.Submit(ctx, sendTx(t, tn.ChainID, tn.Key, nonce, 10, broke.PubKey().Address(), 15), true); err != nil {
		t.Fatalf("funded transfer: %v", err)
	}
}

// A tx that was payable at admission but is not by the time it would run
// (an earlier tx of the same sender spent the funds) cannot be included. It
// must leave the pool, not be reaped for every block, and it is never
// committed.
func TestUnpayableTxIsEvicted(t *testing.T) {
	home, _ := initHome(t, "evict-1")
	tn := startNode(t, home)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	poor := newKey(t)
	self := tn.Key.PubKey().Address()
	_, nonce, _ := balanceOf(t, tn.Base, self)
	if _, err := tn.Client.Submit(ctx, sendTx(t, tn.ChainID, tn.Key, nonce, 10, poor.PubKey().Address(), 15), true); err != nil {
		t.Fatalf("fund: %v", err)
	}
	// 15 pays the first tx (fee 10 + 1 sent) and passes admission for the
	// second (fee 10 <= 15), which then finds 4 left.
	first := sendTx(t, tn.ChainID, poor, 0, 10, self, 1)
	second := sendTx(t, tn.ChainID, poor, 1, 10, self, 1)
	if _, err := tn.Client.Submit(ctx, second, false); err != nil {
		t.Fatalf("submit second: %v", err)
	}
	if _, err := tn.Client.Submit(ctx, first, true); err != nil {
		t.Fatalf("submit first: %v", err)
	}
	st, err := tn.Client.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := waitHeight(ctx, tn.Client, st.Height+3); err != nil {
		t.Fatal(err)
	}
	st, err = tn.Client.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mempool.Txs != 0 {
		t.Fatalf("unpayable tx still pending after 3 blocks (%d txs in the mempool)", st.Mempool.Txs)
	}
	if _, err := tn.Client.Tx(ctx, chain.IDOf(second), false); err == nil {
		t.Fatal("unpayable tx was committed")
	} else if code, _ := errCode(t, err); code != 404 {
		t.Fatalf("looking up the evicted tx: %v", err)
	}
	// The chain keeps its pace: a funded transfer still commits.
	ok := sendTx(t, tn.ChainID, tn.Key, nonce+1, 10, poor.PubKey().Address(), 100)
	if _, err := tn.Client.Submit(ctx, ok, true); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("funded transfer: %v", err)
	}
}

// BenchmarkFeeBalance is the admission check's state read per tx.
func BenchmarkFeeBalance(b *testing.B) {
	home, cfg := initHome(b, "feebench-1")
	_ = home
	n, err := Open(context.Background(), cfg, slog.New(slog.DiscardHandler), chain.PrivKey{})
	if err != nil {
		b.Fatal(err)
	}
	defer n.closeStorage()
	addr := n.gen.Validators[0].PubKey.Address()
	r := nonceReader{n}
	if bal, err := r.FeeBalance(addr); err != nil || bal == 0 {
		b.Fatalf("balance %d, %v", bal, err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := r.FeeBalance(addr); err != nil {
			b.Fatal(err)
		}
	}
}
