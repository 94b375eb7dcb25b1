package royalty

import (
	"testing"

	"github.com/dure-network/dure/chain"
	"github.com/dure-network/dure/chain/moduletest"
)

const cid = "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy"

func holders(pairs ...any) []Holder {
	var out []Holder
	for i := 0; i < len(pairs); i += 2 {
		u := uint64(pairs[i+1].(int))
		switch x := pairs[i].(type) {
		case chain.Address:
			out = append(out, Holder{Account: x, Units: u})
		case string:
			out = append(out, Holder{Split: x, Units: u})
		}
	}
	return out
}

// band registers the split "band" (alice, bob, carol, dave at 25%).
func (h *harness) band() {
	h.t.Helper()
	h.must(alice, h.msg(MsgCreateSplit(h.codec, "band", holders(alice, 250000, bob, 250000, carol, 250000, dave, 250000))))
}

func (h *harness) register(r Register) {
	h.t.Helper()
	if r.CID == "" {
		r.CID = cid
	}
	if r.Denoms == nil {
		r.Denoms = []string{"nw"}
	}
	h.must(alice, h.msg(MsgRegister(h.codec, r)))
}

func TestPayAndClaimExact(t *testing.T) {
	h := newHarness(t, ptr(testRegistry()))
	h.register(Register{ID: "song", Holders: holders(alice, 333333, bob, 333333, carol, 333334)})
	// 100 nw among thirds: nothing is rounded away; the remainders carry.
	h.must(dave, h.msg(MsgPay(h.codec, "song", "nw", 100, "gig")))
	a, b, c := h.claimable("song", alice, "nw"), h.claimable("song", bob, "nw"), h.claimable("song", carol, "nw")
	if a != 33 || b != 33 || c != 33 {
		t.Fatalf("claimable %d %d %d, want 33 each with 1 unit carried", a, b, c)
	}
	h.must(dave, h.msg(MsgPay(h.codec, "song", "nw", 200, "")))
	a, b, c = h.claimable("song", alice, "nw"), h.claimable("song", bob, "nw"), h.claimable("song", carol, "nw")
	// Each is exactly floor(units·300/10^6); the 2 units carried are paid
	// as they become whole.
	if a != 99 || b != 99 || c != 100 {
		t.Fatalf("after 300: %d+%d+%d", a, b, c)
	}
	h.must(dave, h.msg(MsgPay(h.codec, "song", "nw", 700, "")))
	if a, b, c := h.claimable("song", alice, "nw"), h.claimable("song", bob, "nw"), h.claimable("song", carol, "nw"); a+b+c != 999 {
		t.Fatalf("after 1000: %d+%d+%d, want 999 (1 carried)", a, b, c)
	}
	b = h.claimable("song", bob, "nw")
	before := h.bal(bob, "nw")
	h.must(bob, h.msg(MsgClaim(h.codec, "song", "")))
	if got := h.bal(bob, "nw") - before; got != b {
		t.Fatalf("bob claimed %d, claimable was %d", got, b)
	}
	if err := h.deliver(bob, h.msg(MsgClaim(h.codec, "song", ""))); !isErr(err, ErrNothingToClaim) {
		t.Fatalf("second claim: %v", err)
	}
	if err := h.checkInvariants(); err != nil {
		t.Fatal(err)
	}
}

func ptr[T any](v T) *T { return &v }

func TestNestedAndWaterfall(t *testing.T) {
	h := newHarness(t, ptr(testRegistry()))
	h.band()
	// The work: 90% the band, 10% the producer (dave again, directly);
	// the label recoups 1,000 nw first, then the holders take the rest.
	h.register(Register{ID: "hit", Holders: holders("band", 900000, stranger, 100000),
		Waterfall: []Tranche{{Account: label, Threshold: 1000}, {Split: "hit"}}})
	h.must(fan, h.msg(MsgPay(h.codec, "hit", "nw", 600, "")))
	if got := h.claimable("hit/t0", label, "nw"); got != 600 {
		t.Fatalf("label %d, want 600", got)
	}
	h.must(fan, h.msg(MsgPay(h.codec, "hit", "nw", 1400, ""))) // 400 to the label, 1000 to the holders
	if got := h.claimable("hit/t0", label, "nw"); got != 1000 {
		t.Fatalf("label %d, want 1000 (recouped)", got)
	}
	if got := h.claimable("hit", stranger, "nw"); got != 100 {
		t.Fatalf("producer %d, want 100", got)
	}
	for _, m := range []chain.Address{alice, bob, carol, dave} {
		if got := h.claimable("band", m, "nw"); got != 225 {
			t.Fatalf("band member %s: %d, want 225", m, got)
		}
	}
	if err := h.checkInvariants(); err != nil {
		t.Fatal(err)
	}
}

