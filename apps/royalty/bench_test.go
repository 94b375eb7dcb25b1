package royalty

import (
	"fmt"
	"testing"

	"github.com/dure-network/dure/chain"
)

// holderAddr is the i-th synthetic holder.
func holderAddr(i int) chain.Address {
	var a chain.Address
	a[0], a[1], a[2], a[3] = 0xee, byte(i>>16), byte(i>>8), byte(i)
	return a
}

// worldWithHolders registers "song" held by alice and spreads it over n
// holders by transfers (one unit each, alice keeping the rest).
func worldWithHolders(b testing.TB, n int) *harness {
	h := newHarness(b, ptr(testRegistry()))
	h.must(alice, h.msg(MsgRegister(h.codec, Register{ID: "song", CID: cid, Denoms: []string{"nw"}, Holders: holders(alice, 1000000)})))
	h.must(fan, h.msg(MsgPay(h.codec, "song", "nw", 1000, ""))) // the pool exists, holders settle on it
	for i := 1; i < n; i++ {
		h.must(alice, h.msg(MsgTransfer(h.codec, "song", holderAddr(i), 1)))
	}
	return h
}

// BenchmarkPay: the gas and time of one payment to a work with 2, 100 or
// 10,000 holders. The gas is the executor's schedule (reads, writes,
// bytes, events) and must not grow with the number of holders.
func BenchmarkPay(b *testing.B) {
	for _, n := range []int{2, 100, 10_000} {
		b.Run(fmt.Sprintf("holders=%d", n), func(b *testing.B) {
			h := worldWithHolders(b, n)
			msg := h.msg(MsgPay(h.codec, "song", "nw", 1_000_003, "bench"))
			b.ResetTimer()
			var gas uint64
			for i := 0; i < b.N; i++ {
				if err := h.deliver(fan, msg); err != nil {
					b.Fatal(err)
				}
				gas = h.mt.GasUsed()
			}
			b.ReportMetric(float64(gas), "gas/op")
		})
	}
}

// BenchmarkClaim: one holder's claim among 2 or 10,000 holders is O(1).
func BenchmarkClaim(b *testing.B) {
	for _, n := range []int{2, 10_000} {
		b.Run(fmt.Sprintf("holders=%d", n), func(b *testing.B) {
			h := worldWithHolders(b, n)
			pay := h.msg(MsgPay(h.codec, "song", "nw", 1_000, ""))
			claim := h.msg(MsgClaim(h.codec, "song", "nw"))
			var gas uint64
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				if err := h.deliver(fan, pay); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				if err := h.deliver(alice, claim); err != nil {
					b.Fatal(err)
				}
				gas = h.mt.GasUsed()
			}
			b.ReportMetric(float64(gas), "gas/op")
		})
	}
}

// BenchmarkReport1000Lines: a 1,000-line usage report over 100 works
// settles in one transaction; its gas must fit one block.
func BenchmarkReport1000Lines(b *testing.B) {
	h := newHarness(b, ptr(testRegistry()))
	h.must(alice, h.msg(MsgCreateSplit(h.codec, "band", holders(alice, 250000, bob, 250000, carol, 250000, dave, 250000))))
	for w := 0; w < 100; w++ {
		h.must(alice, h.msg(MsgRegister(h.codec, Register{ID: fmt.Sprintf("w%03d", w), CID: cid, Denoms: []string{"nw"},
			Holders: holders("band", 900000, alice, 100000)})))
	}
	terr := []string{"KR", "JP", "US", "DE", "FR", "GB", "TW", "TH", "VN", "ID"}
	var lines []ReportLine
	for i := 0; i < 1000; i++ {
		lines = append(lines, ReportLine{Work: fmt.Sprintf("w%03d", i%100), Territory: terr[i/100], Units: uint64(1000 + i), Amount: uint64(5000 + 7*i)})
	}
	var gas uint64
	var size int
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		m := h.msg(MsgReport(h.codec, SubmitReport{ID: fmt.Sprintf("r%d", i), Period: "2026-11", Denom: "nw", Lines: lines}))
		size = len(m.Body)
		if err := h.deliver(melon, m); err != nil {
			b.Fatal(err)
		}
		gas = h.mt.GasUsed() + chain.GasPerTx + chain.GasPerTxByte*uint64(size)
	}
	b.ReportMetric(float64(gas), "gas/op")
	b.ReportMetric(float64(size), "bytes/op")
}

// TestPayGasIndependentOfHolders is the benchmark's claim as a test: a
// payment to 10,000 holders costs the same gas (±5%) as to 2.
func TestPayGasIndependentOfHolders(t *testing.T) {
	if testing.Short() {
		t.Skip("builds 10,000 holders")
	}
	gas := map[int]uint64{}
	for _, n := range []int{2, 10_000} {
		h := worldWithHolders(t, n)
		h.must(fan, h.msg(MsgPay(h.codec, "song", "nw", 1_000_003, "x")))
		gas[n] = h.mt.GasUsed()
		h.must(alice, h.msg(MsgClaim(h.codec, "song", "")))
		if n == 10_000 {
			if err := h.checkInvariants(); err != nil {
				t.Fatal(err)
			}
		}
	}
	lo, hi := min(gas[2], gas[10_000]), max(gas[2], gas[10_000])
	if hi*100 > lo*105 {
		t.Fatalf("payment gas: %d with 2 holders, %d with 10,000", gas[2], gas[10_000])
	}
	t.Logf("payment gas: %d with 2 holders, %d with 10,000", gas[2], gas[10_000])
}
