package energy

import (
	"fmt"
	"math"
	"testing"
)

// TestSettlement: one trade of 1000 Wh, seller ask 80, buyer limit 150
// all-in. Net bid floor((150-10)×10000/10100) = 138, clearing price
// 80 + (138-80)/2 = 109; cost 109 + fee (10 + 1) = 120, escrow 150, so 30
// returns at clearing. Then the readings decide.
func TestSettlement(t *testing.T) {
	const T = t0 + 3600
	type reading struct {
		present  bool
		imp, exp uint64
	}
	cases := []struct {
		name           string
		seller, buyer  reading
		delivered      uint64
		sellerNet      int64 // seller's balance change
		buyerNet       int64
		fee            uint64
		penalty        uint64
		sellerExcessWh uint64
		buyerExcessWh  uint64
	}{
		{"full delivery", reading{true, 0, 1000}, reading{true, 1000, 0}, 1000, 109, -120, 11, 0, 0, 0},
		{"seller over-produces: excess at feed-in", reading{true, 0, 1500}, reading{true, 1000, 0}, 1000, 109, -120, 11, 0, 500, 0},
		{"buyer over-consumes: excess at retail", reading{true, 0, 1000}, reading{true, 1300, 0}, 1000, 109, -120, 11, 0, 0, 300},
		// 600 Wh: value 65, fee 6 + 0; shortfall 400 Wh worth 43, penalty 20% = 8.
		{"partial: seller short", reading{true, 0, 600}, reading{true, 1000, 0}, 600, 65 - 8, -71 + 8, 6, 8, 0, 400},
		// 700 Wh: value 76, fee 7 + 0; the buyer's shortfall is not penalised.
		{"partial: buyer short", reading{true, 0, 1000}, reading{true, 700, 0}, 700, 76, -83, 7, 0, 300, 0},
		// nothing delivered: all refunded, penalty 20% of 109 = 21.
		{"no delivery", reading{true, 0, 0}, reading{true, 1000, 0}, 0, -21, 21, 0, 21, 0, 1000},
		{"missing seller reading: exported nothing", reading{}, reading{true, 1000, 0}, 0, -21, 21, 0, 21, 0, 1000},
		{"missing buyer reading: imported all it bought", reading{true, 0, 1000}, reading{}, 1000, 109, -120, 11, 0, 0, 0},
		{"both missing", reading{}, reading{}, 0, -21, 21, 0, 21, 0, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := base(t)
			supply := h.total()
			s0, b0, o0 := h.bal(owner(1)), h.bal(owner(2)), h.bal(operator)
			m, err := MsgOffer(h.codec, "m1", T, 1000, 80)
			h.must(owner(1), m, err)
			m, err = MsgBid(h.codec, "m2", T, 1000, 150)
			h.must(owner(2), m, err)
			h.until(T-300, 300) // gate closes: clearing
			cl := h.mustQuery("clearing", map[string]string{"market": "nowon", "interval": "2026-12-02T01:00:00Z"}).(ClearingResult)
			if cl.Price != 109 || cl.VolumeWh != 1000 || len(cl.TradeList) != 1 || cl.TradeList[0].Cost != 120 {
				t.Fatalf("clearing %+v", cl)
			}
			if got := int64(h.bal(owner(2))) - int64(b0); got != -120 {
				t.Fatalf("after clearing the buyer is at %d, want -120 (escrow above cost refunded)", got)
			}
			h.checkEscrow()
			h.until(T+900, 300)
			ds, db := newDevice(1), newDevice(2)
			if c.seller.present {
				if err := h.submit(ds.read(h.codec, T, c.seller.imp, c.seller.exp)); err != nil {
					t.Fatal(err)
				}
			}
			if c.buyer.present {
				if err := h.submit(db.read(h.codec, T, c.buyer.imp, c.buyer.exp)); err != nil {
					t.Fatal(err)
				}
			}
			h.until(T+900+3600, 300) // reading deadline: settlement
			h.checkEscrow()
			if h.bal(EscrowAccount()) != 0 {
				t.Fatalf("escrow left %d", h.bal(EscrowAccount()))
			}
			if h.total() != supply {
				t.Fatal("supply changed")
			}
			if got := int64(h.bal(owner(1))) - int64(s0); got != c.sellerNet {
				t.Errorf("seller %+d, want %+d", got, c.sellerNet)
			}
			if got := int64(h.bal(owner(2))) - int64(b0); got != c.buyerNet {
				t.Errorf("buyer %+d, want %+d", got, c.buyerNet)
			}
			if got := h.bal(operator) - o0; got != c.fee {
				t.Errorf("fee %d, want %d", got, c.fee)
			}
			st := h.mustQuery("statement", map[string]string{"meter": "m1", "interval": "2026-12-02T01:00:00Z"}).(*Statement)
			bt := h.mustQuery("statement", map[string]string{"meter": "m2", "interval": "2026-12-02T01:00:00Z"}).(*Statement)
			if st.DeliveredWh != c.delivered || bt.DeliveredWh != c.delivered || st.PenaltyPaid != c.penalty || bt.PenaltyGot != c.penalty {
				t.Errorf("statements %+v %+v", st, bt)
			}
			if st.ExcessExportWh != c.sellerExcessWh || (c.buyer.present && bt.ExcessImportWh != c.buyerExcessWh) {
				t.Errorf("excess: seller %d buyer %d", st.ExcessExportWh, bt.ExcessImportWh)
			}
			if st.FeedInValue != st.ExcessExportWh*60/1000 || bt.RetailValue != bt.ExcessImportWh*180/1000 {
				t.Errorf("fallback values %d %d", st.FeedInValue, bt.RetailValue)
			}
			// Budget balance per settlement: the buyer's payment is the
			// seller's receipt plus the fee.
			if bt.Paid != st.Received+bt.Fees {
				t.Errorf("paid %d != received %d + fees %d", bt.Paid, st.Received, bt.Fees)
			}
		})
	}
}

