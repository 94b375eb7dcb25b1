package staking

import (
	"bytes"
	"reflect"
	"testing"

	"github.com/dure-network/dure/chain"
)

func TestJoinAndLeaveAtDecidingBlock(t *testing.T) {
	c := chain.MustCodec()
	e := newEnv(t)
	p := testParams()
	p.MaxValidators = 10
	e.genesis(p, 1000, 500)
	joiner := 5
	e.fund(addr(t, joiner), 10_000)

	e.advance(allSigners(e))
	e.mustDeliver(addr(t, joiner), e.msg(MsgBond(c, key(t, joiner).PubKey(), 420)))
	ups := e.endBlock()
	if want := []chain.ValidatorUpdate{updateOf(t, joiner, 42)}; !reflect.DeepEqual(ups, want) {
		t.Fatalf("block %d updates %+v, want %+v", e.height, ups, want)
	}

	// Nothing changes: no updates.
	e.advance(allSigners(e))
	if ups := e.endBlock(); len(ups) != 0 {
		t.Fatalf("idle block reported %+v", ups)
	}

	// A delegation raises power: one update with the new power.
	e.advance(allSigners(e))
	e.fund(addr(t, 6), 1000)
	e.mustDeliver(addr(t, 6), e.msg(MsgDelegate(c, addr(t, joiner), 100)))
	if ups := e.endBlock(); !reflect.DeepEqual(ups, []chain.ValidatorUpdate{updateOf(t, joiner, 52)}) {
		t.Fatalf("after delegation: %+v", ups)
	}

	// Unbonding below the minimum self-stake removes it (power 0), even
	// though its delegation alone would still give it power.
	e.advance(allSigners(e))
	e.mustDeliver(addr(t, joiner), e.msg(MsgUnbond(c, 330)))
	if ups := e.endBlock(); !reflect.DeepEqual(ups, []chain.ValidatorUpdate{updateOf(t, joiner, 0)}) {
		t.Fatalf("after unbond below minimum: %+v", ups)
	}
	if v := e.validator(addr(t, joiner)); v.Active || v.SelfStake != 90 || v.Tokens != 190 {
		t.Fatalf("validator after leaving: %+v", v)
	}
	e.checkPools()
}

func TestTopNCutoff(t *testing.T) {
	c := chain.MustCodec()
	e := newEnv(t)
	p := testParams() // max 3
	e.genesis(p, 1000, 500, 300, 300)
	// 2 and 3 tie at power 30: the lower address wins the last seat.
	winner, loser := 2, 3
	if bytes.Compare(b(addr(t, 3)), b(addr(t, 2))) < 0 {
		winner, loser = 3, 2
	}
	active := e.activeAddrs()
	if len(active) != 3 || !containsAddr(active, addr(t, winner)) || containsAddr(active, addr(t, loser)) {
		t.Fatalf("active %v: want 0, 1 and the lower-address tie %d", active, winner)
	}
	// The loser bonds 10 more (power 31): it takes the seat.
	e.advance(allSigners(e))
	e.mustDeliver(addr(t, loser), e.msg(MsgBond(c, key(t, loser).PubKey(), 10)))
	ups := e.endBlock()
	want := []chain.ValidatorUpdate{updateOf(t, winner, 0), updateOf(t, loser, 31)}
	if bytes.Compare(b(addr(t, loser)), b(addr(t, winner))) < 0 {
		want[0], want[1] = want[1], want[0] // updates come in address order
	}
	if !reflect.DeepEqual(ups, want) {
		t.Fatalf("updates %+v, want %+v", ups, want)
	}
}

func b(a chain.Address) []byte { return a[:] }

func containsAddr(as []chain.Address, a chain.Address) bool {
	for _, x := range as {
		if x == a {
			return true
		}
	}
	return false
}

