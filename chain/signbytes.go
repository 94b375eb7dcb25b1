package chain

// txSignHead is the canonical CBOR start of every txSignDoc: an array of
// six items, the first the domain text "dure/tx/1" (0x69: text of 9
// bytes).
const txSignHead = "\x86\x69dure/tx/1"

// sigTail is the canonical CBOR head of a SigLen-byte signature (a byte
// string of 64 bytes: 0x58 0x40).
const sigTail = "\x58\x40"

// SignBytesOf returns the bytes the sender of raw signed, cut from raw
// itself instead of re-encoding the tx: a Tx and its txSignDoc encode the
// same ChainID, PubKey, Nonce, MaxFee and Msgs the same way, so the sign
// bytes are txSignHead, then raw without its array head and its trailing
// signature. raw must be canonical (as DecodeTx checks) and its signature
// SigLen bytes (as ValidateBasic checks); ok is false when raw does not
// have that shape, and the caller then uses Tx.SignBytes. The result is a
// new slice.
func SignBytesOf(raw []byte) (sb []byte, ok bool) {
	n := len(raw) - len(sigTail) - SigLen
	if n < 1 || raw[0] != txSignHead[0] || string(raw[n:n+len(sigTail)]) != sigTail {
		return nil, false
	}
	sb = make([]byte, 0, len(txSignHead)+n-1)
	sb = append(sb, txSignHead...)
	return append(sb, raw[1:n]...), true
}
