package consensus

import (
	"container/heap"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/dure-network/dure/chain"
)

// The simulated network: N validators with unequal stake exchange messages
// through a deterministic scheduler on virtual time. Everything random comes
// from one seed, so a failing seed replays exactly with DURE_SIM_SEED=n.

type byzKind int

const (
	honest byzKind = iota
	equivocator
	silent
	attacker // runs a machine; its votes and proposals are the lockAttack's
)

type simEvent struct {
	at   time.Duration
	seq  uint64
	node int
	inc  int // incarnation the event belongs to (-1: any)
	fn   func()
}

type eventQueue []*simEvent

func (q eventQueue) Len() int { return len(q) }
func (q eventQueue) Less(i, j int) bool {
	if q[i].at != q[j].at {
		return q[i].at < q[j].at
	}
	return q[i].seq < q[j].seq
}
func (q eventQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *eventQueue) Push(x any)   { *q = append(*q, x.(*simEvent)) }
func (q *eventQueue) Pop() any {
	old := *q
	e := old[len(old)-1]
	*q = old[:len(old)-1]
	return e
}

type simNode struct {
	idx  int
	key  chain.PrivKey
	addr chain.Address
	byz  byzKind
	m    *Machine
	up   bool
	inc  int

	probe lockProbe // coverage of lock transitions

	// Durable state: survives crashes.
	wal        map[uint64][][]byte
	lastSigned []byte
	committed  uint64
	commits    map[uint64]*chain.Commit
}

type simNet struct {
	t      *testing.T
	seed   uint64
	rng    *rand.Rand
	codec  *chain.Codec
	vals   *chain.ValidatorSet
	nodes  []*simNode
	now    time.Duration
	seq    uint64
	queue  eventQueue
	tmo    Timeouts
	failed error

	// network conditions
	lossPct   int
	dupPct    int
	maxDelay  time.Duration
	group     []int                                // partition group per node; nil = connected
	cut       func(from, to int, msg Message) bool // drops matching messages on arrival
	chaos     bool
	crashPerM int         // per-mille chance a Ready is lost to a crash
	attack    *lockAttack // nil: random faults only

	coverage simCoverage

	// oracles
	valid    map[chain.ID]bool
	proposed map[chain.ID]bool
	decided  map[uint64]chain.ID
	signed   map[string][]byte // honest (h/r/step/validator) -> sign bytes hash
	evidence int
	crashes  int
}

func (s *simNet) failf(format string, args ...any) {
	if s.failed == nil {
		s.failed = fmt.Errorf("t=%v: "+format, append([]any{s.now}, args...)...)
	}
}

func (s *simNet) at(d time.Duration, node, inc int, fn func()) {
	s.seq++
	heap.Push(&s.queue, &simEvent{at: s.now + d, seq: s.seq, node: node, inc: inc, fn: fn})
}

func newSimNet(t *testing.T, seed uint64) *simNet {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	s := &simNet{t: t, seed: seed, rng: rng, codec: chain.MustCodec(),
		valid: map[chain.ID]bool{}, proposed: map[chain.ID]bool{}, decided: map[uint64]chain.ID{}, signed: map[string][]byte{},
		tmo: Timeouts{Propose: time.Second, Prevote: 500 * time.Millisecond, Precommit: 500 * time.Millisecond,
			Delta: 500 * time.Millisecond, Commit: 100 * time.Millisecond}}
	n := 4 + rng.IntN(4)
	var vals []chain.Validator
	for i := 0; i < n; i++ {
		seedBytes := make([]byte, 32)
		for j := range seedBytes {
			seedBytes[j] = byte(rng.UintN(256))
		}
		k, err := chain.PrivKeyFromSeed(seedBytes)
		if err != nil {
			t.Fatal(err)
		}
		vals = append(vals, chain.Validator{Address: k.PubKey().Address(), PubKey: k.PubKey(), Power: 1 + rng.Uint64N(10)})
		s.nodes = append(s.nodes, &simNode{idx: i, key: k, addr: k.PubKey().Address(), up: true,
			wal: map[uint64][][]byte{}, commits: map[uint64]*chain.Commit{}})
	}
	vs, err := chain.NewValidatorSet(vals)
	if err != nil {
		t.Fatal(err)
	}
	s.vals = vs
	// Byzantine validators: strictly less than 1/3 of the power.
	var byzPower uint64
	for _, i := range rng.Perm(n) {
		nd := s.nodes[i]
		v, _, _ := vs.ByAddress(nd.addr)
		if rng.IntN(3) == 0 && (byzPower+v.Power)*3 < vs.TotalPower() {
			byzPower += v.Power
			nd.byz = equivocator
			if rng.IntN(2) == 0 {
				nd.byz = silent
			}
		}
	}
	s.lossPct = rng.IntN(30)
	s.dupPct = rng.IntN(10)
	s.maxDelay = time.Duration(1+rng.IntN(300)) * time.Millisecond
	s.crashPerM = rng.IntN(20)
	if rng.IntN(2) == 0 {
		s.setupAttack()
	}
	return s
}

