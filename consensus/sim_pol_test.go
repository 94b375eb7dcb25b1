package consensus

import (
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/dure-network/dure/chain"
)

// The dead proof-of-lock signer, on the simulated network (the scripted
// version is testdata/pol_relay.txt). Three validators of power 40, 30 and
// 30: a quorum (67) needs the 40 ("big") and one 30. One 30 ("late") goes
// down; while it is down, the network keeps big's block votes from the
// other 30 ("dying"), so only big can lock, on its own prevote and
// dying's. The moment big locks, dying dies for good. Late comes back from
// its WAL (and, in half the seeds, big crashes and restarts from its WAL
// too); from then on (GST) only loss and delay remain. Big and late hold
// 70, enough to decide, if late gets the proof-of-lock of big's
// re-proposal, half of which was signed by a validator that is gone.
//
// Each seed draws the heights run before the fault, the loss (up to 10%),
// the delays (up to 100 ms), which 30 dies, and the crash times. The test
// asserts that the height is decided within polRoundsAfterGST rounds of
// big's round at GST, that two more heights follow without dying, and
// agreement, validity and no double signing as TestSim does.

// polRoundsAfterGST bounds the rounds a decision may take after GST. Big
// proposes at least one round in three (weighted round robin, 40 of 100);
// a re-proposal succeeds once late holds the proposal and the relayed
// proof-of-lock before its propose timeout, which every round lengthens.
const polRoundsAfterGST = 8

// newSimNetPowers is a simulated network of honest validators with the
// given powers, no faults until the test adds them.
func newSimNetPowers(t *testing.T, seed uint64, powers []uint64) *simNet {
	rng := rand.New(rand.NewPCG(seed, seed^0x5bd1e9955bd1e995))
	s := &simNet{t: t, seed: seed, rng: rng, codec: chain.MustCodec(),
		valid: map[chain.ID]bool{}, proposed: map[chain.ID]bool{}, decided: map[uint64]chain.ID{}, signed: map[string][]byte{},
		tmo: Timeouts{Propose: time.Second, Prevote: 500 * time.Millisecond, Precommit: 500 * time.Millisecond,
			Delta: 500 * time.Millisecond, Commit: 100 * time.Millisecond}}
	var vals []chain.Validator
	for i, p := range powers {
		seedBytes := make([]byte, 32)
		for j := range seedBytes {
			seedBytes[j] = byte(rng.UintN(256))
		}
		k, err := chain.PrivKeyFromSeed(seedBytes)
		if err != nil {
			t.Fatal(err)
		}
		vals = append(vals, chain.Validator{Address: k.PubKey().Address(), PubKey: k.PubKey(), Power: p})
		s.nodes = append(s.nodes, &simNode{idx: i, key: k, addr: k.PubKey().Address(), up: true,
			wal: map[uint64][][]byte{}, commits: map[uint64]*chain.Commit{}})
	}
	vs, err := chain.NewValidatorSet(vals)
	if err != nil {
		t.Fatal(err)
	}
	s.vals = vs
	s.maxDelay = time.Duration(1+rng.IntN(100)) * time.Millisecond
	s.lossPct = rng.IntN(11)
	return s
}

// halt stops a node without scheduling its restart; only its WAL and
// last-signed record survive.
func (s *simNet) halt(nd *simNode) {
	nd.up, nd.m = false, nil
	nd.inc++
	s.crashes++
}

// resume restarts a node that halt stopped, from what survived.
func (s *simNet) resume(nd *simNode) {
	if !nd.up {
		nd.up = true
		s.start(nd)
	}
}

// deadSignerRun is what one seed of TestSimDeadPOLSigner reached.
type deadSignerRun struct {
	height      uint64 // the height decided without dying
	lockRound   int32  // big's lock when dying died
	lateLacked  bool   // late did not hold the proof-of-lock when it came back
	bigCrashed  bool
	gstRound    uint32 // big's round at GST
	decideRound uint32 // the round that decided height
}

