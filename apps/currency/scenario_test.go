package currency

import (
	"errors"
	"testing"

	"github.com/dure-network/dure/chain"
)

// TestScenarioNowon: Seoul Nowon's NW as configuration only — 1 NW = 1
// KRW (0 decimals), 700 NW per volunteer hour, 50,000 NW holding cap,
// 3-year expiry, spendable only at approved local merchants.
func TestScenarioNowon(t *testing.T) {
	var (
		gu        = addr(50) // Nowon-gu office: issuer
		center    = addr(51) // volunteer center: coordinator
		dongOff   = addr(52) // community office: merchant approver
		volunteer = addr(53)
		neighbor  = addr(54)
		cafe      = addr(55)
		outsider  = addr(56) // merchant outside the district, never approved
	)
	h := newHarness(t, Params{}, Genesis{NativeDenom: "dure"})
	c := h.codec
	nw := Rules{HoldingCap: 50000, ExpirySeconds: 3 * yearSec, HourlyRate: 700, Transfer: TransferMerchants, Redeemable: true}
	h.must(gu, h.msg(MsgCreate(c, "nw", 0, nw)))
	h.must(gu, h.msg(MsgGrant(c, "nw", "coordinator", center)))
	h.must(gu, h.msg(MsgGrant(c, "nw", "approver", dongOff)))
	h.must(dongOff, h.msg(MsgRegisterMerchant(c, "nw", cafe, []string{"food"})))

	// 4 hours 30 minutes of volunteering: 3,150 NW.
	h.must(center, h.msg(MsgConfirmHours(c, "nw", volunteer, 4, 30)))
	if b := h.bal(volunteer, "nw"); b != 3150 {
		t.Fatalf("volunteer has %d NW, want 3150", b)
	}
	// Up to the cap: 67 more hours (46,900 NW) reach 50,050 > 50,000 and are
	// rejected whole; 66 hours (46,200) land at 49,350.
	if err := h.deliver(center, h.msg(MsgConfirmHours(c, "nw", volunteer, 67, 0))); !errors.Is(err, ErrCapExceeded) {
		t.Fatalf("hours past the cap: %v", err)
	}
	h.must(center, h.msg(MsgConfirmHours(c, "nw", volunteer, 66, 0)))
	if b := h.bal(volunteer, "nw"); b != 49350 {
		t.Fatalf("volunteer has %d, want 49350", b)
	}
	// Only approved merchants: not a neighbour, not an unapproved shop.
	if err := h.deliver(volunteer, h.msg(MsgSend(c, neighbor, "nw", 1000))); !errors.Is(err, ErrTransferNotAllowed) {
		t.Fatalf("gift to neighbour: %v", err)
	}
	if err := h.deliver(volunteer, h.msg(MsgPay(c, outsider, "nw", 1000, ""))); !errors.Is(err, ErrNotMerchant) {
		t.Fatalf("pay outside merchant: %v", err)
	}
	h.must(volunteer, h.msg(MsgPay(c, cafe, "nw", 4500, "food")))
	h.must(cafe, h.msg(MsgRedeem(c, "nw", 4500, "nowon-2024-0001")))
	if s := h.supply("nw"); s != 49350-4500 {
		t.Fatalf("supply %d", s)
	}
	// Three years after minting the remainder expires and is burned.
	h.now += 3*yearSec + day
	h.endBlock(1)
	if b := h.bal(volunteer, "nw"); b != 0 {
		t.Fatalf("after 3 years volunteer still holds %d", b)
	}
	if s := h.supply("nw"); s != 0 {
		t.Fatalf("supply %d after expiry", s)
	}
	if err := h.checkInvariants(); err != nil {
		t.Fatal(err)
	}
}