// setupAttack turns the run into a lockAttack run: as much byzantine power
// as stays below 1/3, all of it attacking the locks, over a network that is
// otherwise fairly tame (the adversary, not chance, makes the schedule).
func (s *simNet) setupAttack() {
	var byzPower uint64
	for _, nd := range s.nodes {
		nd.byz = honest
	}
	for _, i := range s.rng.Perm(len(s.nodes)) {
		if p := s.power(i); (byzPower+p)*3 < s.vals.TotalPower() {
			byzPower += p
			s.nodes[i].byz = attacker
		}
	}
	s.lossPct = s.rng.IntN(5)
	s.maxDelay = time.Duration(1+s.rng.IntN(50)) * time.Millisecond
	s.attack = newLockAttack(s)
	s.coverage.attack = true
}

func (s *simNet) power(i int) uint64 {
	v, _, _ := s.vals.ByAddress(s.nodes[i].addr)
	return v.Power
}

func (s *simNet) start(nd *simNode) {
	if nd.byz == silent {
		return
	}
	var ls LastSigned
	if nd.lastSigned != nil {
		var err error
		if ls, err = DecodeLastSigned(s.codec, nd.lastSigned); err != nil {
			s.failf("node %d: last signed: %v", nd.idx, err)
			return
		}
	}
	m, err := New(Config{ChainID: "sim", Codec: s.codec, Height: nd.committed + 1, Validators: s.vals,
		Self: nd.addr, Signer: nd.key, Timeouts: s.tmo, LastSigned: ls})
	if err != nil {
		s.failf("node %d: new: %v", nd.idx, err)
		return
	}
	nd.m = m
	if recs := nd.wal[nd.committed+1]; len(recs) > 0 {
		err = m.Replay(recs)
	} else {
		err = m.Start()
	}
	if err != nil {
		s.failf("node %d: start: %v", nd.idx, err)
		return
	}
	s.drive(nd)
}

func (s *simNet) crash(nd *simNode) {
	nd.up, nd.m = false, nil
	nd.inc++
	s.crashes++
	inc := nd.inc
	s.at(time.Duration(100+s.rng.IntN(3000))*time.Millisecond, nd.idx, -1, func() {
		if nd.inc == inc && !nd.up {
			nd.up = true
			s.start(nd)
		}
	})
}

