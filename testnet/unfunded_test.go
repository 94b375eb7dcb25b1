package testnet

import (
	"context"
	"crypto/rand"
	"testing"
	"time"

	"github.com/dure-network/dure/apps/currency"
	"github.com/dure-network/dure/chain"
)

// A connected peer without funds publishes, as fast as gossip takes
// them, correctly signed transfers from accounts that hold nothing (the
// mempool verifies each signature, then refuses the unpayable fee; the
// verdict is Ignore, so the sender is never penalised). Measured against
// the unattacked pace in the same test.
func TestUnfundedSignedTxFlood(t *testing.T) {
	long(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	n := newNet(t, netOpts{})
	n.start(ctx)
	n.waitHeight(ctx, 30*time.Second, 3, n.Procs...)
	a := newAttacker(ctx, t, n)

	// Signed before any measurement, so signing costs the nodes nothing.
	const keys, perKey = 100, 600
	var txs [][]byte
	for range keys {
		k, err := chain.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		for nonce := range uint64(perKey) {
			m, err := currency.MsgSend(a.codec, a.vals[0].Address, "dure", 1)
			if err != nil {
				t.Fatal(err)
			}
			tx := chain.Tx{ChainID: a.chain, Nonce: nonce, MaxFee: 10, Msgs: []chain.Msg{m}}
			if _, err := tx.Sign(a.codec, k); err != nil {
				t.Fatal(err)
			}
			raw, err := a.codec.Marshal(&tx)
			if err != nil {
				t.Fatal(err)
			}
			txs = append(txs, raw)
		}
	}
	eventually(ctx, t, 20*time.Second, "attacker connected to every node", func() bool {
		return len(a.Peers()) == len(n.Procs)
	}, nil)
	time.Sleep(2 * time.Second)

	const window = 15 * time.Second
	h0 := maxHeight(ctx, n.Procs...)
	time.Sleep(window)
	normal := maxHeight(ctx, n.Procs...) - h0

	hStart := maxHeight(ctx, n.Procs...)
	start := time.Now()
	sent := 0
	for _, raw := range txs {
		if time.Since(start) > window {
			break
		}
		if a.PublishTx(ctx, raw) == nil {
			sent++
		}
	}
	if rest := window - time.Since(start); rest > 0 {
		time.Sleep(rest)
	}
	made := maxHeight(ctx, n.Procs...) - hStart
	t.Logf("unattacked: %d blocks in %v; flood: %d unfunded signed txs in %v, %d blocks", normal, window, sent, time.Since(start).Round(time.Second), made)
	if made < normal/2 {
		t.Errorf("chain slowed under the unfunded flood: %d blocks, unattacked %d", made, normal)
	}
}
