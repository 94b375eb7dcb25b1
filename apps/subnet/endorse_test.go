package subnet

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/dure-network/dure/chain"
)

// The whole flow in-process: the subnet chain's validators endorse its
// checkpoint on the subnet chain itself; anyone reads the endorsements and
// submits the checkpoint to the parent; a withdrawal made on the subnet is
// then released on the parent.
func TestEndorseOnSubnetSubmitOnParent(t *testing.T) {
	const k = 5
	sp := testParams
	sp.CheckpointPeriod = k
	sub := newEnvParams(t, coop, nil, sp)
	parent := newEnv(t, "parent-1", nil)
	// the subnet's validators are keys 0..2 of both chains
	r := Register{ID: coop, GenesisHash: parent.gh, Period: k}
	for i := 0; i < 3; i++ {
		parent.vals = append(parent.vals, parent.h.Key(i))
		r.Validators = append(r.Validators, NewValidator{PubKey: parent.h.Key(i).PubKey(), Collateral: unit})
	}
	parent.must(7, parent.msg(MsgRegister(parent.h.Codec(), r)))
	parent.must(6, parent.msg(MsgDeposit(parent.h.Codec(), coop, sub.h.Addr(6), 10_000)))

	sub.must(6, sub.msg(MsgWithdraw(sub.h.Codec(), parent.h.Addr(6), 4_000)))
	for sub.h.Height() < k+1 {
		sub.h.Block()
	}
	sub.must(6, sub.msg(MsgWithdraw(sub.h.Codec(), parent.h.Addr(6), 1))) // after height k: not in its outbox
	var at OutboxAt
	sub.query("outbox", map[string]string{"height": "5"}, &at)
	if at.Count != 1 {
		t.Fatalf("outbox at %d: %+v", k, at)
	}
	cp := parent.checkpoint(k)
	cp.MsgRoot, cp.MsgCount, cp.StateRoot = at.Root, at.Count, sub.h.StateRoot()
	endorse := func(i int, cp Checkpoint, gh chain.Hash) chain.TxResult {
		s := Sign(sub.h.Codec(), gh, &cp, sub.h.Key(i))
		return sub.deliver(i, sub.msg(MsgEndorse(sub.h.Codec(), Endorse{Checkpoint: cp, GenesisHash: gh, PubKey: sub.h.Key(i).PubKey(), Sig: s.Sig})))
	}
	wrongOutbox := cp
	wrongOutbox.MsgCount = 2
	future := cp
	future.Height = 10
	for _, c := range []struct {
		name string
		res  func() chain.TxResult
		code uint32
		log  string
	}{
		{"outbox not this chain's", func() chain.TxResult { return endorse(0, wrongOutbox, parent.gh) }, chain.CodeInvalidMsg, ErrOutbox.Error()},
		{"height not reached", func() chain.TxResult { return endorse(0, future, parent.gh) }, chain.CodeInvalidMsg, ErrBadHeight.Error()},
		{"someone else's key", func() chain.TxResult {
			s := Sign(sub.h.Codec(), parent.gh, &cp, sub.h.Key(1))
			return sub.deliver(0, sub.msg(MsgEndorse(sub.h.Codec(), Endorse{Checkpoint: cp, GenesisHash: parent.gh, PubKey: sub.h.Key(1).PubKey(), Sig: s.Sig})))
		}, chain.CodeUnauthorized, ""},
		{"validator 0", func() chain.TxResult { return endorse(0, cp, parent.gh) }, chain.CodeOK, ""},
		{"validator 2", func() chain.TxResult { return endorse(2, cp, parent.gh) }, chain.CodeOK, ""},
		{"validator 1", func() chain.TxResult { return endorse(1, cp, parent.gh) }, chain.CodeOK, ""},
	} {
		if res := c.res(); res.Code != c.code || !strings.Contains(res.Log, c.log) {
			t.Errorf("%s: code %d (%s), want %d %q", c.name, res.Code, res.Log, c.code, c.log)
		}
	}
	var ends []Endorsed
	sub.query("endorsements", map[string]string{"height": "5"}, &ends)
	if len(ends) != 1 || len(ends[0].Endorsements) != 3 || ends[0].Hash != cp.Hash(sub.h.Codec()) {
		t.Fatalf("endorsements %+v", ends)
	}
	// a relayer (key 7, no validator) assembles and submits
	sc := SignedCheckpoint{Checkpoint: ends[0].Checkpoint}
	for _, e := range ends[0].Endorsements {
		sc.Sigs = append(sc.Sigs, Sig{Validator: e.PubKey.Address(), Sig: e.Sig})
	}
	if res := parent.submit(7, sc); res.Code != 0 {
		t.Fatalf("submit: %d %s", res.Code, res.Log)
	}
	var p OutboxProof
	sub.query("outbox-proof", map[string]string{"nonce": "0", "count": "1"}, &p)
	before := parent.balance(parent.h.Addr(6))
	if res := parent.release(7, k, p); res.Code != 0 {
		t.Fatalf("release: %d %s", res.Code, res.Log)
	}
	if got := parent.balance(parent.h.Addr(6)) - before; got != 4_000 {
		t.Fatalf("released %d", got)
	}
	// the stored checkpoint verifies from its own record, as a client does
	var ans CheckpointAnswer
	parent.query("checkpoint", map[string]string{"subnet": coop, "height": "5"}, &ans)
	if err := ans.Accepted.Verify(parent.h.Codec(), ans.GenesisHash); err != nil {
		t.Fatalf("stored checkpoint: %v", err)
	}
	raw, _ := json.Marshal(ans)
	if msg, err := parent.m.VerifyAnswer("checkpoint", raw); err != nil || !strings.Contains(msg, "3 signatures") {
		t.Fatalf("VerifyAnswer: %q %v", msg, err)
	}
	ans.Accepted.Signed.Checkpoint.StateRoot[0] ^= 1
	if err := ans.Accepted.Verify(parent.h.Codec(), ans.GenesisHash); err == nil {
		t.Fatal("altered checkpoint verified")
	}
	raw, _ = json.Marshal(ans)
	if _, err := parent.m.VerifyAnswer("checkpoint", raw); err == nil {
		t.Fatal("VerifyAnswer took an altered checkpoint")
	}
}

func TestEndorseNeedsSubnetChain(t *testing.T) {
	e := newEnv(t, "parent-1", nil)
	e.h.Block()
	e.h.Block()
	cp := Checkpoint{Height: 1}
	s := Sign(e.h.Codec(), e.gh, &cp, e.h.Key(0))
	res := e.deliver(0, e.msg(MsgEndorse(e.h.Codec(), Endorse{Checkpoint: cp, GenesisHash: e.gh, PubKey: e.h.Key(0).PubKey(), Sig: s.Sig})))
	if res.Code != chain.CodeInvalidMsg || !strings.Contains(res.Log, ErrNotSubnet.Error()) {
		t.Fatalf("endorse on a chain that is no subnet: %d %s", res.Code, res.Log)
	}
}
