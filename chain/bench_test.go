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

// sigMix signs n messages of a transfer's sign-bytes size by keys drawn
// from senders distinct keys (a realistic load: many txs per sender).
func sigMix(b *testing.B, senders, n int) []SigItem {
	b.Helper()
	keys := make([]PrivKey, senders)
	for i := range keys {
		seed := make([]byte, SeedLen)
		seed[0], seed[1], seed[2] = byte(i), byte(i>>8), 0x5a
		keys[i], _ = PrivKeyFromSeed(seed)
	}
	items := make([]SigItem, n)
	for i := range items {
		k := keys[(i*7919)%senders]
		msg := bytes.Repeat([]byte{byte(i), byte(i >> 8)}, 60)
		items[i] = SigItem{PubKey: k.PubKey(), Msg: msg, Sig: k.Sign(msg)}
	}
	return items
}

// BenchmarkVerifyKeyCache compares batch verification with and without the
// expanded-key cache on 2,000 senders, in batches of 64 and 5,000 (the
// cache warmed by a first pass, as it is after a node's first blocks).
func BenchmarkVerifyKeyCache(b *testing.B) {
	items := sigMix(b, 2000, 5000)
	kc := NewKeyCache(0)
	VerifyBatchCached(kc, items)
	for _, batch := range []int{64, 5000} {
		for _, mode := range []string{"nocache", "cache"} {
			b.Run(fmt.Sprintf("batch%d/%s", batch, mode), func(b *testing.B) {
				var c *KeyCache
				if mode == "cache" {
					c = kc
				}
				for b.Loop() {
					for lo := 0; lo < len(items); lo += batch {
						if ok, _ := VerifyBatchCached(c, items[lo:min(lo+batch, len(items))]); !ok {
							b.Fatal("batch failed")
						}
					}
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(items)), "ns/sig")
			})
		}
	}
	b.Run("single/nocache", func(b *testing.B) {
		for b.Loop() {
			for _, it := range items[:500] {
				if !VerifySig(it.PubKey, it.Msg, it.Sig) {
					b.Fatal("bad")
				}
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*500), "ns/sig")
	})
	b.Run("single/cache", func(b *testing.B) {
		for b.Loop() {
			for _, it := range items[:500] {
				if !VerifySigCached(kc, it.PubKey, it.Msg, it.Sig) {
					b.Fatal("bad")
				}
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*500), "ns/sig")
	})
}
