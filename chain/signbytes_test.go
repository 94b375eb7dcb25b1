package chain

import (
	"bytes"
	"math"
	"testing"
)

// TestSignBytesOfMatchesSignBytes: for txs of every length class of each
// field, the bytes cut from the encoding are exactly Tx.SignBytes, and the
// signature made over them verifies.
func TestSignBytesOfMatchesSignBytes(t *testing.T) {
	c := MustCodec()
	key, err := PrivKeyFromSeed(bytes.Repeat([]byte{7}, SeedLen))
	if err != nil {
		t.Fatal(err)
	}
	ints := []uint64{0, 1, 23, 24, 255, 256, 65535, 65536, math.MaxUint32, math.MaxUint32 + 1, math.MaxUint64}
	chains := []string{"c", "dure-1", string(bytes.Repeat([]byte{'x'}, 23)), string(bytes.Repeat([]byte{'y'}, 24)),
		string(bytes.Repeat([]byte{'z'}, MaxChainIDLen))}
	bodies := [][]byte{{0xa0}, bytes.Repeat([]byte{0x40}, 1), append([]byte{0x59, 0x01, 0x00}, bytes.Repeat([]byte{1}, 256)...)}
	cases := 0
	for i, nonce := range ints {
		for j, chainID := range chains {
			fee := ints[(i+j)%len(ints)]
			var msgs []Msg
			for k := 0; k <= (i+j)%MaxMsgsPerTx; k++ {
				msgs = append(msgs, Msg{Module: "currency", Type: "send", Body: bodies[(i+k)%len(bodies)]})
			}
			tx := Tx{ChainID: chainID, Nonce: nonce, MaxFee: fee, Msgs: msgs}
			raw, err := tx.Sign(c, key)
			if err != nil {
				t.Fatal(err)
			}
			dec, err := DecodeTx(c, raw)
			if err != nil {
				t.Fatal(err)
			}
			want, err := dec.SignBytes(c)
			if err != nil {
				t.Fatal(err)
			}
			got, ok := SignBytesOf(raw)
			if !ok || !bytes.Equal(got, want) {
				t.Fatalf("nonce %d fee %d chain %q %d msgs: SignBytesOf %x (ok %v), SignBytes %x", nonce, fee, chainID, len(msgs), got, ok, want)
			}
			if !VerifySig(dec.PubKey, got, dec.Sig) {
				t.Fatalf("signature does not verify over the cut bytes")
			}
			cases++
		}
	}
	for _, bad := range [][]byte{nil, {0x86}, bytes.Repeat([]byte{0x86}, 70), {0x85, 0x58, 0x40}} {
		if _, ok := SignBytesOf(bad); ok {
			t.Errorf("SignBytesOf(%x) accepted", bad)
		}
	}
	t.Logf("%d txs", cases)
}

// FuzzSignBytesOf: for any bytes DecodeTx accepts, SignBytesOf agrees
// with Tx.SignBytes.
func FuzzSignBytesOf(f *testing.F) {
	c := MustCodec()
	key, _ := PrivKeyFromSeed(bytes.Repeat([]byte{9}, SeedLen))
	tx := Tx{ChainID: "dure-1", Nonce: 300, MaxFee: 10, Msgs: []Msg{{Module: "currency", Type: "send", Body: []byte{0xa0}}}}
	raw, _ := tx.Sign(c, key)
	f.Add(raw)
	f.Fuzz(func(t *testing.T, raw []byte) {
		dec, err := DecodeTx(c, raw)
		if err != nil {
			return
		}
		want, err := dec.SignBytes(c)
		if err != nil {
			return
		}
		if got, ok := SignBytesOf(raw); !ok || !bytes.Equal(got, want) {
			t.Fatalf("SignBytesOf %x (ok %v), SignBytes %x", got, ok, want)
		}
	})
}
