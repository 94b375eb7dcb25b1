package energy

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/dure-network/dure/apps/currency"
	"github.com/dure-network/dure/chain"
)

// memStore is an in-memory KV store with a journal, so a failed
// message's writes can be reverted as the executor does. Keys are sorted
// lazily, when an iteration follows writes. Tests only.
type memStore struct {
	vals    map[string][]byte
	keys    []string // sorted; may hold deleted keys until the next merge
	added   []string // new keys since the last merge, unsorted
	dirty   bool     // keys has deleted entries
	journal []undo
}

type undo struct {
	key     string
	old     []byte
	existed bool
}

func newMemStore() *memStore { return &memStore{vals: map[string][]byte{}} }

func (s *memStore) Get(k []byte) ([]byte, error) {
	v, ok := s.vals[string(k)]
	if !ok {
		return nil, nil
	}
	return slices.Clone(v), nil
}

func (s *memStore) Set(k, v []byte) error {
	if len(v) == 0 { // as chain/state: an empty value cannot be proven apart from absence
		return errors.New("memStore: empty value (use Delete)")
	}
	ks := string(k)
	old, ok := s.vals[ks]
	s.journal = append(s.journal, undo{ks, old, ok})
	if !ok {
		s.added = append(s.added, ks)
	}
	s.vals[ks] = slices.Clone(v)
	return nil
}

func (s *memStore) Delete(k []byte) error {
	ks := string(k)
	old, ok := s.vals[ks]
	if !ok {
		return nil
	}
	s.journal = append(s.journal, undo{ks, old, true})
	s.remove(ks)
	return nil
}

func (s *memStore) remove(ks string) {
	delete(s.vals, ks)
	s.dirty = true
}

// sorted merges the added keys into the sorted ones, dropping keys no
// longer present: O(n + m log m).
func (s *memStore) sorted() []string {
	if len(s.added) == 0 && !s.dirty {
		return s.keys
	}
	sort.Strings(s.added)
	out := make([]string, 0, len(s.keys)+len(s.added))
	i, j := 0, 0
	last := ""
	push := func(k string) {
		if _, ok := s.vals[k]; ok && (len(out) == 0 || k != last) {
			out = append(out, k)
			last = k
		}
	}
	for i < len(s.keys) || j < len(s.added) {
		if j == len(s.added) || i < len(s.keys) && s.keys[i] <= s.added[j] {
			push(s.keys[i])
			i++
		} else {
			push(s.added[j])
			j++
		}
	}
	s.keys, s.added, s.dirty = out, s.added[:0], false
	return s.keys
}

func (s *memStore) Iterate(prefix []byte, fn func(k, v []byte) (bool, error)) error {
	p := string(prefix)
	keys := s.sorted()
	i := sort.SearchStrings(keys, p)
	var ks []string // a snapshot: fn may write
	for ; i < len(keys) && strings.HasPrefix(keys[i], p); i++ {
		ks = append(ks, keys[i])
	}
	for _, k := range ks {
		v, ok := s.vals[k]
		if !ok {
			continue
		}
		stop, err := fn([]byte(k), slices.Clone(v))
		if err != nil || stop {
			return err
		}
	}
	return nil
}

// opener gives every store key its own memStore; commit and revert act on
// all of them, as one transaction.
type opener struct{ stores map[string]*memStore }

func (o *opener) Open(k *chain.StoreKey) chain.KVStore {
	s, ok := o.stores[k.Name()]
	if !ok {
		s = newMemStore()
		o.stores[k.Name()] = s
	}
	return s
}

func (o *opener) names() []string {
	var ns []string
	for n := range o.stores {
		ns = append(ns, n)
	}
	sort.Strings(ns)
	return ns
}

func (o *opener) commit() {
	for _, n := range o.names() {
		o.stores[n].journal = o.stores[n].journal[:0]
	}
}

