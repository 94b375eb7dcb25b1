package royalty

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"testing"
	"time"

	"github.com/dure-network/dure/apps/currency"
	"github.com/dure-network/dure/chain"
	"github.com/dure-network/dure/chain/moduletest"
)

// harness runs royalty with the real currency module as its Bank on the
// shared harness (chain/moduletest, direct mode: real sparse-Merkle state
// on Badger, each message in its own revertible branch metered on the
// executor's gas schedule, then EndBlock and commit).
type harness struct {
	t     testing.TB
	codec *chain.Codec
	cur   *currency.Module
	m     *Module
	mt    *moduletest.Harness
	cfg   moduletest.Config
	// lastMsg is the type of the latest message delivered.
	lastMsg string
}

// Test accounts.
var (
	city     = addr(1)
	operator = addr(2)
	alice    = addr(10)
	bob      = addr(11)
	carol    = addr(12)
	dave     = addr(13)
	label    = addr(20)
	melon    = addr(30) // a streaming platform
	genie    = addr(31) // another
	fan      = addr(40)
	fan2     = addr(41)
	stranger = addr(99)
)

func addr(n byte) chain.Address {
	var a chain.Address
	a[0] = n
	a[19] = n
	return a
}

const startTime = int64(1_790_000_000)

// funded are the accounts the test genesis gives 10^12 nw and dure.
var funded = []chain.Address{city, operator, alice, bob, carol, dave, label, melon, genie, fan, fan2, stranger}

func testRegistry() Registry {
	r := DefaultRegistry()
	r.Operator, r.PlatformBps = operator, 250
	return r
}

func newHarness(t testing.TB, reg *Registry) *harness {
	t.Helper()
	c := chain.MustCodec()
	ckey, key := chain.NewStoreKey(currency.ModuleName), chain.NewStoreKey(ModuleName)
	cur := currency.New(ckey, c, currency.DefaultParams()) // the pool's exemption comes from chain.ModuleAccountHolder
	h := &harness{t: t, codec: c, cur: cur, m: New(key, c, cur)}
	cg := currency.Genesis{NativeDenom: "dure",
		Currencies: []currency.Currency{{Denom: "nw", Issuer: city, Rules: currency.Rules{Transfer: currency.TransferMerchants}},
			{Denom: "krw", Issuer: city, Decimals: 0, Rules: currency.Rules{Transfer: currency.TransferFree}},
			{Denom: "usdc", Issuer: city, Decimals: 6, Rules: currency.Rules{Transfer: currency.TransferFree}}}}
	for _, a := range funded {
		for _, d := range []string{"dure", "nw", "krw", "usdc"} {
			cg.Balances = append(cg.Balances, currency.GenesisBalance{Address: a, Denom: d, Amount: 1_000_000_000_000})
		}
	}
	gen := map[string]json.RawMessage{}
	var err error
	if gen[currency.ModuleName], err = json.Marshal(cg); err != nil {
		t.Fatal(err)
	}
	if reg != nil {
		if gen[ModuleName], err = json.Marshal(Genesis{Registry: reg, Platforms: []GenesisPlatform{{Address: melon, Name: "melon"}, {Address: genie, Name: "genie"}}}); err != nil {
			t.Fatal(err)
		}
	}
	h.cfg = moduletest.Config{Modules: []chain.Module{cur, h.m}, Keys: []*chain.StoreKey{ckey, key}, GenesisTime: time.Unix(startTime, 0)}
	h.mt = moduletest.New(t, h.config(gen))
	return h
}

// config is the harness's chain with genesis gen.
func (h *harness) config(gen map[string]json.RawMessage) moduletest.Config {
	cfg := h.cfg
	cfg.Genesis = gen
	return cfg
}

// keyCount is how many keys the module's state holds in the open block.
func (h *harness) keyCount() int {
	h.t.Helper()
	n := 0
	if err := h.store().Iterate(nil, func(_, _ []byte) (bool, error) { n++; return false, nil }); err != nil {
		h.t.Fatal(err)
	}
	return n
}

// store is the module's state as the open block sees it.
func (h *harness) store() chain.KVReader { return h.mt.Read(ModuleName) }

// deliver runs one message metered as the executor would; on error every
// store's writes are reverted.
func (h *harness) deliver(sender chain.Address, msg chain.Msg) error {
	h.t.Helper()
	h.lastMsg = msg.Type
	_, err := h.mt.DeliverAs(sender, msg)
	return err
}

func (h *harness) msg(m chain.Msg, err error) chain.Msg { h.t.Helper(); return h.mt.Built(m, err) }