func TestRefusals(t *testing.T) {
	h := newHarness(t, ptr(testRegistry()))
	h.band()
	h.register(Register{ID: "song", Holders: holders(alice, 500000, bob, 500000), ResaleBps: 500})
	c := h.codec
	reg := func(mut func(*Register)) func() (chain.Msg, error) {
		return func() (chain.Msg, error) {
			r := Register{ID: "new", CID: cid, Denoms: []string{"nw"}, Holders: holders(alice, 1000000)}
			mut(&r)
			return MsgRegister(c, r)
		}
	}
	for _, tc := range []struct {
		name   string
		sender chain.Address
		msg    func() (chain.Msg, error)
		want   error
	}{
		{"split sums short", alice, func() (chain.Msg, error) { return MsgCreateSplit(c, "x", holders(alice, 999999)) }, ErrBadSplit},
		{"split sums over", alice, func() (chain.Msg, error) { return MsgCreateSplit(c, "x", holders(alice, 600000, bob, 400001)) }, ErrBadSplit},
		{"split zero units", alice, func() (chain.Msg, error) { return MsgCreateSplit(c, "x", holders(alice, 1000000, bob, 0)) }, ErrBadSplit},
		{"split duplicate holder", alice, func() (chain.Msg, error) { return MsgCreateSplit(c, "x", holders(alice, 500000, alice, 500000)) }, ErrBadSplit},
		{"split exists", alice, func() (chain.Msg, error) { return MsgCreateSplit(c, "band", holders(alice, 1000000)) }, ErrExists},
		{"split bad id", alice, func() (chain.Msg, error) { return MsgCreateSplit(c, "Band!", holders(alice, 1000000)) }, ErrBadID},
		{"split reserved id", alice, func() (chain.Msg, error) { return MsgCreateSplit(c, "song/t0", holders(alice, 1000000)) }, ErrBadID},
		{"split unknown nested", alice, func() (chain.Msg, error) { return MsgCreateSplit(c, "x", holders("nope", 1000000)) }, ErrUnknownSplit},
		{"split no holders", alice, func() (chain.Msg, error) { return MsgCreateSplit(c, "x", nil) }, ErrBadSplit},
		{"register bad cid", alice, reg(func(r *Register) { r.CID = "not a cid" }), ErrBadMetadata},
		{"register bad isrc", alice, reg(func(r *Register) { r.ISRC = "KR-A01-26-00001" }), ErrBadMetadata},
		{"register bad iswc check", alice, reg(func(r *Register) { r.ISWC = "T0345246802" }), ErrBadMetadata},
		{"register no denoms", alice, reg(func(r *Register) { r.Denoms = []string{} }), ErrBadDenom},
		{"register dup denom", alice, reg(func(r *Register) { r.Denoms = []string{"nw", "nw"} }), ErrBadDenom},
		{"register resale above max", alice, reg(func(r *Register) { r.ResaleBps = 1001 }), ErrCapIncrease},
		{"register one tranche", alice, reg(func(r *Register) { r.Waterfall = []Tranche{{Split: "new"}} }), ErrBadWaterfall},
		{"register last tranche capped", alice, reg(func(r *Register) {
			r.Waterfall = []Tranche{{Account: label, Threshold: 5}, {Split: "new", Threshold: 9}}
		}), ErrBadWaterfall},
		{"register thresholds not rising", alice, reg(func(r *Register) {
			r.Waterfall = []Tranche{{Account: label, Threshold: 5}, {Account: bob, Threshold: 5}, {Split: "new"}}
		}), ErrBadWaterfall},
		{"register waterfall two denoms", alice, reg(func(r *Register) {
			r.Denoms = []string{"nw", "krw"}
			r.Waterfall = []Tranche{{Account: label, Threshold: 5}, {Split: "new"}}
		}), ErrBadWaterfall},
		{"register exists", alice, reg(func(r *Register) { r.ID = "song" }), ErrExists},
		{"pay zero", fan, func() (chain.Msg, error) { return MsgPay(c, "song", "nw", 0, "") }, ErrZeroAmount},
		{"pay unknown", fan, func() (chain.Msg, error) { return MsgPay(c, "nope", "nw", 5, "") }, ErrUnknownSplit},
		{"pay wrong denom", fan, func() (chain.Msg, error) { return MsgPay(c, "song", "krw", 5, "") }, ErrBadDenom},
		{"pay more than held", fan, func() (chain.Msg, error) { return MsgPay(c, "song", "nw", 1<<62, "") }, chain.ErrInsufficient},
		{"claim nothing", alice, func() (chain.Msg, error) { return MsgClaim(c, "song", "") }, ErrNothingToClaim},
		{"claim unknown denom", alice, func() (chain.Msg, error) { return MsgClaim(c, "song", "krw") }, ErrNothingToClaim},
		{"transfer too many", bob, func() (chain.Msg, error) { return MsgTransfer(c, "song", fan, 500001) }, ErrNoShares},
		{"transfer zero", bob, func() (chain.Msg, error) { return MsgTransfer(c, "song", fan, 0) }, ErrNoShares},
		{"transfer non-holder", fan, func() (chain.Msg, error) { return MsgTransfer(c, "song", bob, 1) }, ErrNoShares},
		{"transfer to self", bob, func() (chain.Msg, error) { return MsgTransfer(c, "song", bob, 1) }, chain.ErrInvalidMsg},
		{"terms not creator", bob, func() (chain.Msg, error) { return MsgProposeTerms(c, "song", 400) }, ErrNotCreator},
		{"terms increase above cap", alice, func() (chain.Msg, error) { return MsgProposeTerms(c, "song", 601) }, ErrCapIncrease},
		{"fee not operator", alice, func() (chain.Msg, error) { return MsgProposeFee(c, 300) }, ErrNotOperator},
		{"fee increase above cap", operator, func() (chain.Msg, error) { return MsgProposeFee(c, 351) }, ErrCapIncrease},
		{"grant not operator", alice, func() (chain.Msg, error) { return MsgGrantPlatform(c, alice, "me") }, ErrNotOperator},
		{"report not platform", alice, func() (chain.Msg, error) {
			return MsgReport(c, SubmitReport{ID: "r", Period: "2026-11", Denom: "nw", Lines: []ReportLine{{Work: "song", Territory: "KR", Amount: 1}}})
		}, ErrNotPlatform},
		{"report bad territory", melon, func() (chain.Msg, error) {
			return MsgReport(c, SubmitReport{ID: "r", Period: "2026-11", Denom: "nw", Lines: []ReportLine{{Work: "song", Territory: "Korea", Amount: 1}}})
		}, ErrBadReport},
		{"report no lines", melon, func() (chain.Msg, error) {
			return MsgReport(c, SubmitReport{ID: "r", Period: "2026-11", Denom: "nw"})
		}, ErrBadReport},
		{"report unknown work", melon, func() (chain.Msg, error) {
			return MsgReport(c, SubmitReport{ID: "r", Period: "2026-11", Denom: "nw", Lines: []ReportLine{{Work: "nope", Territory: "KR", Amount: 1}}})
		}, ErrUnknownWork},
		{"report supersedes unknown", melon, func() (chain.Msg, error) {
			return MsgReport(c, SubmitReport{ID: "r", Period: "2026-11", Denom: "nw", Supersedes: "nope", Lines: []ReportLine{{Work: "song", Territory: "KR", Amount: 1}}})
		}, ErrUnknownReport},
		{"sell too many", bob, func() (chain.Msg, error) { return MsgSell(c, "song", 500001, "nw", 1) }, ErrNoShares},
		{"sell price zero", bob, func() (chain.Msg, error) { return MsgSell(c, "song", 1, "nw", 0) }, ErrZeroAmount},
		{"sell overflow", bob, func() (chain.Msg, error) { return MsgSell(c, "song", 500000, "nw", 1<<60) }, ErrOverflow},
		{"buy unknown", fan, func() (chain.Msg, error) { return MsgBuy(c, 9, 0) }, ErrUnknownOrder},
		{"cancel unknown", fan, func() (chain.Msg, error) { return MsgCancelOrder(c, 9) }, ErrUnknownOrder},
		{"auction not creator", bob, func() (chain.Msg, error) { return MsgOpenAuction(c, "song", 10, "nw", 1, 60) }, ErrNotCreator},
		{"auction wrong denom", alice, func() (chain.Msg, error) { return MsgOpenAuction(c, "song", 10, "krw", 1, 60) }, ErrBadDenom},
		{"auction too long", alice, func() (chain.Msg, error) { return MsgOpenAuction(c, "song", 10, "nw", 1, MaxAuctionSeconds+1) }, chain.ErrInvalidMsg},
		{"auction too many units", alice, func() (chain.Msg, error) { return MsgOpenAuction(c, "song", 500001, "nw", 1, 60) }, ErrNoShares},
		{"bid unknown", fan, func() (chain.Msg, error) { return MsgBid(c, 9, 1, 1) }, ErrUnknownAuction},
		{"close unknown", fan, func() (chain.Msg, error) { return MsgCloseAuction(c, 9) }, ErrUnknownAuction},
		{"unknown type", fan, func() (chain.Msg, error) { return chain.Msg{Module: ModuleName, Type: "nope", Body: []byte{0x80}}, nil }, chain.ErrUnknownMsg},
		{"garbage body", fan, func() (chain.Msg, error) {
			return chain.Msg{Module: ModuleName, Type: TypePay, Body: []byte{0xff}}, nil
		}, chain.ErrInvalidMsg},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := h.keyCount()
			err := h.deliver(tc.sender, h.msg(tc.msg()))
			if err == nil || !isErr(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			if chain.ResultCode(err) == chain.CodeInternal {
				t.Fatalf("unclassified error %v", err)
			}
			if h.keyCount() != n {
				t.Fatalf("refused, yet the key count changed")
			}
		})
	}
	if err := h.checkInvariants(); err != nil {
		t.Fatal(err)
	}
}

