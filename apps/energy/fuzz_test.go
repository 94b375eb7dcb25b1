package energy

import (
	"encoding/json"
	"testing"

	"github.com/dure-network/dure/chain"
)

// FuzzDeliver feeds arbitrary bodies to every message type from senders
// with every role, on a market with meters, open orders and readings: no
// panic, only classified errors, money conserved and escrow exact, and
// EndBlock never fails.
func FuzzDeliver(f *testing.F) {
	c := chain.MustCodec()
	r := newDevice(1).read(c, t0-900, 3, 40)
	seeds := []func() (chain.Msg, error){
		func() (chain.Msg, error) { mk := stdMarket(); mk.ID = "other"; return MsgCreateMarket(c, mk) },
		func() (chain.Msg, error) { return MsgGrantOperator(c, "nowon", stranger) },
		func() (chain.Msg, error) { return MsgRevokeOperator(c, "nowon", operator) },
		func() (chain.Msg, error) {
			return MsgRegisterMeter(c, "m9", "nowon", devKey(9).PubKey(), KindBattery, 0)
		},
		func() (chain.Msg, error) { return MsgAttestMeter(c, "m3") },
		func() (chain.Msg, error) { return MsgSuspendMeter(c, "m1", false) },
		func() (chain.Msg, error) { return MsgSubmitReadings(c, []Reading{r}) },
		func() (chain.Msg, error) { return MsgCorrectReading(c, "m1", t0-900, 1, 2, "fix") },
		func() (chain.Msg, error) { return MsgOffer(c, "m1", t0+3600, 500, 70) },
		func() (chain.Msg, error) { return MsgBid(c, "m2", t0+3600, 500, 170) },
		func() (chain.Msg, error) { return MsgCancel(c, 1) },
		func() (chain.Msg, error) { return MsgStartSession(c, "m5", 5000, 300, 0) },
		func() (chain.Msg, error) {
			sr := SessionReading{Session: 3, Charger: "m5", Counter: 1, StartWh: 0, StopWh: 900}
			sr.Sign(c, devKey(5))
			return MsgEndSession(c, sr)
		},
	}
	types := MsgTypes()
	for i, s := range seeds {
		m, err := s()
		if err != nil {
			f.Fatal(err)
		}
		ti := 0
		for j, typ := range types {
			if typ == m.Type {
				ti = j
			}
		}
		_ = i
		f.Add(uint8(ti), uint8(i%4), []byte(m.Body))
	}
	senders := []chain.Address{owner(1), owner(2), operator, city, stranger, gateway}
	f.Fuzz(func(t *testing.T, typ, sender uint8, body []byte) {
		h := base(t)
		m, _ := MsgOffer(h.codec, "m1", t0+3600, 800, 60)
		h.must(owner(1), m, nil)
		m, _ = MsgBid(h.codec, "m2", t0+3600, 500, 170)
		h.must(owner(2), m, nil)
		m, _ = MsgStartSession(h.codec, "m5", 5000, 300, 0)
		h.must(stranger, m, nil)
		supply := h.total()
		msg := chain.Msg{Module: ModuleName, Type: types[int(typ)%len(types)], Body: body}
		err := h.deliver(senders[int(sender)%len(senders)], msg)
		if err != nil && chain.ResultCode(err) == chain.CodeInternal {
			t.Fatalf("%s: unclassified error %v", msg.Type, err)
		}
		h.checkEscrow()
		h.until(t0+2*86400, 6*3600) // clears, settles, expires everything
		h.checkEscrow()
		if h.total() != supply {
			t.Fatal("supply changed")
		}
	})
}

// FuzzGenesis: arbitrary genesis JSON is loaded or refused, never panics,
// and a loaded genesis leaves a state the queries can read.
func FuzzGenesis(f *testing.F) {
	mk := stdMarket()
	mk.Creator = city
	good, _ := json.Marshal(Genesis{Markets: []Market{mk},
		Operators: []GenesisOperator{{Market: "nowon", Address: stranger}},
		Meters: []GenesisMeter{{ID: "roof-1", Market: "nowon", Owner: owner(1), DeviceKey: devKey(1).PubKey(), Kind: KindProsumer, Attested: true},
			{ID: "ev-1", Market: "nowon", Owner: owner(5), DeviceKey: devKey(5).PubKey(), Kind: KindEVCharger, Tariff: 150}}})
	f.Add(good)
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"markets":[{"id":"a","denom":"nw","interval_secs":900}]}`))
	f.Add([]byte(`{"meters":[{"id":"x","market":"nope","kind":"producer"}]}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		h := newHarness(t, Params{})
		if err := h.m.InitGenesis(h.ctx(chain.Address{}), raw); err != nil {
			return
		}
		ms, err := h.query("markets", nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, mk := range ms.([]Market) {
			if err := mk.validate(); err != nil {
				t.Fatalf("genesis stored an invalid market: %v", err)
			}
		}
		if _, err := h.query("meters", nil); err != nil {
			t.Fatal(err)
		}
		h.block(900)
	})
}
