package subnet

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/dure-network/dure/chain"
	"github.com/dure-network/dure/chain/light"
	"github.com/dure-network/dure/chain/moduletest"
)

// recordedParent is a parent chain whose every committed height is signed
// and kept, so a relayer can be served any of them, as a parent node's API
// serves them: it is the ParentSource the tests plan against.
type recordedParent struct {
	*parentChain
	blocks []ParentBlock // by height (0 unused)
}

func newRecordedParent(t *testing.T, n, keys int) *recordedParent {
	return newRecordedParentB(t, n, keys)
}

func newRecordedParentB(t testing.TB, n, keys int) *recordedParent {
	p := newParentChainN(t, n)
	for i := len(p.keys); i < keys; i++ {
		p.keys = append(p.keys, consKey(i))
	}
	return &recordedParent{parentChain: p, blocks: make([]ParentBlock, 1)}
}

// record signs the heights committed since the last record (one).
func (r *recordedParent) record() {
	r.t.Helper()
	if h := r.e.h.Height(); h != uint64(len(r.blocks)) {
		r.t.Fatalf("parent at height %d, %d recorded: sign each block", h, len(r.blocks)-1)
	}
	r.blocks = append(r.blocks, r.block())
}

// empty commits n empty parent blocks.
func (r *recordedParent) empty(n int) {
	for range n {
		r.e.h.Block()
		r.record()
	}
}

func (r *recordedParent) depositRec(to chain.Address, amount uint64) {
	r.deposit(0, to, amount)
	r.record()
}

// rotate makes the set after the next block idx (the next block is the
// last one the current set signs).
func (r *recordedParent) rotate(idx []int) {
	r.next = idx
	r.empty(1)
}

func (r *recordedParent) LightBlock(_ context.Context, h uint64) (*light.LightBlock, *chain.ValidatorSet, error) {
	if h == 0 || h >= uint64(len(r.blocks)) {
		return nil, nil, fmt.Errorf("no parent block %d", h)
	}
	pb := r.blocks[h]
	vs, err := chain.NewValidatorSet(pb.Validators)
	if err != nil {
		return nil, nil, err
	}
	next := vs
	if len(pb.NextValidators) > 0 {
		if next, err = chain.NewValidatorSet(pb.NextValidators); err != nil {
			return nil, nil, err
		}
	}
	cm := pb.Commit
	return &light.LightBlock{Header: pb.Header, Commit: &cm, Validators: vs}, next, nil
}

func (r *recordedParent) Deposits(_ context.Context, id string, from uint64, limit int) (ParentDeposits, error) {
	var deps []Deposit
	r.e.query("deposits", map[string]string{"subnet": id, "from": fmt.Sprint(from), "limit": fmt.Sprint(limit)}, &deps)
	out := ParentDeposits{Height: r.e.h.Height(), Deposits: deps}
	for _, d := range deps {
		_, pr := r.e.h.Prove(DepositStateKey(id, d.Nonce))
		out.Proofs = append(out.Proofs, *pr)
	}
	return out, nil
}

// relayStats is what one relayer's catch-up did.
type relayStats struct {
	txs, blocks, minted int
	gas, bytes          []uint64 // per transaction
	heights             []uint64 // every parent height sent, in order
}

// catchUp plans and delivers topdowns on sub until the plan is empty,
// each in a block of its own (so each verifies alone), checking the
// bounds of every transaction.
func catchUp(t *testing.T, sub *env, r *recordedParent, sender int) relayStats {
	t.Helper()
	var st relayStats
	c := sub.h.Codec()
	for i := 0; ; i++ {
		if i > 40 {
			t.Fatal("the relayer did not catch up in 40 transactions")
		}
		td := sub.topDown()
		msg, target, err := PlanTopDown(context.Background(), c, r, &td, chain.TimeOf(r.e.h.Time()))
		if err != nil {
			t.Fatalf("plan %d: %v", i, err)
		}
		if msg == nil {
			return st
		}
		b, _ := c.Marshal(msg)
		if len(msg.Blocks) > MaxTopDownBlocks || len(msg.Deposits) > RelayMaxDeposits || len(b) > RelayMaxBytes {
			t.Fatalf("tx %d: %d headers, %d deposits, %d bytes: over the bounds", i, len(msg.Blocks), len(msg.Deposits), len(b))
		}
		if n := len(msg.Blocks); n > 0 && msg.Blocks[n-1].Header.Height != target {
			t.Fatalf("tx %d ends at %d, plan says %d", i, msg.Blocks[n-1].Header.Height, target)
		}
		res := sendTopDown(sub, r.parentChain, sender, *msg)
		if res.Code != 0 {
			t.Fatalf("tx %d (%d headers, %d deposits): %d %s", i, len(msg.Blocks), len(msg.Deposits), res.Code, res.Log)
		}
		st.txs++
		st.gas, st.bytes = append(st.gas, res.GasUsed), append(st.bytes, uint64(len(b)))
		st.blocks += len(msg.Blocks)
		st.minted += len(moduletest.Events(sub.h.Last, "subnet.mint"))
		for _, pb := range msg.Blocks {
			st.heights = append(st.heights, pb.Header.Height)
		}
		if got := sub.topDown().Height; got != target {
			t.Fatalf("tx %d: subnet trusts parent %d, planned %d", i, got, target)
		}
	}
}

