package subnet

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dure-network/dure/chain"
	"github.com/dure-network/dure/chain/light"
	"github.com/dure-network/dure/chain/moduletest"
)

// parentChain signs the parent env's committed heights as a consensus
// set would: real headers over the parent's real state root, real
// precommit signatures, real state proofs of its deposit records.
type parentChain struct {
	t    testing.TB
	e    *env
	keys []chain.PrivKey // consensus keys, index = signer number
	cur  []int           // the set signing the next header (indices into keys)
	next []int           // the set after it (nil: the same)
	prev chain.Header    // the last header built
}

func consKey(i int) chain.PrivKey { return moduletest.KeyFromIndex(2000 + i) }

func newParentChain(t testing.TB) *parentChain { return newParentChainN(t, 4) }

// newParentChainN has n consensus validators signing (8 keys at least).
func newParentChainN(t testing.TB, n int) *parentChain {
	p := &parentChain{t: t, e: newEnv(t, "parent-1", nil)}
	for i := 0; i < max(n, 8); i++ {
		p.keys = append(p.keys, consKey(i))
	}
	for i := 0; i < n; i++ {
		p.cur = append(p.cur, i)
	}
	return p
}

func (p *parentChain) set(idx []int) *chain.ValidatorSet {
	var vals []chain.Validator
	for _, i := range idx {
		vals = append(vals, chain.Validator{Address: p.keys[i].PubKey().Address(), PubKey: p.keys[i].PubKey(), Power: 10})
	}
	vs, err := chain.NewValidatorSet(vals)
	if err != nil {
		p.t.Fatal(err)
	}
	return vs
}

// genesis is the subnet genesis section trusting the parent's genesis.
func (p *parentChain) genesis(period uint64) Genesis {
	params := testParams
	params.CheckpointPeriod = period
	return Genesis{Params: &params, TopDown: &TopDownGenesis{Subnet: coop, ParentChainID: "parent-1",
		Time: chain.TimeOf(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)), Validators: p.set(p.cur).Validators}}
}

// block is the header of the parent's committed height, signed by the
// keys numbered in signers (nil: the whole current set); the set then
// moves to p.next.
func (p *parentChain) block(signers ...int) ParentBlock {
	p.t.Helper()
	c := p.e.h.Codec()
	vs := p.set(p.cur)
	nextIdx := p.cur
	if p.next != nil {
		nextIdx = p.next
	}
	nvs := p.set(nextIdx)
	h := chain.Header{ChainID: "parent-1", Height: p.e.h.Height(), Time: chain.TimeOf(p.e.h.Time()), StateRoot: p.e.h.StateRoot(),
		ValidatorsHash: vs.Hash(c), NextValidatorsHash: nvs.Hash(c), Proposer: vs.Validators[0].Address}
	if p.prev.Height+1 == h.Height {
		h.Parent = p.prev.ID(c)
	}
	if signers == nil {
		signers = p.cur
	}
	pb := ParentBlock{Header: h, Commit: p.sign(h, signers), Validators: vs.Validators}
	if p.next != nil {
		pb.NextValidators = nvs.Validators
		p.cur, p.next = p.next, nil
	}
	p.prev = h
	return pb
}

func (p *parentChain) sign(h chain.Header, signers []int) chain.Commit {
	c := p.e.h.Codec()
	id := h.ID(c)
	cm := chain.Commit{Height: h.Height, BlockID: id}
	msg := chain.VoteSignBytes(c, "parent-1", chain.Precommit, h.Height, 0, id)
	for _, i := range signers {
		cm.Sigs = append(cm.Sigs, chain.CommitSig{Validator: p.keys[i].PubKey().Address(), Sig: p.keys[i].Sign(msg)})
	}
	return cm
}

// deposits are the parent's records from nonce `from` on, with the proof
// of the last one at the committed state.
func (p *parentChain) deposits(from uint64) TopDown {
	p.t.Helper()
	var deps []Deposit
	p.e.query("deposits", map[string]string{"subnet": coop, "from": strconv.FormatUint(from, 10)}, &deps)
	td := TopDown{Deposits: deps}
	if len(deps) > 0 {
		_, pr := p.e.h.Prove(DepositStateKey(coop, deps[len(deps)-1].Nonce))
		td.Proof = *pr
	}
	return td
}