func TestDowntimeJailing(t *testing.T) {
	e := newEnv(t)
	p := testParams() // window 10, min signed 5: a 6th miss in a full window jails
	e.genesis(p, 1000, 500, 300)
	lazy := addr(t, 2)
	others := []chain.Address{addr(t, 0), addr(t, 1)}

	// Alternating misses: 5 of every 10, never jailed.
	for i := 0; i < 30; i++ {
		if i%2 == 0 {
			e.advance(others)
		} else {
			e.advance(allSigners(e))
		}
		if ups := e.endBlock(); len(ups) != 0 {
			t.Fatalf("block %d: updates %+v while missing only half", e.height, ups)
		}
	}
	if v := e.validator(lazy); v.Jailed || v.Missed != 5 {
		t.Fatalf("after alternating: %+v, want unjailed with 5 missed", v)
	}
	// Now miss every block: the sixth miss in the window jails.
	var jailedAt uint64
	for i := 0; i < 10 && jailedAt == 0; i++ {
		e.advance(others)
		ups := e.endBlock()
		if e.validator(lazy).Jailed {
			jailedAt = e.height
			if !reflect.DeepEqual(ups, []chain.ValidatorUpdate{updateOf(t, 2, 0)}) {
				t.Fatalf("jailing block updates %+v, want removal", ups)
			}
		}
	}
	if jailedAt == 0 {
		t.Fatal("never jailed")
	}
	v := e.validator(lazy)
	if v.Tokens != 297 { // 1% of 300
		t.Fatalf("tokens after downtime slash %d, want 297", v.Tokens)
	}
	if got := e.balance(SlashedPool()); got != 3 {
		t.Fatalf("slashed pool %d, want 3", got)
	}
	if v.JailedUntil != chain.Time(e.time+60e9) {
		t.Fatalf("jailed until %d, want %d", v.JailedUntil, e.time+60e9)
	}
	e.checkPools()
}

func TestLivenessIgnoresValidatorsNotYetInSet(t *testing.T) {
	c := chain.MustCodec()
	e := newEnv(t)
	p := testParams()
	p.MaxValidators = 10
	p.DowntimeWindow, p.MinSignedPerWindow = 2, 1
	e.genesis(p, 1000)
	e.fund(addr(t, 5), 1000)
	e.advance(allSigners(e))
	e.mustDeliver(addr(t, 5), e.msg(MsgBond(c, key(t, 5).PubKey(), 500)))
	e.endBlock() // decided at H, in the consensus set from H+2
	decided := e.height
	for e.height < decided+2 {
		e.advance([]chain.Address{addr(t, 0)}) // commits of H and H+1: the joiner could not sign
		e.endBlock()
	}
	if v := e.validator(addr(t, 5)); v.Jailed || v.Missed != 0 {
		t.Fatalf("joiner penalised for commits before it joined: %+v", v)
	}
	e.advance([]chain.Address{addr(t, 0)}) // commit of H+2: it should have signed
	e.endBlock()
	if v := e.validator(addr(t, 5)); v.Missed != 1 {
		t.Fatalf("missed %d, want 1", v.Missed)
	}
}

