package currency

import (
	"testing"

	"github.com/dure-network/dure/chain"
)

// BenchmarkPayMerchant measures merchant payments through Deliver (decode,
// rule checks, lot moves, event) on the in-memory store: the module's own
// cost per payment, without signatures or Badger.
func BenchmarkPayMerchant(b *testing.B) {
	for _, bc := range []struct {
		name  string
		denom string
		typ   string
	}{
		{"nw-lots-pay", "nw", TypePay},
		{"native-send", "dure", TypeSend},
	} {
		b.Run(bc.name, func(b *testing.B) {
			const payers = 1000
			g := localGenesis(1_700_000_000)
			g.Merchants = append(g.Merchants, GenesisMerchant{Denom: "dure", Address: grocer, Categories: []string{"food"}})
			for i := 0; i < payers; i++ {
				a := addr(byte(i))
				a[1], a[2] = byte(i>>8), 0xbe
				g.Balances = append(g.Balances, GenesisBalance{Address: a, Denom: bc.denom, Amount: 40000})
			}
			h := newHarness(b, Params{}, g)
			msgs := make([]chain.Msg, payers)
			senders := make([]chain.Address, payers)
			for i := range msgs {
				senders[i] = addr(byte(i))
				senders[i][1], senders[i][2] = byte(i>>8), 0xbe
				if bc.typ == TypePay {
					msgs[i] = h.msg(MsgPay(h.codec, grocer, bc.denom, 1, "food"))
				} else {
					msgs[i] = h.msg(MsgSend(h.codec, grocer, bc.denom, 1))
				}
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if err := h.deliver(senders[i%payers], msgs[i%payers]); err != nil {
					b.Fatal(err)
				}
				if i%1000 == 999 {
					h.events = h.events[:0]
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "payments/s")
		})
	}
}