// relay is the topdown message a relayer sends: the parent's latest
// header and every deposit from `from` on.
func (p *parentChain) relay(from uint64) TopDown {
	td := p.deposits(from)
	td.Blocks = []ParentBlock{p.block()}
	return td
}

func (p *parentChain) deposit(sender int, to chain.Address, amount uint64) {
	p.t.Helper()
	p.e.must(sender, p.e.msg(MsgDeposit(p.e.h.Codec(), coop, to, amount)))
}

// subnetOf is a subnet chain following p from p's genesis.
func subnetOf(t testing.TB, p *parentChain, period uint64) *env {
	return newEnvGenesis(t, coop, nil, p.genesis(period))
}

// send delivers a topdown on sub, in a block no earlier than the
// parent's last.
func sendTopDown(sub *env, p *parentChain, sender int, td TopDown) chain.TxResult {
	sub.t.Helper()
	if p.e.h.Time().After(sub.h.Time()) {
		sub.h.SetBlockTime(p.e.h.Time())
	}
	return sub.deliver(sender, sub.msg(MsgTopDown(sub.h.Codec(), td)))
}

func (e *env) topDown() TopDownState {
	e.t.Helper()
	var td TopDownState
	e.query("topdown", nil, &td)
	return td
}

// A deposit on the parent is minted on the subnet once its block is
// committed and proven; a replayed topdown is a cheap no-op; the value
// minted is exactly what the parent locked; the checkpoint snapshot
// carries deposits applied.
func TestTopDownMintsDeposits(t *testing.T) {
	p := newParentChain(t)
	p.e.register(5, 1, 1, 1)
	sub := subnetOf(t, p, 5)
	dave, erin := sub.h.Addr(3), sub.h.Addr(5)
	d0, e0 := sub.balance(dave), sub.balance(erin)
	p.deposit(0, dave, 9000)
	p.deposit(1, erin, 500)

	msg := p.relay(0)
	res := sendTopDown(sub, p, 6, msg)
	if res.Code != 0 {
		t.Fatalf("topdown: %d %s", res.Code, res.Log)
	}
	firstGas := res.GasUsed
	if got := sub.balance(dave) - d0; got != 9000 {
		t.Fatalf("dave minted %d, want 9000", got)
	}
	if got := sub.balance(erin) - e0; got != 500 {
		t.Fatalf("erin minted %d, want 500", got)
	}
	td := sub.topDown()
	if td.Applied != 2 || td.Minted != p.e.subnet().Locked || td.Height != p.e.h.Height() {
		t.Fatalf("topdown state %+v, parent locked %d at %d", td, p.e.subnet().Locked, p.e.h.Height())
	}

	// The same message again, and one from a relayer that is behind: no
	// new mint, no signature checked.
	for _, again := range []TopDown{msg, {Deposits: msg.Deposits[:1], Proof: msg.Proof}} {
		res = sendTopDown(sub, p, 7, again)
		if res.Code != 0 || len(moduletest.Events(sub.h.Last, "subnet.topdown.duplicate")) != 1 {
			t.Fatalf("replay: %d %s", res.Code, res.Log)
		}
		if res.GasUsed+4*GasPerSignature > firstGas {
			t.Fatalf("a replay cost %d gas of the first's %d: signatures were checked", res.GasUsed, firstGas)
		}
	}
	if sub.balance(dave)-d0 != 9000 || sub.topDown().Minted != 9500 {
		t.Fatal("a replay minted again")
	}

	// A third deposit, relayed with the two applied ones still listed:
	// only the new one is minted.
	p.deposit(0, dave, 70)
	if res := sendTopDown(sub, p, 6, p.relay(0)); res.Code != 0 {
		t.Fatalf("topdown 2: %d %s", res.Code, res.Log)
	}
	if got := sub.balance(dave) - d0; got != 9070 {
		t.Fatalf("dave minted %d, want 9070", got)
	}
	if td := sub.topDown(); td.Applied != 3 || td.Minted != p.e.subnet().Locked {
		t.Fatalf("minted %d of %d locked", td.Minted, p.e.subnet().Locked)
	}

	// The checkpoint of the next period names 3 deposits applied.
	for sub.h.Height()%5 != 0 {
		sub.h.Block()
	}
	var at OutboxAt
	sub.query("outbox", map[string]string{"height": strconv.FormatUint(sub.h.Height(), 10)}, &at)
	if at.Applied != 3 {
		t.Fatalf("checkpoint snapshot has %d deposits applied, want 3", at.Applied)
	}
}

