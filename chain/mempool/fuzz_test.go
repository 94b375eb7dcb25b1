package mempool

import (
	"testing"

	"github.com/dure-network/dure/chain"
)

// FuzzAdd throws arbitrary bytes at Add: it must never panic, and whatever
// it accepts must be a canonical, correctly signed tx for this chain.
func FuzzAdd(f *testing.F) {
	c := chain.MustCodec()
	k := key(f, 1)
	good := signTx(f, c, k, 0, txOpt{})
	f.Add(good)
	f.Add(good[:len(good)-5])
	f.Add(corruptSig(f, c, good))
	f.Add(signTx(f, c, k, 3, txOpt{chainID: "other"}))
	f.Add([]byte{0x86, 0x60, 0x58, 0x20})
	f.Fuzz(func(t *testing.T, raw []byte) {
		m := newPool(Config{}, newAccounts())
		id, err := m.Add(raw)
		if err != nil {
			if m.Has(id) {
				t.Fatal("rejected tx is pending")
			}
			return
		}
		tx, derr := chain.DecodeTx(c, raw)
		if derr != nil || tx.ChainID != testChain || tx.VerifySignature(c) != nil {
			t.Fatalf("accepted garbage: decode %v", derr)
		}
		if got, ok := m.Get(id); !ok || string(got.Raw) != string(raw) || id != chain.IDOf(raw) {
			t.Fatal("accepted tx is not retrievable by its ID")
		}
	})
}
