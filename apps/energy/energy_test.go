package energy

import (
	"errors"
	"testing"

	"github.com/dure-network/dure/chain"
)

// base: market "nowon"; m1 prosumer, m2 consumer, m3 registered but not
// attested, m4 suspended, m5 ev-charger (tariff 150); the clock at t0.
func base(t *testing.T) *harness {
	h := newHarness(t, Params{}, owner(1), owner(2), owner(3), owner(4), owner(5))
	h.setupMarket(stdMarket())
	h.meter(1, KindProsumer, 0)
	h.meter(2, KindConsumer, 0)
	m, err := MsgRegisterMeter(h.codec, "m3", "nowon", devKey(3).PubKey(), KindProducer, 0)
	h.must(owner(3), m, err)
	h.meter(4, KindProducer, 0)
	m, err = MsgSuspendMeter(h.codec, "m4", false)
	h.must(operator, m, err)
	h.meter(5, KindEVCharger, 150)
	return h
}

func TestRefusals(t *testing.T) {
	future := t0 + 3600
	past := t0 - 900
	cases := []struct {
		name string
		act  func(h *harness) error
		want error
	}{
		{"create market: unknown denom", func(h *harness) error {
			mk := stdMarket()
			mk.ID, mk.Denom = "x", "nope"
			m, err := MsgCreateMarket(h.codec, mk)
			return h.try(city, m, err)
		}, ErrBadMarket},
		{"create market: twice", func(h *harness) error {
			m, err := MsgCreateMarket(h.codec, stdMarket())
			return h.try(city, m, err)
		}, ErrMarketExists},
		{"create market: interval not dividing a day", func(h *harness) error {
			mk := stdMarket()
			mk.ID, mk.IntervalSecs = "y", 7*60
			m, err := MsgCreateMarket(h.codec, mk)
			return h.try(city, m, err)
		}, ErrBadMarket},
		{"grant operator: not the creator", func(h *harness) error {
			m, err := MsgGrantOperator(h.codec, "nowon", stranger)
			return h.try(stranger, m, err)
		}, ErrNotCreator},
		{"attest: not an operator", func(h *harness) error {
			m, err := MsgAttestMeter(h.codec, "m3")
			return h.try(stranger, m, err)
		}, ErrNotOperator},
		{"register: meter exists", func(h *harness) error {
			m, err := MsgRegisterMeter(h.codec, "m1", "nowon", devKey(9).PubKey(), KindConsumer, 0)
			return h.try(stranger, m, err)
		}, ErrMeterExists},
		{"register: tariff on a consumer", func(h *harness) error {
			m, err := MsgRegisterMeter(h.codec, "m9", "nowon", devKey(9).PubKey(), KindConsumer, 5)
			return h.try(stranger, m, err)
		}, ErrBadMeter},
		{"order: unregistered meter", func(h *harness) error {
			m, err := MsgOffer(h.codec, "m99", future, 100, 50)
			return h.try(owner(1), m, err)
		}, ErrUnknownMeter},
		{"order: meter not attested", func(h *harness) error {
			m, err := MsgOffer(h.codec, "m3", future, 100, 50)
			return h.try(owner(3), m, err)
		}, ErrNotAttested},
		{"order: suspended meter", func(h *harness) error {
			m, err := MsgOffer(h.codec, "m4", future, 100, 50)
			return h.try(owner(4), m, err)
		}, ErrSuspended},
		{"order: not the owner", func(h *harness) error {
			m, err := MsgOffer(h.codec, "m1", future, 100, 50)
			return h.try(stranger, m, err)
		}, ErrNotOwner},
		{"order: consumer offering", func(h *harness) error {
			m, err := MsgOffer(h.codec, "m2", future, 100, 50)
			return h.try(owner(2), m, err)
		}, ErrWrongKind},
		{"order: misaligned interval", func(h *harness) error {
			m, err := MsgBid(h.codec, "m2", future+60, 100, 50)
			return h.try(owner(2), m, err)
		}, ErrMisaligned},
		{"order: after gate closure", func(h *harness) error {
			m, err := MsgBid(h.codec, "m2", t0+900, 100, 50)
			h.now = t0 + 600 // gate at t0+600
			return h.try(owner(2), m, err)
		}, ErrGateClosed},
		{"order: too far ahead", func(h *harness) error {
			m, err := MsgBid(h.codec, "m2", t0+8*86400, 100, 50)
			return h.try(owner(2), m, err)
		}, ErrTooFarAhead},
		{"order: insufficient escrow", func(h *harness) error {
			m, err := MsgBid(h.codec, "m2", future, 1_000_000, 100_000) // escrow 1e8 > 1e7 held
			return h.try(owner(2), m, err)
		}, chain.ErrInsufficient},
		{"order: both sides in one interval", func(h *harness) error {
			m, err := MsgOffer(h.codec, "m1", future, 100, 50)
			h.must(owner(1), m, err)
			m, err = MsgBid(h.codec, "m1", future, 100, 50)
			return h.try(owner(1), m, err)
		}, ErrBothSides},
		{"order: too many of one meter", func(h *harness) error {
			for i := 0; i < MaxOrdersPerMeter; i++ {
				m, err := MsgOffer(h.codec, "m1", future, 10, 50)
				h.must(owner(1), m, err)
			}
			m, err := MsgOffer(h.codec, "m1", future, 10, 50)
			return h.try(owner(1), m, err)
		}, ErrMeterOrders},
		{"order: zero Wh", func(h *harness) error {
			m, err := MsgOffer(h.codec, "m1", future, 0, 50)
			return h.try(owner(1), m, err)
		}, ErrBadOrder},
		{"cancel: after gate closure", func(h *harness) error {
			m, err := MsgBid(h.codec, "m2", t0+900, 100, 50)
			h.must(owner(2), m, err)
			h.block(600) // gate at t0+600
			m, err = MsgCancel(h.codec, 1)
			return h.try(owner(2), m, err)
		}, ErrGateClosed},
		{"cancel: not the owner", func(h *harness) error {
			m, err := MsgBid(h.codec, "m2", future, 100, 50)
			h.must(owner(2), m, err)
			m, err = MsgCancel(h.codec, 1)
			return h.try(stranger, m, err)
		}, ErrNotOwner},
		{"reading: unregistered meter", func(h *harness) error {
			r := newDevice(99).read(h.codec, past, 1, 1)
			return h.submit(r)
		}, ErrUnknownMeter},
		{"reading: suspended meter", func(h *harness) error {
			return h.submit(newDevice(4).read(h.codec, past, 0, 10))
		}, ErrSuspended},
		{"reading: bad device signature", func(h *harness) error {
			r := newDevice(1).read(h.codec, past, 5, 10)
			r.Sign(h.codec, devKey(2))
			return h.submit(r)
		}, ErrBadSignature},
		{"reading: tampered after signing", func(h *harness) error {
			r := newDevice(1).read(h.codec, past, 5, 10)
			r.EndExportWh += 1000
			return h.submit(newDevice(2).read(h.codec, past, 1, 0), r)
		}, ErrBadSignature},
		{"reading: misaligned interval", func(h *harness) error {
			return h.submit(newDevice(1).read(h.codec, past+1, 5, 10))
		}, ErrMisaligned},
		{"reading: interval not ended", func(h *harness) error {
			return h.submit(newDevice(1).read(h.codec, t0, 5, 10))
		}, ErrFutureInterval},
		{"reading: register going backwards", func(h *harness) error {
			d := newDevice(1)
			if err := h.submit(d.read(h.codec, past-900, 5, 10)); err != nil {
				return err
			}
			d.exp -= 3
			return h.submit(d.read(h.codec, past, 5, 1))
		}, ErrRegisterBack},
		{"reading: pagination gap", func(h *harness) error {
			d := newDevice(1)
			if err := h.submit(d.read(h.codec, past-900, 5, 10)); err != nil {
				return err
			}
			d.counter++ // one reading lost
			return h.submit(d.read(h.codec, past, 5, 10))
		}, ErrCounterGap},
		{"reading: duplicate", func(h *harness) error {
			r := newDevice(1).read(h.codec, past, 5, 10)
			if err := h.submit(r); err != nil {
				return err
			}
			return h.submit(r)
		}, ErrDuplicate},
		{"correct: not an operator", func(h *harness) error {
			if err := h.submit(newDevice(1).read(h.codec, past, 5, 10)); err != nil {
				return err
			}
			m, err := MsgCorrectReading(h.codec, "m1", past, 5, 8, "x")
			return h.try(stranger, m, err)
		}, ErrNotOperator},
		{"correct: more than the registers moved", func(h *harness) error {
			if err := h.submit(newDevice(1).read(h.codec, past, 5, 10)); err != nil {
				return err
			}
			m, err := MsgCorrectReading(h.codec, "m1", past, 5, 11, "x")
			return h.try(operator, m, err)
		}, ErrBadReading},
		{"correct: after the deadline", func(h *harness) error {
			if err := h.submit(newDevice(1).read(h.codec, past, 5, 10)); err != nil {
				return err
			}
			h.block(3600)
			m, err := MsgCorrectReading(h.codec, "m1", past, 5, 8, "x")
			return h.try(operator, m, err)
		}, ErrWindowClosed},
		{"session: not a charger", func(h *harness) error {
			m, err := MsgStartSession(h.codec, "m2", 1000, 500, 0)
			return h.try(stranger, m, err)
		}, ErrWrongKind},
		{"session: tariff above max price", func(h *harness) error {
			m, err := MsgStartSession(h.codec, "m5", 1000, 160, 0) // 150 + 10 + 1.5 > 160
			return h.try(stranger, m, err)
		}, ErrTariffTooHigh},
		{"unknown message", func(h *harness) error {
			return h.deliver(stranger, chain.Msg{Module: ModuleName, Type: "mint"})
		}, chain.ErrUnknownMsg},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := base(t)
			before := h.total()
			err := c.act(h)
			if !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
			if code := chain.ResultCode(err); code == chain.CodeInternal {
				t.Fatalf("unclassified error %v", err)
			}
			if h.total() != before {
				t.Fatalf("supply changed")
			}
			h.checkEscrow()
		})
	}
}