func (h *harness) must(sender chain.Address, m chain.Msg) {
	h.t.Helper()
	h.lastMsg = m.Type
	h.mt.MustDeliverAs(sender, m)
}

// endBlock runs EndBlock, commits the block and makes the next one dt
// seconds later.
func (h *harness) endBlock(dt int64) {
	h.t.Helper()
	h.mt.EndBlock(time.Duration(dt) * time.Second)
}

func (h *harness) query(path string, args map[string]string) (any, error) {
	return h.mt.QueryOpen(ModuleName, path, args)
}

func (h *harness) mustQuery(path string, args map[string]string) any {
	h.t.Helper()
	v, err := h.query(path, args)
	if err != nil {
		h.t.Fatalf("query %s %v: %v", path, args, err)
	}
	return v
}

func (h *harness) bal(a chain.Address, denom string) uint64 {
	h.t.Helper()
	r, err := h.mt.QueryOpen(currency.ModuleName, "balance", map[string]string{"address": a.String(), "denom": denom})
	if err != nil {
		h.t.Fatalf("balance: %v", err)
	}
	return uint64(r.(currency.BalanceResult).Amount)
}

func (h *harness) claimable(split string, a chain.Address, denom string) uint64 {
	h.t.Helper()
	r := h.mustQuery("claimable", map[string]string{"split": split, "address": a.String()}).(ClaimableResult)
	for _, d := range r.Denoms {
		if d.Denom == denom {
			return d.Claimable
		}
	}
	return 0
}

func (h *harness) units(split string, a chain.Address) uint64 {
	h.t.Helper()
	return h.mustQuery("claimable", map[string]string{"split": split, "address": a.String()}).(ClaimableResult).Units
}

