package api

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"testing"
)

// mainDecodeTxArray is DecodeTxArray as it was before it moved onto
// chain.DecodeTxList (verbatim but for the names), the reference for
// FuzzDecodeTxArrayAsBefore.
func mainDecodeTxArray(data []byte, max int) ([][]byte, error) {
	n, rest, err := mainCBORHead(data, 4)
	if err != nil {
		return nil, fmt.Errorf("%w: batch: %w", ErrBadRequest, err)
	}
	if n == 0 {
		return nil, fmt.Errorf("%w: empty batch", ErrBadRequest)
	}
	if n > uint64(max) {
		return nil, fmt.Errorf("%w: %d txs, max %d", ErrBatchTooLarge, n, max)
	}
	txs := make([][]byte, 0, n)
	for i := range n {
		var l uint64
		if l, rest, err = mainCBORHead(rest, 2); err != nil {
			return nil, fmt.Errorf("%w: batch item %d: %w", ErrBadRequest, i, err)
		}
		if l > uint64(len(rest)) {
			return nil, fmt.Errorf("%w: batch item %d: %d bytes, %d left", ErrBadRequest, i, l, len(rest))
		}
		txs = append(txs, rest[:l:l])
		rest = rest[l:]
	}
	if len(rest) > 0 {
		return nil, fmt.Errorf("%w: %d bytes after the batch", ErrBadRequest, len(rest))
	}
	return txs, nil
}
func mainCBORHead(b []byte, major byte) (uint64, []byte, error) {
	if len(b) == 0 {
		return 0, nil, fmt.Errorf("%w: end of input", errMainCBORHead)
	}
	if b[0]>>5 != major {
		return 0, nil, fmt.Errorf("%w: major type %d, want %d", errMainCBORHead, b[0]>>5, major)
	}
	info, b := b[0]&0x1f, b[1:]
	switch {
	case info < 24:
		return uint64(info), b, nil
	case info <= 27:
		size := 1 << (info - 24)
		if len(b) < size {
			return 0, nil, fmt.Errorf("%w: truncated length", errMainCBORHead)
		}
		var v uint64
		switch size {
		case 1:
			v = uint64(b[0])
		case 2:
			v = uint64(binary.BigEndian.Uint16(b))
		case 4:
			v = uint64(binary.BigEndian.Uint32(b))
		default:
			v = binary.BigEndian.Uint64(b)
		}
		return v, b[size:], nil
	}
	return 0, nil, fmt.Errorf("%w: additional info %d", errMainCBORHead, info)
}

var errMainCBORHead = errors.New("not a definite-length head of the expected type")

// FuzzDecodeTxArrayAsBefore: DecodeTxArray accepts exactly what it
// accepted before, with the same txs (now copies) and the same sentinel
// on refusal.
func FuzzDecodeTxArrayAsBefore(f *testing.F) {
	f.Add(EncodeTxArray([][]byte{{1, 2, 3}, {}}))
	f.Add([]byte{0x98, 0x02, 0x41, 0x00, 0x59, 0x00, 0x01, 0x07})
	f.Add([]byte{0x9f, 0xff})
	f.Add([]byte{0x91, 0x40})
	f.Add([]byte{0x9b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, data []byte) {
		const max = 16
		want, wantErr := mainDecodeTxArray(data, max)
		got, err := DecodeTxArray(data, max)
		if (err == nil) != (wantErr == nil) || errors.Is(err, ErrBatchTooLarge) != errors.Is(wantErr, ErrBatchTooLarge) ||
			errors.Is(err, ErrBadRequest) != errors.Is(wantErr, ErrBadRequest) {
			t.Fatalf("%x: now %v, before %v", data, err, wantErr)
		}
		if len(got) != len(want) {
			t.Fatalf("%x: %d txs, before %d", data, len(got), len(want))
		}
		for i := range got {
			if !bytes.Equal(got[i], want[i]) || cap(got[i]) != len(got[i]) {
				t.Fatalf("%x: tx %d differs", data, i)
			}
		}
	})
}
