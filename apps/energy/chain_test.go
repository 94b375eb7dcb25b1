package energy

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/dure-network/dure/apps/currency"
	"github.com/dure-network/dure/chain"
	"github.com/dure-network/dure/chain/moduletest"
)

// TestOnChain runs energy beside the real currency module on the shared
// harness: the real executor over Badger state, signed transactions,
// genesis-registered meters, queries whose every value is proven against
// the state root and recomputed over the proven values (as `dure query`
// does), and a genesis export that re-imports to the same state root both
// with open escrow and after settlement.
func TestOnChain(t *testing.T) {
	c := chain.MustCodec()
	curKey, enKey := chain.NewStoreKey(currency.ModuleName), chain.NewStoreKey(ModuleName)
	cur := currency.New(curKey, c, currency.DefaultParams())
	en := New(enKey, c, cur, DefaultParams())
	key := moduletest.KeyFromIndex
	cityK, opK, sellerK, buyerK, gwK := key(0), key(1), key(2), key(3), key(4)
	cg := currency.Genesis{NativeDenom: "dure",
		Currencies: []currency.Currency{{Denom: denom, Issuer: cityK.PubKey().Address(), Rules: currency.Rules{Transfer: currency.TransferMerchants}}}}
	for i := 0; i < 5; i++ {
		cg.Balances = append(cg.Balances, currency.GenesisBalance{Address: key(i).PubKey().Address(), Denom: denom, Amount: funding})
	}
	mk := stdMarket()
	mk.Creator, mk.Operator = cityK.PubKey().Address(), opK.PubKey().Address()
	eg := Genesis{Markets: []Market{mk}, Meters: []GenesisMeter{
		{ID: "roof", Market: "nowon", Owner: sellerK.PubKey().Address(), DeviceKey: devKey(1).PubKey(), Kind: KindProsumer, Attested: true},
		{ID: "flat", Market: "nowon", Owner: buyerK.PubKey().Address(), DeviceKey: devKey(2).PubKey(), Kind: KindConsumer, Attested: true},
	}}
	cj, _ := json.Marshal(cg)
	ej, _ := json.Marshal(eg)
	start := time.Unix(t0, 0).UTC()
	h := moduletest.New(t, moduletest.Config{Modules: []chain.Module{cur, en}, Keys: []*chain.StoreKey{curKey, enKey},
		Genesis: map[string]json.RawMessage{currency.ModuleName: cj, ModuleName: ej}, GenesisTime: start,
		BlockInterval: 5 * time.Minute, NumKeys: 5})
	T := t0 + 3600
	msg := func(m chain.Msg, err error) chain.Msg {
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	// A merchants-only currency: escrow and payouts still flow, because
	// the escrow is a module account.
	h.MustDeliver(sellerK, msg(MsgOffer(c, "roof", T, 1000, 80)))
	h.MustDeliver(buyerK, msg(MsgBid(c, "flat", T, 1000, 150)))
	if res := h.Deliver(buyerK, msg(MsgOffer(c, "flat", T, 10, 1))); res.Code != chain.CodeInvalidMsg {
		t.Fatalf("consumer offer: code %d %s", res.Code, res.Log)
	}
	book := h.MustQuery(ModuleName, "book", map[string]string{"market": "nowon", "interval": fmt.Sprint(T)}).(map[string]any)
	if n := len(book["orders"].([]any)); n != 2 {
		t.Fatalf("book %v", book)
	}
	h.CheckExport() // open escrow
	for h.Time().Unix() < T-300 {
		h.Block()
	}
	cl := h.MustQuery(ModuleName, "clearing", map[string]string{"market": "nowon", "interval": fmt.Sprint(T)}).(map[string]any)
	if cl["price"] != "109" || cl["volume_wh"] != "1000" {
		t.Fatalf("clearing %v", cl)
	}
	for h.Time().Unix() < T+900 {
		h.Block()
	}
	roof, flat := newDevice(1), newDevice(2)
	roof.id, flat.id = "roof", "flat"
	rs := []Reading{roof.read(c, T, 0, 1000), flat.read(c, T, 1000, 0)}
	h.MustDeliver(gwK, msg(MsgSubmitReadings(c, rs)))
	h.CheckExport() // cleared, not settled
	for h.Time().Unix() < T+900+3600 {
		h.Block()
	}
	st := h.MustQuery(ModuleName, "statement", map[string]string{"meter": "flat", "interval": fmt.Sprint(T)}).(map[string]any)
	if st["paid"] != "120" || st["delivered_wh"] != "1000" {
		t.Fatalf("statement %v", st)
	}
	bal := h.MustQuery(currency.ModuleName, "balance", map[string]string{"address": EscrowAccount().String(), "denom": denom}).(map[string]any)
	if bal["amount"] != "0" {
		t.Fatalf("escrow %v", bal)
	}
	h.MustQuery(ModuleName, "meter", map[string]string{"id": "roof"})
	h.MustQuery(ModuleName, "statements", map[string]string{"meter": "roof"})
	h.MustQuery(ModuleName, "markets", nil)
	h.CheckExport()
}