// TestScenarioSuwonFoodVoucher: a welfare voucher usable only at food
// merchants until its end date; what recipients did not spend returns to
// the city.
func TestScenarioSuwonFoodVoucher(t *testing.T) {
	var (
		suwon    = addr(60)
		welfare  = addr(61) // welfare office: minter and approver
		family1  = addr(62)
		family2  = addr(63)
		market   = addr(64)
		pcRoom   = addr(65)
		bookshop = addr(66)
	)
	h := newHarness(t, Params{}, Genesis{NativeDenom: "dure"})
	c := h.codec
	end := h.now + 90*day
	h.must(suwon, h.msg(MsgCreate(c, "suwon-food", 0, Rules{Transfer: TransferMerchants,
		Categories: []string{"food"}, VoucherEnd: chain.UnixSeconds(end), Redeemable: true})))
	h.must(suwon, h.msg(MsgGrant(c, "suwon-food", "minter", welfare)))
	h.must(suwon, h.msg(MsgGrant(c, "suwon-food", "approver", welfare)))
	h.must(welfare, h.msg(MsgRegisterMerchant(c, "suwon-food", market, []string{"food"})))
	h.must(welfare, h.msg(MsgRegisterMerchant(c, "suwon-food", pcRoom, []string{"entertainment"})))
	h.must(welfare, h.msg(MsgRegisterMerchant(c, "suwon-food", bookshop, []string{"education"})))
	h.must(welfare, h.msg(MsgMint(c, "suwon-food", family1, 200000)))
	h.must(welfare, h.msg(MsgMint(c, "suwon-food", family2, 200000)))

	h.must(family1, h.msg(MsgPay(c, market, "suwon-food", 150000, "food")))
	for _, m := range []chain.Address{pcRoom, bookshop} {
		if err := h.deliver(family2, h.msg(MsgPay(c, m, "suwon-food", 1000, ""))); !errors.Is(err, ErrCategoryNotAllowed) {
			t.Fatalf("voucher at %s: %v", m, err)
		}
	}
	if err := h.deliver(family2, h.msg(MsgSend(c, family1, "suwon-food", 1000))); !errors.Is(err, ErrTransferNotAllowed) {
		t.Fatalf("voucher resale: %v", err)
	}
	h.now = end
	if err := h.deliver(family2, h.msg(MsgPay(c, market, "suwon-food", 1000, "food"))); !errors.Is(err, ErrVoucherEnded) {
		t.Fatalf("pay after end: %v", err)
	}
	h.endBlock(1)
	if b1, b2 := h.bal(family1, "suwon-food"), h.bal(family2, "suwon-food"); b1 != 0 || b2 != 0 {
		t.Fatalf("families keep %d, %d", b1, b2)
	}
	if b := h.bal(suwon, "suwon-food"); b != 50000+200000 {
		t.Fatalf("city got back %d, want 250000", b)
	}
	h.must(market, h.msg(MsgRedeem(c, "suwon-food", 150000, "suwon-settle-7")))
	if s := h.supply("suwon-food"); s != 250000 {
		t.Fatalf("supply %d", s)
	}
	if err := h.checkInvariants(); err != nil {
		t.Fatal(err)
	}
}

// TestScenarioTimeBank: one hour given is one hour of credit, in minutes,
// passed freely between members.
func TestScenarioTimeBank(t *testing.T) {
	var (
		bank   = addr(70)
		helper = addr(71)
		elder  = addr(72)
	)
	h := newHarness(t, Params{}, Genesis{NativeDenom: "dure"})
	c := h.codec
	h.must(bank, h.msg(MsgCreate(c, "hours", 0, Rules{Transfer: TransferFree, TimeBank: true})))
	h.must(bank, h.msg(MsgConfirmHours(c, "hours", helper, 2, 0)))
	h.must(helper, h.msg(MsgSend(c, elder, "hours", 90)))
	if a, b := h.bal(helper, "hours"), h.bal(elder, "hours"); a != 30 || b != 90 {
		t.Fatalf("helper %d, elder %d minutes", a, b)
	}
	if err := h.checkInvariants(); err != nil {
		t.Fatal(err)
	}
}
