package chain

import (
	"bytes"
	"errors"
	"testing"
)

// Decoders must never panic, and whatever they accept must be canonical:
// re-encoding gives back exactly the input, so one value has one ID.

func FuzzDecodeTx(f *testing.F) {
	c := MustCodec()
	k, _ := PrivKeyFromSeed(bytes.Repeat([]byte{3}, SeedLen))
	body, _ := c.Marshal([]any{"to", uint64(1)})
	tx := &Tx{ChainID: "fuzz-1", Nonce: 1, MaxFee: 10, Msgs: []Msg{{Module: "currency", Type: "send", Body: body}}}
	raw, _ := tx.Sign(c, k)
	f.Add(raw)
	f.Add(raw[:len(raw)/2])
	f.Add([]byte{0x86, 0x60, 0x40, 0x00, 0x00, 0x80, 0x40})
	f.Add([]byte{0xff})
	f.Fuzz(func(t *testing.T, data []byte) {
		tx, err := DecodeTx(c, data)
		if err != nil {
			if !errors.Is(err, ErrTxMalformed) && !errors.Is(err, ErrTxTooLarge) {
				t.Fatalf("unclassified error: %v", err)
			}
			return
		}
		again, err := c.Marshal(tx)
		if err != nil || !bytes.Equal(again, data) {
			t.Fatalf("accepted non-canonical tx: %x", data)
		}
		_ = tx.VerifySignature(c) // must not panic on any accepted shape
	})
}

func FuzzDecodeVote(f *testing.F) {
	c := MustCodec()
	k, _ := PrivKeyFromSeed(bytes.Repeat([]byte{4}, SeedLen))
	v := Vote{Type: Precommit, Height: 9, Round: 2, BlockID: IDOf([]byte("b")), Validator: k.PubKey().Address()}
	v.Sig = k.Sign(v.SignBytes(c, "fuzz-1"))
	raw, _ := c.Marshal(&v)
	f.Add(raw)
	nilVote := v
	nilVote.BlockID = ""
	raw2, _ := c.Marshal(&nilVote)
	f.Add(raw2)
	f.Add([]byte{0x86, 0x01})
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := DecodeVote(c, data)
		if err != nil {
			if !errors.Is(err, ErrVoteMalformed) {
				t.Fatalf("unclassified error: %v", err)
			}
			return
		}
		again, err := c.Marshal(v)
		if err != nil || !bytes.Equal(again, data) {
			t.Fatalf("accepted non-canonical vote: %x", data)
		}
	})
}

func FuzzMerkleProofVerify(f *testing.F) {
	f.Add(uint64(0), uint64(1), []byte("leaf"), []byte{})
	f.Add(uint64(3), uint64(7), []byte("x"), bytes.Repeat([]byte{1}, 96))
	f.Fuzz(func(t *testing.T, index, total uint64, leaf, aunts []byte) {
		p := MerkleProof{Index: index, Total: total}
		for len(aunts) >= 32 {
			var h Hash
			copy(h[:], aunts)
			p.Aunts = append(p.Aunts, h)
			aunts = aunts[32:]
		}
		_ = p.Verify(Sum256(leaf), leaf) // must not panic or loop
	})
}
