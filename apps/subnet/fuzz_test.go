package subnet

import (
	"bytes"
	"testing"

	"github.com/dure-network/dure/chain"
	"github.com/dure-network/dure/chain/state"
)

var msgTypes = []string{TypeRegister, TypeJoin, TypeLeave, TypeCheckpoint, TypeEquivocate, TypeDeposit,
	TypeRelease, TypeEscape, TypeRefund, TypeWithdraw, TypeEndorse, TypeTopDown, TypeRetry, TypeReturn, TypeReclaim, TypeRetrust}

func bodyOf(typ string) any {
	switch typ {
	case TypeRegister:
		return &Register{}
	case TypeJoin:
		return &Join{}
	case TypeLeave:
		return &Leave{}
	case TypeCheckpoint:
		return &SignedCheckpoint{}
	case TypeEquivocate:
		return &Equivocate{}
	case TypeDeposit:
		return &DepositMsg{}
	case TypeRelease:
		return &Release{}
	case TypeEscape:
		return &Escape{}
	case TypeRefund:
		return &Refund{}
	case TypeWithdraw:
		return &Withdraw{}
	case TypeEndorse:
		return &Endorse{}
	case TypeTopDown:
		return &TopDown{}
	case TypeRetry:
		return &Retry{}
	case TypeReturn:
		return &Return{}
	case TypeReclaim:
		return &Reclaim{}
	case TypeRetrust:
		return &Retrust{}
	}
	return nil
}

// seedBodies are valid bodies of every message type.
func seedBodies(e *env) [][]byte {
	c := e.h.Codec()
	cp := e.checkpoint(10)
	sc := e.signed(cp, 0, 1, 2)
	b := cp
	b.StateRoot[0] ^= 1
	v := e.vals[0]
	ms := []chain.Msg{
		e.msg(MsgRegister(c, Register{ID: "b", GenesisHash: e.gh, Period: 5, Validators: []NewValidator{{PubKey: valKey(7).PubKey(), Collateral: unit}}})),
		e.msg(MsgJoin(c, coop, valKey(8).PubKey(), unit)),
		e.msg(MsgLeave(c, coop, v.PubKey().Address())),
		e.msg(MsgCheckpoint(c, sc)),
		e.msg(MsgEquivocate(c, Equivocate{Validator: v.PubKey().Address(), A: cp, SigA: Sign(c, e.gh, &cp, v).Sig, B: b, SigB: Sign(c, e.gh, &b, v).Sig})),
		e.msg(MsgDeposit(c, coop, e.h.Addr(1), 10)),
		e.msg(MsgRelease(c, Release{Subnet: coop, CheckpointHeight: 10, Msg: CrossMsg{Amount: 1}, Proof: chain.MerkleProof{Total: 1}})),
		e.msg(MsgEscape(c, coop, e.h.Addr(3), []byte{0, 0, 0, 0, 0, 0, 0, 9}, state.Proof{SideNodes: [][]byte{make([]byte, 32)}})),
		e.msg(MsgRefund(c, coop, 0)),
		e.msg(MsgWithdraw(c, e.h.Addr(2), 5)),
		e.msg(MsgEndorse(c, Endorse{Checkpoint: cp, GenesisHash: e.gh, PubKey: v.PubKey(), Sig: Sign(c, e.gh, &cp, v).Sig})),
		e.msg(MsgTopDown(c, seedTopDown(c))),
		e.msg(MsgRetry(c, 0, e.h.Addr(3))),
		e.msg(MsgReturn(c, 0)),
		e.msg(MsgReclaim(c, Reclaim{Subnet: coop, Nonce: 1, Value: []byte{0x83}, Proof: state.Proof{SideNodes: [][]byte{make([]byte, 32)}}})),
		e.msg(MsgRetrust(c, Retrust{Height: 9, BlockID: (&chain.Header{ChainID: "parent-1", Height: 9}).ID(c), Time: 5, StateRoot: chain.Hash{1}, NextValidators: []chain.Validator{{Address: e.h.Addr(1), PubKey: e.h.Key(1).PubKey(), Power: 10}}})),
	}
	out := make([][]byte, len(ms))
	for i, m := range ms {
		out[i] = m.Body
	}
	return out
}

// FuzzDecode: every body type's decoder takes any bytes without panicking,
// and what it accepts re-encodes to exactly those bytes (one encoding per
// message).
func FuzzDecode(f *testing.F) {
	e := newEnv(f, "parent-1", nil)
	e.register(10, 1, 1, 1)
	for i, b := range seedBodies(e) {
		f.Add(uint8(i), b)
	}
	c := chain.MustCodec()
	f.Fuzz(func(t *testing.T, typ uint8, body []byte) {
		v := bodyOf(msgTypes[int(typ)%len(msgTypes)])
		if err := c.UnmarshalCanonical(body, v); err != nil {
			return
		}
		again, err := c.Marshal(v)
		if err != nil {
			t.Fatalf("accepted body does not re-encode: %v", err)
		}
		if !bytes.Equal(again, body) {
			t.Fatalf("accepted a non-canonical body\n in %x\nout %x", body, again)
		}
	})
}