// Forged, short, stale or mismatched parent data is refused with its
// reason, and nothing is minted.
func TestTopDownRefusals(t *testing.T) {
	p := newParentChain(t)
	p.e.register(5, 1, 1, 1)
	dave := p.e.h.Addr(3)
	p.deposit(0, dave, 9000)
	p.deposit(0, dave, 100)
	good := p.relay(0)
	c := p.e.h.Codec()

	resign := func(td TopDown, signers ...int) TopDown {
		b := &td.Blocks[len(td.Blocks)-1]
		b.Commit = p.sign(b.Header, signers)
		return td
	}
	cases := []struct {
		name string
		edit func(TopDown) TopDown
		want error
		log  string
	}{
		{"two of four signed (short of 2/3)", func(td TopDown) TopDown { return resign(td, 0, 1) }, ErrParentHeader, "below quorum"},
		{"signed by an outsider under a member's address", func(td TopDown) TopDown {
			td = resign(td, 0, 1, 2)
			b := &td.Blocks[0]
			msg := chain.VoteSignBytes(c, "parent-1", chain.Precommit, b.Header.Height, 0, b.Header.ID(c))
			b.Commit.Sigs = append(b.Commit.Sigs, chain.CommitSig{Validator: p.keys[3].PubKey().Address(), Sig: p.keys[7].Sign(msg)})
			return td
		}, ErrParentHeader, "bad signature"},
		{"a wrong set that signed it all (not the trusted one)", func(td TopDown) TopDown {
			b := &td.Blocks[0]
			vs := p.set([]int{4, 5, 6, 7})
			b.Header.ValidatorsHash, b.Validators = vs.Hash(c), vs.Validators
			b.Commit = p.sign(b.Header, []int{4, 5, 6, 7})
			return td
		}, ErrParentHeader, "not enough trusted power"},
		{"header altered after signing", func(td TopDown) TopDown {
			td.Blocks[0].Header.StateRoot[0] ^= 1
			return td
		}, ErrParentHeader, "commit is for"},
		{"another chain's header", func(td TopDown) TopDown {
			td.Blocks[0].Header.ChainID = "other-1"
			return td
		}, ErrParentHeader, "chain"},
		{"deposit amount raised", func(td TopDown) TopDown {
			td.Deposits[0].Amount = 90000
			return td
		}, ErrDepositChain, ""},
		{"last deposit's record forged (chain recomputed)", func(td TopDown) TopDown {
			td.Deposits[1].Amount = 1000
			td.Deposits[1].Acc = ChainDeposit(c, td.Deposits[0].Acc, coop, &td.Deposits[1])
			return td
		}, ErrDepositChain, "proof"},
		{"deposits start past the next unapplied", func(td TopDown) TopDown {
			td.Deposits = td.Deposits[1:]
			return td
		}, ErrDepositGap, ""},
		{"nonces not consecutive", func(td TopDown) TopDown {
			td.Deposits[1].Nonce = 5
			return td
		}, errTopDownShape, ""},
		{"proof against the trusted genesis root (no block)", func(td TopDown) TopDown {
			td.Blocks = nil
			return td
		}, ErrDepositChain, "proof"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sub := subnetOf(t, p, 5)
			d0 := sub.balance(dave)
			td := good
			td.Blocks = append([]ParentBlock(nil), good.Blocks...)
			td.Deposits = append([]Deposit(nil), good.Deposits...)
			res := sendTopDown(sub, p, 6, tc.edit(td))
			if res.Code != chain.CodeInvalidMsg || !strings.Contains(res.Log, errorText(tc.want)) || !strings.Contains(res.Log, tc.log) {
				t.Fatalf("got %d %q, want %q containing %q", res.Code, res.Log, tc.want, tc.log)
			}
			if sub.balance(dave) != d0 || sub.topDown().Applied != 0 {
				t.Fatal("something was minted")
			}
			// the genuine message still works afterwards
			if res := sendTopDown(sub, p, 6, good); res.Code != 0 || sub.balance(dave) != d0+9100 {
				t.Fatalf("good after refusal: %d %s", res.Code, res.Log)
			}
		})
	}

	t.Run("header more than the drift ahead of the subnet's block time", func(t *testing.T) {
		sub := subnetOf(t, p, 5)
		p.e.h.Advance(light.MaxClockDrift + time.Minute)
		p.e.h.Block()
		res := sub.deliver(6, sub.msg(MsgTopDown(c, p.relay(0))))
		if res.Code != chain.CodeInvalidMsg || !strings.Contains(res.Log, "in the future") {
			t.Fatalf("got %d %s", res.Code, res.Log)
		}
	})
	t.Run("trusted header past the trusting period", func(t *testing.T) {
		g := p.genesis(5)
		g.TopDown.TrustingPeriodSeconds = 600
		sub := newEnvGenesis(t, coop, nil, g)
		if res := sendTopDown(sub, p, 6, TopDown{Blocks: good.Blocks}); res.Code != 0 {
			t.Fatalf("first: %d %s", res.Code, res.Log)
		}
		sub.h.Advance(15 * time.Minute)
		p.e.h.Advance(15 * time.Minute)
		p.deposit(0, dave, 1)
		res := sendTopDown(sub, p, 6, p.relay(0))
		if res.Code != chain.CodeInvalidMsg || !strings.Contains(res.Log, light.ErrTrustExpired.Error()) {
			t.Fatalf("got %d %s", res.Code, res.Log)
		}
	})
}