// drive handles the machine's Ready the way a node's driver must: persist
// first, then send, schedule, build, validate, commit.
func (s *simNet) drive(nd *simNode) {
	for nd.up && nd.m != nil && nd.m.HasReady() {
		rd := nd.m.Ready()
		if s.chaos && nd.byz == honest && s.rng.IntN(1000) < s.crashPerM {
			s.crash(nd) // crash before anything of this Ready is persisted or sent
			return
		}
		for _, r := range rd.WAL {
			nd.wal[r.Height] = append(nd.wal[r.Height], append([]byte(nil), r.Data...))
		}
		if rd.LastSigned != nil {
			nd.lastSigned = rd.LastSigned.Encode(s.codec)
		}
		nd.m.Advance()
		for _, msg := range rd.Messages {
			s.broadcast(nd, msg)
		}
		inc := nd.inc
		for _, to := range rd.Timeouts {
			ev := TimeoutEvent{Height: to.Height, Round: to.Round, Step: to.Step}
			s.at(to.Duration, nd.idx, inc, func() { s.step(nd, ev) })
		}
		for _, rq := range rd.Requests {
			id := chain.IDOf(fmt.Appendf(nil, "block/%d/%d/%d/%d", s.seed, rq.Height, rq.Round, nd.idx))
			s.valid[id] = true
			_ = nd.m.ProposeBlock(rq.Height, rq.Round, id)
		}
		for _, v := range rd.Validate {
			_ = nd.m.Step(BlockValidatedEvent{BlockID: v.BlockID, Valid: s.valid[v.BlockID]})
		}
		for _, d := range rd.Decisions {
			if nd.byz == honest {
				s.probeDecision(nd, d)
			}
			s.onDecision(nd, d)
		}
		for _, ev := range rd.Evidence {
			s.onEvidence(ev)
		}
		s.probe(nd)
	}
}

func (s *simNet) onDecision(nd *simNode, d Decision) {
	if nd.byz == honest {
		if prev, ok := s.decided[d.Height]; ok && prev != d.BlockID {
			s.failf("agreement violated at height %d: node %d decided %s, another %s", d.Height, nd.idx, d.BlockID, prev)
		}
		s.decided[d.Height] = d.BlockID
		if !s.proposed[d.BlockID] || !s.valid[d.BlockID] {
			s.failf("validity violated at height %d: node %d decided %s (proposed %v, valid %v)",
				d.Height, nd.idx, d.BlockID, s.proposed[d.BlockID], s.valid[d.BlockID])
		}
		if err := chain.VerifyCommit(s.codec, "sim", s.vals, d.Commit, d.Height, d.BlockID); err != nil {
			s.failf("node %d: decision carries a bad commit: %v", nd.idx, err)
		}
	}
	nd.committed = d.Height
	nd.commits[d.Height] = d.Commit
	delete(nd.wal, d.Height-1) // trimming, as the real WAL does
	inc := nd.inc
	s.at(d.Wait, nd.idx, inc, func() {
		if err := nd.m.NewHeight(d.Height+1, s.vals); err != nil {
			s.failf("node %d: new height: %v", nd.idx, err)
		}
		s.drive(nd)
	})
}

func (s *simNet) onEvidence(ev chain.Evidence) {
	if err := ev.Verify(s.codec, "sim", s.vals); err != nil {
		s.failf("bad evidence: %v", err)
	}
	_, i, _ := s.vals.ByAddress(ev.VoteA.Validator)
	for _, nd := range s.nodes {
		if nd.addr == ev.VoteA.Validator && nd.byz == honest {
			s.failf("evidence against honest validator %d", i)
		}
	}
	s.evidence++
}

func (s *simNet) step(nd *simNode, ev Event) {
	if !nd.up || nd.m == nil {
		return
	}
	err := nd.m.Step(ev)
	if errors.Is(err, ErrFutureHeight) {
		s.requestSync(nd)
	}
	s.drive(nd)
}

// requestSync stands in for block sync: a node that hears of a later height
// fetches the commit for its own height from a peer that has it.
func (s *simNet) requestSync(nd *simNode) {
	if s.attack != nil && s.chaos {
		return // the attack withholds decisions; see lockAttack
	}
	h := nd.committed + 1
	for _, p := range s.rng.Perm(len(s.nodes)) {
		if cm, ok := s.nodes[p].commits[h]; ok && s.connected(p, nd.idx) {
			cp := *cm
			inc := nd.inc
			s.at(s.delay(), nd.idx, inc, func() { s.step(nd, CommitEvent{Commit: cp}) })
			return
		}
	}
}

func (s *simNet) connected(a, b int) bool { return s.group == nil || s.group[a] == s.group[b] }

func (s *simNet) delay() time.Duration {
	return time.Millisecond + time.Duration(s.rng.Int64N(int64(s.maxDelay)))
}

