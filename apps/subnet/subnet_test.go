package subnet

import (
	"errors"
	"strings"
	"testing"

	"github.com/dure-network/dure/chain"
	"github.com/dure-network/dure/chain/moduletest"
)

func TestRegisterLocksCollateral(t *testing.T) {
	e := newEnv(t, "parent-1", nil)
	before := e.balance(e.h.Addr(0))
	e.register(10, 1, 2, 3)
	if got := before - e.balance(e.h.Addr(0)); got != 6*unit {
		t.Fatalf("creator paid %d, want %d", got, 6*unit)
	}
	if got := e.balance(Collateral()); got != 6*unit {
		t.Fatalf("collateral pool holds %d", got)
	}
	s := e.subnet()
	if len(s.Validators) != 3 || s.Period != 10 || s.EscapeAfter != testParams.EscapeAfter || s.Last.Height != 0 {
		t.Fatalf("subnet %+v", s)
	}
	for _, c := range []struct {
		name string
		r    Register
		code uint32
	}{
		{"taken id", Register{ID: coop, GenesisHash: e.gh, Period: 10, Validators: []NewValidator{{PubKey: valKey(9).PubKey(), Collateral: unit}}}, chain.CodeInvalidMsg},
		{"bad id", Register{ID: "Coop", GenesisHash: e.gh, Period: 10, Validators: []NewValidator{{PubKey: valKey(9).PubKey(), Collateral: unit}}}, chain.CodeInvalidMsg},
		{"no period", Register{ID: "b", GenesisHash: e.gh, Validators: []NewValidator{{PubKey: valKey(9).PubKey(), Collateral: unit}}}, chain.CodeInvalidMsg},
		{"no validators", Register{ID: "b", GenesisHash: e.gh, Period: 10}, chain.CodeInvalidMsg},
		{"low collateral", Register{ID: "b", GenesisHash: e.gh, Period: 10, Validators: []NewValidator{{PubKey: valKey(9).PubKey(), Collateral: unit - 1}}}, chain.CodeInvalidMsg},
		{"twice the same key", Register{ID: "b", GenesisHash: e.gh, Period: 10, Validators: []NewValidator{
			{PubKey: valKey(9).PubKey(), Collateral: unit}, {PubKey: valKey(9).PubKey(), Collateral: unit}}}, chain.CodeInvalidMsg},
		{"more than the sender has", Register{ID: "b", GenesisHash: e.gh, Period: 10, Validators: []NewValidator{{PubKey: valKey(9).PubKey(), Collateral: 1 << 60}}}, chain.CodeInsufficent},
	} {
		if res := e.deliver(1, e.msg(MsgRegister(e.h.Codec(), c.r))); res.Code != c.code {
			t.Errorf("%s: code %d (%s), want %d", c.name, res.Code, res.Log, c.code)
		}
	}
}