func TestDoubleSign(t *testing.T) {
	c := chain.MustCodec()
	e := newEnv(t)
	p := testParams()
	e.genesis(p, 1000, 500, 300)
	bad, deleg := 1, 5
	e.fund(addr(t, deleg), 10_000)
	e.advance(allSigners(e))
	e.mustDeliver(addr(t, deleg), e.msg(MsgDelegate(c, addr(t, bad), 500)))
	e.endBlock()
	infraction := e.height
	// Still in the same height, the delegator tries to run: its unbonding
	// is slashed too.
	e.mustDeliver(addr(t, deleg), e.msg(MsgUndelegate(c, addr(t, bad), 200)))

	e.advance(allSigners(e), evidenceAgainst(t, e, bad, infraction))
	ups := e.endBlock()
	if !reflect.DeepEqual(ups, []chain.ValidatorUpdate{updateOf(t, bad, 0)}) {
		t.Fatalf("updates %+v, want removal of the double-signer", ups)
	}
	v := e.validator(addr(t, bad))
	if !v.Tombstoned || !v.Jailed || v.Active {
		t.Fatalf("after evidence: %+v", v)
	}
	if v.Tokens != 760 { // 800 - 5%
		t.Fatalf("tokens %d, want 760", v.Tokens)
	}
	if got := e.balance(SlashedPool()); got != 40+10 {
		t.Fatalf("slashed pool %d, want 50 (40 bonded + 10 unbonding)", got)
	}
	d, err := e.m.Query(e.ctx(chain.Address{}).Store(e.m.key), "delegations", map[string]string{"delegator": addr(t, deleg).String()})
	if err != nil {
		t.Fatal(err)
	}
	if u := d.(*Delegations).Unbonding; len(u) != 1 || u[0].Amount != 190 {
		t.Fatalf("unbonding after slash %+v, want 190", u)
	}
	// Same evidence again: no second slash.
	e.advance(allSigners(e), evidenceAgainst(t, e, bad, infraction))
	e.endBlock()
	if got := e.validator(addr(t, bad)).Tokens; got != 760 {
		t.Fatalf("slashed twice: %d", got)
	}
	e.time += 1e15
	if err := e.deliver(addr(t, bad), e.msg(MsgUnjail(c))); err == nil {
		t.Fatal("tombstoned validator unjailed")
	}
	// Delegators can still leave, with the slashed value.
	e.mustDeliver(addr(t, deleg), e.msg(MsgUndelegateAll(c, addr(t, bad))))
	e.checkPools()
	e.time += 10e9
	e.endBlock()
	if got, want := e.balance(addr(t, deleg)), uint64(10_000-500+190+285); got != want {
		t.Fatalf("delegator balance %d, want %d", got, want)
	}
}

func TestRewardsExact(t *testing.T) {
	c := chain.MustCodec()
	e := newEnv(t)
	p := testParams()
	e.genesis(p, 1000, 500, 300)
	for i := 5; i < 8; i++ {
		e.fund(addr(t, i), 10_000)
		e.mustDeliver(addr(t, i), e.msg(MsgDelegate(c, addr(t, i%3), uint64(100*i+7))))
	}
	e.endBlock()
	var collected uint64
	for _, fee := range []uint64{1, 7, 1000, 12345, 99991} {
		e.advance(allSigners(e))
		before := e.stakeSum()
		e.fund(feeCollector, fee)
		collected += fee
		e.endBlock()
		if got := e.stakeSum() - before; got != fee {
			t.Fatalf("fee %d: stake grew by %d", fee, got)
		}
		if got := e.balance(feeCollector); got != 0 {
			t.Fatalf("fee collector kept %d", got)
		}
		e.checkPools()
	}
	// Pro rata: fee 1000 over powers (after the earlier rewards) lands in
	// proportion; check the split of a fresh reward precisely.
	e.advance(allSigners(e))
	_, recs, _ := e.m.open(e.ctx(chain.Address{})).activeSet()
	addrs := e.activeAddrs()
	var total uint64
	for _, r := range recs {
		total += r.Power
	}
	before := map[chain.Address]uint64{}
	for _, a := range addrs {
		before[a] = e.validator(a).Tokens
	}
	const fee = 1001
	e.fund(feeCollector, fee)
	e.endBlock()
	top := 0
	for i := range recs {
		if recs[i].Power > recs[top].Power || (recs[i].Power == recs[top].Power && bytes.Compare(b(addrs[i]), b(addrs[top])) < 0) {
			top = i
		}
	}
	var paid uint64
	for i, a := range addrs {
		want := fee * recs[i].Power / total
		paid += want
		got := e.validator(a).Tokens - before[a]
		if i == top {
			continue
		}
		if got != want {
			t.Fatalf("validator %s got %d, want %d", a, got, want)
		}
	}
	if got := e.validator(addrs[top]).Tokens - before[addrs[top]]; got != fee*recs[top].Power/total+(fee-paid) {
		t.Fatalf("top validator got %d, want its cut plus remainder %d", got, fee-paid)
	}
	collected += fee

	// Everybody leaves: every token paid in comes back out, none stuck.
	e.advance(allSigners(e))
	for i := 5; i < 8; i++ {
		e.mustDeliver(addr(t, i), e.msg(MsgUndelegateAll(c, addr(t, i%3))))
	}
	for i := 0; i < 3; i++ {
		e.mustDeliver(addr(t, i), e.msg(MsgUnbondAll(c)))
	}
	if got := e.balance(BondedPool()); got != 0 {
		t.Fatalf("bonded pool kept %d after everyone left", got)
	}
	e.time += 10e9
	e.endBlock()
	var out uint64
	for _, i := range []int{0, 1, 2, 5, 6, 7} {
		out += e.balance(addr(t, i))
	}
	in := uint64(3*1_000_000+1000+500+300) + 3*10_000
	if out != in+collected {
		t.Fatalf("accounts hold %d, want %d deposited + %d rewards", out, in, collected)
	}
}

