package royalty

import (
	"encoding/json"
	"testing"

	"github.com/dure-network/dure/chain"
	"github.com/dure-network/dure/chain/moduletest"
)

// fuzzWorld is a small world every fuzz input runs against: a band split,
// a work with a waterfall held by it and a fan, an open order and an open
// auction with a bid, a report.
func fuzzWorld(t testing.TB) *harness {
	h := newHarness(t, ptr(testRegistry()))
	c := h.codec
	h.must(alice, h.msg(MsgCreateSplit(c, "band", holders(alice, 250000, bob, 250000, carol, 250000, dave, 250000))))
	h.must(alice, h.msg(MsgRegister(c, Register{ID: "song", CID: cid, Denoms: []string{"nw"}, Holders: holders("band", 600000, alice, 300000, fan, 100000),
		Waterfall: []Tranche{{Account: label, Threshold: 1000}, {Split: "song"}}, ResaleBps: 500})))
	h.must(melon, h.msg(MsgReport(c, SubmitReport{ID: "m1", Period: "2026-11", Denom: "nw", Lines: []ReportLine{{Work: "song", Territory: "KR", Units: 3, Amount: 1234}}})))
	h.must(fan, h.msg(MsgSell(c, "song", 100, "nw", 3)))
	h.must(alice, h.msg(MsgOpenAuction(c, "song", 1000, "nw", 2, 60)))
	h.must(fan2, h.msg(MsgBid(c, 1, 500, 4)))
	return h
}

func fuzzSeeds(c *chain.Codec) []chain.Msg {
	var out []chain.Msg
	add := func(m chain.Msg, err error) {
		if err == nil {
			out = append(out, m)
		}
	}
	add(MsgCreateSplit(c, "x", holders(bob, 500000, "band", 500000)))
	add(MsgRegister(c, Register{ID: "w", CID: cid, Denoms: []string{"nw"}, Holders: holders(alice, 1000000),
		Waterfall: []Tranche{{Account: label, Threshold: 5}, {Split: "w"}}}))
	add(MsgPay(c, "song", "nw", 999, "m"))
	add(MsgClaim(c, "band", ""))
	add(MsgTransfer(c, "song", fan2, 7))
	add(MsgProposeTerms(c, "song", 600))
	add(MsgProposeFee(c, 300))
	add(MsgGrantPlatform(c, fan, "f"))
	add(MsgRevokePlatform(c, melon))
	add(MsgReport(c, SubmitReport{ID: "m2", Period: "2026-11", Denom: "nw", Supersedes: "m1", Lines: []ReportLine{{Work: "song", Territory: "JP", Units: 1, Amount: 1}}}))
	add(MsgSell(c, "song", 10, "nw", 5))
	add(MsgBuy(c, 1, 10))
	add(MsgCancelOrder(c, 1))
	add(MsgOpenAuction(c, "song", 10, "nw", 1, 10))
	add(MsgBid(c, 1, 10, 9))
	add(MsgCloseAuction(c, 1))
	return out
}

// FuzzDeliver feeds arbitrary bodies to every message type from several
// senders: no panic, only classified errors, every invariant kept.
func FuzzDeliver(f *testing.F) {
	c := chain.MustCodec()
	for _, m := range fuzzSeeds(c) {
		for i, typ := range msgTypes {
			if typ == m.Type {
				f.Add(uint8(i), uint8(0), []byte(m.Body))
				f.Add(uint8(i), uint8(3), []byte(m.Body))
			}
		}
	}
	senders := []chain.Address{alice, bob, fan, fan2, operator, melon, stranger}
	f.Fuzz(func(t *testing.T, typ, sender uint8, body []byte) {
		h := fuzzWorld(t)
		msg := chain.Msg{Module: ModuleName, Type: msgTypes[int(typ)%len(msgTypes)], Body: body}
		err := h.deliver(senders[int(sender)%len(senders)], msg)
		if err != nil && chain.ResultCode(err) == chain.CodeInternal {
			t.Fatalf("%s: unclassified error %v", msg.Type, err)
		}
		h.endBlock(61)
		if err := h.deliver(stranger, h.msg(MsgCloseAuction(h.codec, 1))); err != nil && chain.ResultCode(err) == chain.CodeInternal {
			t.Fatalf("close after %s: %v", msg.Type, err)
		}
		if err := h.checkInvariants(); err != nil {
			t.Fatalf("after %s: %v", msg.Type, err)
		}
	})
}

// FuzzGenesis: arbitrary genesis JSON is loaded or refused, never panics;
// a loaded genesis exports to a section that loads back to the same keys.
func FuzzGenesis(f *testing.F) {
	good, _ := json.Marshal(Genesis{Registry: ptr(testRegistry()), Platforms: []GenesisPlatform{{Address: melon, Name: "melon"}}})
	f.Add(good)
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"registry":{"operator":"` + operator.String() + `","platform_bps":20000}}`))
	f.Add([]byte(`{"records":[{"key":"dy9zb25n","value":"gA=="}]}`))
	h := fuzzWorld(f)
	exported, err := h.m.ExportGenesis(h.store())
	if err != nil {
		f.Fatal(err)
	}
	f.Add([]byte(exported))
	f.Fuzz(func(t *testing.T, raw []byte) {
		key := chain.NewStoreKey(ModuleName)
		cfg := moduletest.Config{Modules: []chain.Module{New(key, chain.MustCodec(), nil)}, Keys: []*chain.StoreKey{key},
			Genesis: map[string]json.RawMessage{ModuleName: raw}}
		loaded, err := moduletest.TryNew(t, cfg)
		if err != nil {
			return
		}
		cfg.Genesis = loaded.Export() // fails the test on an export error
		if len(cfg.Genesis[ModuleName]) == 0 {
			t.Fatalf("export of a loaded genesis has no %s section", ModuleName)
		}
		again, err := moduletest.TryNew(t, cfg)
		if err != nil {
			t.Fatalf("re-import: %v", err)
		}
		if a, b := loaded.Dump(), again.Dump(); a != b {
			t.Fatalf("state differs after the round trip:\n%s\n%s", a, b)
		}
	})
}