func errorText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// A set change the subnet skips over without 1/3 of its trusted power
// signing is refused; the relayer then sends the set-changing header
// first (sequential step), and the later one verifies from it.
func TestTopDownSkippedSetChange(t *testing.T) {
	p := newParentChain(t)
	p.e.register(5, 1, 1, 1)
	sub := subnetOf(t, p, 5)
	dave := p.e.h.Addr(3)
	first := p.block() // trusted after this: the set {0,1,2,3}
	if res := sendTopDown(sub, p, 6, TopDown{Blocks: []ParentBlock{first}}); res.Code != 0 {
		t.Fatalf("first: %d %s", res.Code, res.Log)
	}
	p.e.h.Block()
	p.next = []int{3, 4, 5, 6} // the next header hands over to a set sharing one quarter
	handover := p.block()
	p.deposit(0, dave, 4000)
	later := p.deposits(0)
	later.Blocks = []ParentBlock{p.block()} // signed by {3,4,5,6}

	res := sendTopDown(sub, p, 6, later)
	if res.Code != chain.CodeInvalidMsg || !strings.Contains(res.Log, ErrParentHeader.Error()) || !strings.Contains(res.Log, "not enough trusted power") {
		t.Fatalf("skipped set change: %d %s", res.Code, res.Log)
	}
	d0 := sub.balance(dave)
	with := later
	with.Blocks = []ParentBlock{handover, later.Blocks[0]}
	if res := sendTopDown(sub, p, 6, with); res.Code != 0 {
		t.Fatalf("with the handover: %d %s", res.Code, res.Log)
	}
	if sub.balance(dave) != d0+4000 {
		t.Fatal("deposit not minted")
	}
	td := sub.topDown()
	if want := p.set([]int{3, 4, 5, 6}).Hash(p.e.h.Codec()); mustSet(t, td.NextValidators).Hash(p.e.h.Codec()) != want {
		t.Fatal("trusted set did not move to the new one")
	}
}