func TestUnbondingRelease(t *testing.T) {
	c := chain.MustCodec()
	e := newEnv(t)
	e.genesis(testParams(), 1000, 500) // unbonding 10 s, blocks 1 s apart
	start := e.balance(addr(t, 0))
	e.advance(allSigners(e))
	e.mustDeliver(addr(t, 0), e.msg(MsgUnbond(c, 100)))
	e.endBlock()
	for i := 0; i < 9; i++ {
		e.advance(allSigners(e))
		e.endBlock()
		if got := e.balance(addr(t, 0)); got != start {
			t.Fatalf("released early at +%ds: %d", i+1, got)
		}
	}
	e.advance(allSigners(e))
	e.endBlock()
	if got := e.balance(addr(t, 0)); got != start+100 {
		t.Fatalf("after the unbonding period: %d, want %d", got, start+100)
	}
	if got := e.balance(UnbondingPool()); got != 0 {
		t.Fatalf("unbonding pool %d", got)
	}
}

func TestTooManyUnbondings(t *testing.T) {
	c := chain.MustCodec()
	e := newEnv(t)
	e.genesis(testParams(), 1000)
	for i := 0; i < MaxUnbondingEntries; i++ {
		e.mustDeliver(addr(t, 0), e.msg(MsgUnbond(c, 1)))
	}
	if err := e.deliver(addr(t, 0), e.msg(MsgUnbond(c, 1))); err == nil {
		t.Fatal("unbounded unbonding entries")
	}
}

// ops runs a fixed mixed workload.
func ops(t *testing.T, e *env) {
	c := chain.MustCodec()
	p := testParams()
	p.MaxValidators = 4
	e.genesis(p, 1000, 500, 300, 250, 200)
	for i := 5; i < 9; i++ {
		e.fund(addr(t, i), 5000)
	}
	for h := 0; h < 25; h++ {
		signers := e.activeAddrs()
		if h%3 == 0 && len(signers) > 1 {
			signers = signers[1:]
		}
		var ev []chain.Evidence
		if h == 12 {
			ev = append(ev, evidenceAgainst(t, e, 3, e.height))
		}
		e.advance(signers, ev...)
		d := 5 + h%4
		_ = e.deliver(addr(t, d), e.msg(MsgDelegate(c, addr(t, h%5), uint64(37*h+1))))
		if h%5 == 4 {
			_ = e.deliver(addr(t, d), e.msg(MsgUndelegate(c, addr(t, (h-1)%5), 20)))
		}
		e.fund(feeCollector, uint64(h*13+5))
		e.endBlock()
	}
}

func TestDeterminism(t *testing.T) {
	a, b := newEnv(t), newEnv(t)
	ops(t, a)
	ops(t, b)
	if !reflect.DeepEqual(a.db.m, b.db.m) {
		t.Fatal("same operations gave different state")
	}
	if len(a.db.m) < 30 {
		t.Fatalf("workload left only %d keys: it did not exercise much", len(a.db.m))
	}
	a.checkPools()
}