// Checkpoint verification on the parent, table-driven: each case builds a
// signed checkpoint against a fresh subnet of four validators with power
// 1, 1, 1, 2 (total 5, quorum 4) that already accepted height 10.
func TestCheckpointVerification(t *testing.T) {
	type build func(e *env) SignedCheckpoint
	cases := []struct {
		name string
		sc   build
		code uint32
		err  error  // in the log
		want uint64 // last accepted height after
	}{
		{"valid, all sign", func(e *env) SignedCheckpoint { return e.signed(e.checkpoint(20), 0, 1, 2, 3) }, chain.CodeOK, nil, 20},
		{"valid, exactly quorum", func(e *env) SignedCheckpoint { return e.signed(e.checkpoint(20), 0, 1, 3) }, chain.CodeOK, nil, 20},
		{"fast-forward past skipped checkpoints", func(e *env) SignedCheckpoint { return e.signed(e.checkpoint(60), 0, 1, 2, 3) }, chain.CodeOK, nil, 60},
		{"short quorum: 3 of 5", func(e *env) SignedCheckpoint { return e.signed(e.checkpoint(20), 0, 1, 2) }, chain.CodeInvalidMsg, ErrNoQuorum, 10},
		{"short quorum: no signatures", func(e *env) SignedCheckpoint { return e.signed(e.checkpoint(20)) }, chain.CodeInvalidMsg, ErrNoQuorum, 10},
		{"forged: outsider key under a member's address", func(e *env) SignedCheckpoint {
			cp := e.checkpoint(20)
			sc := e.signed(cp, 0, 1, 2)
			forged := Sign(e.h.Codec(), e.gh, &cp, valKey(99))
			forged.Validator = e.vals[3].PubKey().Address()
			sc.Sigs = append(sc.Sigs, forged)
			return sc
		}, chain.CodeInvalidMsg, ErrBadSignature, 10},
		{"forged: altered after signing", func(e *env) SignedCheckpoint {
			sc := e.signed(e.checkpoint(20), 0, 1, 2, 3)
			sc.Checkpoint.StateRoot[0] ^= 1
			return sc
		}, chain.CodeInvalidMsg, ErrBadSignature, 10},
		{"forged: signed for another subnet's genesis", func(e *env) SignedCheckpoint {
			cp := e.checkpoint(20)
			sc := SignedCheckpoint{Checkpoint: cp}
			for _, k := range e.vals {
				sc.Sigs = append(sc.Sigs, Sign(e.h.Codec(), chain.Sum256([]byte("other")), &cp, k))
			}
			return sc
		}, chain.CodeInvalidMsg, ErrBadSignature, 10},
		{"outsider signature", func(e *env) SignedCheckpoint {
			cp := e.checkpoint(20)
			sc := e.signed(cp, 0, 1)
			sc.Sigs = append(sc.Sigs, Sign(e.h.Codec(), e.gh, &cp, valKey(99)))
			return sc
		}, chain.CodeInvalidMsg, ErrBadSignature, 10},
		{"one validator twice", func(e *env) SignedCheckpoint { return e.signed(e.checkpoint(20), 3, 3, 0) }, chain.CodeInvalidMsg, ErrBadSignature, 10},
		{"replayed: the accepted one again is a no-op", func(e *env) SignedCheckpoint { return e.signed(e.checkpoint(10), 0, 1, 2, 3) }, chain.CodeOK, nil, 10},
		{"older height, even unsigned, is a no-op", func(e *env) SignedCheckpoint { return e.signed(e.checkpoint(10)) }, chain.CodeOK, nil, 10},
		{"not a multiple of the period", func(e *env) SignedCheckpoint { return e.signed(e.checkpoint(25), 0, 1, 2, 3) }, chain.CodeInvalidMsg, ErrBadHeight, 10},
		{"names another set", func(e *env) SignedCheckpoint {
			cp := e.checkpoint(20)
			cp.ValidatorsHash[0] ^= 1
			return e.signed(cp, 0, 1, 2, 3)
		}, chain.CodeInvalidMsg, ErrSetMismatch, 10},
		{"next set with an unregistered validator", func(e *env) SignedCheckpoint {
			cp := e.checkpoint(20)
			cp.NextValidators = append(cp.NextValidators, chain.Validator{Address: valKey(99).PubKey().Address(), PubKey: valKey(99).PubKey(), Power: 1})
			cp.NextValidators = sortVals(cp.NextValidators)
			return e.signed(cp, 0, 1, 2, 3)
		}, chain.CodeInvalidMsg, ErrNextSet, 10},
		{"next set inflating a member's power", func(e *env) SignedCheckpoint {
			cp := e.checkpoint(20)
			cp.NextValidators[0].Power = 100
			return e.signed(cp, 0, 1, 2, 3)
		}, chain.CodeInvalidMsg, ErrNextSet, 10},
		{"outbox going back", func(e *env) SignedCheckpoint {
			cp := e.checkpoint(20)
			cp.DepositsApplied = 1 // none were made
			return e.signed(cp, 0, 1, 2, 3)
		}, chain.CodeInvalidMsg, ErrRegress, 10},
		{"unknown subnet", func(e *env) SignedCheckpoint {
			cp := e.checkpoint(20)
			cp.Subnet = "nowhere"
			return e.signed(cp, 0, 1, 2, 3)
		}, chain.CodeInvalidMsg, ErrNoSubnet, 10},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, "parent-1", nil)
			e.register(10, 1, 1, 1, 2)
			e.submitOK(e.signed(e.checkpoint(10), 0, 1, 2, 3))
			res := e.submit(4, c.sc(e))
			if res.Code != c.code {
				t.Fatalf("code %d (%s), want %d", res.Code, res.Log, c.code)
			}
			if c.err != nil && !strings.Contains(res.Log, c.err.Error()) {
				t.Fatalf("log %q, want %q", res.Log, c.err)
			}
			if got := e.subnet().Last.Height; got != c.want {
				t.Fatalf("last checkpoint %d, want %d", got, c.want)
			}
		})
	}
}

func (e *env) submitOK(sc SignedCheckpoint) {
	e.t.Helper()
	if res := e.submit(4, sc); res.Code != chain.CodeOK {
		e.t.Fatalf("checkpoint %d: code %d: %s", sc.Checkpoint.Height, res.Code, res.Log)
	}
}

func sortVals(v []chain.Validator) []chain.Validator {
	vs, err := chain.NewValidatorSet(v)
	if err != nil {
		panic(err)
	}
	return vs.Validators
}