// disjoint is the i-th set of n keys, sharing none with the (i-1)-th.
func disjoint(i, n int) []int {
	idx := make([]int, n)
	for j := range idx {
		idx[j] = i*n + j
	}
	return idx
}

// The relayer's plan, run against a real signed parent whose set changes,
// carries the subnet to the parent's head over as many transactions as the
// bounds need, each accepted alone, and every deposit is minted once.
func TestRelayPlansAcrossSetChanges(t *testing.T) {
	cases := []struct {
		name  string
		vals  int                            // parent validators per set
		keys  int                            // consensus keys available
		build func(r *recordedParent) uint64 // the parent's history; returns the amount deposited
		// wants on the catch-up: at least minTxs transactions, the handover
		// heights (the last block of each set) among the heights sent.
		minTxs int
	}{
		{"a set rotating fully between two deposits", 4, 8, func(r *recordedParent) uint64 {
			r.depositRec(r.e.h.Addr(3), 100)
			r.empty(3)
			r.rotate(disjoint(1, 4))
			r.empty(3)
			r.depositRec(r.e.h.Addr(3), 200)
			r.empty(2)
			return 300
		}, 1},
		{"sets keeping 1/4 of the power, twice", 4, 12, func(r *recordedParent) uint64 {
			r.depositRec(r.e.h.Addr(3), 7)
			r.rotate([]int{3, 4, 5, 6})
			r.empty(5)
			r.rotate([]int{6, 9, 10, 11})
			r.depositRec(r.e.h.Addr(4), 8)
			return 15
		}, 1},
		{"a relayer far behind: 18 full rotations and 130 deposits", 4, 19 * 4, func(r *recordedParent) uint64 {
			var sum uint64
			for i := 0; i < 130; i++ {
				r.depositRec(r.e.h.Addr(3+i%4), uint64(i+1))
				sum += uint64(i + 1)
				if i%7 == 6 && i/7 < 18 {
					r.rotate(disjoint(i/7+1, 4))
				}
			}
			return sum
		}, 3},
		{"64-validator sets: headers split by the 64 KiB bound", 64, 5 * 64, func(r *recordedParent) uint64 {
			r.depositRec(r.e.h.Addr(3), 5)
			for i := 1; i <= 4; i++ {
				r.empty(1)
				r.rotate(disjoint(i, 64))
			}
			r.depositRec(r.e.h.Addr(3), 6)
			return 11
		}, 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := newRecordedParent(t, tc.vals, tc.keys)
			r.e.register(5, 1, 1, 1)
			r.record()
			sub := subnetOf(t, r.parentChain, 5)
			before := sumBalances(sub)
			deposited := tc.build(r)
			st := catchUp(t, sub, r, 6)
			t.Logf("parent head %d: %d topdown txs, %d headers; gas %v, bytes %v", r.e.h.Height(), st.txs, st.blocks, st.gas, st.bytes)
			if st.txs < tc.minTxs {
				t.Fatalf("caught up in %d transactions, want at least %d", st.txs, tc.minTxs)
			}
			checkCaughtUp(t, sub, r, st, deposited, before)
		})
	}
}

func sumBalances(sub *env) uint64 {
	var s uint64
	for i := 3; i < 7; i++ {
		s += sub.balance(sub.h.Addr(i))
	}
	return s
}