func mustSet(t *testing.T, vals []chain.Validator) *chain.ValidatorSet {
	vs, err := chain.NewValidatorSet(vals)
	if err != nil {
		t.Fatal(err)
	}
	return vs
}

// A deposit to an account the subnet cannot credit is parked with its
// reason, not lost: only its sender may retry it (to a good recipient,
// minted once) or return it (a withdrawal released on the parent).
func TestTopDownInbox(t *testing.T) {
	p := newParentChain(t)
	p.e.register(5, 1, 1, 1)
	sub := subnetOf(t, p, 5)
	c := sub.h.Codec()
	alice, dave := sub.h.Addr(0), sub.h.Addr(3)
	p.deposit(0, Escrow(), 700)        // a module account on the subnet
	p.deposit(0, chain.Address{}, 300) // the zero address
	p.deposit(0, dave, 50)
	d0 := sub.balance(dave)
	if res := sendTopDown(sub, p, 6, p.relay(0)); res.Code != 0 {
		t.Fatalf("topdown: %d %s", res.Code, res.Log)
	}
	var inbox []Parked
	sub.query("inbox", nil, &inbox)
	if len(inbox) != 2 || !strings.Contains(inbox[0].Reason, "module account") || !strings.Contains(inbox[1].Reason, "zero address") {
		t.Fatalf("inbox %+v", inbox)
	}
	if td := sub.topDown(); td.Applied != 3 || td.Parked != 1000 || td.Minted != 50 || sub.balance(dave) != d0+50 {
		t.Fatalf("after topdown: %+v", td)
	}

	steps := []struct {
		name   string
		sender int
		msg    chain.Msg
		code   uint32
		log    string
	}{
		{"someone else retries", 3, sub.msg(MsgRetry(c, 0, dave)), chain.CodeUnauthorized, ErrNotDepositor.Error()},
		{"retry to the same module account", 0, sub.msg(MsgRetry(c, 0, chain.Address{})), chain.CodeInvalidMsg, "module account"},
		{"retry to dave", 0, sub.msg(MsgRetry(c, 0, dave)), chain.CodeOK, ""},
		{"retry it twice", 0, sub.msg(MsgRetry(c, 0, dave)), chain.CodeInvalidMsg, ErrNotParked.Error()},
		{"a deposit never parked", 0, sub.msg(MsgRetry(c, 2, dave)), chain.CodeInvalidMsg, ErrNotParked.Error()},
		{"someone else returns", 3, sub.msg(MsgReturn(c, 1)), chain.CodeUnauthorized, ErrNotDepositor.Error()},
		{"the sender returns it to the parent", 0, sub.msg(MsgReturn(c, 1)), chain.CodeOK, ""},
		{"return it twice", 0, sub.msg(MsgReturn(c, 1)), chain.CodeInvalidMsg, ErrNotParked.Error()},
	}
	for _, s := range steps {
		res := sub.deliver(s.sender, s.msg)
		if res.Code != s.code || !strings.Contains(res.Log, s.log) {
			t.Fatalf("%s: got %d %q, want %d %q", s.name, res.Code, res.Log, s.code, s.log)
		}
	}
	if got := sub.balance(dave) - d0; got != 750 {
		t.Fatalf("dave got %d, want 750 (50 + the retried 700)", got)
	}
	td := sub.topDown()
	if td.Parked != 0 || td.Minted != 750 || td.Returned != 300 || td.Minted+td.Returned != p.e.subnet().Locked {
		t.Fatalf("accounts %+v, parent locked %d", td, p.e.subnet().Locked)
	}

	// The returned deposit is an outbox withdrawal: released to alice on
	// the parent from the next checkpoint.
	for sub.h.Height()%5 != 0 {
		sub.h.Block()
	}
	cp := p.e.checkpointOf(sub, sub.h.Height(), 3)
	p.e.submitOK(p.e.signed(cp, 0, 1, 2))
	var proof OutboxProof
	sub.query("outbox-proof", map[string]string{"nonce": "0", "count": "1"}, &proof)
	if proof.Msg.To != alice || proof.Msg.Amount != 300 {
		t.Fatalf("outbox %+v", proof.Msg)
	}
	a0 := p.e.balance(alice)
	if res := p.e.release(4, cp.Height, proof); res.Code != 0 {
		t.Fatalf("release: %d %s", res.Code, res.Log)
	}
	if p.e.balance(alice) != a0+300 {
		t.Fatal("returned deposit not paid on the parent")
	}
}

