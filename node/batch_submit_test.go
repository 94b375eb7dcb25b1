package node

import (
	"context"
	"testing"
	"time"

	"github.com/dure-network/dure/chain"
)

// TestSubmitBatchOnANode posts a batch to a real node (Badger, mempool,
// signatures): the valid transfers commit, and every refused tx gets the
// code a single submission of it gets.
func TestSubmitBatchOnANode(t *testing.T) {
	home, _ := initHome(t, "batch-1")
	tn := startNode(t, home)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	self := tn.Key.PubKey().Address()
	bob := newKey(t).PubKey().Address()
	_, next, _ := balanceOf(t, tn.Base, self)

	const good = 40
	var raws [][]byte
	for i := range uint64(good) {
		raws = append(raws, sendTx(t, tn.ChainID, tn.Key, next+i, 10, bob, 100))
	}
	codec := chain.MustCodec()
	bad := mustDecode(t, codec, sendTx(t, tn.ChainID, tn.Key, next+good, 10, bob, 1))
	bad.Sig[3] ^= 1
	badRaw, _ := codec.Marshal(bad)
	refused := [][]byte{
		raws[0], // twice in the batch
		badRaw,
		sendTx(t, tn.ChainID, newKey(t), 0, 10, bob, 1), // an empty account: cannot pay its fee
		sendTx(t, "another-chain", tn.Key, next+good, 10, bob, 1),
		{0x86, 0x00},
	}
	wantCodes := []string{"duplicate_tx", "bad_signature", "fee_unpayable", "wrong_chain", "tx_malformed"}
	res, err := tn.Client.SubmitBatch(ctx, append(append([][]byte{}, raws...), refused...))
	if err != nil {
		t.Fatal(err)
	}
	if res.Accepted != good {
		t.Errorf("accepted %d, want %d", res.Accepted, good)
	}
	for i, r := range res.Results[:good] {
		if r.Error != nil || r.ID != chain.IDOf(raws[i]) {
			t.Errorf("tx %d: %+v %+v, want admitted as %s", i, r, r.Error, chain.IDOf(raws[i]))
		}
	}
	for k, r := range res.Results[good:] {
		if r.Error == nil || r.Error.Code != wantCodes[k] {
			t.Errorf("refused tx %d: %+v %+v, want %s", k, r, r.Error, wantCodes[k])
			continue
		}
		// The same tx alone gets the same answer (the duplicate now as
		// already in the mempool or committed).
		_, err := tn.Client.Submit(ctx, refused[k], false)
		if st, code := errCode(t, err); code != wantCodes[k] || st != r.Status {
			t.Errorf("refused tx %d alone: %d %s, in the batch %d %s", k, st, code, r.Status, r.Error.Code)
		}
	}
	for {
		bal, _, _ := balanceOf(t, tn.Base, bob)
		if bal == good*100 {
			if _, n, _ := balanceOf(t, tn.Base, self); n != next+good {
				t.Errorf("sender nonce %d, want %d", n, next+good)
			}
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("bob holds %d, want %d: the batch did not commit", bal, good*100)
		}
		time.Sleep(50 * time.Millisecond)
	}
	for i, raw := range raws {
		info, err := tn.Client.Tx(ctx, chain.IDOf(raw), false)
		if err != nil || info.Result == nil || info.Result.Code != chain.CodeOK {
			t.Fatalf("tx %d: %+v %v", i, info.Result, err)
		}
	}
}