// checkCaughtUp: the subnet trusts the parent's head and its set, every
// deposit was minted exactly once (as many mint events as deposits, the
// recipients got exactly what was locked), and every set change without
// 1/3 overlap was crossed through its handover header (the last the old
// set signed, naming the new one). The cases' sets never give back 1/3 of
// an earlier set's power, so no handover can be skipped.
func checkCaughtUp(t *testing.T, sub *env, r *recordedParent, st relayStats, deposited, before uint64) {
	t.Helper()
	td := sub.topDown()
	s := r.e.subnet()
	if td.Height != r.e.h.Height() || td.Applied != s.Deposits || td.Minted != s.Locked || s.Locked != deposited {
		t.Fatalf("subnet trusts %d (parent head %d), applied %d of %d, minted %d, parent locked %d, deposited %d",
			td.Height, r.e.h.Height(), td.Applied, s.Deposits, td.Minted, s.Locked, deposited)
	}
	if uint64(st.minted) != s.Deposits {
		t.Fatalf("%d mint events for %d deposits", st.minted, s.Deposits)
	}
	if got := sumBalances(sub) - before; got != deposited {
		t.Fatalf("recipients got %d, deposited %d", got, deposited)
	}
	c := sub.h.Codec()
	head := r.blocks[len(r.blocks)-1]
	if want := head.Header.NextValidatorsHash; td.NextValidators == nil || mustSet(t, td.NextValidators).Hash(c) != want {
		t.Fatal("the subnet does not trust the parent's current set")
	}
	sent := map[uint64]bool{}
	for _, h := range st.heights {
		sent[h] = true
	}
	for h := 1; h+1 < len(r.blocks); h++ {
		pb := r.blocks[h]
		if len(pb.NextValidators) == 0 || overlapThird(pb.Validators, pb.NextValidators) {
			continue
		}
		if !sent[uint64(h)] {
			t.Errorf("set change after parent %d: its handover header was not sent (%v)", h, st.heights)
		}
	}
}

// overlapThird: members of old hold at least 1/3 of old's power in next.
func overlapThird(old, next []chain.Validator) bool {
	in := map[chain.Address]bool{}
	for _, v := range next {
		in[v.Address] = true
	}
	var tot, kept uint64
	for _, v := range old {
		tot += v.Power
		if in[v.Address] {
			kept += v.Power
		}
	}
	return 3*kept >= tot
}

// Two relayers racing: both plan from the same state and send; the second
// of each pair is a no-op (nothing minted twice), and a relayer that
// planned long ago and sends after the other caught up is a no-op too.
func TestRelayRacingRelayers(t *testing.T) {
	r := newRecordedParent(t, 4, 11*4)
	r.e.register(5, 1, 1, 1)
	r.record()
	sub := subnetOf(t, r.parentChain, 5)
	before := sumBalances(sub)
	var deposited uint64
	for i := 0; i < 120; i++ {
		r.depositRec(sub.h.Addr(3+i%4), 10)
		deposited += 10
		if i%12 == 11 {
			r.rotate(disjoint(i/12+1, 4))
		}
	}
	c := sub.h.Codec()
	now := chain.TimeOf(r.e.h.Time())
	td0 := sub.topDown()
	stale, _, err := PlanTopDown(context.Background(), c, r, &td0, now)
	if err != nil || stale == nil {
		t.Fatalf("plan: %v", err)
	}
	st := relayStats{}
	for i := 0; ; i++ {
		td := sub.topDown()
		a, _, err := PlanTopDown(context.Background(), c, r, &td, now)
		if err != nil {
			t.Fatal(err)
		}
		if a == nil {
			break
		}
		b, _, err := PlanTopDown(context.Background(), c, r, &td, now)
		if err != nil {
			t.Fatal(err)
		}
		for j, m := range []TopDown{*a, *b} {
			res := sendTopDown(sub, r.parentChain, 6+j, m)
			if res.Code != 0 {
				t.Fatalf("round %d relayer %d: %d %s", i, j, res.Code, res.Log)
			}
			mints := len(moduletest.Events(sub.h.Last, "subnet.mint"))
			dup := len(moduletest.Events(sub.h.Last, "subnet.topdown.duplicate"))
			if j == 1 && (mints != 0 || dup != 1) {
				t.Fatalf("round %d: the second relayer's copy minted %d (duplicate events %d)", i, mints, dup)
			}
			st.minted += mints
			for _, pb := range m.Blocks {
				st.heights = append(st.heights, pb.Header.Height)
			}
		}
		st.txs++
	}
	if st.txs < 2 {
		t.Fatalf("caught up in %d rounds: the test wants several", st.txs)
	}
	res := sendTopDown(sub, r.parentChain, 7, *stale)
	if res.Code != 0 || len(moduletest.Events(sub.h.Last, "subnet.topdown.duplicate")) != 1 {
		t.Fatalf("a stale plan sent late: %d %s", res.Code, res.Log)
	}
	checkCaughtUp(t, sub, r, st, deposited, before)
}

