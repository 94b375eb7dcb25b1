package chain

import (
	"bytes"
	"fmt"
	"testing"
)

func benchTxs(b *testing.B, n int) ([][]byte, *Codec) {
	b.Helper()
	c := MustCodec()
	k, _ := PrivKeyFromSeed(bytes.Repeat([]byte{5}, SeedLen))
	var to Address
	out := make([][]byte, n)
	for i := range out {
		to[0], to[1] = byte(i), byte(i>>8)
		body, _ := c.Marshal([]any{to[:], "dure", uint64(i + 1)})
		tx := &Tx{ChainID: "bench-1", Nonce: uint64(i), MaxFee: 10, Msgs: []Msg{{Module: "currency", Type: "send", Body: body}}}
		raw, err := tx.Sign(c, k)
		if err != nil {
			b.Fatal(err)
		}
		out[i] = raw
	}
	return out, c
}

// A signed transfer: encode (with signing excluded) and strict canonical decode.
func BenchmarkTxEncode(b *testing.B) {
	txs, c := benchTxs(b, 1)
	tx, _ := DecodeTx(c, txs[0])
	b.SetBytes(int64(len(txs[0])))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Marshal(tx); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkTxDecode(b *testing.B) {
	txs, c := benchTxs(b, 1)
	b.SetBytes(int64(len(txs[0])))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeTx(c, txs[0]); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkTxID(b *testing.B) {
	txs, _ := benchTxs(b, 1)
	b.ReportAllocs()
	for b.Loop() {
		_ = IDOf(txs[0])
	}
}

func BenchmarkTxRoot10k(b *testing.B) {
	txs, _ := benchTxs(b, 10_000)
	b.ReportAllocs()
	for b.Loop() {
		_ = TxRoot(txs)
	}
}

func BenchmarkVerifySignatures(b *testing.B) {
	txs, c := benchTxs(b, 256)
	items := make([]SigItem, len(txs))
	for i, raw := range txs {
		tx, _ := DecodeTx(c, raw)
		sb, _ := tx.SignBytes(c)
		items[i] = SigItem{PubKey: tx.PubKey, Msg: sb, Sig: tx.Sig}
	}
	for _, mode := range []string{"single", "batch"} {
		b.Run(fmt.Sprintf("%s-256", mode), func(b *testing.B) {
			for b.Loop() {
				if mode == "batch" {
					if ok, _ := VerifyBatch(items); !ok {
						b.Fatal("batch failed")
					}
					continue
				}
				for _, it := range items {
					if !VerifySig(it.PubKey, it.Msg, it.Sig) {
						b.Fatal("bad sig")
					}
				}
			}
			b.ReportMetric(float64(b.N*len(items))/b.Elapsed().Seconds(), "sigs/s")
		})
	}
}
