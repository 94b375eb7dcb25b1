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

// harness runs energy beside the real currency module on the shared
// harness (chain/moduletest, direct mode: real sparse-Merkle state on
// Badger, each message in its own revertible branch as the executor does,
// then EndBlock and commit).
type harness struct {
	t      testing.TB
	codec  *chain.Codec
	cur    *currency.Module
	m      *Module
	mt     *moduletest.Harness
	now    int64 // unix seconds
	events []chain.Event
}

const (
	denom   = "nw"
	t0      = int64(1_796_169_600) // 2026-12-02T00:00:00Z
	funding = 10_000_000
)

// accounts of the tests.
var (
	city     = addr(1)
	operator = addr(2)
	stranger = addr(3)
	gateway  = addr(4)
)

func addr(n byte) chain.Address {
	var a chain.Address
	a[0], a[19] = n, n
	return a
}

// devKey is the device key of test meter n.
func devKey(n int) chain.PrivKey {
	seed := make([]byte, 32)
	seed[0], seed[1] = byte(n), byte(n>>8)
	seed[31] = 0xd
	k, err := chain.PrivKeyFromSeed(seed)
	if err != nil {
		panic(err)
	}
	return k
}

// owner is the account owning test meter n.
func owner(n int) chain.Address {
	var a chain.Address
	a[0], a[1], a[2] = 0xee, byte(n), byte(n>>8)
	return a
}

func newHarness(t testing.TB, p Params, funded ...chain.Address) *harness {
	t.Helper()
	c := chain.MustCodec()
	curKey, key := chain.NewStoreKey(currency.ModuleName), chain.NewStoreKey(ModuleName)
	cur := currency.New(curKey, c, currency.DefaultParams())
	h := &harness{t: t, codec: c, cur: cur, m: New(key, c, cur, p), now: t0}
	g := currency.Genesis{NativeDenom: "dure",
		Currencies: []currency.Currency{{Denom: denom, Issuer: city, Rules: currency.Rules{Transfer: currency.TransferFree}}}}
	for _, a := range append([]chain.Address{city, operator, stranger, gateway}, funded...) {
		g.Balances = append(g.Balances, currency.GenesisBalance{Address: a, Denom: denom, Amount: funding})
	}
	raw, err := json.Marshal(g)
	if err != nil {
		t.Fatal(err)
	}
	h.mt = moduletest.New(t, moduletest.Config{Modules: []chain.Module{cur, h.m}, Keys: []*chain.StoreKey{curKey, key},
		Genesis: map[string]json.RawMessage{currency.ModuleName: raw}, GenesisTime: time.Unix(t0, 0)})
	return h
}

// sync gives the open block the harness's time.
func (h *harness) sync() { h.mt.SetBlockTime(time.Unix(h.now, 0)) }

// ctx is a context on the open block: its writes stay, with no revert.
func (h *harness) ctx(sender chain.Address) *chain.Context {
	h.sync()
	return h.mt.Context(ModuleName, sender)
}

// read is the module's state as the open block sees it.
func (h *harness) read() chain.KVReader { h.sync(); return h.mt.Read(ModuleName) }

// deliver runs one message; on error its writes are reverted.
func (h *harness) deliver(sender chain.Address, msg chain.Msg) error {
	h.t.Helper()
	h.sync()
	evs, err := h.mt.DeliverAs(sender, msg)
	if err != nil {
		return err
	}
	h.events = append(h.events, evs...)
	return nil
}

func (h *harness) must(sender chain.Address, msg chain.Msg, err error) {
	h.t.Helper()
	if err != nil {
		h.t.Fatalf("build: %v", err)
	}
	if err := h.deliver(sender, msg); err != nil {
		h.t.Fatalf("%s: %v", msg.Type, err)
	}
}

func (h *harness) try(sender chain.Address, msg chain.Msg, err error) error {
	h.t.Helper()
	if err != nil {
		h.t.Fatalf("build: %v", err)
	}
	return h.deliver(sender, msg)
}

// block ends the block (EndBlock, commit) and advances the clock by dt
// seconds.
func (h *harness) block(dt int64) {
	h.t.Helper()
	h.sync()
	evs, _ := h.mt.EndBlock(0)
	h.events = append(h.events, evs...)
	h.now += dt
}

// until runs blocks every dt seconds until the clock reaches at.
func (h *harness) until(at, dt int64) {
	for h.now < at {
		h.block(min(dt, at-h.now))
	}
	h.block(0)
}

func (h *harness) bal(a chain.Address) uint64 {
	h.t.Helper()
	h.sync()
	r, err := h.mt.QueryOpen(currency.ModuleName, "balance", map[string]string{"address": a.String(), "denom": denom})
	if err != nil {
		h.t.Fatalf("balance: %v", err)
	}
	return uint64(r.(currency.BalanceResult).Amount)
}