func TestNestingBounds(t *testing.T) {
	h := newHarness(t, ptr(testRegistry()))
	h.must(alice, h.msg(MsgCreateSplit(h.codec, "l0", holders(alice, 1000000))))
	for i := 1; i <= MaxDepth; i++ {
		h.must(alice, h.msg(MsgCreateSplit(h.codec, "l"+string(rune('0'+i)), holders("l"+string(rune('0'+i-1)), 500000, bob, 500000))))
	}
	err := h.deliver(alice, h.msg(MsgCreateSplit(h.codec, "too-deep", holders("l4", 1000000))))
	if !isErr(err, ErrTooDeep) {
		t.Fatalf("depth %d: %v", MaxDepth+1, err)
	}
	var many []Holder
	for i := 0; i <= MaxNested; i++ {
		id := "n" + string(rune('a'+i))
		h.must(alice, h.msg(MsgCreateSplit(h.codec, id, holders(alice, 1000000))))
		many = append(many, Holder{Split: id, Units: 1})
	}
	many[0].Units = TotalUnits - uint64(len(many)-1)
	if err := h.deliver(alice, h.msg(MsgCreateSplit(h.codec, "wide", many))); !isErr(err, ErrBadSplit) {
		t.Fatalf("%d nested: %v", len(many), err)
	}
	// A payment to the deepest split reaches every level exactly.
	h.must(fan, h.msg(MsgPay(h.codec, "l4", "krw", 1_000_003, "")))
	if got := h.claimable("l0", alice, "krw"); got != 62500 {
		t.Fatalf("l0 alice %d, want 1,000,003/16 = 62500 (3 carried)", got)
	}
	if err := h.checkInvariants(); err != nil {
		t.Fatal(err)
	}
}

