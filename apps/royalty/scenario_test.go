package royalty

import (
	"testing"

	"github.com/dure-network/dure/chain"
)

// TestScenarioBand is the README's story: the four-member band Haneul
// (alice, bob, carol, dave) releases "blue-night" through a label that
// advanced 10,000,000 nw and recoups it first; 20% of the song is offered
// to fans at auction; two streaming platforms report November; a fan
// resells part of its shares; December is reported and everyone claims.
func TestScenarioBand(t *testing.T) {
	h := newHarness(t, ptr(testRegistry()))
	c := h.codec
	h.must(alice, h.msg(MsgCreateSplit(c, "haneul", holders(alice, 250000, bob, 250000, carol, 250000, dave, 250000))))
	h.must(alice, h.msg(MsgRegister(c, Register{ID: "blue-night", CID: cid, ISRC: "KRA012600001", ISWC: "T0345246801",
		Denoms: []string{"nw"}, Holders: holders("haneul", 800000, alice, 200000),
		Waterfall: []Tranche{{Account: label, Threshold: 10_000_000}, {Split: "blue-night"}}, ResaleBps: 500})))

	// Primary auction: 200,000 units (20%), at least 10 nw each.
	h.must(alice, h.msg(MsgOpenAuction(c, "blue-night", 200000, "nw", 10, 3*86400)))
	h.must(fan, h.msg(MsgBid(c, 1, 150000, 12)))
	h.must(fan2, h.msg(MsgBid(c, 1, 100000, 11)))
	h.endBlock(3 * 86400)
	aliceBefore := h.bal(alice, "nw")
	h.must(stranger, h.msg(MsgCloseAuction(c, 1)))
	if h.units("blue-night", fan) != 150000 || h.units("blue-night", fan2) != 50000 {
		t.Fatalf("auction allocation %d / %d", h.units("blue-night", fan), h.units("blue-night", fan2))
	}
	// 200,000 × 11 = 2,200,000: 55,000 fee, 2,145,000 toward the label's advance.
	if got := h.claimable("blue-night/t0", label, "nw"); got != 2_145_000 {
		t.Fatalf("label after the auction %d", got)
	}
	if h.bal(alice, "nw") != aliceBefore {
		t.Fatal("alice was paid before the label recouped")
	}

	// November: melon and genie report and pay; melon corrects its report.
	h.must(melon, h.msg(MsgReport(c, SubmitReport{ID: "melon-2026-11", Period: "2026-11", Denom: "nw", Lines: []ReportLine{
		{Work: "blue-night", Territory: "KR", Units: 1_100_000, Amount: 5_500_000},
		{Work: "blue-night", Territory: "JP", Units: 100_000, Amount: 500_000}}})))
	h.must(genie, h.msg(MsgReport(c, SubmitReport{ID: "genie-2026-11", Period: "2026-11", Denom: "nw", Lines: []ReportLine{
		{Work: "blue-night", Territory: "KR", Units: 500_000, Amount: 2_500_000}}})))
	// 2,145,000 + 6,000,000 + 2,500,000: the advance is recouped with 645,000 to spare.
	if got := h.claimable("blue-night/t0", label, "nw"); got != 10_000_000 {
		t.Fatalf("label %d, want exactly the advance", got)
	}
	h.must(melon, h.msg(MsgReport(c, SubmitReport{ID: "melon-2026-11-v2", Period: "2026-11", Denom: "nw", Supersedes: "melon-2026-11",
		Lines: []ReportLine{{Work: "blue-night", Territory: "KR", Units: 1_120_000, Amount: 5_600_000},
			{Work: "blue-night", Territory: "JP", Units: 100_000, Amount: 500_000}}})))
	// Holders now share 745,000: the band 80% (596,000), fan 15% (111,750), fan2 5% (37,250).
	if got := h.claimable("blue-night", fan, "nw"); got != 111_750 {
		t.Fatalf("fan %d", got)
	}
	for _, m := range []chain.Address{alice, bob, carol, dave} {
		if got := h.claimable("haneul", m, "nw"); got != 149_000 {
			t.Fatalf("member %s: %d", m, got)
		}
	}
	st := h.mustQuery("statement", map[string]string{"split": "haneul", "address": bob.String(), "period": "2026-11", "denom": "nw"}).(StatementResult)
	if st.Credited != 596_000 || st.Share != 149_000 {
		t.Fatalf("bob's November statement %+v", st)
	}
	if !st.Exact {
		t.Fatalf("bob's holding never changed, yet the statement is not exact: %+v", st)
	}

	// The fan resells 50,000 units at 14 nw: 700,000, of which 17,500
	// platform fee and 35,000 resale royalty to alice, 647,500 to the fan.
	h.must(fan, h.msg(MsgSell(c, "blue-night", 50000, "nw", 14)))
	fb, ab, ob := h.bal(fan, "nw"), h.bal(alice, "nw"), h.bal(operator, "nw")
	h.must(fan2, h.msg(MsgBuy(c, 1, 0)))
	if h.bal(fan, "nw")-fb != 647_500 || h.bal(alice, "nw")-ab != 35_000 || h.bal(operator, "nw")-ob != 17_500 {
		t.Fatalf("resale parts: fan %d alice %d operator %d", h.bal(fan, "nw")-fb, h.bal(alice, "nw")-ab, h.bal(operator, "nw")-ob)
	}

	// December: 3,000,003 nw (odd on purpose). The fan keeps what it
	// accrued before the sale; from now it earns on 100,000 units.
	h.must(melon, h.msg(MsgReport(c, SubmitReport{ID: "melon-2026-12", Period: "2026-12", Denom: "nw", Lines: []ReportLine{
		{Work: "blue-night", Territory: "KR", Units: 600_001, Amount: 3_000_003}}})))
	fst := h.mustQuery("statement", map[string]string{"split": "blue-night", "address": fan.String(), "period": "2026-11", "denom": "nw"}).(StatementResult)
	if fst.Exact || fst.Units != 100000 {
		t.Fatalf("the fan sold shares after November, yet its November statement says exact: %+v", fst)
	}
	if got := h.claimable("blue-night", fan, "nw"); got != 111_750+300_000 {
		t.Fatalf("fan after December %d", got)
	}
	if got := h.claimable("blue-night", fan2, "nw"); got != 37_250+300_000 {
		t.Fatalf("fan2 after December %d", got)
	}

	// Everyone claims; every nw paid in is accounted for to the unit.
	var claimed uint64
	claim := func(split string, a chain.Address) {
		want := h.claimable(split, a, "nw")
		b := h.bal(a, "nw")
		h.must(a, h.msg(MsgClaim(c, split, "")))
		if got := h.bal(a, "nw") - b; got != want {
			t.Fatalf("%s claimed %d, claimable %d", a, got, want)
		}
		claimed += want
	}
	claim("blue-night/t0", label)
	claim("blue-night", fan)
	claim("blue-night", fan2)
	for _, m := range []chain.Address{alice, bob, carol, dave} {
		claim("haneul", m)
	}
	// In: 2,145,000 + 6,100,000 + 2,500,000 + 3,000,003 = 13,745,003.
	// Carried: the band's and fans' sub-unit remainders of the odd 3 nw.
	pool := h.bal(PoolAccount(), "nw")
	if claimed+pool != 13_745_003 || pool > 7 {
		t.Fatalf("claimed %d + still in the pool %d != 13,745,003", claimed, pool)
	}
	if err := h.checkInvariants(); err != nil {
		t.Fatal(err)
	}
}
