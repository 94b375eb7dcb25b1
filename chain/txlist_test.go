package chain

import (
	"bytes"
	"errors"
	"testing"
)

func TestTxListRoundTripAndRules(t *testing.T) {
	txs := [][]byte{{1}, bytes.Repeat([]byte{2}, 23), bytes.Repeat([]byte{3}, 24), bytes.Repeat([]byte{4}, 300),
		bytes.Repeat([]byte{5}, 70000)}
	enc := AppendTxList(nil, txs)
	if std, err := MustCodec().Marshal(txs); err != nil || !bytes.Equal(std, enc) || TxListSize(txs) != len(enc) {
		t.Fatalf("AppendTxList differs from the codec's [][]byte encoding or from TxListSize (err %v)", err)
	}
	got, err := DecodeTxList(enc, TxListRules{MaxTxs: len(txs), Shortest: true, NonEmpty: true})
	if err != nil || len(got) != len(txs) {
		t.Fatalf("%d txs, %v", len(got), err)
	}
	for i := range txs {
		if !bytes.Equal(got[i], txs[i]) || cap(got[i]) != len(got[i]) {
			t.Fatalf("tx %d differs or has spare capacity", i)
		}
	}
	enc[len(enc)-1] ^= 0xff
	if got[len(got)-1][len(txs[len(txs)-1])-1] != 5 {
		t.Fatal("a decoded tx aliases the input")
	}
	for _, tc := range []struct {
		name string
		in   []byte
		r    TxListRules
		err  error
	}{
		{"too many", AppendTxList(nil, txs), TxListRules{MaxTxs: len(txs) - 1}, ErrTxListTooLong},
		{"huge count", []byte{0x9b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, TxListRules{MaxTxs: 1000}, ErrTxListTooLong},
		{"entry over MaxTxBytes", AppendTxList(nil, txs), TxListRules{MaxTxs: 9, MaxTxBytes: MaxTxBytes}, ErrTxListMalformed},
		{"empty entry when NonEmpty", []byte{0x81, 0x40}, TxListRules{MaxTxs: 9, NonEmpty: true}, ErrTxListMalformed},
		{"non-shortest when Shortest", []byte{0x98, 0x01, 0x41, 0x01}, TxListRules{MaxTxs: 9, Shortest: true}, ErrTxListMalformed},
		{"empty list", []byte{0x80}, TxListRules{MaxTxs: 9}, ErrTxListMalformed},
		{"indefinite", []byte{0x9f, 0x41, 0x01, 0xff}, TxListRules{MaxTxs: 9}, ErrTxListMalformed},
		{"text entry", []byte{0x81, 0x61, 'a'}, TxListRules{MaxTxs: 9}, ErrTxListMalformed},
		{"length past the end", []byte{0x81, 0x5b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, TxListRules{MaxTxs: 9}, ErrTxListMalformed},
		{"trailing bytes", []byte{0x81, 0x41, 0x01, 0x00}, TxListRules{MaxTxs: 9}, ErrTxListMalformed},
	} {
		if _, err := DecodeTxList(tc.in, tc.r); !errors.Is(err, tc.err) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.err)
		}
	}
	// The lenient rules take what the strict ones refuse.
	for _, in := range [][]byte{{0x81, 0x40}, {0x98, 0x01, 0x41, 0x01}} {
		if _, err := DecodeTxList(in, TxListRules{MaxTxs: 9}); err != nil {
			t.Errorf("%x under lenient rules: %v", in, err)
		}
	}
}

// FuzzDecodeTxList: any input is refused with one of the two sentinels or
// decoded into 1..MaxTxs copies; under the strict rules what decodes
// re-encodes to exactly the input, under the lenient ones to a list that
// decodes to the same txs.
func FuzzDecodeTxList(f *testing.F) {
	f.Add(AppendTxList(nil, [][]byte{{1, 2, 3}, bytes.Repeat([]byte{9}, 300)}))
	f.Add([]byte{0x81, 0x40})
	f.Add([]byte{0x98, 0x01, 0x41, 0x01})
	f.Add([]byte{0x9f, 0x41, 0x01, 0xff})
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, r := range []TxListRules{{MaxTxs: 16}, {MaxTxs: 16, MaxTxBytes: 300, NonEmpty: true, Shortest: true}} {
			txs, err := DecodeTxList(data, r)
			if err != nil {
				if !errors.Is(err, ErrTxListMalformed) && !errors.Is(err, ErrTxListTooLong) {
					t.Fatalf("error %v wraps neither sentinel", err)
				}
				continue
			}
			if len(txs) == 0 || len(txs) > r.MaxTxs {
				t.Fatalf("%d txs", len(txs))
			}
			again := AppendTxList(nil, txs)
			if r.Shortest && !bytes.Equal(again, data) {
				t.Fatalf("strict rules accepted a second byte form %x", data)
			}
			back, err := DecodeTxList(again, r)
			if err != nil || len(back) != len(txs) {
				t.Fatalf("re-encoded list: %v", err)
			}
			for i := range txs {
				if !bytes.Equal(back[i], txs[i]) || r.NonEmpty && len(txs[i]) == 0 || r.MaxTxBytes > 0 && len(txs[i]) > r.MaxTxBytes {
					t.Fatalf("tx %d", i)
				}
			}
		}
	})
}