func TestQueries(t *testing.T) {
	e := newEnv(t)
	e.genesis(testParams(), 1000, 500, 300, 200)
	kv := e.ctx(chain.Address{}).Store(e.m.key)
	all, err := e.m.Query(kv, "validators", nil)
	if err != nil {
		t.Fatal(err)
	}
	vs := all.([]ValidatorInfo)
	if len(vs) != 4 || vs[0].Tokens != 1000 || !vs[0].Active || vs[0].Power != 100 || vs[3].Active {
		t.Fatalf("validators %+v", vs)
	}
	act, _ := e.m.Query(kv, "validators", map[string]string{"active": "true"})
	if len(act.([]ValidatorInfo)) != 3 {
		t.Fatalf("active %+v", act)
	}
	pp, err := e.m.Query(kv, "params", nil)
	if err != nil || pp.(Params).MaxValidators != 3 {
		t.Fatalf("params %+v %v", pp, err)
	}
	for _, q := range []struct{ path, arg, val string }{
		{"validator", "address", "nonsense"},
		{"delegations", "delegator", ""},
		{"nope", "", ""},
	} {
		if _, err := e.m.Query(kv, q.path, map[string]string{q.arg: q.val}); err == nil {
			t.Fatalf("query %s %s=%q: no error", q.path, q.arg, q.val)
		}
	}
	d, err := e.m.Query(kv, "delegations", map[string]string{"delegator": addr(t, 0).String()})
	if err != nil {
		t.Fatal(err)
	}
	if ds := d.(*Delegations).Delegations; len(ds) != 1 || !ds[0].Self || ds[0].Tokens != 1000 {
		t.Fatalf("self delegation %+v", ds)
	}
}

// A validator is judged only once a full window has been counted: missing
// every commit from the start jails it at the window's end, not at the
// first miss past the allowance.
func TestDowntimeNeedsFullWindow(t *testing.T) {
	e := newEnv(t)
	e.genesis(testParams(), 1000, 500, 300) // window 10
	others := []chain.Address{addr(t, 0), addr(t, 1)}
	for !e.validator(addr(t, 2)).Jailed {
		if e.height > 30 {
			t.Fatal("never jailed")
		}
		e.advance(others)
		e.endBlock()
	}
	// Commits for heights 1..10 are judged at heights 2..11.
	if e.height != 11 {
		t.Fatalf("jailed at height %d, want 11", e.height)
	}
}

// Unbonding everything right after double-signing does not escape.
func TestDoubleSignAfterLeaving(t *testing.T) {
	c := chain.MustCodec()
	e := newEnv(t)
	e.genesis(testParams(), 1000, 500, 300)
	bad := 2
	e.advance(allSigners(e))
	infraction := e.height
	e.mustDeliver(addr(t, bad), e.msg(MsgUnbondAll(c)))
	e.endBlock()
	e.advance(allSigners(e), evidenceAgainst(t, e, bad, infraction))
	e.endBlock()
	if got := e.balance(SlashedPool()); got != 15 { // 5% of 300, taken from the unbonding entry
		t.Fatalf("slashed %d, want 15", got)
	}
	if v := e.validator(addr(t, bad)); !v.Tombstoned {
		t.Fatalf("no tombstone: %+v", v)
	}
	if err := e.deliver(addr(t, bad), e.msg(MsgBond(c, key(t, bad).PubKey(), 500))); err == nil {
		t.Fatal("tombstoned address bonded again")
	}
}

// The last validator cannot be removed: consensus would halt for good.
func TestEmptySetRefused(t *testing.T) {
	e := newEnv(t)
	e.genesis(testParams(), 1000)
	e.advance(allSigners(e), evidenceAgainst(t, e, 0, e.height))
	ctx := e.ctx(chain.Address{})
	if err := e.m.EndBlock(ctx); err != nil {
		t.Fatal(err)
	}
	if ups := ctx.ValidatorUpdates(); len(ups) != 0 {
		t.Fatalf("updates %+v: the only validator was removed", ups)
	}
	evs := ctx.Events()
	if len(evs) == 0 || evs[len(evs)-1].Type != "staking.empty_set_refused" {
		t.Fatalf("events %+v", evs)
	}
	if !e.validator(addr(t, 0)).Tombstoned {
		t.Fatal("not tombstoned")
	}
}
