package chain

import (
	"bytes"
	"math/rand/v2"
	"strings"
	"testing"
)

func randText(rng *rand.Rand) string {
	switch rng.IntN(6) {
	case 0:
		return ""
	case 1:
		return strings.Repeat("x", rng.IntN(300)) // 1- and 2-byte length heads
	case 2:
		return "주소 dure1qqq é"
	}
	b := make([]byte, rng.IntN(30))
	for i := range b {
		b[i] = byte(rng.IntN(256)) // may be invalid UTF-8
	}
	return string(b)
}

func randResult(rng *rand.Rand) TxResult {
	r := TxResult{Code: uint32(rng.Uint64() >> uint(rng.IntN(64))), Log: randText(rng), GasUsed: rng.Uint64() >> uint(rng.IntN(64))}
	switch rng.IntN(4) {
	case 0: // nil events
	case 1:
		r.Events = []Event{}
	default:
		for range rng.IntN(30) {
			e := Event{Type: randText(rng)}
			switch rng.IntN(4) {
			case 0:
			case 1:
				e.Attrs = []Attr{}
			default:
				for range rng.IntN(6) {
					e.Attrs = append(e.Attrs, Attr{Key: randText(rng), Value: randText(rng)})
				}
			}
			r.Events = append(r.Events, e)
		}
	}
	return r
}

// TestTxResultEncodingMatchesCodec: the hand-written encoding of results
// (results-root leaves, consensus-visible) is byte-identical to the
// codec's, and ResultsRoot equals the root over the codec's leaves.
func TestTxResultEncodingMatchesCodec(t *testing.T) {
	c := MustCodec()
	rng := rand.New(rand.NewPCG(3, 4))
	var rs []TxResult
	for i := 0; i < 5000; i++ {
		r := randResult(rng)
		want, err := c.Marshal(&r)
		if err != nil {
			t.Fatal(err)
		}
		if got := appendTxResult(nil, &r); !bytes.Equal(got, want) {
			t.Fatalf("result %+v:\n got  %x\n want %x", r, got, want)
		}
		rs = append(rs, r)
	}
	for _, n := range []int{0, 1, 2, 7, 100, len(rs)} {
		leaves := make([][]byte, n)
		for i := range leaves {
			leaves[i], _ = c.Marshal(&rs[i])
		}
		if got, want := ResultsRoot(c, rs[:n]), MerkleRoot(leaves); got != want {
			t.Fatalf("%d results: root %s, codec's %s", n, got, want)
		}
	}
}

// FuzzTxResultEncoding compares the encodings on results built from
// arbitrary input.
func FuzzTxResultEncoding(f *testing.F) {
	c := MustCodec()
	f.Add(uint32(0), "", uint64(0), "currency.send", "from", "dure1xyz", uint8(1))
	f.Add(uint32(7), "insufficient funds", uint64(1<<40), "", "", "\xff\xfe", uint8(3))
	f.Fuzz(func(t *testing.T, code uint32, log string, gas uint64, typ, k, v string, shape uint8) {
		r := TxResult{Code: code, Log: log, GasUsed: gas}
		switch shape % 4 {
		case 1:
			r.Events = []Event{}
		case 2:
			r.Events = []Event{{Type: typ}, {Type: typ, Attrs: []Attr{}}}
		case 3:
			r.Events = []Event{{Type: typ, Attrs: []Attr{{Key: k, Value: v}, {Key: v, Value: k}}}}
		}
		want, err := c.Marshal(&r)
		if err != nil {
			t.Skip(err)
		}
		if got := appendTxResult(nil, &r); !bytes.Equal(got, want) {
			t.Fatalf("result %+v:\n got  %x\n want %x", r, got, want)
		}
	})
}

func BenchmarkResultsRoot5000(b *testing.B) {
	c := MustCodec()
	rs := make([]TxResult, 5000)
	for i := range rs {
		rs[i] = TxResult{GasUsed: 3452, Events: []Event{{Type: "currency.send", Attrs: []Attr{
			{Key: "from", Value: "dure1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq"}, {Key: "to", Value: "dure1ppppppppppppppppppppppppppppppppppppppp"},
			{Key: "denom", Value: "dure"}, {Key: "amount", Value: "1"}}}}}
	}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		ResultsRoot(c, rs)
	}
}
