package staking

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/dure-network/dure/chain"
)

func TestJoinAndLeaveAtDecidingBlock(t *testing.T) {
	c := chain.MustCodec()
	p := testParams()
	p.MaxValidators = 10
	e := newWorld(t, p, 1000, 500)
	joiner := 5
	e.fund(addr(joiner), 10_000)

	e.advance(nobody)
	e.MustDeliverAs(addr(joiner), e.Built(MsgBond(c, key(joiner).PubKey(), 420)))
	ups := e.endBlock()
	if want := []chain.ValidatorUpdate{updateOf(joiner, 42)}; !reflect.DeepEqual(ups, want) {
		t.Fatalf("block %d updates %+v, want %+v", e.Height(), ups, want)
	}

	// Nothing changes: no updates.
	e.advance(nobody)
	if ups := e.endBlock(); len(ups) != 0 {
		t.Fatalf("idle block reported %+v", ups)
	}

	// A delegation raises power: one update with the new power.
	e.advance(nobody)
	e.fund(addr(6), 1000)
	e.MustDeliverAs(addr(6), e.Built(MsgDelegate(c, addr(joiner), 100)))
	if ups := e.endBlock(); !reflect.DeepEqual(ups, []chain.ValidatorUpdate{updateOf(joiner, 52)}) {
		t.Fatalf("after delegation: %+v", ups)
	}

	// Unbonding below the minimum self-stake removes it (power 0), even
	// though its delegation alone would still give it power.
	e.advance(nobody)
	e.MustDeliverAs(addr(joiner), e.Built(MsgUnbond(c, 330)))
	if ups := e.endBlock(); !reflect.DeepEqual(ups, []chain.ValidatorUpdate{updateOf(joiner, 0)}) {
		t.Fatalf("after unbond below minimum: %+v", ups)
	}
	if v := e.validator(addr(joiner)); v.Active || v.SelfStake != 90 || v.Tokens != 190 {
		t.Fatalf("validator after leaving: %+v", v)
	}
	e.checkPools()
}