func TestTermsTimelockAndCap(t *testing.T) {
	h := newHarness(t, ptr(testRegistry()))
	h.register(Register{ID: "song", Holders: holders(alice, 500000, bob, 500000), ResaleBps: 500})
	h.must(alice, h.msg(MsgProposeTerms(h.codec, "song", 600)))
	// A second proposal cannot stack on the pending one past the cap.
	if err := h.deliver(alice, h.msg(MsgProposeTerms(h.codec, "song", 700))); !isErr(err, ErrCapIncrease) {
		t.Fatalf("stacked increase: %v", err)
	}
	h.endBlock(7*86400 - 10)
	if w := h.mustQuery("work", map[string]string{"id": "song"}).(Work); w.ResaleBps != 500 || w.PendingResaleBps != 600 {
		t.Fatalf("before the timelock: %+v", w)
	}
	h.endBlock(10)
	h.endBlock(1)
	if w := h.mustQuery("work", map[string]string{"id": "song"}).(Work); w.ResaleBps != 600 || w.PendingAt != 0 {
		t.Fatalf("after the timelock: %+v", w)
	}
	// Platform fee: operator only, same rule.
	h.must(operator, h.msg(MsgProposeFee(h.codec, 350)))
	h.endBlock(7 * 86400)
	h.endBlock(1)
	if r := h.mustQuery("registry", nil).(*Registry); r.PlatformBps != 350 {
		t.Fatalf("platform fee %d", r.PlatformBps)
	}
}

