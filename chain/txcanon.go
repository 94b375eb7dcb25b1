package chain

import "bytes"

// CBOR major types used by the tx envelope.
const (
	cborUint  = 0 << 5
	cborBytes = 2 << 5
	cborText  = 3 << 5
	cborArray = 4 << 5
	cborNull  = 0xf6
)

// appendCBORHead appends the shortest head of major type major with
// argument n, as core deterministic encoding writes it.
func appendCBORHead(b []byte, major byte, n uint64) []byte {
	switch {
	case n < 24:
		return append(b, major|byte(n))
	case n <= 0xff:
		return append(b, major|24, byte(n))
	case n <= 0xffff:
		return append(b, major|25, byte(n>>8), byte(n))
	case n <= 0xffffffff:
		return append(b, major|26, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	default:
		return append(b, major|27, byte(n>>56), byte(n>>48), byte(n>>40), byte(n>>32),
			byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
}

// appendTx appends the encoding Codec.Marshal gives tx (core
// deterministic CBOR: shortest heads; a nil slice is null; a Body is
// written as it is, null when empty), without reflection. It is the
// canonical check's encoder (txIsCanonical); TestAppendTxMatchesCodec and
// FuzzTxCanonical hold it to Codec.Marshal byte for byte.
func appendTx(b []byte, tx *Tx) []byte {
	b = append(b, cborArray|6)
	b = appendCBORHead(b, cborText, uint64(len(tx.ChainID)))
	b = append(b, tx.ChainID...)
	b = append(b, cborBytes|24, PubKeyLen)
	b = append(b, tx.PubKey[:]...)
	b = appendCBORHead(b, cborUint, tx.Nonce)
	b = appendCBORHead(b, cborUint, tx.MaxFee)
	if tx.Msgs == nil {
		b = append(b, cborNull)
	} else {
		b = appendCBORHead(b, cborArray, uint64(len(tx.Msgs)))
		for i := range tx.Msgs {
			m := &tx.Msgs[i]
			b = append(b, cborArray|3)
			b = appendCBORHead(b, cborText, uint64(len(m.Module)))
			b = append(b, m.Module...)
			b = appendCBORHead(b, cborText, uint64(len(m.Type)))
			b = append(b, m.Type...)
			if len(m.Body) == 0 {
				b = append(b, cborNull)
			} else {
				b = append(b, m.Body...)
			}
		}
	}
	if tx.Sig == nil {
		return append(b, cborNull)
	}
	b = appendCBORHead(b, cborBytes, uint64(len(tx.Sig)))
	return append(b, tx.Sig...)
}

// txIsCanonical reports whether raw is exactly the canonical encoding of
// tx, which the codec's decoder made from raw: the check
// Codec.UnmarshalCanonical does by re-encoding, at a fraction of its cost
// (no reflection; the encoding goes into a stack buffer for txs up to 1
// KiB).
func txIsCanonical(tx *Tx, raw []byte) bool {
	var buf [1024]byte
	return bytes.Equal(appendTx(buf[:0], tx), raw)
}