func runDeadPOLSigner(t *testing.T, seed uint64) (deadSignerRun, error) {
	s := newSimNetPowers(t, seed, []uint64{40, 30, 30})
	var run deadSignerRun
	var big, late, dying *simNode
	for _, nd := range s.nodes {
		if s.power(nd.idx) == 40 {
			big = nd
		} else if late == nil {
			late = nd
		} else {
			dying = nd
		}
	}
	if s.rng.IntN(2) == 0 {
		late, dying = dying, late
	}
	for _, nd := range s.nodes {
		s.start(nd)
		s.rebroadcastLoop(nd)
	}
	// A few ordinary heights first.
	pre := uint64(s.rng.IntN(3))
	s.runUntil(60*time.Second, func() bool { lo, _ := s.honestHeights(); return lo >= pre })
	if s.failed != nil {
		return run, s.failed
	}
	if lo, _ := s.honestHeights(); lo < pre {
		return run, fmt.Errorf("no %d heights before the fault", pre)
	}
	// The fault: late goes down; the moment big locks (checked after every
	// event), dying dies, and what it had not yet delivered is lost.
	s.halt(late)
	locked := func() bool {
		if big.m == nil {
			return false
		}
		st := big.m.Status()
		return st.LockedRound >= 0 && st.Decided.IsZero() && st.Height > big.committed
	}
	s.runUntil(s.now+120*time.Second, locked)
	if s.failed != nil {
		return run, s.failed
	}
	if !locked() {
		return run, fmt.Errorf("big never locked with late down (height %d)", big.committed+1)
	}
	st := big.m.Status()
	run.height, run.lockRound = st.Height, st.LockedRound
	_, lateIdx, _ := s.vals.ByAddress(late.addr)
	if rs := big.m.rounds[uint32(st.LockedRound)]; rs != nil {
		run.lateLacked = rs.prevotes.votes[lateIdx] == nil
	}
	s.halt(dying)
	s.cut = func(from, to int, msg Message) bool { return from == dying.idx }
	// Late (and maybe big) restart from their WALs; GST is when the last is up.
	gst := s.now + time.Duration(100+s.rng.IntN(3000))*time.Millisecond
	s.at(gst-s.now, late.idx, -1, func() { s.resume(late) })
	if s.rng.IntN(2) == 0 {
		run.bigCrashed = true
		crashAt := time.Duration(s.rng.IntN(1000)) * time.Millisecond
		back := crashAt + time.Duration(100+s.rng.IntN(2000))*time.Millisecond
		s.at(crashAt, big.idx, -1, func() { s.halt(big) })
		s.at(back, big.idx, -1, func() { s.resume(big) })
		gst = max(gst, s.now+back)
	}
	s.runUntil(gst, nil)
	if s.failed != nil {
		return run, s.failed
	}
	if big.m == nil || late.m == nil {
		return run, fmt.Errorf("not both up at GST")
	}
	run.gstRound = big.m.Status().Round
	target := run.height + 2
	done := func() bool { return big.committed >= target && late.committed >= target }
	s.runUntil(s.now+300*time.Second, done)
	if s.failed != nil {
		return run, s.failed
	}
	cm, ok := big.commits[run.height]
	if !ok {
		bs, ls := big.m.Status(), late.m.Status()
		return run, fmt.Errorf("height %d not decided within 300s after GST (round %d at GST): big r%d %s locked=%d, late h%d r%d %s locked=%d",
			run.height, run.gstRound, bs.Round, bs.Step, bs.LockedRound, ls.Height, ls.Round, ls.Step, ls.LockedRound)
	}
	run.decideRound = cm.Round
	if cm.Round > run.gstRound+polRoundsAfterGST {
		return run, fmt.Errorf("height %d decided in round %d, %d rounds after GST (round %d); want at most %d",
			run.height, cm.Round, cm.Round-run.gstRound, run.gstRound, polRoundsAfterGST)
	}
	if !done() {
		return run, fmt.Errorf("heights after the fault: big %d, late %d, want %d", big.committed, late.committed, target)
	}
	return run, nil
}

// TestSimDeadPOLSigner runs the dead proof-of-lock signer on 24 seeds
// (DURE_SIM_POL_SEEDS=n runs n, DURE_SIM_SEED=n only seed n). It fails if a seed stalls or decides late,
// or if too few seeds reach the state it is about: late lacking the
// proof-of-lock when it comes back.
func TestSimDeadPOLSigner(t *testing.T) {
	first, n := uint64(1), uint64(24)
	if v := os.Getenv("DURE_SIM_POL_SEEDS"); v != "" {
		var err error
		if n, err = strconv.ParseUint(v, 10, 64); err != nil {
			t.Fatalf("DURE_SIM_POL_SEEDS: %v", err)
		}
	}
	if v := os.Getenv("DURE_SIM_SEED"); v != "" {
		seed, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("DURE_SIM_SEED: %v", err)
		}
		first, n = seed, 1
	}
	var lacked, relayed, bigCrashed int
	var worst uint32
	for seed := first; seed < first+n; seed++ {
		run, err := runDeadPOLSigner(t, seed)
		if err != nil {
			t.Fatalf("seed %d: %v\nreproduce: DURE_SIM_SEED=%d go test ./consensus -run SimDeadPOLSigner", seed, err, seed)
		}
		if run.lateLacked {
			lacked++
			if run.decideRound > uint32(run.lockRound) {
				relayed++ // decided by big's re-proposal: late needed the relayed POL
			}
		}
		if run.bigCrashed {
			bigCrashed++
		}
		worst = max(worst, run.decideRound-run.gstRound)
		t.Logf("seed %d: height %d, lock r%d, late lacked the POL %v, big crashed %v, GST r%d, decided r%d",
			seed, run.height, run.lockRound, run.lateLacked, run.bigCrashed, run.gstRound, run.decideRound)
	}
	t.Logf("%d seeds: late lacked the proof-of-lock in %d, of which %d decided by big's re-proposal in a later round; big crashed and replayed in %d; at most %d rounds from GST to the decision",
		n, lacked, relayed, bigCrashed, worst)
	if n > 1 && relayed*3 < int(n) {
		t.Errorf("only %d of %d seeds needed the relayed proof-of-lock: the test no longer tests the relay", relayed, n)
	}
}
