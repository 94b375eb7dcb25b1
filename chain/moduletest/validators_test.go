package moduletest_test

import (
	"encoding/json"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/dure-network/dure/apps/currency"
	"github.com/dure-network/dure/apps/staking"
	"github.com/dure-network/dure/chain"
	"github.com/dure-network/dure/chain/moduletest"
)

// newStaking is currency and staking with validators 0 (power 100) and 1
// (power 50); keys 0..3 hold 10,000 stake each.
func newStaking(t testing.TB) (*moduletest.Harness, *staking.Module) {
	t.Helper()
	c := chain.MustCodec()
	ck, sk := chain.NewStoreKey(currency.ModuleName), chain.NewStoreKey(staking.ModuleName)
	cur := currency.New(ck, c, currency.DefaultParams())
	stk := staking.New(sk, c, cur)
	k := moduletest.KeyFromIndex
	cg := currency.Genesis{NativeDenom: "stake"}
	for i := 0; i < 4; i++ {
		cg.Balances = append(cg.Balances, currency.GenesisBalance{Address: k(i).PubKey().Address(), Denom: "stake", Amount: 10_000})
	}
	sg := staking.GenesisState{Params: staking.Params{BondDenom: "stake", MinSelfStake: 100, MaxValidators: 10, UnbondingSeconds: 10,
		DowntimeWindow: 10, MinSignedPerWindow: 5, JailSeconds: 60, DoubleSignSlashBps: 500, DowntimeSlashBps: 100,
		PowerReduction: 10, RewardSource: currency.FeeCollector()},
		Validators: []staking.GenesisValidator{{Address: k(0).PubKey().Address(), PubKey: k(0).PubKey(), SelfStake: 1000},
			{Address: k(1).PubKey().Address(), PubKey: k(1).PubKey(), SelfStake: 500}}}
	craw, _ := json.Marshal(cg)
	sraw, _ := json.Marshal(sg)
	h := moduletest.New(t, moduletest.Config{Modules: []chain.Module{cur, stk}, Keys: []*chain.StoreKey{ck, sk},
		Genesis: map[string]json.RawMessage{currency.ModuleName: craw, staking.ModuleName: sraw}})
	return h, stk
}

func members(vs *chain.ValidatorSet) string {
	var out []string
	for _, v := range vs.Validators {
		for i := 0; i < 4; i++ {
			if moduletest.KeyFromIndex(i).PubKey().Address() == v.Address {
				out = append(out, fmt.Sprintf("%d:%d", i, v.Power))
			}
		}
	}
	return strings.Join(out, " ")
}

// doubleSign is real evidence: key i signs two precommits at height.
func doubleSign(h *moduletest.Harness, i int, height uint64) chain.Evidence {
	k := moduletest.KeyFromIndex(i)
	vote := func(id chain.ID) chain.Vote {
		v := chain.Vote{Type: chain.Precommit, Height: height, BlockID: id, Validator: k.PubKey().Address()}
		v.Sig = k.Sign(v.SignBytes(h.Codec(), moduletest.DefaultChainID))
		return v
	}
	a, b := chain.IDOf([]byte("a")), chain.IDOf([]byte("b"))
	if a > b {
		a, b = b, a
	}
	return chain.Evidence{VoteA: vote(a), VoteB: vote(b)}
}