func TestOpenRegistry(t *testing.T) {
	h := newHarness(t, nil)
	if err := h.deliver(alice, h.msg(MsgGrantPlatform(h.codec, bob, "x"))); !isErr(err, ErrNotOperator) {
		t.Fatalf("granting another in an open registry: %v", err)
	}
	h.must(bob, h.msg(MsgGrantPlatform(h.codec, bob, "bob-fm")))
	h.register(Register{ID: "song", Holders: holders(alice, 1000000)})
	h.must(bob, h.msg(MsgReport(h.codec, SubmitReport{ID: "r1", Period: "2026-11", Denom: "nw",
		Lines: []ReportLine{{Work: "song", Territory: "KR", Units: 10, Amount: 70}}})))
	if got := h.claimable("song", alice, "nw"); got != 70 {
		t.Fatalf("claimable %d", got)
	}
	if err := h.deliver(alice, h.msg(MsgProposeFee(h.codec, 10))); !isErr(err, ErrNotOperator) {
		t.Fatalf("fee in an open registry: %v", err)
	}
}

func TestReportsSupersedeAndStatements(t *testing.T) {
	h := newHarness(t, ptr(testRegistry()))
	h.band()
	h.register(Register{ID: "a", Holders: holders("band", 1000000)})
	h.register(Register{ID: "b", Holders: holders(alice, 1000000)})
	rep := func(id, sup string, lines ...ReportLine) SubmitReport {
		return SubmitReport{ID: id, Period: "2026-11", Denom: "nw", Lines: lines, Supersedes: sup}
	}
	before := h.bal(melon, "nw")
	h.must(melon, h.msg(MsgReport(h.codec, rep("m1", "", ReportLine{Work: "a", Territory: "KR", Units: 100, Amount: 1000},
		ReportLine{Work: "b", Territory: "KR", Units: 10, Amount: 500}, ReportLine{Work: "a", Territory: "JP", Units: 7, Amount: 203}))))
	if paid := before - h.bal(melon, "nw"); paid != 1703 {
		t.Fatalf("paid %d", paid)
	}
	if err := h.deliver(melon, h.msg(MsgReport(h.codec, rep("m1", "", ReportLine{Work: "a", Territory: "KR", Amount: 1})))); !isErr(err, ErrDuplicateReport) {
		t.Fatalf("duplicate: %v", err)
	}
	// The correction: a up by 97, b down by 200 (credited back to melon
	// for b, used by its next report of b).
	before = h.bal(melon, "nw")
	h.must(melon, h.msg(MsgReport(h.codec, rep("m1-fix", "m1", ReportLine{Work: "a", Territory: "KR", Units: 110, Amount: 1300},
		ReportLine{Work: "b", Territory: "KR", Units: 6, Amount: 300}))))
	if paid := before - h.bal(melon, "nw"); paid != 97 {
		t.Fatalf("correction paid %d, want 97", paid)
	}
	if err := h.deliver(melon, h.msg(MsgReport(h.codec, rep("m1-fix2", "m1", ReportLine{Work: "a", Territory: "KR", Amount: 1})))); !isErr(err, ErrSuperseded) {
		t.Fatalf("superseding twice: %v", err)
	}
	if c := h.mustQuery("credit", map[string]string{"platform": melon.String(), "work": "b", "denom": "nw"}).(map[string]string); c["credit"] != "200" {
		t.Fatalf("credit %v", c)
	}
	before = h.bal(melon, "nw")
	h.must(melon, h.msg(MsgReport(h.codec, SubmitReport{ID: "m2", Period: "2026-12", Denom: "nw",
		Lines: []ReportLine{{Work: "b", Territory: "KR", Units: 10, Amount: 450}}})))
	if paid := before - h.bal(melon, "nw"); paid != 250 {
		t.Fatalf("next report paid %d, want 450 - 200 credit", paid)
	}
	st := h.mustQuery("statement", map[string]string{"split": "band", "address": carol.String(), "period": "2026-11", "denom": "nw"}).(StatementResult)
	if st.Credited != 1300 || st.Share != 325 {
		t.Fatalf("statement %+v", st)
	}
	if err := h.checkInvariants(); err != nil {
		t.Fatal(err)
	}
}

