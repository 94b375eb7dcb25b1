package subnet

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/dure-network/dure/apps/currency"
	"github.com/dure-network/dure/apps/staking"
	"github.com/dure-network/dure/chain"
	"github.com/dure-network/dure/chain/light"
	"github.com/dure-network/dure/chain/moduletest"
)

// stakedSubnetOf is a subnet chain following p whose own validators are
// apps/staking's, keys 0..3 with power 10 each, counted for re-trust.
func stakedSubnetOf(t *testing.T, p *parentChain) *env {
	t.Helper()
	codec := chain.MustCodec()
	ck, stk, sk := chain.NewStoreKey(currency.ModuleName), chain.NewStoreKey(staking.ModuleName), chain.NewStoreKey(ModuleName)
	cur := currency.New(ck, codec, currency.DefaultParams())
	st := staking.New(stk, codec, cur)
	m := New(sk, codec, cur, cur).WithValidators(st)
	cg := currency.Genesis{NativeDenom: native}
	sg := staking.GenesisState{Params: staking.DefaultParams(native)}
	for i := 0; i < 8; i++ {
		k := moduletest.KeyFromIndex(i)
		cg.Balances = append(cg.Balances, currency.GenesisBalance{Address: k.PubKey().Address(), Denom: native, Amount: currency.Amount(1_000_000_000_000)})
		if i < 4 {
			sg.Validators = append(sg.Validators, staking.GenesisValidator{Address: k.PubKey().Address(), PubKey: k.PubKey(), SelfStake: 10 * sg.Params.PowerReduction})
		}
	}
	cj, _ := json.Marshal(cg)
	stj, _ := json.Marshal(sg)
	sj, _ := json.Marshal(p.genesis(5))
	h := moduletest.New(t, moduletest.Config{ChainID: coop, Fee: 10_000, Modules: []chain.Module{cur, st, m}, Keys: []*chain.StoreKey{ck, stk, sk},
		Genesis: map[string]json.RawMessage{currency.ModuleName: cj, staking.ModuleName: stj, ModuleName: sj}})
	return &env{t: t, h: h, m: m, cur: cur}
}

// trustOf is what `dure subnet retrust --trust height:block_id` votes
// for: the parent header pb, its commit checked, as light.After leaves it.
func trustOf(t *testing.T, p *parentChain, pb ParentBlock) Retrust {
	t.Helper()
	c := p.e.h.Codec()
	vs, next := mustSet(t, pb.Validators), mustSet(t, pb.Validators)
	if len(pb.NextValidators) > 0 {
		next = mustSet(t, pb.NextValidators)
	}
	lb := &light.LightBlock{Header: pb.Header, Commit: &pb.Commit, Validators: vs}
	if err := light.CheckOwn(c, pb.Header.ChainID, lb); err != nil {
		t.Fatal(err)
	}
	st, err := light.After(c, lb, next)
	if err != nil {
		t.Fatal(err)
	}
	return RetrustOf(st, pb.Header.StateRoot)
}