func (h *harness) query(path string, args map[string]string) (any, error) {
	h.sync()
	return h.mt.QueryOpen(ModuleName, path, args)
}

func (h *harness) mustQuery(path string, args map[string]string) any {
	h.t.Helper()
	r, err := h.query(path, args)
	if err != nil {
		h.t.Fatalf("query %s %v: %v", path, args, err)
	}
	return r
}

// stdMarket is the test market: 15-minute intervals, 5-minute gate lead,
// 10/kWh + 1% grid fee, retail 180, feed-in 60, penalty 20%, 1 h deadline.
func stdMarket() Market {
	return Market{ID: "nowon", Denom: denom, Operator: operator, IntervalSecs: 900, GateLeadSecs: 300,
		FeePerKWh: 10, FeeBps: 100, RetailPrice: 180, FeedInPrice: 60, PenaltyBps: 2000, ReadingDeadlineSecs: 3600}
}

func (h *harness) setupMarket(mk Market) {
	h.t.Helper()
	m, err := MsgCreateMarket(h.codec, mk)
	h.must(city, m, err)
}

// meter registers and attests test meter n of kind in market "nowon".
func (h *harness) meter(n int, kind string, tariff uint64) string {
	h.t.Helper()
	id := fmt.Sprintf("m%d", n)
	m, err := MsgRegisterMeter(h.codec, id, "nowon", devKey(n).PubKey(), kind, tariff)
	h.must(owner(n), m, err)
	m, err = MsgAttestMeter(h.codec, id)
	h.must(operator, m, err)
	return id
}

// device simulates a meter's device: its registers and counter.
type device struct {
	n        int
	id       string
	counter  uint64
	imp, exp uint64
}

func newDevice(n int) *device { return &device{n: n, id: fmt.Sprintf("m%d", n)} }

// read makes the signed reading of interval t with imp/exp Wh in it.
func (d *device) read(c *chain.Codec, t int64, imp, exp uint64) Reading {
	d.counter++
	r := Reading{Meter: d.id, IntervalStart: t, Counter: d.counter, StartImportWh: d.imp, StartExportWh: d.exp,
		EndImportWh: d.imp + imp, EndExportWh: d.exp + exp}
	d.imp += imp
	d.exp += exp
	if err := r.Sign(c, devKey(d.n)); err != nil {
		panic(err)
	}
	return r
}

func (h *harness) submit(rs ...Reading) error {
	m, err := MsgSubmitReadings(h.codec, rs)
	return h.try(gateway, m, err)
}

// total is the denom's supply: conserved, since energy never mints or
// burns.
func (h *harness) total() uint64 {
	h.t.Helper()
	h.sync()
	r, err := h.mt.QueryOpen(currency.ModuleName, "supply", map[string]string{"denom": denom})
	if err != nil {
		h.t.Fatal(err)
	}
	return uint64(r.(currency.SupplyResult).Amount)
}

// escrowOwed is what the escrow account must hold: open bids, the cost of
// cleared but unsettled trades, and open sessions.
func (h *harness) escrowOwed() uint64 {
	s := h.read()
	var owed uint64
	cleared := map[string]bool{}
	_ = s.Iterate([]byte(pClearing), func(k, v []byte) (bool, error) {
		cleared[string(k[len(pClearing):])] = true
		return false, nil
	})
	_ = s.Iterate([]byte(pOrder), func(k, v []byte) (bool, error) {
		var o Order
		if err := h.codec.Unmarshal(v, &o); err != nil {
			h.t.Fatal(err)
		}
		if !cleared[string(tkey(str(nil, o.Market), o.Interval))] {
			owed += o.Escrow
		}
		return false, nil
	})
	_ = s.Iterate([]byte(pTrade), func(k, v []byte) (bool, error) {
		var page TradePage
		if err := h.codec.Unmarshal(v, &page); err != nil {
			h.t.Fatal(err)
		}
		for _, tr := range page.Trades {
			if !tr.Settled {
				owed += tr.Cost
			}
		}
		return false, nil
	})
	_ = s.Iterate([]byte(pSession), func(k, v []byte) (bool, error) {
		var se Session
		if err := h.codec.Unmarshal(v, &se); err != nil {
			h.t.Fatal(err)
		}
		if !se.Settled {
			owed += se.Escrow
		}
		return false, nil
	})
	return owed
}

func (h *harness) checkEscrow() {
	h.t.Helper()
	if got, want := h.bal(EscrowAccount()), h.escrowOwed(); got != want {
		h.t.Fatalf("escrow holds %d, owes %d", got, want)
	}
}

// fund gives a an extra funding of the test denom from the city.
func (h *harness) fund(a chain.Address) {
	h.t.Helper()
	if err := h.cur.Transfer(h.ctx(city), city, a, denom, funding/4); err != nil {
		h.t.Fatal(err)
	}
}