func TestSaleRoyaltyAndFee(t *testing.T) {
	h := newHarness(t, ptr(testRegistry()))
	h.register(Register{ID: "song", Holders: holders(alice, 500000, bob, 500000), ResaleBps: 500})
	h.must(fan, h.msg(MsgPay(h.codec, "song", "nw", 1000, "")))
	h.must(bob, h.msg(MsgSell(h.codec, "song", 100000, "nw", 3)))
	if err := h.deliver(bob, h.msg(MsgTransfer(h.codec, "song", fan, 400001))); !isErr(err, ErrNoShares) {
		t.Fatalf("transfer of locked units: %v", err)
	}
	opB, alB, boB := h.bal(operator, "nw"), h.bal(alice, "nw"), h.bal(bob, "nw")
	h.must(fan, h.msg(MsgBuy(h.codec, 1, 33333))) // 99,999 nw: 2.5% fee, 5% royalty, the rest bob
	fee, roy, sel := h.bal(operator, "nw")-opB, h.bal(alice, "nw")-alB, h.bal(bob, "nw")-boB
	if fee+roy+sel != 99999 || fee != 2500 || roy != 5000 {
		t.Fatalf("fee %d royalty %d seller %d", fee, roy, sel)
	}
	// Accrued before the sale stays with bob; after, the buyer earns.
	h.must(dave, h.msg(MsgPay(h.codec, "song", "nw", 1_000_000, "")))
	if got := h.claimable("song", fan, "nw"); got != 33333 {
		t.Fatalf("fan %d", got)
	}
	if got := h.claimable("song", bob, "nw"); got != 500+466667 {
		t.Fatalf("bob %d", got)
	}
	h.must(bob, h.msg(MsgCancelOrder(h.codec, 1)))
	if err := h.checkInvariants(); err != nil {
		t.Fatal(err)
	}
}

