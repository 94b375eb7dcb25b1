package subnet

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/dure-network/dure/apps/currency"
	"github.com/dure-network/dure/chain"
	"github.com/dure-network/dure/chain/moduletest"
)

const (
	native = "dure"
	coop   = "garden-coop"
	unit   = 1_000_000 // one unit of checkpoint power
)

var testParams = Params{MinCollateral: unit, PowerReduction: unit, EscapeAfter: 5, UnbondingBlocks: 3, SlashBP: 10000}

// env is a chain running currency and subnet: the parent, or (with no
// subnet registered) a subnet chain using its outbox.
type env struct {
	t    testing.TB
	h    *moduletest.Harness
	m    *Module
	cur  *currency.Module
	vals []chain.PrivKey // the subnet's validator keys
	gh   chain.Hash      // the subnet's genesis hash
}

func valKey(i int) chain.PrivKey { return moduletest.KeyFromIndex(1000 + i) }

func newEnv(t testing.TB, chainID string, funded map[int]uint64) *env {
	t.Helper()
	return newEnvParams(t, chainID, funded, testParams)
}

func newEnvParams(t testing.TB, chainID string, funded map[int]uint64, params Params) *env {
	t.Helper()
	return newEnvGenesis(t, chainID, funded, Genesis{Params: &params})
}

// newEnvGenesis is newEnv with the subnet module's genesis section.
func newEnvGenesis(t testing.TB, chainID string, funded map[int]uint64, sg Genesis) *env {
	t.Helper()
	codec := chain.MustCodec()
	ck, sk := chain.NewStoreKey(currency.ModuleName), chain.NewStoreKey(ModuleName)
	cur := currency.New(ck, codec, currency.DefaultParams())
	m := New(sk, codec, cur, cur)
	cg := currency.Genesis{NativeDenom: native}
	for i := 0; i < 8; i++ {
		amt := uint64(1_000_000_000_000)
		if funded != nil {
			amt = funded[i]
		}
		if amt > 0 {
			cg.Balances = append(cg.Balances, currency.GenesisBalance{Address: moduletest.KeyFromIndex(i).PubKey().Address(), Denom: native, Amount: currency.Amount(amt)})
		}
	}
	cj, _ := json.Marshal(cg)
	sj, _ := json.Marshal(sg)
	h := moduletest.New(t, moduletest.Config{ChainID: chainID, Fee: 10_000, Modules: []chain.Module{cur, m}, Keys: []*chain.StoreKey{ck, sk},
		Genesis: map[string]json.RawMessage{currency.ModuleName: cj, ModuleName: sj}})
	return &env{t: t, h: h, m: m, cur: cur, gh: chain.Sum256([]byte("genesis of " + coop))}
}

// register registers coop with validators of the given collateral (in
// units), all locked by key 0.
func (e *env) register(period uint64, units ...uint64) {
	e.t.Helper()
	r := Register{ID: coop, GenesisHash: e.gh, Period: period}
	for i, u := range units {
		k := valKey(i)
		e.vals = append(e.vals, k)
		r.Validators = append(r.Validators, NewValidator{PubKey: k.PubKey(), Collateral: u * unit})
	}
	e.must(0, e.msg(MsgRegister(e.h.Codec(), r)))
}

func (e *env) msg(m chain.Msg, err error) chain.Msg {
	e.t.Helper()
	if err != nil {
		e.t.Fatal(err)
	}
	return m
}

func (e *env) must(sender int, m chain.Msg) chain.TxResult {
	e.t.Helper()
	return e.h.MustDeliver(e.h.Key(sender), m)
}

func (e *env) deliver(sender int, m chain.Msg) chain.TxResult {
	e.t.Helper()
	return e.h.Deliver(e.h.Key(sender), m)
}

// query decodes a proven query answer into out.
func (e *env) query(path string, args map[string]string, out any) {
	e.t.Helper()
	v := e.h.MustQuery(ModuleName, path, args)
	b, err := json.Marshal(v)
	if err != nil {
		e.t.Fatal(err)
	}
	if err := json.Unmarshal(b, out); err != nil {
		e.t.Fatalf("%s: %v in %s", path, err, b)
	}
}

func (e *env) subnet() Subnet {
	e.t.Helper()
	var s Subnet
	e.query("subnet", map[string]string{"subnet": coop}, &s)
	return s
}

func (e *env) balance(a chain.Address) uint64 {
	e.t.Helper()
	var out []struct {
		Denom  string          `json:"denom"`
		Amount json.RawMessage `json:"amount"`
	}
	v := e.h.MustQuery(currency.ModuleName, "balances", map[string]string{"address": a.String()})
	b, _ := json.Marshal(v)
	if err := json.Unmarshal(b, &out); err != nil {
		e.t.Fatalf("balances: %v in %s", err, b)
	}
	for _, x := range out {
		if x.Denom == native {
			var n uint64
			fmt.Sscan(strings.Trim(string(x.Amount), `"`), &n)
			return n
		}
	}
	return 0
}

// checkpoint is a checkpoint at height signed for by the registered set,
// keeping that set as the next one.
func (e *env) checkpoint(height uint64) Checkpoint {
	e.t.Helper()
	s := e.subnet()
	vs, err := chain.NewValidatorSet(s.Validators)
	if err != nil {
		e.t.Fatal(err)
	}
	return Checkpoint{Subnet: coop, Height: height, BlockID: chain.IDOf([]byte(fmt.Sprint("block ", height))),
		StateRoot: chain.Sum256([]byte(fmt.Sprint("state ", height))), ValidatorsHash: vs.Hash(e.h.Codec()),
		NextValidators: s.Validators, MsgRoot: (&Frontier{}).Root(), MsgCount: s.Last.MsgCount, DepositsApplied: s.Last.Applied}
}

// signed signs cp with the validator keys numbered in who.
func (e *env) signed(cp Checkpoint, who ...int) SignedCheckpoint {
	sc := SignedCheckpoint{Checkpoint: cp}
	for _, i := range who {
		sc.Sigs = append(sc.Sigs, Sign(e.h.Codec(), e.gh, &cp, e.vals[i]))
	}
	return sc
}

func (e *env) submit(sender int, sc SignedCheckpoint) chain.TxResult {
	e.t.Helper()
	return e.deliver(sender, e.msg(MsgCheckpoint(e.h.Codec(), sc)))
}

func all(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}