// With no deposit to mint the relayer sends nothing, until the trusted
// header is RelayRefresh blocks or a quarter of the trusting period old:
// then it moves the trust to the parent's head, so the trust expires only
// after 14 days without any relaying.
func TestRelayRefreshesTrust(t *testing.T) {
	r := newRecordedParent(t, 4, 8)
	r.e.register(5, 1, 1, 1)
	r.record()
	sub := subnetOf(t, r.parentChain, 5)
	c := sub.h.Codec()
	r.depositRec(sub.h.Addr(3), 10)
	catchUp(t, sub, r, 6)
	trusted := sub.topDown().Height
	for _, tc := range []struct {
		name    string
		advance time.Duration // before one more parent block
		want    bool
	}{
		{"a block, a day later", 24 * time.Hour, false},
		{"a block, 3 days later", 2 * 24 * time.Hour, false},
		{"a block, 4 days later (over 14/4 days)", 24 * time.Hour, true},
	} {
		r.e.h.Advance(tc.advance)
		r.empty(1)
		td := sub.topDown()
		msg, _, err := PlanTopDown(context.Background(), c, r, &td, chain.TimeOf(r.e.h.Time()))
		if err != nil || (msg != nil) != tc.want {
			t.Fatalf("%s: plan %v (%v), want a refresh %v", tc.name, msg != nil, err, tc.want)
		}
	}
	if st := catchUp(t, sub, r, 6); st.txs != 1 || st.minted != 0 || sub.topDown().Height <= trusted {
		t.Fatalf("refresh: %d txs, %d minted, trusted %d (was %d)", st.txs, st.minted, sub.topDown().Height, trusted)
	}
}

// BenchmarkPlanTopDown: the relayer's CPU to plan the first topdown of a
// catch-up 18 full rotations and 130 deposits behind (bisection fetches
// and verifies each probed header, as against a parent's API).
func BenchmarkPlanTopDown(b *testing.B) {
	r := newRecordedParentB(b, 4, 19*4)
	r.e.register(5, 1, 1, 1)
	r.record()
	sub := subnetOf(b, r.parentChain, 5)
	for i := 0; i < 130; i++ {
		r.depositRec(r.e.h.Addr(3+i%4), uint64(i+1))
		if i%7 == 6 && i/7 < 18 {
			r.rotate(disjoint(i/7+1, 4))
		}
	}
	td := sub.topDown()
	c := sub.h.Codec()
	now := chain.TimeOf(r.e.h.Time())
	b.ResetTimer()
	c0 := cpuTime()
	for range b.N {
		msg, _, err := PlanTopDown(context.Background(), c, r, &td, now)
		if err != nil || msg == nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64((cpuTime()-c0).Microseconds())/1e3/float64(b.N), "cpu-ms/op")
}

// The relayers' gas estimates cover what delivery charges, without
// offering more than twice that: a checkpoint of 3, 16 and 64 signatures
// on the parent and a topdown of 1 to 64 deposits under sets of 4 and 16.
func TestRelayGasEstimates(t *testing.T) {
	for _, n := range []int{3, 16, 64} {
		e := newEnv(t, "parent-1", nil)
		units := make([]uint64, n)
		for i := range units {
			units[i] = 1
		}
		e.register(10, units...)
		sc := e.signed(e.checkpoint(10), all(n)...)
		m := e.msg(MsgCheckpoint(e.h.Codec(), sc))
		res := e.deliver(4, m)
		if res.Code != 0 {
			t.Fatalf("checkpoint of %d: %s", n, res.Log)
		}
		if est := CheckpointGas(len(m.Body), len(sc.Sigs)); est < res.GasUsed || est > 2*res.GasUsed {
			t.Errorf("checkpoint of %d signatures: estimate %d gas, used %d", n, est, res.GasUsed)
		}
	}
	for _, tc := range []struct{ vals, deps int }{{4, 1}, {4, 64}, {16, 1}, {16, 64}} {
		r := newRecordedParent(t, tc.vals, tc.vals)
		r.e.register(5, 1, 1, 1)
		r.record()
		sub := subnetOf(t, r.parentChain, 5)
		for i := 0; i < tc.deps; i++ {
			r.depositRec(sub.h.Addr(3), 1)
		}
		td := sub.topDown()
		msg, _, err := PlanTopDown(context.Background(), sub.h.Codec(), r, &td, chain.TimeOf(r.e.h.Time()))
		if err != nil {
			t.Fatal(err)
		}
		m := sub.msg(MsgTopDown(sub.h.Codec(), *msg))
		res := sendTopDown(sub, r.parentChain, 6, *msg)
		if res.Code != 0 {
			t.Fatalf("topdown: %s", res.Log)
		}
		var sigs int
		for _, b := range msg.Blocks {
			sigs += len(b.Commit.Sigs)
		}
		if est := TopDownGas(len(m.Body), sigs, len(msg.Deposits)); est < res.GasUsed || est > 2*res.GasUsed {
			t.Errorf("topdown, %d validators, %d deposits: estimate %d gas, used %d", tc.vals, tc.deps, est, res.GasUsed)
		}
	}
}