func (s *simNet) broadcast(from *simNode, msg Message) {
	// A vote of another validator that the node relays (Rebroadcast passes
	// on a re-proposal's proof-of-lock) is not the node's own message: no
	// double-sign check, no equivocating copy, no attack bookkeeping.
	own := msg.Proposal != nil || msg.Vote.Validator == from.addr
	if from.byz == honest && own {
		s.checkNoDoubleSign(from, msg)
		if msg.Vote != nil {
			s.probeVote(from, msg.Vote)
			if s.attack != nil {
				s.attack.onHonestVote(from, msg.Vote)
			}
		}
	}
	if from.byz == attacker && s.chaos {
		// The attackers' votes answer honest ones (onHonestVote) and their
		// proposals come from lockAttack.onRound; the machine's are unused.
		return
	}
	if msg.Proposal != nil {
		s.proposed[msg.Proposal.BlockID] = true
	}
	alt := msg
	if from.byz == equivocator && own {
		alt = s.conflicting(from, msg)
	}
	for i := range s.nodes {
		if i == from.idx {
			continue
		}
		m, later := msg, alt
		if i%2 == 1 {
			m, later = alt, msg
		}
		s.sendAfter(from.idx, i, m, 0)
		if from.byz == equivocator && own {
			// Gossip relays the other version too, a little later.
			s.sendAfter(from.idx, i, later, s.maxDelay)
		}
	}
}

// conflicting signs a different message for the same step, bypassing the
// guard, as a double-signing validator would.
func (s *simNet) conflicting(from *simNode, msg Message) Message {
	other := chain.IDOf(fmt.Appendf(nil, "byz/%d/%d", s.seed, s.rng.Uint64()))
	s.valid[other] = s.rng.IntN(2) == 0
	if msg.Vote != nil {
		v := *msg.Vote
		if v.BlockID.IsZero() {
			v.BlockID = other
		} else if s.rng.IntN(2) == 0 {
			v.BlockID = ""
		} else {
			v.BlockID = other
		}
		v.Sig = from.key.Sign(v.SignBytes(s.codec, "sim"))
		return Message{Vote: &v}
	}
	p := *msg.Proposal
	p.BlockID = other
	p.Sig = from.key.Sign(p.SignBytes(s.codec, "sim"))
	s.proposed[other] = true
	return Message{Proposal: &p}
}

func (s *simNet) checkNoDoubleSign(from *simNode, msg Message) {
	var key string
	var sb []byte
	if v := msg.Vote; v != nil {
		key = fmt.Sprintf("%d/%d/%d/%d", v.Height, v.Round, v.Type, from.idx)
		sb = v.SignBytes(s.codec, "sim")
	} else {
		p := msg.Proposal
		key = fmt.Sprintf("%d/%d/p/%d", p.Height, p.Round, from.idx)
		sb = p.SignBytes(s.codec, "sim")
	}
	if prev, ok := s.signed[key]; ok && string(prev) != string(sb) {
		s.failf("honest node %d double-signed %s", from.idx, key)
	}
	s.signed[key] = sb
}

// send delivers a message from its signer (the byzantine validators' own).
func (s *simNet) send(to int, msg Message) { s.sendAfter(s.signerNode(msg), to, msg, 0) }

// sendAfter delivers msg from node from to node to after a random delay
// plus extra, unless loss, a partition between the two or s.cut drops it.
func (s *simNet) sendAfter(from, to int, msg Message, extra time.Duration) {
	copies := 1
	if s.rng.IntN(100) < s.dupPct {
		copies = 2
	}
	for c := 0; c < copies; c++ {
		if s.rng.IntN(100) < s.lossPct {
			continue
		}
		nd := s.nodes[to]
		d := extra + s.delay()
		var arrive func()
		arrive = func() {
			// Partitions are checked on arrival so healing drops nothing new.
			if s.group != nil && s.group[from] != s.group[to] {
				return
			}
			if s.cut != nil && s.cut(from, to, msg) {
				return
			}
			if s.attack != nil && msg.Vote != nil && !s.attack.admit(to, msg.Vote) {
				s.at(attackRetry, to, -1, arrive)
				return
			}
			if msg.Vote != nil {
				s.step(nd, VoteEvent{Vote: *msg.Vote})
			} else {
				s.step(nd, ProposalEvent{Proposal: *msg.Proposal})
			}
		}
		s.at(d, to, -1, arrive)
	}
}