// checkInvariants verifies, over the whole state:
//   - every split's units sum to TotalUnits, Locked ≤ Units, the holder
//     count matches;
//   - per split and denom, Paid·10^6 equals what was claimed plus the
//     exact entitlements of its holders (owed, unsettled, carried) plus
//     what went to nested splits and their carried remainders;
//   - the pool account holds exactly Σ(Paid − Claimed − paid to nested)
//     plus the escrow of open auctions' bids, per denom;
//   - locked units equal the units in open orders and auctions.
func (h *harness) checkInvariants() error {
	s := h.store()
	r := &st{m: h.m, r: s}
	var splits []Split
	err := s.Iterate([]byte(pSplit), func(_, v []byte) (bool, error) {
		var sp Split
		if err := h.codec.Unmarshal(v, &sp); err != nil {
			return true, err
		}
		splits = append(splits, sp)
		return false, nil
	})
	if err != nil {
		return err
	}
	held := map[string]*big.Int{}
	locked := map[string]uint64{} // split+addr -> locked
	for _, sp := range splits {
		var sum, count uint64
		type hold struct {
			a chain.Address
			h Holding
		}
		var hs []hold
		prefix := keyHoldingPrefix(sp.ID)
		err := s.Iterate(prefix, func(k, v []byte) (bool, error) {
			var hd Holding
			if err := h.codec.Unmarshal(v, &hd); err != nil {
				return true, err
			}
			var a chain.Address
			copy(a[:], k[len(prefix):])
			if hd.Locked > hd.Units {
				return true, fmt.Errorf("split %s %s: locked %d > units %d", sp.ID, a, hd.Locked, hd.Units)
			}
			if hd.empty() {
				return true, fmt.Errorf("split %s %s: empty holding stored", sp.ID, a)
			}
			sum += hd.Units
			count++
			if hd.Locked > 0 {
				locked[sp.ID+"|"+string(a[:])] = hd.Locked
			}
			hs = append(hs, hold{a, hd})
			return false, nil
		})
		if err != nil {
			return err
		}
		for _, n := range sp.Nested {
			sum += n.Units
		}
		if sum != TotalUnits {
			return fmt.Errorf("split %s: units sum to %d", sp.ID, sum)
		}
		if count != sp.Holders {
			return fmt.Errorf("split %s: %d holdings, record says %d", sp.ID, count, sp.Holders)
		}
		M := big.NewInt(TotalUnits)
		for _, d := range sp.Denoms {
			p, err := r.pool(sp.ID, d)
			if err != nil {
				return err
			}
			lhs := new(big.Int).Mul(new(big.Int).SetUint64(p.Paid), M)
			// Claims are counted by the pool: a holding that has left (sold
			// its last unit, claimed everything) is deleted with its history.
			rhs := new(big.Int).Mul(new(big.Int).SetUint64(p.Claimed), M)
			for _, x := range hs {
				var a Accrual
				if i := slices.IndexFunc(x.h.Acc, func(a Accrual) bool { return a.Denom == d }); i >= 0 {
					a = x.h.Acc[i]
				}
				t := new(big.Int).SetUint64(a.Owed)
				t.Mul(t, M)
				t.Add(t, new(big.Int).Mul(new(big.Int).SetUint64(x.h.Units), new(big.Int).SetUint64(p.Paid-a.Mark)))
				t.Add(t, new(big.Int).SetUint64(a.Frac))
				rhs.Add(rhs, t)
			}
			var nested uint64
			for i := range sp.Nested {
				if i < len(p.NestedPaid) {
					rhs.Add(rhs, new(big.Int).Mul(new(big.Int).SetUint64(p.NestedPaid[i]), M))
					rhs.Add(rhs, new(big.Int).SetUint64(p.NestedFrac[i]))
					nested += p.NestedPaid[i]
				}
			}
			// Claimed-by-holders counted in Accrual.Claimed must equal the pool's.
			var claimed uint64
			for _, x := range hs {
				if i := slices.IndexFunc(x.h.Acc, func(a Accrual) bool { return a.Denom == d }); i >= 0 {
					claimed += x.h.Acc[i].Claimed
				}
			}
			if lhs.Cmp(rhs) != 0 {
				return fmt.Errorf("split %s %s: paid·10^6 %s != entitlements %s", sp.ID, d, lhs, rhs)
			}
			if claimed > p.Claimed {
				return fmt.Errorf("split %s %s: holders claimed %d > pool %d", sp.ID, d, claimed, p.Claimed)
			}
			v := new(big.Int).SetUint64(p.Paid)
			v.Sub(v, new(big.Int).SetUint64(p.Claimed))
			v.Sub(v, new(big.Int).SetUint64(nested))
			if held[d] == nil {
				held[d] = new(big.Int)
			}
			held[d].Add(held[d], v)
		}
	}
	// Open orders and auctions explain every locked unit; escrows are held.
	want := map[string]uint64{}
	err = s.Iterate([]byte(pOrder), func(_, v []byte) (bool, error) {
		var o Order
		if err := h.codec.Unmarshal(v, &o); err != nil {
			return true, err
		}
		want[o.Split+"|"+string(o.Seller[:])] += o.Units
		return false, nil
	})
	if err != nil {
		return err
	}
	err = s.Iterate([]byte(pAuction), func(_, v []byte) (bool, error) {
		var a Auction
		if err := h.codec.Unmarshal(v, &a); err != nil {
			return true, err
		}
		if a.Closed {
			return false, nil
		}
		want[a.Work+"|"+string(a.Seller[:])] += a.Units
		return false, s.Iterate(keyBidPrefix(a.ID), func(_, bv []byte) (bool, error) {
			var b Bid
			if err := h.codec.Unmarshal(bv, &b); err != nil {
				return true, err
			}
			if held[a.Denom] == nil {
				held[a.Denom] = new(big.Int)
			}
			held[a.Denom].Add(held[a.Denom], new(big.Int).SetUint64(b.Units*b.Price))
			return false, nil
		})
	})
	if err != nil {
		return err
	}
	for k, v := range locked {
		if want[k] != v {
			return fmt.Errorf("holding %x: locked %d, orders and auctions %d", k, v, want[k])
		}
	}
	for k, v := range want {
		if locked[k] != v {
			return fmt.Errorf("holding %x: orders and auctions %d, locked %d", k, v, locked[k])
		}
	}
	for _, d := range []string{"nw", "krw", "usdc", "dure"} {
		got := h.bal(PoolAccount(), d)
		w := held[d]
		if w == nil {
			w = new(big.Int)
		}
		if w.Cmp(new(big.Int).SetUint64(got)) != 0 {
			return fmt.Errorf("pool holds %d %s, accounts say %s", got, d, w)
		}
	}
	return nil
}

func isErr(err, want error) bool {
	if want == nil {
		return err == nil
	}
	return errors.Is(err, want)
}

func currencyCreate(c *chain.Codec, denom string) (chain.Msg, error) {
	return currency.MsgCreate(c, denom, 0, currency.Rules{Transfer: currency.TransferFree})
}

func currencyMint(c *chain.Codec, denom string, to chain.Address) (chain.Msg, error) {
	return currency.MsgMint(c, denom, to, 1_000_000)
}
