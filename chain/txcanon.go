package chain

import "bytes"

// CBOR major types (for appendHead) and the null value, as the tx
// envelope and tx lists use them.
const (
	cborUint  = 0
	cborBytes = 2
	cborText  = 3
	cborArray = 4
	cborNull  = 0xf6
)

// appendTx appends the encoding Codec.Marshal gives tx (core
// deterministic CBOR: shortest heads; a nil slice is null; a Body is
// written as it is, null when empty), without reflection. It is the
// canonical check's encoder (txIsCanonical); TestAppendTxMatchesCodec and
// FuzzTxCanonical hold it to Codec.Marshal byte for byte.
func appendTx(b []byte, tx *Tx) []byte {
	b = append(b, cborArray<<5|6)
	b = appendText(b, tx.ChainID)
	b = append(b, cborBytes<<5|24, PubKeyLen)
	b = append(b, tx.PubKey[:]...)
	b = appendHead(b, cborUint, tx.Nonce)
	b = appendHead(b, cborUint, tx.MaxFee)
	if tx.Msgs == nil {
		b = append(b, cborNull)
	} else {
		b = appendHead(b, cborArray, uint64(len(tx.Msgs)))
		for i := range tx.Msgs {
			m := &tx.Msgs[i]
			b = append(b, cborArray<<5|3)
			b = appendText(b, m.Module)
			b = appendText(b, m.Type)
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
	b = appendHead(b, cborBytes, uint64(len(tx.Sig)))
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