// A subnet whose trusted parent header expired (15 days without a relayed
// header while the parent's set rotated fully) is re-trusted by more than
// 2/3 of its own validators voting for a parent header, and then mints the
// deposits it missed, once; re-trust is refused while the trust is fresh,
// from a non-validator, below the trusted height, and short of 2/3.
func TestRetrustAfterExpiry(t *testing.T) {
	p := newParentChain(t)
	p.e.register(5, 1, 1, 1)
	sub := stakedSubnetOf(t, p)
	dave := sub.h.Addr(5)
	d0 := sub.balance(dave)
	p.deposit(0, dave, 100)
	if res := sendTopDown(sub, p, 6, p.relay(0)); res.Code != 0 {
		t.Fatalf("first topdown: %d %s", res.Code, res.Log)
	}
	vote := func(sender int, r Retrust) chain.TxResult {
		t.Helper()
		return sub.deliver(sender, sub.msg(MsgRetrust(sub.h.Codec(), r)))
	}
	fresh := trustOf(t, p, p.block())
	if res := vote(0, fresh); res.Code == 0 || !strings.Contains(res.Log, ErrTrustNotExpired.Error()) {
		t.Fatalf("a vote while the trust is fresh: %d %s", res.Code, res.Log)
	}

	// 15 days pass: the parent's set rotates fully and a deposit is made;
	// nobody relays.
	p.e.h.Advance(15 * 24 * time.Hour)
	p.next = []int{4, 5, 6, 7}
	p.e.h.Block()
	p.block()
	p.deposit(1, dave, 250)
	sub.h.Advance(15 * 24 * time.Hour)
	sub.h.Block()
	if res := sendTopDown(sub, p, 6, p.relay(1)); res.Code == 0 || !strings.Contains(res.Log, light.ErrTrustExpired.Error()) {
		t.Fatalf("a topdown over an expired trust: %d %s", res.Code, res.Log)
	}

	head := p.block() // the header the validators check out of band
	r := trustOf(t, p, head)
	old := r
	old.Height = sub.topDown().Height
	for _, tc := range []struct {
		name   string
		sender int
		r      Retrust
		want   string
	}{
		{"from an account that is no validator", 6, r, ErrNotValidator.Error()},
		{"at the trusted height", 0, old, "at or below the trusted"},
		{"without a block id", 0, func() Retrust { x := r; x.BlockID = ""; return x }(), "block_id"},
		{"a header older than the trusting period", 0, func() Retrust { x := r; x.Time -= chain.Time(15 * 24 * time.Hour); return x }(), "not within the trusting period"},
		{"a header an hour ahead of the subnet's block", 0, func() Retrust { x := r; x.Time = chain.TimeOf(sub.h.Time().Add(time.Hour)); return x }(), "ahead of it"},
	} {
		if res := vote(tc.sender, tc.r); res.Code == 0 || !strings.Contains(res.Log, tc.want) {
			t.Errorf("%s: %d %s", tc.name, res.Code, res.Log)
		}
	}
	// Two of four (1/2 of the power), and one of them twice: not installed.
	for _, v := range []int{0, 1, 1} {
		if res := vote(v, r); res.Code != 0 || len(moduletest.Events(sub.h.Last, "subnet.retrust")) != 0 {
			t.Fatalf("vote %d: %d %s", v, res.Code, res.Log)
		}
	}
	if sub.topDown().Height == r.Height {
		t.Fatal("installed with 1/2 of the power")
	}
	// A different header voted by a third validator does not add to it.
	p.e.h.Block()
	other := trustOf(t, p, p.block())
	if res := vote(3, other); res.Code != 0 || len(moduletest.Events(sub.h.Last, "subnet.retrust")) != 0 {
		t.Fatalf("vote for another header: %d %s", res.Code, res.Log)
	}
	if res := vote(2, r); res.Code != 0 || len(moduletest.Events(sub.h.Last, "subnet.retrust")) != 1 {
		t.Fatalf("the third vote: %d %s", res.Code, res.Log)
	}
	td := sub.topDown()
	if td.Height != r.Height || td.BlockID != r.BlockID || td.Applied != 1 {
		t.Fatalf("after re-trust: trusted %d %s applied %d, want %d %s applied 1", td.Height, td.BlockID, td.Applied, r.Height, r.BlockID)
	}
	// Fresh again: one more vote (the other header's) is refused.
	if res := vote(0, other); res.Code == 0 || !strings.Contains(res.Log, ErrTrustNotExpired.Error()) {
		t.Fatalf("a vote after re-trust: %d %s", res.Code, res.Log)
	}

	// Relaying goes on from the re-trusted header (signed by the new set):
	// the missed deposit and a new one are minted, once.
	p.deposit(2, dave, 7)
	for i := 0; i < 2; i++ {
		if res := sendTopDown(sub, p, 6, p.relay(1)); res.Code != 0 {
			t.Fatalf("topdown after re-trust (%d): %d %s", i, res.Code, res.Log)
		}
	}
	td = sub.topDown()
	if got := sub.balance(dave) - d0; got != 357 || td.Applied != 3 || td.Minted != p.e.subnet().Locked {
		t.Fatalf("dave minted %d (want 357), applied %d, minted %d of %d locked", got, td.Applied, td.Minted, p.e.subnet().Locked)
	}
}