// TestProRata: a seller exporting 900 of 1,200 sold Wh to two buyers
// delivers 450 and 450 (pro rata 600:600 → 450 each).
func TestProRata(t *testing.T) {
	const T = t0 + 3600
	h := base(t)
	h.meter(6, KindConsumer, 0)
	m, _ := MsgOffer(h.codec, "m1", T, 1200, 50)
	h.must(owner(1), m, nil)
	m, _ = MsgBid(h.codec, "m2", T, 600, 200)
	h.must(owner(2), m, nil)
	h.fund(owner(6))
	m, _ = MsgBid(h.codec, "m6", T, 600, 200)
	h.must(owner(6), m, nil)
	h.until(T+900, 300)
	if err := h.submit(newDevice(1).read(h.codec, T, 0, 900), newDevice(2).read(h.codec, T, 600, 0),
		newDevice(6).read(h.codec, T, 600, 0)); err != nil {
		t.Fatal(err)
	}
	h.until(T+900+3600, 300)
	cl := h.mustQuery("clearing", map[string]string{"market": "nowon", "interval": "1796173200"}).(ClearingResult)
	if len(cl.TradeList) != 2 || cl.TradeList[0].DeliveredWh != 450 || cl.TradeList[1].DeliveredWh != 450 || !cl.Settled {
		t.Fatalf("trades %+v", cl.TradeList)
	}
	h.checkEscrow()
}

// TestEVSession: a session escrows MaxWh at tariff + fee, the signed
// session reading pays min(measured, MaxWh), and a session without a
// reading is refunded after its deadline.
func TestEVSession(t *testing.T) {
	h := base(t)
	driver := stranger
	d0, c0, o0 := h.bal(driver), h.bal(owner(5)), h.bal(operator)
	m, err := MsgStartSession(h.codec, "m5", 20_000, 200, 0)
	h.must(driver, m, err)
	// tariff 150: value 3000, fee 200 + 30 → escrow 3230
	if got := d0 - h.bal(driver); got != 3230 {
		t.Fatalf("escrow %d", got)
	}
	d := newDevice(5)
	d.counter, d.imp = 0, 1000
	r := SessionReading{Session: 1, Charger: "m5", Counter: 1, StartWh: 1000, StopWh: 13_500}
	r.Sign(h.codec, devKey(4)) // wrong key
	m, _ = MsgEndSession(h.codec, r)
	if err := h.deliver(gateway, m); err == nil {
		t.Fatal("bad signature accepted")
	}
	r.Sign(h.codec, devKey(5))
	m, _ = MsgEndSession(h.codec, r)
	h.must(gateway, m, nil)
	// 12,500 Wh: value 1875, fee 125 + 18 = 143
	if got := d0 - h.bal(driver); got != 1875+143 {
		t.Fatalf("driver paid %d", got)
	}
	if h.bal(owner(5))-c0 != 1875 || h.bal(operator)-o0 != 143 {
		t.Fatal("charger or operator not paid")
	}
	if err := h.deliver(gateway, m); err == nil {
		t.Fatal("settled twice")
	}
	// A second session with no reading is refunded after deadline + 1 h.
	d1 := h.bal(driver)
	m, _ = MsgStartSession(h.codec, "m5", 1000, 200, t0+7200)
	h.must(driver, m, nil)
	h.until(t0+7200+3600, 900)
	if h.bal(driver) != d1 {
		t.Fatal("expired session not refunded")
	}
	s := h.mustQuery("session", map[string]string{"id": "2"}).(*Session)
	if !s.Settled || s.Refunded != s.Escrow {
		t.Fatalf("session %+v", s)
	}
	h.checkEscrow()
}