// TestReadingsAccepted: a batch of readings of several meters in counter
// order, a correction with its event, and the meter's registers.
func TestReadingsAccepted(t *testing.T) {
	h := base(t)
	d1, d2 := newDevice(1), newDevice(2)
	h.now = t0 + 3*900
	if err := h.submit(d1.read(h.codec, t0, 0, 100), d2.read(h.codec, t0, 70, 0),
		d1.read(h.codec, t0+900, 3, 200), d1.read(h.codec, t0+1800, 0, 0)); err != nil {
		t.Fatal(err)
	}
	mt := h.mustQuery("meter", map[string]string{"id": "m1"}).(*Meter)
	if mt.Counter != 3 || mt.ExportWh != 300 || mt.ImportWh != 3 || mt.LastInterval != t0+1800 {
		t.Fatalf("meter %+v", mt)
	}
	rs := h.mustQuery("readings", map[string]string{"meter": "m1"}).([]ReadingResult)
	if len(rs) != 3 || rs[1].ExportWh != 200 || rs[1].Interval != t0+900 {
		t.Fatalf("readings %+v", rs)
	}
	m, err := MsgCorrectReading(h.codec, "m1", t0+1800, 0, 0, "ok")
	h.must(operator, m, err)
	var seen bool
	for _, e := range h.events {
		seen = seen || e.Type == "energy.reading_corrected"
	}
	if !seen {
		t.Fatal("no correction event")
	}
	// An estimated reading is flagged.
	r := d2.read(h.codec, t0+900, 5, 0)
	r.Flag = FlagEstimated
	r.Sign(h.codec, devKey(2))
	if err := h.submit(r); err != nil {
		t.Fatal(err)
	}
	got := h.mustQuery("reading", map[string]string{"meter": "m2", "interval": "2026-12-02T00:15:00Z"}).(ReadingResult)
	if got.Flag != FlagEstimated || got.ImportWh != 5 {
		t.Fatalf("reading %+v", got)
	}
}

// TestCancelRefunds: a bid escrows max price × Wh; cancel returns it all.
func TestCancelRefunds(t *testing.T) {
	h := base(t)
	before := h.bal(owner(2))
	m, err := MsgBid(h.codec, "m2", t0+3600, 1500, 201)
	h.must(owner(2), m, err)
	if got := h.bal(owner(2)); got != before-302 { // ceil(1500×201/1000)
		t.Fatalf("after bid %d", before-got)
	}
	h.checkEscrow()
	m, err = MsgCancel(h.codec, 1)
	h.must(owner(2), m, err)
	if h.bal(owner(2)) != before || h.bal(EscrowAccount()) != 0 {
		t.Fatal("not refunded")
	}
	h.until(t0+3600+900+3600, 300)
	h.checkEscrow()
}
