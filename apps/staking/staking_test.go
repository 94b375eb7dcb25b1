package staking

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/dure-network/dure/chain"
	"github.com/dure-network/dure/chain/moduletest"
)

// evidenceAgainst builds real, signed double-sign evidence by validator i
// at height h and checks it the way the node does before passing it in
// (the harness checks it again against the set of height h when a block
// carries it).
func evidenceAgainst(t testing.TB, e *world, i int, h uint64) chain.Evidence {
	t.Helper()
	k := key(i)
	idA, idB := chain.IDOf([]byte("block a")), chain.IDOf([]byte("block b"))
	if idA > idB {
		idA, idB = idB, idA
	}
	vote := func(id chain.ID) chain.Vote {
		v := chain.Vote{Type: chain.Precommit, Height: h, Round: 0, BlockID: id, Validator: k.PubKey().Address()}
		v.Sig = k.Sign(v.SignBytes(e.c, moduletest.DefaultChainID))
		return v
	}
	ev := chain.Evidence{VoteA: vote(idA), VoteB: vote(idB)}
	vs, err := chain.NewValidatorSet([]chain.Validator{{Address: k.PubKey().Address(), PubKey: k.PubKey(), Power: 1}})
	if err != nil {
		t.Fatal(err)
	}
	if err := ev.Verify(e.c, moduletest.DefaultChainID, vs); err != nil {
		t.Fatalf("test evidence does not verify: %v", err)
	}
	return ev
}

// jail makes validator i miss blocks until it is jailed for downtime.
func jail(t testing.TB, e *world, i int) {
	t.Helper()
	for n := 0; n < 40; n++ {
		e.advance([]chain.Address{addr(i)})
		e.endBlock()
		if e.validator(addr(i)).Jailed {
			return
		}
	}
	t.Fatalf("validator %d never jailed", i)
}

// nobody is absent from a last commit: every validator of the set that
// signed the previous height signed it.
var nobody []chain.Address

func TestGenesisReportsInitialSet(t *testing.T) {
	p := testParams()
	e := newWorld(t, p, 1000, 500, 300, 200) // max 3: the 200 is cut
	ups := e.Last.ValidatorUpdates
	if len(ups) != 3 {
		t.Fatalf("genesis reported %d updates, want 3: %+v", len(ups), ups)
	}
	for i, want := range []uint64{100, 50, 30} {
		if got, ok := powerOf(ups, key(i).PubKey()); !ok || got != want {
			t.Fatalf("validator %d: power %d (reported %v), want %d", i, got, ok, want)
		}
	}
	if _, ok := powerOf(ups, key(3).PubKey()); ok {
		t.Fatal("fourth validator reported despite max_validators 3")
	}
	g := GenesisState{Params: p}
	for i, s := range []uint64{1000, 500, 300, 200} {
		g.Validators = append(g.Validators, GenesisValidator{Address: addr(i), PubKey: key(i).PubKey(), SelfStake: s})
	}
	raw, _ := json.Marshal(g)
	vals, err := GenesisValidators(raw)
	if err != nil {
		t.Fatal(err)
	}
	if len(vals) != len(ups) {
		t.Fatalf("GenesisValidators gave %d, InitGenesis reported %d", len(vals), len(ups))
	}
	for _, v := range vals {
		if pw, ok := powerOf(ups, v.PubKey); !ok || pw != v.Power {
			t.Fatalf("GenesisValidators %s power %d disagrees with InitGenesis (%d)", v.Address, v.Power, pw)
		}
	}
	if _, err := chain.NewValidatorSet(vals); err != nil {
		t.Fatalf("genesis validators are not a valid set: %v", err)
	}
	if got := e.balance(BondedPool()); got != 2000 {
		t.Fatalf("bonded pool %d, want 2000", got)
	}
	e.checkPools()
}

