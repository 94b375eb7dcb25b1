package currency

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/dure-network/dure/chain"
	"github.com/dure-network/dure/chain/moduletest"
)

// TestRecordCacheMatchesNoCache runs one workload of signed txs on real
// Badger through the executor twice: with the module's record cache and
// with none (every record decoded from the bytes read, as before the
// cache). Merchant and currency records change inside blocks (register,
// suspend, redeem), and a suspension is reverted by a failing second
// message, so a cache that kept a record past its bytes, or past a
// revert, would pay a suspended merchant or refuse an active one. Every
// block's state root, results root and every tx result must be equal,
// and the payments must succeed or fail as a user expects.
func TestRecordCacheMatchesNoCache(t *testing.T) {
	c := chain.MustCodec()
	issuer := moduletest.KeyFromIndex(0).PubKey().Address()
	shop := moduletest.KeyFromIndex(1).PubKey().Address()
	g := Genesis{NativeDenom: "dure",
		Currencies: []Currency{{Denom: "vv", Issuer: issuer, Rules: Rules{Transfer: TransferFree, Redeemable: true,
			Categories: []string{"food", "books"}}}}}
	for i := 0; i < 6; i++ {
		a := moduletest.KeyFromIndex(i).PubKey().Address()
		g.Balances = append(g.Balances, GenesisBalance{Address: a, Denom: "dure", Amount: 1_000_000},
			GenesisBalance{Address: a, Denom: "vv", Amount: 100_000})
	}
	raw, err := json.Marshal(g)
	if err != nil {
		t.Fatal(err)
	}
	run := func(cached bool) []*chainOutcome {
		key := chain.NewStoreKey(ModuleName)
		m := New(key, c, Params{})
		if !cached {
			m.records = nil
		}
		h := moduletest.New(t, moduletest.Config{Modules: []chain.Module{m}, Keys: []*chain.StoreKey{key},
			Genesis: map[string]json.RawMessage{ModuleName: raw}, GenesisTime: time.Unix(1_700_000_000, 0)})
		must := func(msg chain.Msg, err error) chain.Msg { return h.Built(msg, err) }
		nonces := map[int]uint64{} // several txs of one sender in a block
		tx := func(i int, msgs ...chain.Msg) *chain.DecodedTx {
			raw, err := (&chain.Tx{ChainID: moduletest.DefaultChainID, Nonce: nonces[i], MaxFee: 100, Msgs: msgs}).Sign(c, h.Key(i))
			if err != nil {
				t.Fatal(err)
			}
			nonces[i]++
			d, err := chain.NewDecodedTx(c, raw)
			if err != nil {
				t.Fatal(err)
			}
			return d
		}
		pay := func(i int, amt uint64) *chain.DecodedTx {
			return tx(i, must(MsgPay(c, shop, "vv", amt, "food")))
		}
		var outs []*chainOutcome
		block := func(txs ...*chain.DecodedTx) {
			out := h.Block(txs...)
			outs = append(outs, &chainOutcome{state: out.StateRoot, results: out.ResultsRoot, res: out.Results})
		}
		// 1: not a merchant yet, then registered, then paid, in one block.
		block(pay(2, 10),
			tx(0, must(MsgRegisterMerchant(c, "vv", shop, []string{"food"}))))
		block(pay(2, 11), pay(3, 12))
		// 3: a suspension reverted by its tx's failing second message,
		// then payments (must pass), then a real suspension and a
		// payment (must fail), all in one block.
		block(pay(4, 13),
			tx(0, must(MsgSuspendMerchant(c, "vv", shop)), must(MsgSend(c, shop, "nope", 1))),
			pay(2, 14),
			tx(0, must(MsgSuspendMerchant(c, "vv", shop))),
			pay(3, 15))
		// 4: re-registered (the record's bytes change again), redeemed
		// (Redeemed changes), paid.
		block(tx(0, must(MsgRegisterMerchant(c, "vv", shop, []string{"food", "books"}))),
			pay(5, 16),
			tx(1, must(MsgRedeem(c, "vv", 20, "inv-1"))),
			pay(4, 17))
		block(pay(2, 18), tx(1, must(MsgRedeem(c, "vv", 5, "inv-2"))), pay(3, 19))
		return outs
	}
	with, without := run(true), run(false)
	if len(with) != len(without) {
		t.Fatalf("%d blocks with the cache, %d without", len(with), len(without))
	}
	for i := range with {
		w, n := with[i], without[i]
		if w.state != n.state || w.results != n.results {
			t.Errorf("block %d: roots %s %s with the cache, %s %s without", i+1, w.state, w.results, n.state, n.results)
		}
		for j := range n.res {
			if j >= len(w.res) || w.res[j].Code != n.res[j].Code || w.res[j].Log != n.res[j].Log || w.res[j].GasUsed != n.res[j].GasUsed {
				t.Errorf("block %d tx %d: %+v with the cache, %+v without", i+1, j, w.res[j], n.res[j])
			}
		}
	}
	// What a user sees: which payments went through.
	ok := func(b, tx int) bool { return with[b-1].res[tx].Code == chain.CodeOK }
	for _, want := range []struct {
		block, tx int
		ok        bool
		what      string
	}{
		{1, 0, false, "payment before registration"},
		{1, 1, true, "registration"},
		{2, 0, true, "payment to a registered merchant"},
		{3, 1, false, "suspension with a failing second message"},
		{3, 2, true, "payment after the reverted suspension"},
		{3, 3, true, "suspension"},
		{3, 4, false, "payment to a suspended merchant"},
		{4, 1, true, "payment after re-registration"},
		{4, 2, true, "redemption"},
		{4, 3, true, "payment after redemption"},
		{5, 1, true, "second redemption"},
	} {
		if got := ok(want.block, want.tx); got != want.ok {
			t.Errorf("block %d tx %d (%s): ok %v, want %v (%s)", want.block, want.tx, want.what, got, want.ok, with[want.block-1].res[want.tx].Log)
		}
	}
}

type chainOutcome struct {
	state, results chain.Hash
	res            []chain.TxResult
}