// signerNode is the index of the node that signed msg.
func (s *simNet) signerNode(msg Message) int {
	var addr chain.Address
	if msg.Proposal != nil {
		addr = msg.Proposal.Proposer
	} else {
		addr = msg.Vote.Validator
	}
	for _, nd := range s.nodes {
		if nd.addr == addr {
			return nd.idx
		}
	}
	return -1
}

func (s *simNet) rebroadcastLoop(nd *simNode) {
	s.at(time.Second, nd.idx, -1, func() {
		if nd.up && nd.m != nil {
			for _, msg := range nd.m.Rebroadcast() {
				s.broadcast(nd, msg)
			}
			if s.attack != nil && s.chaos && nd.byz == honest {
				s.attack.resend(nd.idx)
			}
			// Gossip the latest commit so peers one height behind move on.
			if cm, ok := nd.commits[nd.committed]; ok && (s.attack == nil || !s.chaos) {
				for i := range s.nodes {
					if i != nd.idx && s.connected(i, nd.idx) && s.rng.IntN(100) >= s.lossPct {
						peer, cp := s.nodes[i], *cm
						s.at(s.delay(), i, -1, func() { s.step(peer, CommitEvent{Commit: cp}) })
					}
				}
			}
		}
		s.rebroadcastLoop(nd)
	})
}

func (s *simNet) runUntil(deadline time.Duration, done func() bool) {
	for s.queue.Len() > 0 && s.failed == nil {
		if done != nil && done() {
			return
		}
		e := heap.Pop(&s.queue).(*simEvent)
		if e.at > deadline {
			heap.Push(&s.queue, e)
			s.now = deadline
			return
		}
		s.now = e.at
		if e.inc >= 0 && e.inc != s.nodes[e.node].inc {
			continue // a timeout of a crashed incarnation
		}
		e.fn()
	}
}

func (s *simNet) honestHeights() (lo, hi uint64) {
	lo = ^uint64(0)
	for _, nd := range s.nodes {
		if nd.byz == honest {
			lo, hi = min(lo, nd.committed), max(hi, nd.committed)
		}
	}
	return lo, hi
}

// run is one seeded scenario: chaos (loss, delay, duplication, partitions,
// crashes), then heal and require K more heights from every honest node.
func runSim(t *testing.T, seed uint64) (simCoverage, error) {
	s := newSimNet(t, seed)
	err := s.run()
	return s.coverage, err
}