// FuzzDeliver feeds arbitrary bodies of every type to a parent with a
// registered, checkpointed subnet: no panic, no internal error, and the
// pools always hold exactly what the subnet's records say.
func FuzzDeliver(f *testing.F) {
	seed := newEnv(f, "parent-1", nil)
	seed.register(10, 1, 1, 1)
	for i, b := range seedBodies(seed) {
		f.Add(uint8(i), uint8(0), b)
	}
	c := chain.MustCodec()
	f.Fuzz(func(t *testing.T, typ, sender uint8, body []byte) {
		var x any
		if c.Unmarshal(body, &x) != nil {
			return // not CBOR at all: no tx can carry it (FuzzDecode covers the decoders)
		}
		e := newEnv(t, "parent-1", nil)
		e.register(10, 1, 1, 1)
		e.submitOK(e.signed(e.checkpoint(10), 0, 1, 2))
		m := chain.Msg{Module: ModuleName, Type: msgTypes[int(typ)%len(msgTypes)], Body: body}
		res := e.h.Deliver(e.h.Key(int(sender)%3), m)
		if res.Code == chain.CodeInternal {
			t.Fatalf("%s: internal error: %s", m.Type, res.Log)
		}
		var subnets []Subnet
		e.query("subnets", nil, &subnets)
		var locked, coll uint64
		for _, s := range subnets {
			locked += s.Locked
			var ms []Member
			e.query("members", map[string]string{"subnet": s.ID}, &ms)
			for _, mb := range ms {
				coll += mb.Collateral
			}
		}
		if got := e.balance(Escrow()); got != locked {
			t.Fatalf("escrow holds %d, subnets locked %d", got, locked)
		}
		if got := e.balance(Collateral()); got != coll {
			t.Fatalf("collateral pool holds %d, members %d", got, coll)
		}
	})
}

// seedTopDown is a topdown body of one signed parent header, a set
// change and one deposit.
func seedTopDown(c *chain.Codec) TopDown {
	k, k2 := consKey(0), consKey(1)
	vals := []chain.Validator{{Address: k.PubKey().Address(), PubKey: k.PubKey(), Power: 10}}
	next := []chain.Validator{{Address: k2.PubKey().Address(), PubKey: k2.PubKey(), Power: 10}}
	vs, _ := chain.NewValidatorSet(vals)
	nvs, _ := chain.NewValidatorSet(next)
	h := chain.Header{ChainID: "parent-1", Height: 7, Time: 1, ValidatorsHash: vs.Hash(c), NextValidatorsHash: nvs.Hash(c)}
	id := h.ID(c)
	sig := k.Sign(chain.VoteSignBytes(c, "parent-1", chain.Precommit, 7, 0, id))
	d := Deposit{Nonce: 0, From: k.PubKey().Address(), To: k2.PubKey().Address(), Amount: 5, ParentHeight: 6}
	d.Acc = ChainDeposit(c, chain.Hash{}, coop, &d)
	return TopDown{Blocks: []ParentBlock{{Header: h, Commit: chain.Commit{Height: 7, BlockID: id, Sigs: []chain.CommitSig{{Validator: k.PubKey().Address(), Sig: sig}}},
		Validators: vals, NextValidators: next}}, Deposits: []Deposit{d}, Proof: state.Proof{SideNodes: [][]byte{make([]byte, 32)}}}
}

// FuzzTopDown feeds arbitrary topdown bodies to a subnet following a
// parent with two deposits for dave (9,100 locked): no panic, no
// internal error, and never more minted or parked than the parent
// locked, every minted unit in dave's balance.
func FuzzTopDown(f *testing.F) {
	p := newParentChain(f)
	p.e.register(5, 1, 1, 1)
	dave := p.e.h.Addr(3)
	p.deposit(0, dave, 9000)
	p.deposit(0, dave, 100)
	good := p.relay(0)
	c := chain.MustCodec()
	for _, td := range []TopDown{good, {Blocks: good.Blocks}, {Deposits: good.Deposits, Proof: good.Proof}, seedTopDown(c)} {
		m, err := MsgTopDown(c, td)
		if err != nil {
			f.Fatal(err)
		}
		f.Add([]byte(m.Body))
	}
	locked := p.e.subnet().Locked
	f.Fuzz(func(t *testing.T, body []byte) {
		var x any
		if c.Unmarshal(body, &x) != nil {
			return
		}
		sub := newEnvGenesis(t, coop, nil, p.genesis(5))
		d0 := sub.balance(dave)
		sub.h.SetBlockTime(p.e.h.Time())
		res := sub.h.Deliver(sub.h.Key(6), chain.Msg{Module: ModuleName, Type: TypeTopDown, Body: body})
		if res.Code == chain.CodeInternal {
			t.Fatalf("internal error: %s", res.Log)
		}
		td := sub.topDown()
		if td.Minted+td.Parked > locked || sub.balance(dave)-d0 != td.Minted {
			t.Fatalf("minted %d parked %d of %d locked; dave got %d", td.Minted, td.Parked, locked, sub.balance(dave)-d0)
		}
	})
}