// TestBoundedWork: with room for 4 orders per block, three intervals of
// 4 orders each clear one per block, oldest first, and settle the same
// way; nothing is lost or reordered.
func TestBoundedWork(t *testing.T) {
	h := newHarness(t, Params{MaxWorkPerBlock: 4}, owner(1), owner(2), owner(6), owner(7))
	h.setupMarket(stdMarket())
	h.meter(1, KindProducer, 0)
	h.meter(6, KindProducer, 0)
	h.meter(2, KindConsumer, 0)
	h.meter(7, KindConsumer, 0)
	T := t0 + 3600
	for i := int64(0); i < 3; i++ {
		for _, n := range []int{1, 6} {
			m, _ := MsgOffer(h.codec, fmt.Sprintf("m%d", n), T+i*900, 500, 60)
			h.must(owner(n), m, nil)
		}
		for _, n := range []int{2, 7} {
			m, _ := MsgBid(h.codec, fmt.Sprintf("m%d", n), T+i*900, 400, 200)
			h.must(owner(n), m, nil)
		}
	}
	h.now = T + 2*900 // all three gates have closed
	var order []int64
	for b := 0; b < 3; b++ {
		h.events = nil
		h.block(0)
		for _, e := range h.events {
			if e.Type == "energy.cleared" {
				order = append(order, T+int64(len(order))*900)
			}
		}
		if len(order) != b+1 {
			t.Fatalf("block %d: %d intervals cleared, want %d", b, len(order), b+1)
		}
	}
	for i := int64(0); i < 3; i++ {
		cl := h.mustQuery("clearing", map[string]string{"market": "nowon", "interval": fmt.Sprint(T + i*900)}).(ClearingResult)
		if cl.VolumeWh != 800 {
			t.Fatalf("interval %d: %+v", i, cl.Clearing)
		}
	}
	h.checkEscrow()
	h.until(T+3*900+3600+1800, 300)
	h.checkEscrow()
	if h.bal(EscrowAccount()) != 0 {
		t.Fatal("not all settled")
	}
}

// TestHugeReadingCannotStopSettlement: a device reporting an absurd
// export (near 2^64 Wh) settles like any other; the recorded feed-in value
// saturates instead of failing EndBlock.
func TestHugeReadingCannotStopSettlement(t *testing.T) {
	const T = t0 + 3600
	h := newHarness(t, Params{}, owner(1), owner(2))
	mk := stdMarket()
	mk.FeedInPrice = 5000
	h.setupMarket(mk)
	h.meter(1, KindProsumer, 0)
	h.meter(2, KindConsumer, 0)
	m, _ := MsgOffer(h.codec, "m1", T, 1000, 80)
	h.must(owner(1), m, nil)
	m, _ = MsgBid(h.codec, "m2", T, 1000, 150)
	h.must(owner(2), m, nil)
	h.until(T+900, 300)
	if err := h.submit(newDevice(1).read(h.codec, T, 0, math.MaxUint64), newDevice(2).read(h.codec, T, 1000, 0)); err != nil {
		t.Fatal(err)
	}
	h.until(T+900+3600, 300)
	st := h.mustQuery("statement", map[string]string{"meter": "m1", "interval": fmt.Sprint(T)}).(*Statement)
	if st.DeliveredWh != 1000 || st.FeedInValue != math.MaxUint64 {
		t.Fatalf("statement %+v", st)
	}
	h.checkEscrow()
}