// A duplicate costs no signature checks: its gas is far below an accepted
// checkpoint's.
func TestDuplicateIsCheap(t *testing.T) {
	e := newEnv(t, "parent-1", nil)
	e.register(10, 1, 1, 1, 1, 1, 1, 1)
	sc := e.signed(e.checkpoint(10), all(7)...)
	first := e.submit(4, sc)
	dup := e.submit(5, sc)
	if first.Code != 0 || dup.Code != 0 {
		t.Fatalf("codes %d %d: %s %s", first.Code, dup.Code, first.Log, dup.Log)
	}
	if len(moduletest.Events(e.h.Last, "subnet.checkpoint.duplicate")) != 1 {
		t.Fatalf("no duplicate event: %+v", dup.Events)
	}
	if dup.GasUsed+7*GasPerSignature > first.GasUsed {
		t.Fatalf("duplicate used %d gas, first %d", dup.GasUsed, first.GasUsed)
	}
	if s := e.subnet(); s.Checkpoint != 1 {
		t.Fatalf("%d checkpoints recorded", s.Checkpoint)
	}
}

// Set changes chain: a checkpoint moving to a new set is signed by the old
// one, and the next must be signed by the new one.
func TestSetChangingCheckpoints(t *testing.T) {
	e := newEnv(t, "parent-1", nil)
	e.register(10, 1, 1, 1)
	erin := valKey(3)
	e.vals = append(e.vals, erin)
	e.must(2, e.msg(MsgJoin(e.h.Codec(), coop, erin.PubKey(), 3*unit)))
	// the joiner is not yet signing: the registered set is unchanged
	if s := e.subnet(); len(s.Validators) != 3 {
		t.Fatalf("joined straight into the set: %+v", s.Validators)
	}
	// validator 0 leaves; the subnet's next set drops it and adds erin
	e.must(0, e.msg(MsgLeave(e.h.Codec(), coop, e.vals[0].PubKey().Address())))
	before := e.balance(e.h.Addr(0))
	cp := e.checkpoint(10)
	cp.NextValidators = sortVals([]chain.Validator{
		{Address: e.vals[1].PubKey().Address(), PubKey: e.vals[1].PubKey(), Power: 1},
		{Address: e.vals[2].PubKey().Address(), PubKey: e.vals[2].PubKey(), Power: 1},
		{Address: erin.PubKey().Address(), PubKey: erin.PubKey(), Power: 3},
	})
	// the new set cannot sign the change itself
	if res := e.submit(4, e.signed(cp, 1, 2, 3)); res.Code != chain.CodeInvalidMsg || !strings.Contains(res.Log, ErrBadSignature.Error()) {
		t.Fatalf("change signed by the new set: code %d %s", res.Code, res.Log)
	}
	res := e.submit(4, e.signed(cp, 0, 1, 2))
	if res.Code != 0 || moduletest.Attr(res.Events[0], "set_changed") != "true" {
		t.Fatalf("set change: %d %s %+v", res.Code, res.Log, res.Events)
	}
	var members []Member
	e.query("members", map[string]string{"subnet": coop}, &members)
	for _, mb := range members {
		if mb.Address == e.vals[0].PubKey().Address() && mb.Status != StatusUnbonding {
			t.Fatalf("leaver is %s", mb.Status)
		}
	}
	// the old set no longer signs
	next := e.checkpoint(20)
	old := next
	vs, _ := chain.NewValidatorSet([]chain.Validator{
		{Address: e.vals[0].PubKey().Address(), PubKey: e.vals[0].PubKey(), Power: 1},
		{Address: e.vals[1].PubKey().Address(), PubKey: e.vals[1].PubKey(), Power: 1},
		{Address: e.vals[2].PubKey().Address(), PubKey: e.vals[2].PubKey(), Power: 1}})
	old.ValidatorsHash = vs.Hash(e.h.Codec())
	if res := e.submit(4, e.signed(old, 0, 1, 2)); res.Code != chain.CodeInvalidMsg || !strings.Contains(res.Log, ErrSetMismatch.Error()) {
		t.Fatalf("old set after the change: code %d %s", res.Code, res.Log)
	}
	// erin alone is 3 of 5: short; erin and one more is quorum
	if res := e.submit(4, e.signed(next, 3)); res.Code != chain.CodeInvalidMsg {
		t.Fatalf("erin alone: %d %s", res.Code, res.Log)
	}
	e.submitOK(e.signed(next, 1, 3))
	// the leaver's collateral comes back after unbonding
	for i := uint64(0); i < testParams.UnbondingBlocks; i++ {
		e.h.Block()
	}
	if got := e.balance(e.h.Addr(0)) - before; got != unit {
		t.Fatalf("released %d, want %d", got, unit)
	}
}

