package staking

import (
	"encoding/json"
	"testing"

	"github.com/dure-network/dure/chain"
)

// FuzzDeliver feeds arbitrary bodies to every message type: each must be
// applied or rejected with an error, never panic, and never break the
// bonded-pool invariant.
func FuzzDeliver(f *testing.F) {
	c := chain.MustCodec()
	k := key(0)
	for _, m := range []func() (chain.Msg, error){
		func() (chain.Msg, error) { return MsgBond(c, k.PubKey(), 150) },
		func() (chain.Msg, error) { return MsgUnbond(c, 10) },
		func() (chain.Msg, error) { return MsgUnbondAll(c) },
		func() (chain.Msg, error) { return MsgDelegate(c, addr(1), 10) },
		func() (chain.Msg, error) { return MsgUndelegate(c, addr(1), 10) },
		func() (chain.Msg, error) { return MsgUndelegateAll(c, addr(1)) },
		func() (chain.Msg, error) { return MsgUnjail(c) },
	} {
		msg, err := m()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(msg.Type, []byte(msg.Body))
	}
	f.Add("bond", []byte{0x82, 0x40, 0x00})
	f.Add("undelegate", []byte{0x83, 0x54, 0xff})
	f.Fuzz(func(t *testing.T, typ string, body []byte) {
		e := newWorld(t, testParams(), 1000, 500)
		e.fund(addr(0), 1_000_000)
		_ = e.deliver(addr(0), chain.Msg{Module: ModuleName, Type: typ, Body: body})
		e.endBlock()
		e.checkPools()
	})
}

// FuzzGenesis checks that arbitrary genesis JSON is rejected cleanly and
// that whatever GenesisValidators accepts is a valid consensus set.
func FuzzGenesis(f *testing.F) {
	p := testParams()
	k := key(0)
	good, _ := json.Marshal(GenesisState{Params: p, Validators: []GenesisValidator{{Address: k.PubKey().Address(), PubKey: k.PubKey(), SelfStake: 1000}}})
	f.Add(good)
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"params":{"bond_denom":"x","max_validators":1,"power_reduction":1,"downtime_window":1},"validators":[]}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		vals, err := GenesisValidators(raw)
		if err != nil {
			return
		}
		if _, err := chain.NewValidatorSet(vals); err != nil {
			t.Fatalf("accepted genesis gives invalid set: %v", err)
		}
	})
}
