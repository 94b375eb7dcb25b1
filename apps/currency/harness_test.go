package currency

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/dure-network/dure/chain"
	"github.com/dure-network/dure/chain/moduletest"
)

// tryGenesis loads raw as the genesis of a chain of the module alone
// (Params{}, genesis at Unix 10^9 s) and returns the genesis error.
func tryGenesis(t testing.TB, raw json.RawMessage) (*moduletest.Harness, error) {
	t.Helper()
	key := chain.NewStoreKey(ModuleName)
	return moduletest.TryNew(t, moduletest.Config{Modules: []chain.Module{New(key, chain.MustCodec(), Params{})}, Keys: []*chain.StoreKey{key},
		Genesis: map[string]json.RawMessage{ModuleName: raw}, GenesisTime: time.Unix(0, 1e18)})
}

// harness runs the module block by block on the shared harness
// (chain/moduletest, direct mode: real state on Badger, each message in its
// own revertible branch as the executor does, then EndBlock).
type harness struct {
	t      testing.TB
	codec  *chain.Codec
	key    *chain.StoreKey
	m      *Module
	mt     *moduletest.Harness
	now    int64 // unix seconds; tests may move it within a block
	events []chain.Event
}

const day = int64(86400)

func newHarness(t testing.TB, params Params, g Genesis) *harness {
	t.Helper()
	c := chain.MustCodec()
	key := chain.NewStoreKey(ModuleName)
	h := &harness{t: t, codec: c, key: key, m: New(key, c, params), now: 1_700_000_000}
	raw, err := json.Marshal(g)
	if err != nil {
		t.Fatal(err)
	}
	h.mt = moduletest.New(t, moduletest.Config{Modules: []chain.Module{h.m}, Keys: []*chain.StoreKey{key},
		Genesis: map[string]json.RawMessage{ModuleName: raw}, GenesisTime: time.Unix(h.now, 0)})
	return h
}

// sync gives the open block the harness's time.
func (h *harness) sync() { h.mt.SetBlockTime(time.Unix(h.now, 0)) }

// openState is the open block's state of the module.
type openState struct{ chain.KVReader }

func (openState) commit() {} // the open block keeps every write already

func (h *harness) store() openState { h.sync(); return openState{h.mt.Read(ModuleName)} }

// ctx is a context on the open block: its writes stay, with no revert.
func (h *harness) ctx(sender chain.Address) *chain.Context {
	h.sync()
	return h.mt.Context(ModuleName, sender)
}

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

// msg unwraps a message constructor's result.
func (h *harness) msg(m chain.Msg, err error) chain.Msg { h.t.Helper(); return h.mt.Built(m, err) }

func (h *harness) must(sender chain.Address, msg chain.Msg) {
	h.t.Helper()
	if err := h.deliver(sender, msg); err != nil {
		h.t.Fatalf("%s: %v", msg.Type, err)
	}
}

// endBlock runs EndBlock, commits the block, and advances height and time
// by dt seconds.
func (h *harness) endBlock(dt int64) {
	h.t.Helper()
	h.sync()
	evs, _ := h.mt.EndBlock(0)
	h.events = append(h.events, evs...)
	h.now += dt
}

func (h *harness) query(path string, args map[string]string) (any, error) {
	h.sync()
	return h.mt.QueryOpen(ModuleName, path, args)
}

func (h *harness) bal(a chain.Address, denom string) uint64 {
	h.t.Helper()
	r, err := h.query("balance", map[string]string{"address": a.String(), "denom": denom})
	if err != nil {
		h.t.Fatalf("balance: %v", err)
	}
	return uint64(r.(BalanceResult).Amount)
}

func (h *harness) supply(denom string) uint64 {
	h.t.Helper()
	r, err := h.query("supply", map[string]string{"denom": denom})
	if err != nil {
		h.t.Fatalf("supply: %v", err)
	}
	return uint64(r.(SupplyResult).Amount)
}

// checkInvariants: supply == sum of balances per denom; for expiring
// currencies each balance == sum of its lots; every lot is queued.
func (h *harness) checkInvariants() error {
	s := h.store()
	sums := map[string]uint64{}
	type ad struct {
		a chain.Address
		d string
	}
	bals := map[ad]uint64{}
	err := s.Iterate([]byte(pBalance), func(k, v []byte) (bool, error) {
		var a chain.Address
		copy(a[:], k[2:22])
		d := string(k[22:])
		amt := uint64FromBE(v)
		if amt == 0 {
			return true, fmt.Errorf("zero balance stored for %s %s", a, d)
		}
		sums[d] += amt
		bals[ad{a, d}] = amt
		return false, nil
	})
	if err != nil {
		return err
	}
	lotSums := map[ad]uint64{}
	err = s.Iterate([]byte(pLot), func(k, v []byte) (bool, error) {
		n := int(k[2])
		d := string(k[3 : 3+n])
		var a chain.Address
		copy(a[:], k[3+n:3+n+20])
		exp := int64(uint64FromBE(k[3+n+20:]))
		if q, _ := s.Get(keyExpiry(exp, a, d)); q == nil {
			return true, fmt.Errorf("lot %s %s exp %d not queued", a, d, exp)
		}
		lotSums[ad{a, d}] += uint64FromBE(v)
		return false, nil
	})
	if err != nil {
		return err
	}
	return s.Iterate([]byte(pCurrency), func(k, v []byte) (bool, error) {
		var c Currency
		if err := h.codec.Unmarshal(v, &c); err != nil {
			return true, err
		}
		sup, _ := getU64(s, keySupply(c.Denom))
		if sup != sums[c.Denom] {
			return true, fmt.Errorf("denom %s: supply %d != sum of balances %d", c.Denom, sup, sums[c.Denom])
		}
		if c.expires() {
			for k, b := range bals {
				if k.d == c.Denom && lotSums[k] != b {
					return true, fmt.Errorf("%s %s: balance %d != lots %d", k.a, k.d, b, lotSums[k])
				}
			}
			for k, ls := range lotSums {
				if k.d == c.Denom && bals[k] != ls {
					return true, fmt.Errorf("%s %s: lots %d without balance %d", k.a, k.d, ls, bals[k])
				}
			}
		}
		return false, nil
	})
}

func addr(n byte) chain.Address {
	var a chain.Address
	a[0] = n
	a[19] = n
	return a
}

func isErr(err, want error) bool {
	if want == nil {
		return err == nil
	}
	return errors.Is(err, want)
}

func eventTypes(evs []chain.Event) []string {
	var out []string
	for _, e := range evs {
		out = append(out, e.Type)
	}
	return out
}