func TestEquivocationSlashes(t *testing.T) {
	e := newEnv(t, "parent-1", nil)
	e.register(10, 1, 1, 1, 1)
	a, b := e.checkpoint(10), e.checkpoint(10)
	b.StateRoot[0] ^= 1
	if ha, hb := a.Hash(e.h.Codec()), b.Hash(e.h.Codec()); string(ha[:]) > string(hb[:]) {
		a, b = b, a
	}
	v := e.vals[2]
	ev := Equivocate{Validator: v.PubKey().Address(), A: a, SigA: Sign(e.h.Codec(), e.gh, &a, v).Sig, B: b, SigB: Sign(e.h.Codec(), e.gh, &b, v).Sig}
	swapped := Equivocate{Validator: ev.Validator, A: b, SigA: ev.SigB, B: a, SigB: ev.SigA}
	same := Equivocate{Validator: ev.Validator, A: a, SigA: ev.SigA, B: a, SigB: ev.SigA}
	other := ev
	other.Validator = e.vals[1].PubKey().Address() // signatures are 2's
	supply := func() uint64 { return e.balance(Collateral()) }
	before := supply()
	for _, c := range []struct {
		name string
		ev   Equivocate
		code uint32
	}{
		{"swapped order", swapped, chain.CodeInvalidMsg},
		{"the same checkpoint twice", same, chain.CodeInvalidMsg},
		{"someone else's signatures", other, chain.CodeInvalidMsg},
		{"valid", ev, chain.CodeOK},
		{"again", ev, chain.CodeInvalidMsg},
	} {
		if res := e.deliver(5, e.msg(MsgEquivocate(e.h.Codec(), c.ev))); res.Code != c.code {
			t.Errorf("%s: code %d (%s), want %d", c.name, res.Code, res.Log, c.code)
		}
	}
	if got := before - supply(); got != unit {
		t.Fatalf("collateral pool lost %d, want %d burnt", got, unit)
	}
	// the slashed validator's signature no longer counts: 0,1,2 is 2 of 4
	if res := e.submit(4, e.signed(e.checkpoint(10), 0, 1, 2)); res.Code != chain.CodeInvalidMsg || !strings.Contains(res.Log, ErrNoQuorum.Error()) {
		t.Fatalf("tombstoned signature counted: %d %s", res.Code, res.Log)
	}
	// it cannot be named in a next set
	cp := e.checkpoint(10)
	if res := e.submit(4, e.signed(cp, 0, 1, 3)); res.Code != chain.CodeInvalidMsg || !strings.Contains(res.Log, ErrNextSet.Error()) {
		t.Fatalf("tombstoned in next set: %d %s", res.Code, res.Log)
	}
	var keep []chain.Validator
	for _, x := range cp.NextValidators {
		if x.Address != v.PubKey().Address() {
			keep = append(keep, x)
		}
	}
	cp.NextValidators = keep
	e.submitOK(e.signed(cp, 0, 1, 3))
	if s := e.subnet(); len(s.Validators) != 3 {
		t.Fatalf("set after dropping the slashed validator: %d", len(s.Validators))
	}
}

func TestFrontierIsMerkleRoot(t *testing.T) {
	c := chain.MustCodec()
	var f Frontier
	var leaves [][]byte
	for n := 0; n <= 70; n++ {
		if got, want := f.Root(), chain.MerkleRoot(leaves); got != want {
			t.Fatalf("%d leaves: frontier root %s, merkle root %s", n, got, want)
		}
		if !f.valid() {
			t.Fatalf("%d leaves: invalid frontier", n)
		}
		leaf, _ := c.Marshal(CrossMsg{Nonce: uint64(n), Amount: uint64(n + 1)})
		leaves = append(leaves, leaf)
		f.Append(leaf)
	}
}

func TestGenesisExportReimports(t *testing.T) {
	e := newEnv(t, "parent-1", nil)
	e.register(10, 1, 1, 1)
	e.must(1, e.msg(MsgDeposit(e.h.Codec(), coop, e.h.Addr(1), 500)))
	e.submitOK(e.signed(e.checkpoint(10), 0, 1, 2))
	e.must(1, e.msg(MsgWithdraw(e.h.Codec(), e.h.Addr(2), 7)))
	e.h.CheckExport()
}

func TestBadGenesisRefused(t *testing.T) {
	for _, raw := range []string{`{"params": {"min_collateral": 1, "power_reduction": 0, "escape_after": 1}}`, `{"parms": {}}`, `{"state": [["zz", ""]]}`} {
		m := New(chain.NewStoreKey(ModuleName), chain.MustCodec(), nil, nil)
		err := m.InitGenesis(chain.NewContext(chain.BlockInfo{}, chain.Address{}, nil, nilStores{}), []byte(raw))
		if err == nil {
			t.Errorf("%s accepted", raw)
		}
	}
}

type nilStores struct{}

func (nilStores) Open(*chain.StoreKey) chain.KVStore { return nil }

var _ = errors.Is