// After a halt, the parent refunds only deposits the last checkpoint had
// not applied, and pays back a deposit parked at that checkpoint by the
// proof of its inbox entry: one minted on the subnet is never paid twice,
// a parked one never lost.
func TestTopDownAfterHalt(t *testing.T) {
	p := newParentChain(t)
	p.e.register(5, 1, 1, 1)
	sub := subnetOf(t, p, 5)
	dave, bob := p.e.h.Addr(3), p.e.h.Addr(1)
	p.deposit(1, dave, 900)     // 0: minted
	p.deposit(1, Escrow(), 700) // 1: parked
	if res := sendTopDown(sub, p, 6, p.relay(0)); res.Code != 0 {
		t.Fatalf("topdown: %d %s", res.Code, res.Log)
	}
	for sub.h.Height()%5 != 0 {
		sub.h.Block()
	}
	var at OutboxAt
	sub.query("outbox", map[string]string{"height": strconv.FormatUint(sub.h.Height(), 10)}, &at)
	p.e.submitOK(p.e.signed(p.e.checkpointOf(sub, sub.h.Height(), at.Applied), 0, 1, 2))
	parked, parkedProof := sub.h.Prove(InboxStateKey(1))
	_, mintedProof := sub.h.Prove(InboxStateKey(0)) // absent: it was minted
	p.deposit(1, dave, 40)                          // 2: never applied
	for i := uint64(0); i <= testParams.EscapeAfter; i++ {
		p.e.h.Block()
	}
	c := p.e.h.Codec()
	forged := append([]byte(nil), parked...)
	forged[len(forged)-1] ^= 1
	b0 := p.e.balance(bob)
	steps := []struct {
		name string
		msg  chain.Msg
		code uint32
		log  string
	}{
		{"refund the minted deposit", p.e.msg(MsgRefund(c, coop, 0)), chain.CodeInvalidMsg, "was applied"},
		{"reclaim the minted deposit", p.e.msg(MsgReclaim(c, Reclaim{Subnet: coop, Nonce: 0, Proof: *mintedProof})), chain.CodeInvalidMsg, ErrNotParked.Error()},
		{"refund the parked deposit", p.e.msg(MsgRefund(c, coop, 1)), chain.CodeInvalidMsg, "was applied"},
		{"reclaim with a forged inbox entry", p.e.msg(MsgReclaim(c, Reclaim{Subnet: coop, Nonce: 1, Value: forged, Proof: *parkedProof})), chain.CodeInvalidMsg, ErrNotParked.Error()},
		{"reclaim the parked deposit", p.e.msg(MsgReclaim(c, Reclaim{Subnet: coop, Nonce: 1, Value: parked, Proof: *parkedProof})), chain.CodeOK, ""},
		{"reclaim it twice", p.e.msg(MsgReclaim(c, Reclaim{Subnet: coop, Nonce: 1, Value: parked, Proof: *parkedProof})), chain.CodeInvalidMsg, ErrReleased.Error()},
		{"reclaim the unapplied one", p.e.msg(MsgReclaim(c, Reclaim{Subnet: coop, Nonce: 2, Value: parked, Proof: *parkedProof})), chain.CodeInvalidMsg, "refund it"},
		{"refund the unapplied one", p.e.msg(MsgRefund(c, coop, 2)), chain.CodeOK, ""},
		{"refund it twice", p.e.msg(MsgRefund(c, coop, 2)), chain.CodeInvalidMsg, ErrReleased.Error()},
	}
	for _, s := range steps {
		res := p.e.deliver(4, s.msg)
		if res.Code != s.code || !strings.Contains(res.Log, s.log) {
			t.Fatalf("%s: got %d %q, want %d %q", s.name, res.Code, res.Log, s.code, s.log)
		}
	}
	if got := p.e.balance(bob) - b0; got != 740 {
		t.Fatalf("bob got back %d, want 740 (the parked 700 and the unapplied 40)", got)
	}
}