func (o *opener) revert() {
	for _, n := range o.names() {
		s := o.stores[n]
		for i := len(s.journal) - 1; i >= 0; i-- {
			u := s.journal[i]
			if u.existed {
				if _, ok := s.vals[u.key]; !ok {
					s.added = append(s.added, u.key)
				}
				s.vals[u.key] = u.old
			} else {
				s.remove(u.key)
			}
		}
		s.journal = s.journal[:0]
	}
}

// harness runs energy over the real currency module, block by block like
// the executor: each message in its own revertible scope, then EndBlock.
type harness struct {
	t      testing.TB
	codec  *chain.Codec
	cur    *currency.Module
	m      *Module
	open   *opener
	height uint64
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
	cur := currency.New(chain.NewStoreKey(currency.ModuleName), c, currency.DefaultParams())
	h := &harness{t: t, codec: c, cur: cur, m: New(chain.NewStoreKey(ModuleName), c, cur, p),
		open: &opener{stores: map[string]*memStore{}}, height: 1, now: t0}
	g := currency.Genesis{NativeDenom: "dure",
		Currencies: []currency.Currency{{Denom: denom, Issuer: city, Rules: currency.Rules{Transfer: currency.TransferFree}}}}
	for _, a := range append([]chain.Address{city, operator, stranger, gateway}, funded...) {
		g.Balances = append(g.Balances, currency.GenesisBalance{Address: a, Denom: denom, Amount: funding})
	}
	raw, err := json.Marshal(g)
	if err != nil {
		t.Fatal(err)
	}
	if err := cur.InitGenesis(h.ctx(chain.Address{}), raw); err != nil {
		t.Fatalf("currency genesis: %v", err)
	}
	if err := h.m.InitGenesis(h.ctx(chain.Address{}), nil); err != nil {
		t.Fatal(err)
	}
	h.open.commit()
	return h
}

func (h *harness) ctx(sender chain.Address) *chain.Context {
	esc := EscrowAccount()
	return chain.NewContextFor(chain.ContextParams{
		Block:  chain.BlockInfo{ChainID: "test", Height: h.height, Time: h.now * 1e9},
		Sender: sender, Gas: &chain.GasMeter{Limit: 1 << 40}, Stores: h.open,
		ModuleAccount: func(a chain.Address) bool { return a == esc },
	})
}

// deliver runs one message; on error its writes are reverted.
func (h *harness) deliver(sender chain.Address, msg chain.Msg) error {
	h.t.Helper()
	ctx := h.ctx(sender)
	if err := h.m.Deliver(ctx, msg); err != nil {
		h.open.revert()
		return err
	}
	h.open.commit()
	h.events = append(h.events, ctx.Events()...)
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

// block ends the block and advances the clock by dt seconds.
func (h *harness) block(dt int64) {
	h.t.Helper()
	ctx := h.ctx(chain.Address{})
	if err := h.m.EndBlock(ctx); err != nil {
		h.t.Fatalf("end block %d: %v", h.height, err)
	}
	h.open.commit()
	h.events = append(h.events, ctx.Events()...)
	h.height++
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
	r, err := h.cur.Query(h.open.Open(chain.NewStoreKey(currency.ModuleName)), "balance",
		map[string]string{"address": a.String(), "denom": denom})
	if err != nil {
		h.t.Fatalf("balance: %v", err)
	}
	return uint64(r.(currency.BalanceResult).Amount)
}

func (h *harness) query(path string, args map[string]string) (any, error) {
	return h.m.Query(h.open.Open(chain.NewStoreKey(ModuleName)), path, args)
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

// total is the sum of every balance of the test denom: conserved, since
// energy never mints or burns.
func (h *harness) total() uint64 {
	s := h.open.Open(chain.NewStoreKey(currency.ModuleName)).(*memStore)
	r, err := h.cur.Query(s, "supply", map[string]string{"denom": denom})
	if err != nil {
		h.t.Fatal(err)
	}
	return uint64(r.(currency.SupplyResult).Amount)
}

// escrowOwed is what the escrow account must hold: open bids, the cost of
// cleared but unsettled trades, and open sessions.
func (h *harness) escrowOwed() uint64 {
	s := h.open.Open(chain.NewStoreKey(ModuleName))
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
	h.open.commit()
}