func TestTopNCutoff(t *testing.T) {
	c := chain.MustCodec()
	p := testParams() // max 3
	e := newWorld(t, p, 1000, 500, 300, 300)
	// 2 and 3 tie at power 30: the lower address wins the last seat.
	winner, loser := 2, 3
	if bytes.Compare(b(addr(3)), b(addr(2))) < 0 {
		winner, loser = 3, 2
	}
	active := e.activeAddrs()
	if len(active) != 3 || !containsAddr(active, addr(winner)) || containsAddr(active, addr(loser)) {
		t.Fatalf("active %v: want 0, 1 and the lower-address tie %d", active, winner)
	}
	// The loser bonds 10 more (power 31): it takes the seat.
	e.advance(nobody)
	e.MustDeliverAs(addr(loser), e.Built(MsgBond(c, key(loser).PubKey(), 10)))
	ups := e.endBlock()
	want := []chain.ValidatorUpdate{updateOf(winner, 0), updateOf(loser, 31)}
	if bytes.Compare(b(addr(loser)), b(addr(winner))) < 0 {
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
	p := testParams() // window 10, min signed 5: a 6th miss in a full window jails
	e := newWorld(t, p, 1000, 500, 300)
	lazy := addr(2)
	others := []chain.Address{lazy} // absent: only the others sign

	// Alternating misses: 5 of every 10, never jailed.
	for i := 0; i < 30; i++ {
		if i%2 == 0 {
			e.advance(others)
		} else {
			e.advance(nobody)
		}
		if ups := e.endBlock(); len(ups) != 0 {
			t.Fatalf("block %d: updates %+v while missing only half", e.Height(), ups)
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
			jailedAt = e.Height()
			if !reflect.DeepEqual(ups, []chain.ValidatorUpdate{updateOf(2, 0)}) {
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
	if want := chain.TimeOf(e.Time().Add(60 * time.Second)); v.JailedUntil != want {
		t.Fatalf("jailed until %d, want %d", v.JailedUntil, want)
	}
	e.checkPools()
}

func TestLivenessIgnoresValidatorsNotYetInSet(t *testing.T) {
	c := chain.MustCodec()
	p := testParams()
	p.MaxValidators = 10
	p.DowntimeWindow, p.MinSignedPerWindow = 2, 1
	e := newWorld(t, p, 1000)
	e.fund(addr(5), 1000)
	e.advance(nobody)
	e.MustDeliverAs(addr(5), e.Built(MsgBond(c, key(5).PubKey(), 500)))
	e.endBlock() // decided at H, in the consensus set from H+2
	decided := e.Height()
	for e.Height() < decided+2 {
		e.advance(nobody) // commits of H and H+1, signed by validator 0 alone: the joiner is not in their sets
		e.endBlock()
	}
	if v := e.validator(addr(5)); v.Jailed || v.Missed != 0 {
		t.Fatalf("joiner penalised for commits before it joined: %+v", v)
	}
	e.advance([]chain.Address{addr(5)}) // commit of H+2: it should have signed (the harness fails unless it is in that set)
	e.endBlock()
	if v := e.validator(addr(5)); v.Missed != 1 {
		t.Fatalf("missed %d, want 1", v.Missed)
	}
}

func TestDoubleSign(t *testing.T) {
	c := chain.MustCodec()
	p := testParams()
	e := newWorld(t, p, 1000, 500, 300)
	bad, deleg := 1, 5
	e.fund(addr(deleg), 10_000)
	e.advance(nobody)
	e.MustDeliverAs(addr(deleg), e.Built(MsgDelegate(c, addr(bad), 500)))
	infraction := e.height()
	// Still in the same height, the delegator tries to run: its unbonding
	// is slashed too.
	e.MustDeliverAs(addr(deleg), e.Built(MsgUndelegate(c, addr(bad), 200)))
	e.endBlock()

	e.advance(nobody, evidenceAgainst(t, e, bad, infraction))
	ups := e.endBlock()
	if !reflect.DeepEqual(ups, []chain.ValidatorUpdate{updateOf(bad, 0)}) {
		t.Fatalf("updates %+v, want removal of the double-signer", ups)
	}
	v := e.validator(addr(bad))
	if !v.Tombstoned || !v.Jailed || v.Active {
		t.Fatalf("after evidence: %+v", v)
	}
	if v.Tokens != 760 { // 800 - 5%
		t.Fatalf("tokens %d, want 760", v.Tokens)
	}
	if got := e.balance(SlashedPool()); got != 40+10 {
		t.Fatalf("slashed pool %d, want 50 (40 bonded + 10 unbonding)", got)
	}
	d, err := e.QueryOpen(ModuleName, "delegations", map[string]string{"delegator": addr(deleg).String()})
	if err != nil {
		t.Fatal(err)
	}
	if u := d.(*Delegations).Unbonding; len(u) != 1 || u[0].Amount != 190 {
		t.Fatalf("unbonding after slash %+v, want 190", u)
	}
	// Same evidence again: no second slash.
	e.advance(nobody, evidenceAgainst(t, e, bad, infraction))
	e.endBlock()
	if got := e.validator(addr(bad)).Tokens; got != 760 {
		t.Fatalf("slashed twice: %d", got)
	}
	e.Advance(1e15)
	if err := e.deliver(addr(bad), e.Built(MsgUnjail(c))); err == nil {
		t.Fatal("tombstoned validator unjailed")
	}
	// Delegators can still leave, with the slashed value.
	e.MustDeliverAs(addr(deleg), e.Built(MsgUndelegateAll(c, addr(bad))))
	e.checkPools()
	e.endBlock()
	e.Advance(10 * time.Second) // past unbonding_seconds
	e.endBlock()
	if got, want := e.balance(addr(deleg)), uint64(10_000-500+190+285); got != want {
		t.Fatalf("delegator balance %d, want %d", got, want)
	}
}

func TestRewardsExact(t *testing.T) {
	c := chain.MustCodec()
	p := testParams()
	e := newWorld(t, p, 1000, 500, 300)
	for i := 5; i < 8; i++ {
		e.fund(addr(i), 10_000)
		e.MustDeliverAs(addr(i), e.Built(MsgDelegate(c, addr(i%3), uint64(100*i+7))))
	}
	e.endBlock()
	var collected uint64
	for _, fee := range []uint64{1, 7, 1000, 12345, 99991} {
		e.advance(nobody)
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
	e.advance(nobody)
	_, recs, _ := e.view().activeSet()
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
	e.advance(nobody)
	for i := 5; i < 8; i++ {
		e.MustDeliverAs(addr(i), e.Built(MsgUndelegateAll(c, addr(i%3))))
	}
	for i := 0; i < 3; i++ {
		e.MustDeliverAs(addr(i), e.Built(MsgUnbondAll(c)))
	}
	if got := e.balance(BondedPool()); got != 0 {
		t.Fatalf("bonded pool kept %d after everyone left", got)
	}
	e.endBlock()
	e.Advance(10 * time.Second) // past unbonding_seconds
	e.endBlock()
	var out uint64
	for _, i := range []int{0, 1, 2, 5, 6, 7} {
		out += e.balance(addr(i))
	}
	in := uint64(3*1_000_000+1000+500+300) + 3*10_000
	if out != in+collected {
		t.Fatalf("accounts hold %d, want %d deposited + %d rewards", out, in, collected)
	}
}

func TestUnbondingRelease(t *testing.T) {
	c := chain.MustCodec()
	e := newWorld(t, testParams(), 1000, 500) // unbonding 10 s, blocks 1 s apart
	start := e.balance(addr(0))
	e.advance(nobody)
	e.MustDeliverAs(addr(0), e.Built(MsgUnbond(c, 100)))
	e.endBlock()
	for i := 0; i < 9; i++ {
		e.advance(nobody)
		e.endBlock()
		if got := e.balance(addr(0)); got != start {
			t.Fatalf("released early at +%ds: %d", i+1, got)
		}
	}
	e.advance(nobody)
	e.endBlock()
	if got := e.balance(addr(0)); got != start+100 {
		t.Fatalf("after the unbonding period: %d, want %d", got, start+100)
	}
	if got := e.balance(UnbondingPool()); got != 0 {
		t.Fatalf("unbonding pool %d", got)
	}
}

func TestTooManyUnbondings(t *testing.T) {
	c := chain.MustCodec()
	e := newWorld(t, testParams(), 1000)
	for i := 0; i < MaxUnbondingEntries; i++ {
		e.MustDeliverAs(addr(0), e.Built(MsgUnbond(c, 1)))
	}
	if err := e.deliver(addr(0), e.Built(MsgUnbond(c, 1))); err == nil {
		t.Fatal("unbounded unbonding entries")
	}
}

// ops runs a fixed mixed workload on a fresh chain.
func ops(t *testing.T) *world {
	c := chain.MustCodec()
	p := testParams()
	p.MaxValidators = 4
	e := newWorld(t, p, 1000, 500, 300, 250, 200)
	for i := 5; i < 9; i++ {
		e.fund(addr(i), 5000)
	}
	e.endBlock()
	for h := 0; h < 25; h++ {
		var absent []chain.Address // every third commit lacks the first signer
		if prev := e.Validators(e.Height()); h%3 == 0 && prev.Len() > 1 {
			absent = append(absent, prev.Validators[0].Address)
		}
		var ev []chain.Evidence
		if h == 12 {
			ev = append(ev, evidenceAgainst(t, e, 3, e.Height()))
		}
		e.advance(absent, ev...)
		d := 5 + h%4
		_ = e.deliver(addr(d), e.Built(MsgDelegate(c, addr(h%5), uint64(37*h+1))))
		if h%5 == 4 {
			_ = e.deliver(addr(d), e.Built(MsgUndelegate(c, addr((h-1)%5), 20)))
		}
		e.fund(feeCollector, uint64(h*13+5))
		e.endBlock()
	}
	return e
}

func TestDeterminism(t *testing.T) {
	a, b := ops(t), ops(t)
	if a.StateRoot() != b.StateRoot() {
		t.Fatalf("same operations gave different state:\n%s\n%s", a.Dump(), b.Dump())
	}
	if n := strings.Count(a.Dump(), "\n\"staking/"); n < 30 {
		t.Fatalf("workload left only %d staking keys: it did not exercise much", n)
	}
	a.checkPools()
}

func TestQueries(t *testing.T) {
	e := newWorld(t, testParams(), 1000, 500, 300, 200)
	kv := e.Read(ModuleName)
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
	d, err := e.m.Query(kv, "delegations", map[string]string{"delegator": addr(0).String()})
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
	e := newWorld(t, testParams(), 1000, 500, 300) // window 10
	others := []chain.Address{addr(2)}             // absent: only 0 and 1 sign
	for !e.validator(addr(2)).Jailed {
		if e.Height() > 30 {
			t.Fatal("never jailed")
		}
		e.advance(others)
		e.endBlock()
	}
	// Commits for heights 1..10 are judged at heights 2..11.
	if e.Height() != 11 {
		t.Fatalf("jailed at height %d, want 11", e.Height())
	}
}

// Unbonding everything right after double-signing does not escape.
func TestDoubleSignAfterLeaving(t *testing.T) {
	c := chain.MustCodec()
	e := newWorld(t, testParams(), 1000, 500, 300)
	bad := 2
	e.advance(nobody)
	infraction := e.height()
	e.MustDeliverAs(addr(bad), e.Built(MsgUnbondAll(c)))
	e.endBlock()
	e.advance(nobody, evidenceAgainst(t, e, bad, infraction))
	e.endBlock()
	if got := e.balance(SlashedPool()); got != 15 { // 5% of 300, taken from the unbonding entry
		t.Fatalf("slashed %d, want 15", got)
	}
	if v := e.validator(addr(bad)); !v.Tombstoned {
		t.Fatalf("no tombstone: %+v", v)
	}
	if err := e.deliver(addr(bad), e.Built(MsgBond(c, key(bad).PubKey(), 500))); err == nil {
		t.Fatal("tombstoned address bonded again")
	}
}

// The last validator cannot be removed: consensus would halt for good.
func TestEmptySetRefused(t *testing.T) {
	e := newWorld(t, testParams(), 1000)
	e.advance(nobody, evidenceAgainst(t, e, 0, e.height()))
	evs, ups := e.EndBlock(time.Second) // fails the test if a module's EndBlock errs
	if len(ups) != 0 {
		t.Fatalf("updates %+v: the only validator was removed", ups)
	}
	if len(evs) == 0 || evs[len(evs)-1].Type != "staking.empty_set_refused" {
		t.Fatalf("events %+v", evs)
	}
	if !e.validator(addr(0)).Tombstoned {
		t.Fatal("not tombstoned")
	}
}