func (s *simNet) run() error {
	s.chaos = true
	for _, nd := range s.nodes {
		s.start(nd)
		s.rebroadcastLoop(nd)
	}
	chaosEnd := time.Duration(2000+s.rng.IntN(4000)) * time.Millisecond
	if s.attack != nil {
		chaosEnd = time.Duration(4000+s.rng.IntN(8000)) * time.Millisecond
	}
	// Partitions come and go during chaos.
	for at := time.Duration(0); at < chaosEnd; at += time.Duration(500+s.rng.IntN(1500)) * time.Millisecond {
		split := s.rng.IntN(3) == 0
		groups := make([]int, len(s.nodes))
		for i := range groups {
			groups[i] = s.rng.IntN(2)
		}
		s.at(at, 0, -1, func() {
			if split && s.chaos && s.attack == nil {
				s.group = groups
			} else {
				s.group = nil
			}
		})
	}
	// Crashes of honest nodes.
	for _, nd := range s.nodes {
		if nd.byz == honest && s.rng.IntN(3) == 0 {
			nd := nd
			s.at(time.Duration(s.rng.Int64N(int64(chaosEnd))), nd.idx, -1, func() {
				if nd.up && s.chaos {
					s.crash(nd)
				}
			})
		}
	}
	s.runUntil(chaosEnd, nil)
	if s.failed != nil {
		return s.failed
	}
	// Heal: connect everyone, drop loss to a trickle, restart the crashed.
	s.chaos, s.group, s.lossPct, s.crashPerM = false, nil, min(s.lossPct, 5), 0
	if s.attack != nil {
		s.attack.relayAll()
	}
	for _, nd := range s.nodes {
		if !nd.up {
			nd.up = true
			s.start(nd)
		}
	}
	const k = 3
	_, hi := s.honestHeights()
	target := hi + k
	bound := s.now + 120*time.Second
	s.runUntil(bound, func() bool { lo, _ := s.honestHeights(); return lo >= target })
	if s.failed != nil {
		return s.failed
	}
	if lo, _ := s.honestHeights(); lo < target {
		st := ""
		for _, nd := range s.nodes {
			if nd.m != nil {
				ss := nd.m.Status()
				st += fmt.Sprintf(" [node %d byz=%d committed=%d h=%d r=%d step=%s]", nd.idx, nd.byz, nd.committed, ss.Height, ss.Round, ss.Step)
			}
		}
		if os.Getenv("DURE_SIM_VERBOSE") != "" {
			for _, nd := range s.nodes {
				if nd.m == nil {
					continue
				}
				m := nd.m
				fmt.Printf("node %d %+v own=%d refused=%d\n", nd.idx, m.Status(), len(m.own), m.refused)
				for _, r := range m.roundNums {
					rs := m.rounds[r]
					pid := chain.ID("")
					pol := int32(-2)
					if rs.proposal != nil {
						pid, pol = rs.proposal.BlockID, rs.proposal.POLRound
					}
					fmt.Printf("   r%d prop=%s pol=%d val=%d prevotes=%v precommits=%v seen=%d\n", r, pid, pol, m.validity[pid], rs.prevotes.byBlock, rs.precommits.byBlock, rs.seenPower)
				}
			}
		}
		return fmt.Errorf("termination: honest nodes reached %d, want %d within 120s after heal;%s", lo, target, st)
	}
	return nil
}

// TestSim runs the seeded simulation and reports, over all seeds, how many
// reached each path the locking rules guard (see simCoverage), split by
// random-fault runs and lockAttack runs, so that coverage of locked rounds
// is measured. It fails if the attack runs stop reaching those paths.
func TestSim(t *testing.T) {
	if v := os.Getenv("DURE_SIM_SEED"); v != "" {
		seed, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("DURE_SIM_SEED: %v", err)
		}
		cov, err := runSim(t, seed)
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		t.Logf("seed %d (attack %v): %v", seed, cov.attack, cov)
		return
	}
	n := 200
	if testing.Short() {
		n = 30
	}
	if v := os.Getenv("DURE_SIM_SEEDS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil {
			t.Fatalf("DURE_SIM_SEEDS: %v", err)
		}
	}
	var random, attack simCoverage
	var nAttack int
	for seed := uint64(1); seed <= uint64(n); seed++ {
		cov, err := runSim(t, seed)
		if err != nil {
			t.Fatalf("seed %d: %v\nreproduce: DURE_SIM_SEED=%d go test ./consensus -run Sim", seed, err, seed)
		}
		if cov.attack {
			nAttack++
			attack = attack.add(cov.seeds())
		} else {
			random = random.add(cov.seeds())
		}
	}
	t.Logf("%d random-fault seeds reached: %v", n-nAttack, random)
	t.Logf("%d lock-attack seeds reached: %v", nAttack, attack)
	// The attack exists to reach these paths; if a change makes it stop
	// reaching them, the simulation no longer tests the locks.
	if nAttack >= 80 && (attack.lockedNewRound*4 < nAttack || attack.lockHeld*10 < nAttack ||
		attack.splitDecision*10 < nAttack || attack.oldPOLProposals*20 < nAttack) {
		t.Errorf("lock-attack coverage fell: %d seeds, %v", nAttack, attack)
	}
}
