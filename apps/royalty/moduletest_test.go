package royalty

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/dure-network/dure/apps/currency"
	"github.com/dure-network/dure/chain"
	"github.com/dure-network/dure/chain/moduletest"
)

// TestOnRealExecutor runs royalty with currency on the shared harness: the
// real executor (fees, gas, module accounts declared through
// chain.ModuleAccountHolder, per-tx revert) over sparse-Merkle state in
// Badger. Every query is answered with proofs and recomputed from the
// proven values alone, and the exported genesis — with every kind of
// record: works, splits, holdings, pools, periods, a report, a credit, an
// order, an open auction with a bid, a pending terms change — re-imports
// to the same state root.
func TestOnRealExecutor(t *testing.T) {
	c := chain.MustCodec()
	ckey, rkey := chain.NewStoreKey(currency.ModuleName), chain.NewStoreKey(ModuleName)
	cur := currency.New(ckey, c, currency.DefaultParams()) // the pool's exemption comes from the executor
	roy := New(rkey, c, cur)
	addrOf := func(i int) chain.Address { return moduletest.KeyFromIndex(i).PubKey().Address() }
	creator, bob, lbl, platform, buyer, op := 0, 1, 4, 5, 6, 7
	cg := currency.Genesis{NativeDenom: "dure",
		Currencies: []currency.Currency{{Denom: "nw", Issuer: addrOf(op), Rules: currency.Rules{Transfer: currency.TransferMerchants}}}}
	for i := 0; i < 8; i++ {
		for _, d := range []string{"dure", "nw"} {
			cg.Balances = append(cg.Balances, currency.GenesisBalance{Address: addrOf(i), Denom: d, Amount: 100_000_000})
		}
	}
	reg := DefaultRegistry()
	reg.Operator, reg.PlatformBps = addrOf(op), 250
	cj, _ := json.Marshal(cg)
	rj, _ := json.Marshal(Genesis{Registry: &reg, Platforms: []GenesisPlatform{{Address: addrOf(platform), Name: "melon"}}})
	h := moduletest.New(t, moduletest.Config{Modules: []chain.Module{cur, roy}, Keys: []*chain.StoreKey{ckey, rkey},
		Fees: cur, MinFee: 1, Genesis: map[string]json.RawMessage{currency.ModuleName: cj, ModuleName: rj}})
	mk := func(m chain.Msg, err error) chain.Msg {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	must := func(i int, m chain.Msg) { t.Helper(); h.MustDeliver(h.Key(i), m) }
	must(creator, mk(MsgCreateSplit(c, "band", holders(addrOf(0), 250000, addrOf(1), 250000, addrOf(2), 250000, addrOf(3), 250000))))
	must(creator, mk(MsgRegister(c, Register{ID: "song", CID: cid, ISRC: "KRA012600001", Denoms: []string{"nw"},
		Holders:   holders("band", 800000, addrOf(creator), 200000),
		Waterfall: []Tranche{{Account: addrOf(lbl), Threshold: 1000}, {Split: "song"}}, ResaleBps: 500})))
	must(buyer, mk(MsgPay(c, "song", "nw", 1500, "gig")))
	must(platform, mk(MsgReport(c, SubmitReport{ID: "m1", Period: "2026-11", Denom: "nw",
		Lines: []ReportLine{{Work: "song", Territory: "KR", Units: 9, Amount: 10_000}, {Work: "song", Territory: "JP", Units: 1, Amount: 1}}})))
	must(platform, mk(MsgReport(c, SubmitReport{ID: "m1b", Period: "2026-11", Denom: "nw", Supersedes: "m1",
		Lines: []ReportLine{{Work: "song", Territory: "KR", Units: 8, Amount: 9_000}}})))
	must(creator, mk(MsgSell(c, "song", 1000, "nw", 7)))
	must(buyer, mk(MsgBuy(c, 1, 400)))
	must(creator, mk(MsgOpenAuction(c, "song", 5000, "nw", 2, 3600)))
	must(buyer, mk(MsgBid(c, 1, 2000, 3)))
	must(creator, mk(MsgProposeTerms(c, "song", 550)))
	must(bob, mk(MsgClaim(c, "band", "")))
	// A refused message costs its fee and changes nothing else.
	m, _ := MsgTransfer(c, "song", addrOf(bob), 999_999)
	if res := h.Deliver(h.Key(buyer), m); res.Code != chain.CodeInsufficent {
		t.Fatalf("transfer of shares not held: code %d %s", res.Code, res.Log)
	}
	h.Advance(time.Hour)
	h.Block()

	// Queries, answered with proofs and recomputed from the proven values.
	// The label recouped 1,000 of the payment; the holders share 500 and
	// the reports' 10,001 - 1,001 credited back = 9,000.
	lab := h.MustQuery(ModuleName, "claimable", map[string]string{"split": "song/t0", "address": addrOf(lbl).String()}).(map[string]any)
	if d := lab["denoms"].([]any)[0].(map[string]any); d["claimable"] != "1000" {
		t.Fatalf("label %v", lab)
	}
	cr := h.MustQuery(ModuleName, "credit", map[string]string{"platform": addrOf(platform).String(), "work": "song", "denom": "nw"}).(map[string]any)
	if cr["credit"] != "1001" {
		t.Fatalf("credit %v", cr)
	}
	st := h.MustQuery(ModuleName, "statement", map[string]string{"split": "band", "address": addrOf(2).String(), "period": "2026-11", "denom": "nw"}).(map[string]any)
	if st["credited"] != "8000" || st["share"] != "2000" {
		t.Fatalf("statement %v", st)
	}
	for _, q := range []struct {
		path string
		args map[string]string
	}{
		{"registry", nil}, {"work", map[string]string{"id": "song"}}, {"works", map[string]string{"creator": addrOf(creator).String()}},
		{"split", map[string]string{"id": "band"}}, {"holders", map[string]string{"split": "song"}},
		{"pool", map[string]string{"split": "song", "denom": "nw"}}, {"platform", map[string]string{"address": addrOf(platform).String()}},
		{"platforms", nil}, {"report", map[string]string{"platform": addrOf(platform).String(), "id": "m1b"}},
		{"reports", map[string]string{"platform": addrOf(platform).String()}}, {"order", map[string]string{"id": "1"}},
		{"orders", map[string]string{"split": "song"}}, {"auction", map[string]string{"id": "1"}},
	} {
		h.MustQuery(ModuleName, q.path, q.args)
	}
	h.CheckExport()
}
