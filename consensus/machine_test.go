package consensus

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/dure-network/dure/chain"
	"github.com/dure-network/dure/consensus/wal"
)

const testChain = "test"

type testVals struct {
	keys []chain.PrivKey // in validator-set order
	set  *chain.ValidatorSet
}

func makeVals(t testing.TB, powers ...uint64) testVals {
	t.Helper()
	var vals []chain.Validator
	byAddr := map[chain.Address]chain.PrivKey{}
	for i, p := range powers {
		seed := make([]byte, 32)
		seed[0], seed[1] = byte(i), byte(i>>8)
		k, err := chain.PrivKeyFromSeed(seed)
		if err != nil {
			t.Fatal(err)
		}
		vals = append(vals, chain.Validator{Address: k.PubKey().Address(), PubKey: k.PubKey(), Power: p})
		byAddr[k.PubKey().Address()] = k
	}
	vs, err := chain.NewValidatorSet(vals)
	if err != nil {
		t.Fatal(err)
	}
	tv := testVals{set: vs}
	for _, v := range vs.Validators {
		tv.keys = append(tv.keys, byAddr[v.Address])
	}
	return tv
}

func (tv testVals) vote(c *chain.Codec, i int, t chain.VoteType, h uint64, r uint32, id chain.ID) chain.Vote {
	v := chain.Vote{Type: t, Height: h, Round: r, BlockID: id, Validator: tv.set.Validators[i].Address}
	v.Sig = tv.keys[i].Sign(v.SignBytes(c, testChain))
	return v
}