func TestAuctionUniformPrice(t *testing.T) {
	h := newHarness(t, ptr(testRegistry()))
	h.register(Register{ID: "song", Holders: holders(alice, 900000, bob, 100000),
		Waterfall: []Tranche{{Account: label, Threshold: 10_000}, {Split: "song"}}})
	h.must(alice, h.msg(MsgOpenAuction(h.codec, "song", 100000, "nw", 1, 3600)))
	h.must(fan, h.msg(MsgBid(h.codec, 1, 60000, 5)))
	h.must(fan2, h.msg(MsgBid(h.codec, 1, 50000, 3)))
	h.must(stranger, h.msg(MsgBid(h.codec, 1, 50000, 3))) // later at the same price: filled after fan2
	if err := h.deliver(fan, h.msg(MsgCloseAuction(h.codec, 1))); !isErr(err, ErrAuctionOpen) {
		t.Fatalf("early close: %v", err)
	}
	h.endBlock(3600)
	if err := h.deliver(fan, h.msg(MsgBid(h.codec, 1, 1, 9))); !isErr(err, ErrAuctionClosed) {
		t.Fatalf("late bid: %v", err)
	}
	f1, f2, s0, al := h.bal(fan, "nw"), h.bal(fan2, "nw"), h.bal(stranger, "nw"), h.bal(alice, "nw")
	h.must(bob, h.msg(MsgCloseAuction(h.codec, 1)))
	a := h.mustQuery("auction", map[string]string{"id": "1"}).(AuctionResult)
	if a.Price != 3 || a.Sold != 100000 {
		t.Fatalf("cleared at %d, sold %d", a.Price, a.Sold)
	}
	if h.units("song", fan) != 60000 || h.units("song", fan2) != 40000 || h.units("song", stranger) != 0 {
		t.Fatalf("units %d %d %d", h.units("song", fan), h.units("song", fan2), h.units("song", stranger))
	}
	// fan escrowed 300,000 and pays 180,000; fan2 pays 120,000 of 150,000; stranger gets all back.
	if h.bal(fan, "nw")-f1 != 120000 || h.bal(fan2, "nw")-f2 != 30000 || h.bal(stranger, "nw")-s0 != 150000 {
		t.Fatal("refunds wrong")
	}
	// Proceeds 300,000: 7,500 fee, the label's 10,000 recoup, the rest alice.
	if got := h.claimable("song/t0", label, "nw"); got != 10000 {
		t.Fatalf("label %d", got)
	}
	if got := h.bal(alice, "nw") - al; got != 300000-7500-10000 {
		t.Fatalf("alice got %d", got)
	}
	if err := h.checkInvariants(); err != nil {
		t.Fatal(err)
	}
}

func TestGenesisExportRoundTrip(t *testing.T) {
	h := newHarness(t, ptr(testRegistry()))
	h.band()
	h.register(Register{ID: "song", Holders: holders("band", 500000, fan, 500000), ResaleBps: 300})
	h.must(melon, h.msg(MsgReport(h.codec, SubmitReport{ID: "m1", Period: "2026-11", Denom: "nw", Lines: []ReportLine{{Work: "song", Territory: "KR", Units: 1, Amount: 77}}})))
	h.must(fan, h.msg(MsgSell(h.codec, "song", 10, "nw", 2)))
	h.must(alice, h.msg(MsgProposeTerms(h.codec, "song", 400)))
	h.endBlock(0)
	gen := h.mt.Export() // fails the test on an export error
	fresh, err := moduletest.TryNew(t, h.config(gen))
	if err != nil {
		t.Fatal(err)
	}
	if a, b := h.mt.Dump(), fresh.Dump(); a != b {
		t.Fatalf("state differs after the round trip:\nexported\n%s\nimported\n%s", a, b)
	}
}