// A deposit the bank refuses to mint (here the subnet's supply would
// overflow) is parked with the bank's reason; the deposits after it still
// go through, and nothing of the refused one was written.
func TestTopDownBankRefusalParks(t *testing.T) {
	p := newParentChain(t)
	p.e.register(5, 1, 1, 1)
	big := ^uint64(0) - 20000
	sub := newEnvGenesis(t, coop, map[int]uint64{3: big, 6: 15000}, p.genesis(5))
	dave, erin := sub.h.Addr(3), sub.h.Addr(5)
	p.deposit(0, dave, 9000) // supply would pass 2^64
	p.deposit(0, erin, 1000)
	if res := sendTopDown(sub, p, 6, p.relay(0)); res.Code != 0 {
		t.Fatalf("topdown: %d %s", res.Code, res.Log)
	}
	var inbox []Parked
	sub.query("inbox", nil, &inbox)
	if len(inbox) != 1 || inbox[0].Deposit.Nonce != 0 || !strings.Contains(inbox[0].Reason, "overflow") {
		t.Fatalf("inbox %+v", inbox)
	}
	if sub.balance(dave) != big || sub.balance(erin) != 1000 {
		t.Fatalf("dave %d erin %d", sub.balance(dave), sub.balance(erin))
	}
	if td := sub.topDown(); td.Applied != 2 || td.Parked != 9000 || td.Minted != 1000 {
		t.Fatalf("topdown %+v", td)
	}
}

// A subnet may trust a parent header instead of the parent's genesis
// (`dure subnet follow --trust`): deposits proven at that header's state
// root need no block, and the next header verifies from it sequentially.
func TestTopDownTrustedHeader(t *testing.T) {
	p := newParentChain(t)
	p.e.register(5, 1, 1, 1)
	dave := p.e.h.Addr(3)
	p.deposit(0, dave, 600)
	hb := p.block()
	c := p.e.h.Codec()
	g := p.genesis(5)
	g.TopDown.Height, g.TopDown.BlockID, g.TopDown.Time, g.TopDown.StateRoot = hb.Header.Height, hb.Header.ID(c), hb.Header.Time, hb.Header.StateRoot
	sub := newEnvGenesis(t, coop, nil, g)
	d0 := sub.balance(dave)
	if res := sendTopDown(sub, p, 6, p.deposits(0)); res.Code != 0 || sub.balance(dave) != d0+600 {
		t.Fatalf("deposit at the trusted header: %d %s", res.Code, res.Log)
	}
	p.deposit(0, dave, 5)
	next := p.relay(1) // the header right after: a sequential step
	if next.Blocks[0].Header.Height != hb.Header.Height+1 {
		t.Fatalf("test set-up: header %d after %d", next.Blocks[0].Header.Height, hb.Header.Height)
	}
	if res := sendTopDown(sub, p, 6, next); res.Code != 0 || sub.balance(dave) != d0+605 {
		t.Fatalf("next header: %d %s", res.Code, res.Log)
	}
	// a header whose parent link is not the trusted block is refused
	g2 := g
	td2 := *g.TopDown
	td2.BlockID = chain.IDOf([]byte("another block"))
	g2.TopDown = &td2
	sub2 := newEnvGenesis(t, coop, nil, g2)
	if res := sendTopDown(sub2, p, 6, next); res.Code != chain.CodeInvalidMsg || !strings.Contains(res.Log, ", trusted ") {
		t.Fatalf("broken parent link: %d %s", res.Code, res.Log)
	}
}