func newTestMachine(t testing.TB, tv testVals, self int, h uint64, ls LastSigned) *Machine {
	t.Helper()
	cfg := Config{ChainID: testChain, Codec: chain.MustCodec(), Height: h, Validators: tv.set, LastSigned: ls}
	if self >= 0 {
		cfg.Self, cfg.Signer = tv.set.Validators[self].Address, tv.keys[self]
	}
	m, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func blockID(s string) chain.ID { return chain.IDOf([]byte(s)) }

func TestGuardRefusesDoubleSignAfterCrash(t *testing.T) {
	c := chain.MustCodec()
	tv := makeVals(t, 1)
	dir := t.TempDir()
	a, b := blockID("A"), blockID("B")
	sb := func(id chain.ID) []byte { return chain.VoteSignBytes(c, testChain, chain.Prevote, 5, 0, id) }

	w, err := wal.Open(dir, wal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	g := NewGuard(tv.keys[0], LastSigned{})
	sigA, fresh, err := g.Sign(5, 0, StepPrevote, sb(a))
	if err != nil || !fresh {
		t.Fatalf("first signature: fresh=%v err=%v", fresh, err)
	}
	if err := w.SaveLastSigned(g.Last().Encode(c)); err != nil {
		t.Fatal(err)
	}
	w.Close() // "crash": only what is on disk survives

	w, err = wal.Open(dir, wal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	raw, err := w.LoadLastSigned()
	if err != nil {
		t.Fatal(err)
	}
	last, err := DecodeLastSigned(c, raw)
	if err != nil {
		t.Fatal(err)
	}
	g = NewGuard(tv.keys[0], last)
	tests := []struct {
		name    string
		h       uint64
		r       uint32
		step    Step
		bytes   []byte
		wantErr bool
		wantSig []byte
	}{
		{"conflicting prevote same step", 5, 0, StepPrevote, sb(b), true, nil},
		{"identical prevote re-uses signature", 5, 0, StepPrevote, sb(a), false, sigA},
		{"earlier step", 5, 0, StepPropose, []byte("p"), true, nil},
		{"earlier height", 4, 9, StepPrecommit, []byte("x"), true, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sig, fresh, err := g.Sign(tt.h, tt.r, tt.step, tt.bytes)
			if tt.wantErr {
				if !errors.Is(err, ErrDoubleSign) {
					t.Fatalf("err = %v, want ErrDoubleSign", err)
				}
				return
			}
			if err != nil || fresh || string(sig) != string(tt.wantSig) {
				t.Fatalf("sig equal=%v fresh=%v err=%v", string(sig) == string(tt.wantSig), fresh, err)
			}
		})
	}
	if _, fresh, err := g.Sign(5, 0, StepPrecommit, []byte("later")); err != nil || !fresh {
		t.Fatalf("later step must sign: fresh=%v err=%v", fresh, err)
	}
}

// drain runs one handler pass the way a driver must, returning what was
// broadcast.
func drain(m *Machine) Ready {
	rd := m.Ready()
	m.Advance()
	return rd
}

func TestMachineReplayDoesNotChangeVote(t *testing.T) {
	c := chain.MustCodec()
	tv := makeVals(t, 1, 1, 1, 1)
	const h = 5
	// Find a validator that is not proposer of round 0.
	self := 0
	sched := NewProposerSchedule(tv.set)
	for tv.set.Validators[self].Address == sched.Proposer(h, 0) {
		self++
	}
	prop := 0
	for tv.set.Validators[prop].Address != sched.Proposer(h, 0) {
		prop++
	}
	a := blockID("A")
	p := chain.Proposal{Height: h, Round: 0, POLRound: -1, BlockID: a, Proposer: tv.set.Validators[prop].Address}
	p.Sig = tv.keys[prop].Sign(p.SignBytes(c, testChain))

	m := newTestMachine(t, tv, self, h, LastSigned{})
	var records [][]byte
	var last *LastSigned
	persist := func(rd Ready) {
		for _, r := range rd.WAL {
			records = append(records, r.Data)
		}
		if rd.LastSigned != nil {
			last = rd.LastSigned
		}
	}
	if err := m.Start(); err != nil {
		t.Fatal(err)
	}
	persist(drain(m))
	if err := m.Step(ProposalEvent{Proposal: p}); err != nil {
		t.Fatal(err)
	}
	rd := drain(m)
	persist(rd)
	if len(rd.Validate) != 1 || rd.Validate[0].BlockID != a {
		t.Fatalf("want a ValidateBlock for A, got %+v", rd.Validate)
	}
	if err := m.Step(BlockValidatedEvent{BlockID: a, Valid: true}); err != nil {
		t.Fatal(err)
	}
	rd = drain(m)
	persist(rd)
	if !rd.MustSync || rd.LastSigned == nil || len(rd.Messages) != 1 || rd.Messages[0].Vote.BlockID != a {
		t.Fatalf("want a synced prevote for A, got %+v", rd)
	}
	sigA := rd.Messages[0].Vote.Sig

	// Crash and restart from the WAL and last-signed state.
	m2 := newTestMachine(t, tv, self, h, *last)
	if err := m2.Replay(records); err != nil {
		t.Fatal(err)
	}
	rd = drain(m2)
	if len(rd.WAL) != 0 {
		t.Fatalf("replay must not re-log records, got %d", len(rd.WAL))
	}
	if len(rd.Messages) != 1 || string(rd.Messages[0].Vote.Sig) != string(sigA) {
		t.Fatalf("replayed machine must re-send the same prevote, got %+v", rd.Messages)
	}
	if st := m2.Status(); st.Step != StepPrevote {
		t.Fatalf("replayed step %s, want prevote", st.Step)
	}
	// Restarting without the WAL but with the last-signed file: the
	// machine may want to prevote nil on timeout; the guard refuses.
	m3 := newTestMachine(t, tv, self, h, *last)
	if err := m3.Start(); err != nil {
		t.Fatal(err)
	}
	drain(m3)
	if err := m3.Step(TimeoutEvent{Height: h, Round: 0, Step: StepPropose}); err != nil {
		t.Fatal(err)
	}
	if rd := drain(m3); len(rd.Messages) != 0 || m3.Refused() != 1 {
		t.Fatalf("guard must refuse the nil prevote: messages %d refused %d", len(rd.Messages), m3.Refused())
	}
}

func TestMachineEvidenceForEquivocation(t *testing.T) {
	c := chain.MustCodec()
	tv := makeVals(t, 3, 1, 1, 1)
	m := newTestMachine(t, tv, -1, 1, LastSigned{})
	if err := m.Start(); err != nil {
		t.Fatal(err)
	}
	a, b := blockID("A"), blockID("B")
	v1 := tv.vote(c, 1, chain.Prevote, 1, 0, a)
	v2 := tv.vote(c, 1, chain.Prevote, 1, 0, b)
	for _, v := range []chain.Vote{v1, v1, v2, v2} {
		if err := m.Step(VoteEvent{Vote: v}); err != nil {
			t.Fatal(err)
		}
	}
	rd := drain(m)
	if len(rd.Evidence) != 1 {
		t.Fatalf("want exactly one evidence, got %d", len(rd.Evidence))
	}
	if err := rd.Evidence[0].Verify(c, testChain, tv.set); err != nil {
		t.Fatalf("evidence does not verify: %v", err)
	}
	// A forged conflicting vote yields no evidence.
	v3 := tv.vote(c, 2, chain.Precommit, 1, 0, a)
	v4 := v3
	v4.BlockID = b
	_ = m.Step(VoteEvent{Vote: v3})
	if err := m.Step(VoteEvent{Vote: v4}); !errors.Is(err, chain.ErrBadSignature) {
		t.Fatalf("forged vote: err = %v", err)
	}
	if rd := drain(m); len(rd.Evidence) != 0 {
		t.Fatal("forged vote must not become evidence")
	}
}

// TestMachineHappyPath drives four machines by hand with zero latency and
// checks they all decide the proposer's block with a valid commit.
func TestMachineHappyPath(t *testing.T) {
	c := chain.MustCodec()
	tv := makeVals(t, 4, 3, 2, 1)
	ms := make([]*Machine, 4)
	for i := range ms {
		ms[i] = newTestMachine(t, tv, i, 1, LastSigned{})
	}
	decided := map[int]Decision{}
	var queue []Message
	for i, m := range ms {
		if err := m.Start(); err != nil {
			t.Fatal(err)
		}
		_ = i
	}
	for round := 0; round < 50 && len(decided) < 4; round++ {
		for i, m := range ms {
			for m.HasReady() {
				rd := drain(m)
				queue = append(queue, rd.Messages...)
				for _, rq := range rd.Requests {
					_ = m.ProposeBlock(rq.Height, rq.Round, blockID(fmt.Sprintf("b%d/%d", rq.Height, rq.Round)))
				}
				for _, v := range rd.Validate {
					_ = m.Step(BlockValidatedEvent{BlockID: v.BlockID, Valid: true})
				}
				for _, d := range rd.Decisions {
					decided[i] = d
				}
			}
		}
		q := queue
		queue = nil
		for _, msg := range q {
			for _, m := range ms {
				if msg.Vote != nil {
					_ = m.Step(VoteEvent{Vote: *msg.Vote})
				} else {
					_ = m.Step(ProposalEvent{Proposal: *msg.Proposal})
				}
			}
		}
	}
	if len(decided) != 4 {
		t.Fatalf("%d of 4 decided", len(decided))
	}
	want := blockID("b1/0")
	for i, d := range decided {
		if d.BlockID != want || d.Round != 0 || d.Wait != DefaultTimeouts().Commit {
			t.Fatalf("node %d decided %+v, want %s in round 0", i, d, want)
		}
		if err := chain.VerifyCommit(c, testChain, tv.set, d.Commit, 1, want); err != nil {
			t.Fatalf("node %d commit: %v", i, err)
		}
	}
	// A lagging node accepts the commit out of band.
	late := newTestMachine(t, tv, -1, 1, LastSigned{})
	_ = late.Start()
	drain(late)
	if err := late.Step(CommitEvent{Commit: *decided[0].Commit}); err != nil {
		t.Fatal(err)
	}
	if rd := drain(late); len(rd.Decisions) != 1 || rd.Decisions[0].BlockID != want {
		t.Fatalf("late node did not decide from the commit: %+v", rd.Decisions)
	}
	bad := *decided[0].Commit
	bad.Sigs = bad.Sigs[:1]
	late2 := newTestMachine(t, tv, -1, 1, LastSigned{})
	_ = late2.Start()
	if err := late2.Step(CommitEvent{Commit: bad}); !errors.Is(err, chain.ErrInvalidCommit) {
		t.Fatalf("short commit: err = %v", err)
	}
}

func TestMachineTimeoutsAndRoundSkip(t *testing.T) {
	c := chain.MustCodec()
	tv := makeVals(t, 1, 1, 1, 1)
	m := newTestMachine(t, tv, -1, 3, LastSigned{Height: 0})
	_ = m.Start()
	rd := drain(m)
	if len(rd.Timeouts) != 1 || rd.Timeouts[0].Step != StepPropose || rd.Timeouts[0].Duration != time.Second {
		t.Fatalf("start: timeouts %+v", rd.Timeouts)
	}
	// Votes from two validators (>1/3) at round 4 make the machine skip.
	for i := 0; i < 2; i++ {
		_ = m.Step(VoteEvent{Vote: tv.vote(c, i, chain.Prevote, 3, 4, "")})
	}
	rd = drain(m)
	if st := m.Status(); st.Round != 4 || st.Step != StepPropose {
		t.Fatalf("status %+v, want round 4 propose", st)
	}
	if want := time.Second + 4*500*time.Millisecond; len(rd.Timeouts) != 1 || rd.Timeouts[0].Duration != want {
		t.Fatalf("round 4 timeout %+v, want %v", rd.Timeouts, want)
	}
	// A stale timeout does nothing.
	_ = m.Step(TimeoutEvent{Height: 3, Round: 0, Step: StepPropose})
	if rd := drain(m); !rd.Empty() {
		t.Fatalf("stale timeout produced %+v", rd)
	}
	// Future heights: one ahead is buffered, further is an error.
	if err := m.Step(VoteEvent{Vote: tv.vote(c, 0, chain.Prevote, 9, 0, "")}); !errors.Is(err, ErrFutureHeight) {
		t.Fatalf("far future vote: err = %v", err)
	}
}

func TestMachineBoundsFutureRounds(t *testing.T) {
	c := chain.MustCodec()
	tv := makeVals(t, 1, 1, 1, 1)
	m := newTestMachine(t, tv, -1, 1, LastSigned{})
	_ = m.Start()
	for r := uint32(10); r < 1000; r++ {
		_ = m.Step(VoteEvent{Vote: tv.vote(c, 0, chain.Prevote, 1, r, "")})
	}
	if n := len(m.rounds); n > maxFutureRoundsPerValidator+1 {
		t.Fatalf("one validator grew %d rounds", n)
	}
	for i := 0; i < 100; i++ {
		_ = m.Step(VoteEvent{Vote: tv.vote(c, 1, chain.Prevote, 2, uint32(i), "")})
	}
	if len(m.next) > maxBufferedPerValidator {
		t.Fatalf("buffered %d next-height votes from one validator", len(m.next))
	}
}