func TestMarketAndReportRefusals(t *testing.T) {
	h := newHarness(t, ptr(testRegistry()))
	c := h.codec
	h.register(Register{ID: "song", Holders: holders(alice, 500000, bob, 500000), ResaleBps: 500})
	h.must(bob, h.msg(MsgSell(c, "song", 1000, "nw", 2)))
	h.must(alice, h.msg(MsgOpenAuction(c, "song", 1000, "nw", 5, 60)))
	h.must(melon, h.msg(MsgReport(c, SubmitReport{ID: "m1", Period: "2026-11", Denom: "nw", Lines: []ReportLine{{Work: "song", Territory: "KR", Amount: 10}}})))
	line := []ReportLine{{Work: "song", Territory: "KR", Amount: 1}}
	many := make([]ReportLine, MaxReportLines+1)
	for i := range many {
		many[i] = line[0]
	}
	for _, tc := range []struct {
		name   string
		sender chain.Address
		msg    func() (chain.Msg, error)
		want   error
	}{
		{"buy own order", bob, func() (chain.Msg, error) { return MsgBuy(c, 1, 0) }, chain.ErrInvalidMsg},
		{"buy more than offered", fan, func() (chain.Msg, error) { return MsgBuy(c, 1, 1001) }, ErrNoShares},
		{"buy without funds", addr(77), func() (chain.Msg, error) { return MsgBuy(c, 1, 0) }, chain.ErrInsufficient},
		{"cancel by another", alice, func() (chain.Msg, error) { return MsgCancelOrder(c, 1) }, chain.ErrUnauthorized},
		{"sell locked units", bob, func() (chain.Msg, error) { return MsgSell(c, "song", 499001, "nw", 2) }, ErrNoShares},
		{"bid by the seller", alice, func() (chain.Msg, error) { return MsgBid(c, 1, 10, 5) }, chain.ErrInvalidMsg},
		{"bid below minimum", fan, func() (chain.Msg, error) { return MsgBid(c, 1, 10, 4) }, ErrBadPrice},
		{"bid for more than offered", fan, func() (chain.Msg, error) { return MsgBid(c, 1, 1001, 5) }, chain.ErrInvalidMsg},
		{"bid overflow", fan, func() (chain.Msg, error) { return MsgBid(c, 1, 1000, 1<<62) }, ErrOverflow},
		{"bid without funds", addr(77), func() (chain.Msg, error) { return MsgBid(c, 1, 10, 5) }, chain.ErrInsufficient},
		{"revoke not operator", alice, func() (chain.Msg, error) { return MsgRevokePlatform(c, melon) }, ErrNotOperator},
		{"grant empty name", operator, func() (chain.Msg, error) { return MsgGrantPlatform(c, fan, "") }, chain.ErrInvalidMsg},
		{"report too many lines", melon, func() (chain.Msg, error) {
			return MsgReport(c, SubmitReport{ID: "big", Period: "2026-11", Denom: "nw", Lines: many})
		}, ErrBadReport},
		{"report bad period", melon, func() (chain.Msg, error) {
			return MsgReport(c, SubmitReport{ID: "p", Period: "2026/11", Denom: "nw", Lines: line})
		}, ErrBadReport},
		{"report wrong denom", melon, func() (chain.Msg, error) {
			return MsgReport(c, SubmitReport{ID: "d", Period: "2026-11", Denom: "krw", Lines: line})
		}, ErrBadDenom},
		{"supersede another period", melon, func() (chain.Msg, error) {
			return MsgReport(c, SubmitReport{ID: "x", Period: "2026-12", Denom: "nw", Supersedes: "m1", Lines: line})
		}, ErrBadReport},
		{"supersede another platform's", genie, func() (chain.Msg, error) {
			return MsgReport(c, SubmitReport{ID: "x", Period: "2026-11", Denom: "nw", Supersedes: "m1", Lines: line})
		}, ErrUnknownReport},
		{"pay memo too long", fan, func() (chain.Msg, error) { return MsgPay(c, "song", "nw", 1, string(make([]byte, MaxMemoLen+1))) }, chain.ErrInvalidMsg},
		{"claim unknown split", fan, func() (chain.Msg, error) { return MsgClaim(c, "nope", "") }, ErrUnknownSplit},
		{"terms unknown work", alice, func() (chain.Msg, error) { return MsgProposeTerms(c, "nope", 1) }, ErrUnknownWork},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := h.keyCount()
			err := h.deliver(tc.sender, h.msg(tc.msg()))
			if err == nil || !isErr(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			if chain.ResultCode(err) == chain.CodeInternal {
				t.Fatalf("unclassified error %v", err)
			}
			if h.keyCount() != n {
				t.Fatal("refused, yet the key count changed")
			}
		})
	}
	// Closing twice; too many denoms on one split.
	h.endBlock(60)
	h.must(fan, h.msg(MsgCloseAuction(c, 1)))
	if err := h.deliver(fan, h.msg(MsgCloseAuction(c, 1))); !isErr(err, ErrAuctionClosed) {
		t.Fatalf("second close: %v", err)
	}
	h.must(alice, h.msg(MsgCreateSplit(c, "open", holders(alice, 1000000))))
	var err error
	for i := 0; i <= MaxSplitDenoms && err == nil; i++ {
		d := []string{"dure", "nw", "krw", "usdc"}[i%4]
		if i >= 4 {
			h.must(city, h.msg(currencyCreate(c, d+"x"+string(rune('a'+i)))))
			h.must(city, h.msg(currencyMint(c, d+"x"+string(rune('a'+i)), fan)))
			d = d + "x" + string(rune('a'+i))
		}
		err = h.deliver(fan, h.msg(MsgPay(c, "open", d, 1, "")))
	}
	if !isErr(err, ErrTooManyDenoms) {
		t.Fatalf("a %d-th denom: %v", MaxSplitDenoms+1, err)
	}
	if err := h.checkInvariants(); err != nil {
		t.Fatal(err)
	}
}