// lyingParent serves r's blocks with edit applied to the one at height at.
type lyingParent struct {
	*recordedParent
	at   uint64
	edit func(lb *light.LightBlock, next *chain.ValidatorSet) (*light.LightBlock, *chain.ValidatorSet)
}

func (l lyingParent) LightBlock(ctx context.Context, h uint64) (*light.LightBlock, *chain.ValidatorSet, error) {
	lb, next, err := l.recordedParent.LightBlock(ctx, h)
	if err != nil || h != l.at {
		return lb, next, err
	}
	lb, next = l.edit(lb, next)
	return lb, next, nil
}

// A parent node that serves forged light blocks gets nothing sent: the
// plan checks each block as the subnet will and fails with the reason.
func TestRelayRefusesLyingParent(t *testing.T) {
	r := newRecordedParent(t, 4, 12)
	r.e.register(5, 1, 1, 1)
	r.record()
	sub := subnetOf(t, r.parentChain, 5)
	r.depositRec(sub.h.Addr(3), 10)
	r.rotate(disjoint(1, 4))
	r.empty(2)
	r.depositRec(sub.h.Addr(3), 20)
	handover := uint64(3) // register 1, deposit 2, the handover block 3
	if len(r.blocks[handover].NextValidators) == 0 {
		t.Fatalf("block %d is not the handover", handover)
	}
	head := r.e.h.Height()
	c := sub.h.Codec()
	outsiders := r.set(disjoint(2, 4))
	cases := []struct {
		name string
		at   uint64
		edit func(lb *light.LightBlock, next *chain.ValidatorSet) (*light.LightBlock, *chain.ValidatorSet)
		want error
	}{
		{"the head's commit signed by outsiders", head, func(lb *light.LightBlock, next *chain.ValidatorSet) (*light.LightBlock, *chain.ValidatorSet) {
			h := lb.Header
			h.ValidatorsHash = outsiders.Hash(c)
			cm := r.sign(h, disjoint(2, 4))
			return &light.LightBlock{Header: h, Commit: &cm, Validators: outsiders}, next
		}, light.ErrInvalidHeader}, // bisected down to it: not the set the block before named
		{"a handover naming a next set it does not hash to", handover, func(lb *light.LightBlock, _ *chain.ValidatorSet) (*light.LightBlock, *chain.ValidatorSet) {
			return lb, outsiders
		}, light.ErrInvalidHeader},
		{"a header altered after signing", handover, func(lb *light.LightBlock, next *chain.ValidatorSet) (*light.LightBlock, *chain.ValidatorSet) {
			x := *lb
			x.Header.StateRoot[0] ^= 1
			return &x, next
		}, light.ErrInvalidHeader},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			td := sub.topDown()
			msg, _, err := PlanTopDown(context.Background(), c, lyingParent{r, tc.at, tc.edit}, &td, chain.TimeOf(r.e.h.Time()))
			if err == nil || msg != nil {
				t.Fatalf("planned %v (err %v) from a lying parent", msg != nil, err)
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("error %v, want %v", err, tc.want)
			}
		})
	}
	if st := catchUp(t, sub, r, 6); st.minted != 2 {
		t.Fatalf("the honest parent: %d minted, want 2", st.minted)
	}
}
