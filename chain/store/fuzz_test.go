package store

import (
	"bytes"
	"testing"

	"github.com/dure-network/dure/chain"
)

// FuzzDecodeBlock feeds arbitrary bytes to the block decoder the store
// relies on when it loads blocks: it must never panic, and anything it
// accepts must re-encode to the same bytes (one block, one encoding).
func FuzzDecodeBlock(f *testing.F) {
	fx := newFixture(f)
	b1, cm1, _ := fx.block(1, "", nil, [][]byte{fx.signedTx(f, 1)})
	b2, _, _ := fx.block(2, b1.Header.ID(fx.c), cm1, [][]byte{fx.signedTx(f, 2), fx.signedTx(f, 3)})
	for _, b := range []*chain.Block{b1, b2} {
		raw, err := b.Encode(fx.c)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(raw)
		f.Add(raw[:len(raw)/2])
	}
	f.Add([]byte{0x84})
	c := chain.MustCodec()
	f.Fuzz(func(t *testing.T, raw []byte) {
		b, err := chain.DecodeBlock(c, raw)
		if err != nil {
			return
		}
		again, err := b.Encode(c)
		if err != nil || !bytes.Equal(again, raw) {
			t.Fatalf("accepted block does not round-trip (err %v)", err)
		}
	})
}

// FuzzDecodeHead does the same for the head record read at every open.
func FuzzDecodeHead(f *testing.F) {
	c := chain.MustCodec()
	for _, h := range []Head{{}, {Height: 9, BlockID: chain.IDOf([]byte("b")), StateRoot: chain.Sum256([]byte("s")), Time: 1, GenesisHash: chain.Sum256(nil)}} {
		raw, err := c.Marshal(&h)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(raw)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		h, err := decodeHead(c, raw)
		if err != nil {
			return
		}
		again, err := c.Marshal(&h)
		if err != nil || !bytes.Equal(again, raw) {
			t.Fatalf("accepted head does not round-trip (err %v)", err)
		}
		if h.Height > 0 && h.BlockID.IsZero() {
			t.Fatal("accepted a head without block id")
		}
	})
}

// FuzzUnpack feeds arbitrary stored values to the unpacker every block and
// results read goes through: it must never panic, a value without the
// marker comes back unchanged, and whatever unpacks packs and unpacks again
// to the same bytes.
func FuzzUnpack(f *testing.F) {
	fx := newFixture(f)
	b, _, rs := fx.block(1, "", nil, [][]byte{fx.signedTx(f, 1), fx.signedTx(f, 2), fx.signedTx(f, 3)})
	braw, _ := b.Encode(fx.c)
	rraw, _ := fx.c.Marshal(rs)
	for _, v := range [][]byte{braw, rraw} {
		packed := pack(v)
		f.Add(packed)
		f.Add(packed[:len(packed)/2])
		f.Add(v)
	}
	f.Add([]byte{packMarker})
	f.Add([]byte{packMarker, packS2})
	f.Add([]byte{packMarker, 0x02, 0x28, 0xb5, 0x2f, 0xfd})
	f.Fuzz(func(t *testing.T, v []byte) {
		out, err := unpack(v)
		if err != nil {
			return
		}
		if len(v) == 0 || v[0] != packMarker {
			if !bytes.Equal(out, v) {
				t.Fatal("a plain value was changed")
			}
			return
		}
		again, err := unpack(pack(out))
		if err != nil || !bytes.Equal(again, out) {
			t.Fatalf("unpacked value does not round-trip (err %v)", err)
		}
	})
}