func TestGenesisRejects(t *testing.T) {
	p := testParams()
	k0, k1 := key(0), key(1)
	good := GenesisValidator{Address: k0.PubKey().Address(), PubKey: k0.PubKey(), SelfStake: 1000}
	cases := []struct {
		name string
		mut  func(g *GenesisState)
	}{
		{"no validators", func(g *GenesisState) { g.Validators = nil }},
		{"address mismatch", func(g *GenesisState) { g.Validators[0].Address = k1.PubKey().Address() }},
		{"duplicate validator", func(g *GenesisState) { g.Validators = append(g.Validators, good) }},
		{"below min self-stake", func(g *GenesisState) { g.Validators[0].SelfStake = 99 }},
		{"no power", func(g *GenesisState) { g.Params.MinSelfStake = 1; g.Validators[0].SelfStake = 9 }},
		{"bad params", func(g *GenesisState) { g.Params.MaxValidators = 0 }},
		{"min signed above window", func(g *GenesisState) { g.Params.MinSignedPerWindow = 11 }},
		{"slash above 100%", func(g *GenesisState) { g.Params.DoubleSignSlashBps = 10_001 }},
		{"delegation to unknown", func(g *GenesisState) {
			g.Delegations = []GenesisDelegation{{Delegator: k0.PubKey().Address(), Validator: k1.PubKey().Address(), Amount: 5}}
		}},
		{"self delegation", func(g *GenesisState) {
			g.Delegations = []GenesisDelegation{{Delegator: good.Address, Validator: good.Address, Amount: 5}}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := GenesisState{Params: p, Validators: []GenesisValidator{good}}
			tc.mut(&g)
			raw, _ := json.Marshal(g)
			if _, err := GenesisValidators(raw); !errors.Is(err, ErrBadGenesis) {
				t.Fatalf("GenesisValidators: got %v, want ErrBadGenesis", err)
			}
			if _, err := build(t, g, map[int]uint64{0: 10_000}, 0); !errors.Is(err, ErrBadGenesis) {
				t.Fatalf("InitGenesis: got %v, want ErrBadGenesis", err)
			}
		})
	}
	t.Run("unknown field", func(t *testing.T) {
		if _, err := GenesisValidators(json.RawMessage(`{"params":{},"bogus":1}`)); !errors.Is(err, ErrBadGenesis) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("unfunded validator", func(t *testing.T) {
		_, err := build(t, GenesisState{Params: p, Validators: []GenesisValidator{good}}, nil, 0)
		if !errors.Is(err, ErrBadGenesis) || !errors.Is(err, chain.ErrInsufficient) {
			t.Fatalf("got %v, want ErrBadGenesis wrapping ErrInsufficient", err)
		}
	})
}

func TestMessages(t *testing.T) {
	c := chain.MustCodec()
	type tcase struct {
		name    string
		setup   func(t *testing.T, e *world)
		sender  int
		msg     func(t *testing.T, e *world) (chain.Msg, error)
		wantErr []error // all must match (errors.Is); nil means success
		check   func(t *testing.T, e *world)
	}
	const (
		v0, v1, v2 = 0, 1, 2 // genesis validators: 1000, 500, 300
		rich       = 5       // funded account, not a validator
		poor       = 6       // holds 150
	)
	delegate := func(amt uint64) func(t *testing.T, e *world) {
		return func(t *testing.T, e *world) { e.MustDeliverAs(addr(rich), e.Built(MsgDelegate(c, addr(v0), amt))) }
	}
	tombstone := func(i int) func(t *testing.T, e *world) {
		return func(t *testing.T, e *world) {
			e.advance(nobody, evidenceAgainst(t, e, i, e.height()))
			e.endBlock()
		}
	}
	cases := []tcase{
		{name: "bond creates validator", sender: rich,
			msg: func(t *testing.T, e *world) (chain.Msg, error) { return MsgBond(c, key(rich).PubKey(), 200) },
			check: func(t *testing.T, e *world) {
				if v := e.validator(addr(rich)); v.Tokens != 200 || v.SelfStake != 200 {
					t.Fatalf("new validator %+v", v)
				}
				if got := e.balance(addr(rich)); got != 10_000-200 {
					t.Fatalf("balance %d", got)
				}
			}},
		{name: "bond adds to existing", sender: v0,
			msg: func(t *testing.T, e *world) (chain.Msg, error) { return MsgBond(c, key(v0).PubKey(), 10) },
			check: func(t *testing.T, e *world) {
				if v := e.validator(addr(v0)); v.Tokens != 1010 || v.SelfStake != 1010 {
					t.Fatalf("after bond %+v", v)
				}
			}},
		{name: "bond below min self-stake", sender: rich,
			msg:     func(t *testing.T, e *world) (chain.Msg, error) { return MsgBond(c, key(rich).PubKey(), 99) },
			wantErr: []error{ErrBelowMinSelfStake, chain.ErrInvalidMsg}},
		{name: "bond with another's key", sender: rich,
			msg:     func(t *testing.T, e *world) (chain.Msg, error) { return MsgBond(c, key(poor).PubKey(), 200) },
			wantErr: []error{ErrPubKeyMismatch, chain.ErrUnauthorized}},
		{name: "bond insufficient funds", sender: poor,
			msg:     func(t *testing.T, e *world) (chain.Msg, error) { return MsgBond(c, key(poor).PubKey(), 200) },
			wantErr: []error{chain.ErrInsufficient}},
		{name: "bond when tombstoned", setup: tombstone(v2), sender: v2,
			msg:     func(t *testing.T, e *world) (chain.Msg, error) { return MsgBond(c, key(v2).PubKey(), 200) },
			wantErr: []error{ErrTombstoned}},
		{name: "unbond part", sender: v0,
			msg: func(t *testing.T, e *world) (chain.Msg, error) { return MsgUnbond(c, 100) },
			check: func(t *testing.T, e *world) {
				if v := e.validator(addr(v0)); v.Tokens != 900 {
					t.Fatalf("after unbond %+v", v)
				}
				if got := e.balance(UnbondingPool()); got != 100 {
					t.Fatalf("unbonding pool %d", got)
				}
			}},
		{name: "unbond all forgets validator", sender: v1,
			msg: func(t *testing.T, e *world) (chain.Msg, error) { return MsgUnbondAll(c) },
			check: func(t *testing.T, e *world) {
				_, err := e.QueryOpen(ModuleName, "validator", map[string]string{"address": addr(v1).String()})
				if !errors.Is(err, chain.ErrNotFound) {
					t.Fatalf("validator still there: %v", err)
				}
			}},
		{name: "unbond unknown validator", sender: rich,
			msg:     func(t *testing.T, e *world) (chain.Msg, error) { return MsgUnbond(c, 1) },
			wantErr: []error{ErrUnknownValidator, chain.ErrInvalidMsg}},
		{name: "unbond more than staked", sender: v1,
			msg:     func(t *testing.T, e *world) (chain.Msg, error) { return MsgUnbond(c, 501) },
			wantErr: []error{chain.ErrInsufficient}},
		{name: "unbond zero amount", sender: v1,
			msg: func(t *testing.T, e *world) (chain.Msg, error) {
				return newMsg(c, TypeUnbond, Unbond{})
			},
			wantErr: []error{chain.ErrInvalidMsg}},
		{name: "delegate", sender: rich,
			msg: func(t *testing.T, e *world) (chain.Msg, error) { return MsgDelegate(c, addr(v0), 100) },
			check: func(t *testing.T, e *world) {
				if v := e.validator(addr(v0)); v.Tokens != 1100 || v.SelfStake != 1000 {
					t.Fatalf("after delegate %+v", v)
				}
				d, err := e.QueryOpen(ModuleName, "delegations", map[string]string{"delegator": addr(rich).String()})
				if err != nil {
					t.Fatal(err)
				}
				ds := d.(*Delegations).Delegations
				if len(ds) != 1 || ds[0].Tokens != 100 || ds[0].Validator != addr(v0) {
					t.Fatalf("delegations %+v", ds)
				}
			}},
		{name: "delegate unknown validator", sender: rich,
			msg:     func(t *testing.T, e *world) (chain.Msg, error) { return MsgDelegate(c, addr(poor), 100) },
			wantErr: []error{ErrUnknownValidator}},
		{name: "delegate to self", sender: v0,
			msg:     func(t *testing.T, e *world) (chain.Msg, error) { return MsgDelegate(c, addr(v0), 100) },
			wantErr: []error{chain.ErrInvalidMsg}},
		{name: "delegate insufficient funds", sender: poor,
			msg:     func(t *testing.T, e *world) (chain.Msg, error) { return MsgDelegate(c, addr(v0), 151) },
			wantErr: []error{chain.ErrInsufficient}},
		{name: "delegate to tombstoned", setup: tombstone(v2), sender: rich,
			msg:     func(t *testing.T, e *world) (chain.Msg, error) { return MsgDelegate(c, addr(v2), 100) },
			wantErr: []error{ErrTombstoned}},
		{name: "undelegate part", setup: delegate(100), sender: rich,
			msg: func(t *testing.T, e *world) (chain.Msg, error) { return MsgUndelegate(c, addr(v0), 40) },
			check: func(t *testing.T, e *world) {
				if v := e.validator(addr(v0)); v.Tokens != 1060 {
					t.Fatalf("after undelegate %+v", v)
				}
			}},
		{name: "undelegate all", setup: delegate(100), sender: rich,
			msg: func(t *testing.T, e *world) (chain.Msg, error) { return MsgUndelegateAll(c, addr(v0)) },
			check: func(t *testing.T, e *world) {
				if v := e.validator(addr(v0)); v.Tokens != 1000 {
					t.Fatalf("after undelegate all %+v", v)
				}
			}},
		{name: "undelegate without delegation", sender: rich,
			msg:     func(t *testing.T, e *world) (chain.Msg, error) { return MsgUndelegate(c, addr(v0), 1) },
			wantErr: []error{ErrNoDelegation}},
		{name: "undelegate more than delegated", setup: delegate(100), sender: rich,
			msg:     func(t *testing.T, e *world) (chain.Msg, error) { return MsgUndelegate(c, addr(v0), 101) },
			wantErr: []error{chain.ErrInsufficient}},
		{name: "unjail when not jailed", sender: v0,
			msg:     func(t *testing.T, e *world) (chain.Msg, error) { return MsgUnjail(c) },
			wantErr: []error{ErrNotJailed}},
		{name: "unjail unknown validator", sender: rich,
			msg:     func(t *testing.T, e *world) (chain.Msg, error) { return MsgUnjail(c) },
			wantErr: []error{ErrUnknownValidator}},
		{name: "unjail tombstoned", setup: tombstone(v2), sender: v2,
			msg:     func(t *testing.T, e *world) (chain.Msg, error) { e.Advance(1e15); return MsgUnjail(c) },
			wantErr: []error{ErrTombstoned}},
		{name: "unjail before jail ends", setup: func(t *testing.T, e *world) { jail(t, e, v2) }, sender: v2,
			msg:     func(t *testing.T, e *world) (chain.Msg, error) { return MsgUnjail(c) },
			wantErr: []error{ErrStillJailed}},
		{name: "unjail after jail ends", setup: func(t *testing.T, e *world) { jail(t, e, v2); e.Advance(60 * time.Second) }, sender: v2,
			msg: func(t *testing.T, e *world) (chain.Msg, error) { return MsgUnjail(c) },
			check: func(t *testing.T, e *world) {
				if e.validator(addr(v2)).Jailed {
					t.Fatal("still jailed")
				}
				if p, ok := powerOf(e.endBlock(), key(v2).PubKey()); !ok || p == 0 {
					t.Fatalf("unjailed validator not back in the set (power %d, %v)", p, ok)
				}
			}},
		{name: "unjail below min self-stake", sender: v2,
			setup: func(t *testing.T, e *world) {
				jail(t, e, v2)
				e.MustDeliverAs(addr(v2), e.Built(MsgUnbond(c, 250)))
				e.Advance(60 * time.Second)
			},
			msg:     func(t *testing.T, e *world) (chain.Msg, error) { return MsgUnjail(c) },
			wantErr: []error{ErrBelowMinSelfStake}},
		{name: "unknown type", sender: v0,
			msg:     func(t *testing.T, e *world) (chain.Msg, error) { return newMsg(c, "redelegate", Unjail{}) },
			wantErr: []error{chain.ErrUnknownMsg}},
		{name: "non-canonical body", sender: rich,
			msg: func(t *testing.T, e *world) (chain.Msg, error) {
				// [pubkey, 200] with 200 encoded in 4 bytes instead of 2.
				m, err := MsgBond(c, key(rich).PubKey(), 200)
				body := append([]byte{}, m.Body[:len(m.Body)-2]...)
				m.Body = append(body, 0x1a, 0, 0, 0, 200)
				return m, err
			},
			wantErr: []error{chain.ErrInvalidMsg}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newWorld(t, testParams(), 1000, 500, 300)
			e.fund(addr(rich), 10_000)
			e.fund(addr(poor), 150)
			if tc.setup != nil {
				tc.setup(t, e)
			}
			msg := e.Built(tc.msg(t, e))
			if _, open := e.OpenBlock(); !open {
				e.BeginBlock(moduletest.Inputs{})
			}
			before := e.Dump()
			err := e.deliver(addr(tc.sender), msg)
			if tc.wantErr == nil {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
			} else {
				for _, w := range tc.wantErr {
					if !errors.Is(err, w) {
						t.Fatalf("got error %v, want %v", err, w)
					}
				}
				if e.Dump() != before {
					t.Fatal("failed message changed state")
				}
			}
			e.checkPools()
			if tc.check != nil {
				tc.check(t, e)
			}
		})
	}
}