// The validator-set owner's updates sign two heights after the block that
// decided them, last-commit signers are the previous height's set minus
// the absent, and evidence reaches BeginBlock: as blockexec does.
func TestValidatorRotationAndInputs(t *testing.T) {
	h, _ := newStaking(t)
	c := h.Codec()
	if got := members(h.Validators(1)); got != members(h.Validators(2)) || h.Validators(3) != nil {
		t.Fatalf("after genesis: set 1 %q, set 2 %q, set 3 %v", got, members(h.Validators(2)), h.Validators(3))
	}
	bond, _ := staking.MsgBond(c, h.Key(2).PubKey(), 300)
	h.MustDeliverAs(h.Addr(2), bond)
	_, ups := h.EndBlock(time.Second) // block 1 decides: key 2 joins with power 30
	if len(ups) != 1 || ups[0].Power != 30 {
		t.Fatalf("block 1 updates %+v", ups)
	}
	two, three := members(h.Validators(2)), members(h.Validators(3))
	if strings.Contains(two, "2:") || !strings.Contains(three, "2:30") {
		t.Fatalf("joined at the wrong height: set 2 %q, set 3 %q", two, three)
	}

	h.BeginBlock(moduletest.Inputs{Absent: []chain.Address{h.Addr(1)}})
	if info, open := h.OpenBlock(); !open || info.Height != 2 || len(info.LastCommitSigners) != 1 || info.LastCommitSigners[0] != h.Addr(0) {
		t.Fatalf("block 2 inputs %+v (open %v), want signer 0 alone", info, open)
	}
	h.EndBlock(time.Second)

	evs := h.BeginBlock(moduletest.Inputs{Evidence: []chain.Evidence{doubleSign(h, 1, 2)}})
	if len(evs) == 0 || evs[len(evs)-1].Type != "staking.tombstone" {
		t.Fatalf("begin block 3 events %+v, want the tombstone", evs)
	}
	if info, _ := h.OpenBlock(); info.Time.Std() != time.Date(2026, 1, 1, 0, 0, 2, 0, time.UTC) {
		t.Fatalf("block 3 at %v", info.Time.Std())
	}
	evs, ups = h.EndBlock(time.Second)
	slashed := false
	for _, e := range evs {
		slashed = slashed || e.Type == "staking.slash" && moduletest.Attr(e, "reason") == "double_sign"
	}
	if len(ups) != 1 || ups[0].PubKey != h.Key(1).PubKey() || ups[0].Power != 0 || !slashed {
		t.Fatalf("block 3: updates %+v, events %+v", ups, evs)
	}
	if four, five := members(h.Validators(4)), members(h.Validators(5)); !strings.Contains(four, "1:") || strings.Contains(five, "1:") {
		t.Fatalf("removal at the wrong height: set 4 %q, set 5 %q", four, five)
	}
	// Block mode: block 4 carries the commit of height 3, which key 2 (in
	// the set from height 3) did not sign; staking counts the miss.
	h.BlockWith(moduletest.Inputs{Absent: []chain.Address{h.Addr(2)}})
	v := h.MustQuery(staking.ModuleName, "validator", map[string]string{"address": h.Addr(2).String()}).(map[string]any)
	if v["missed"] != float64(1) {
		t.Fatalf("validator 2 after missing the commit of height 3: %v", v)
	}
	h.Block() // every member signs by default
	h.CheckExport()
}

// fatalOf runs fn with a testing.TB whose Fatal stops fn and is returned.
func fatalOf(t *testing.T, fn func(tb testing.TB) *moduletest.Harness) string {
	r := &recorder{TB: t}
	done := make(chan struct{})
	go func() { defer close(done); fn(r) }()
	<-done
	return r.msg
}

type recorder struct {
	testing.TB
	msg string
}

func (r *recorder) Fatalf(format string, args ...any) {
	r.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}
func (r *recorder) Fatal(args ...any) { r.msg = fmt.Sprint(args...); runtime.Goexit() }

// Inputs no node would give a block fail the test that asks for them.
func TestBadInputsFail(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   func(h *moduletest.Harness) moduletest.Inputs
		want string
	}{
		{"absent non-member", func(h *moduletest.Harness) moduletest.Inputs {
			return moduletest.Inputs{Absent: []chain.Address{h.Addr(3)}}
		}, "not in the set"},
		{"evidence by a non-member", func(h *moduletest.Harness) moduletest.Inputs {
			return moduletest.Inputs{Evidence: []chain.Evidence{doubleSign(h, 3, 1)}}
		}, "does not verify"},
		{"evidence from the future", func(h *moduletest.Harness) moduletest.Inputs {
			return moduletest.Inputs{Evidence: []chain.Evidence{doubleSign(h, 0, 9)}}
		}, "out of range"},
		{"forged signature", func(h *moduletest.Harness) moduletest.Inputs {
			ev := doubleSign(h, 0, 1)
			ev.VoteB.Sig[0] ^= 1
			return moduletest.Inputs{Evidence: []chain.Evidence{ev}}
		}, "does not verify"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			msg := fatalOf(t, func(tb testing.TB) *moduletest.Harness {
				h, _ := newStaking(tb)
				h.EndBlock(time.Second)
				h.BeginBlock(tc.in(h))
				return h
			})
			if !strings.Contains(msg, tc.want) {
				t.Fatalf("got %q, want a failure naming %q", msg, tc.want)
			}
		})
	}
}
