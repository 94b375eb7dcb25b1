package p2p

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/dure-network/dure/chain"
)

// mainDecodeTxBatch is DecodeTxBatch as it was before it moved onto
// chain.DecodeTxList (verbatim but for the names), the reference for
// FuzzDecodeTxBatchAsBefore.
func mainDecodeTxBatch(data []byte) ([][]byte, error) {
	if len(data) > MaxTxBatchBytes {
		return nil, fmt.Errorf("%w: tx batch %d bytes, max %d", ErrMessageTooLarge, len(data), MaxTxBatchBytes)
	}
	n, rest, err := mainReadCBORHead(data, 0x80)
	if err != nil {
		return nil, fmt.Errorf("%w: tx batch: %v", ErrMalformed, err)
	}
	if n == 0 || n > MaxTxBatchLen {
		return nil, fmt.Errorf("%w: tx batch of %d entries (1..%d)", ErrMalformed, n, MaxTxBatchLen)
	}
	txs := make([][]byte, 0, n)
	for i := uint64(0); i < n; i++ {
		var l uint64
		l, rest, err = mainReadCBORHead(rest, 0x40)
		if err != nil {
			return nil, fmt.Errorf("%w: tx %d: %v", ErrMalformed, i, err)
		}
		if l == 0 || l > chain.MaxTxBytes || l > uint64(len(rest)) {
			return nil, fmt.Errorf("%w: tx %d: length %d (1..%d, %d left)", ErrMalformed, i, l, chain.MaxTxBytes, len(rest))
		}
		txs = append(txs, rest[:l:l])
		rest = rest[l:]
	}
	if len(rest) != 0 {
		return nil, fmt.Errorf("%w: %d trailing bytes after tx batch", ErrMalformed, len(rest))
	}
	return txs, nil
}
func mainReadCBORHead(b []byte, major byte) (uint64, []byte, error) {
	if len(b) == 0 {
		return 0, nil, fmt.Errorf("unexpected end")
	}
	if b[0]&0xe0 != major {
		return 0, nil, fmt.Errorf("major type %d, want %d", b[0]>>5, major>>5)
	}
	info := b[0] & 0x1f
	b = b[1:]
	var width int
	var minimum uint64
	switch {
	case info < 24:
		return uint64(info), b, nil
	case info == 24:
		width, minimum = 1, 24
	case info == 25:
		width, minimum = 2, 0x100
	case info == 26:
		width, minimum = 4, 0x10000
	case info == 27:
		width, minimum = 8, 0x100000000
	default:
		return 0, nil, fmt.Errorf("indefinite or reserved length (info %d)", info)
	}
	if len(b) < width {
		return 0, nil, fmt.Errorf("unexpected end in length")
	}
	var n uint64
	for _, c := range b[:width] {
		n = n<<8 | uint64(c)
	}
	if n < minimum {
		return 0, nil, fmt.Errorf("non-shortest length encoding")
	}
	return n, b[width:], nil
}

// FuzzDecodeTxBatchAsBefore: DecodeTxBatch accepts exactly what it
// accepted before, with the same txs (now copies).
func FuzzDecodeTxBatchAsBefore(f *testing.F) {
	seed, _ := EncodeTxBatch([][]byte{{1, 2, 3}, bytes.Repeat([]byte{9}, 300)})
	f.Add(seed)
	f.Add([]byte{0x81, 0x41, 0x01})
	f.Add([]byte{0x81, 0x40})
	f.Add([]byte{0x98, 0x01, 0x41, 0x01})
	f.Add([]byte{0x81, 0x58, 0x01, 0x07})
	f.Add([]byte{0x82, 0x41, 0x01, 0x59, 0x00, 0x01, 0x02})
	f.Fuzz(func(t *testing.T, data []byte) {
		want, wantErr := mainDecodeTxBatch(data)
		got, err := DecodeTxBatch(data)
		if (err == nil) != (wantErr == nil) {
			t.Fatalf("%x: now %v, before %v", data, err, wantErr)
		}
		if len(got) != len(want) {
			t.Fatalf("%x: %d txs, before %d", data, len(got), len(want))
		}
		for i := range got {
			if !bytes.Equal(got[i], want[i]) {
				t.Fatalf("%x: tx %d differs", data, i)
			}
		}
	})
}
