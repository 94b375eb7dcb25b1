package currency

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/dure-network/dure/chain"
	"github.com/dure-network/dure/chain/moduletest"
)

var msgTypes = []string{TypeSend, TypeCreate, TypeMint, TypeBurn, TypeGrant, TypeRevoke, TypeRegisterMerchant,
	TypeSuspendMerchant, TypePay, TypeRedeem, TypeConfirmHours}

// FuzzDeliver feeds arbitrary bodies to every message type, from senders
// with every role: no panic, only classified errors, invariants kept.
func FuzzDeliver(f *testing.F) {
	c := chain.MustCodec()
	seeds := []func() (chain.Msg, error){
		func() (chain.Msg, error) { return MsgSend(c, grocer, "nw", 10) },
		func() (chain.Msg, error) {
			return MsgCreate(c, "new", 2, Rules{Transfer: TransferMerchants, Categories: []string{"food"}, ExpirySeconds: 100})
		},
		func() (chain.Msg, error) { return MsgMint(c, "nw", alice, 10) },
		func() (chain.Msg, error) { return MsgBurn(c, "nw", 1) },
		func() (chain.Msg, error) { return MsgGrant(c, "nw", "minter", bob) },
		func() (chain.Msg, error) { return MsgRevoke(c, "nw", "approver", approver) },
		func() (chain.Msg, error) { return MsgRegisterMerchant(c, "food", bob, []string{"food"}) },
		func() (chain.Msg, error) { return MsgSuspendMerchant(c, "nw", grocer) },
		func() (chain.Msg, error) { return MsgPay(c, grocer, "food", 5, "food") },
		func() (chain.Msg, error) { return MsgRedeem(c, "nw", 5, "r") },
		func() (chain.Msg, error) { return MsgConfirmHours(c, "nw", carol, 1, 5) },
	}
	for i, s := range seeds {
		m, err := s()
		if err != nil {
			f.Fatal(err)
		}
		for sender := byte(0); sender < 3; sender++ {
			f.Add(uint8(i), sender, []byte(m.Body))
		}
	}
	senders := []chain.Address{alice, city, grocer, minter, approver, coord, stranger}
	f.Fuzz(func(t *testing.T, typ, sender uint8, body []byte) {
		h := newLocal(t)
		msg := chain.Msg{Module: ModuleName, Type: msgTypes[int(typ)%len(msgTypes)], Body: body}
		err := h.deliver(senders[int(sender)%len(senders)], msg)
		if err != nil && chain.ResultCode(err) == chain.CodeInternal {
			t.Fatalf("%s: unclassified error %v", msg.Type, err)
		}
		h.endBlock(day)
		if err := h.checkInvariants(); err != nil {
			t.Fatal(err)
		}
	})
}

// FuzzGenesis: arbitrary genesis JSON is loaded or rejected, never panics,
// and a loaded genesis satisfies the invariants.
func FuzzGenesis(f *testing.F) {
	good, _ := json.Marshal(localGenesis(1_700_000_000))
	f.Add(good)
	f.Add([]byte(`{"native_denom":"dure","balances":[{"address":"` + alice.String() + `","denom":"dure","amount":"5"}]}`))
	f.Add([]byte(`{"native_denom":"dure","currencies":[{"denom":"nw","issuer":"` + alice.String() +
		`","rules":{"transfer":"free","holding_cap":3}}],"balances":[{"address":"` + bob.String() + `","denom":"nw","amount":4}]}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		c := chain.MustCodec()
		m := New(chain.NewStoreKey(ModuleName), c, Params{})
		mt, err := moduletest.TryNew(t, moduletest.Config{Modules: []chain.Module{m}, Keys: []*chain.StoreKey{m.key},
			Genesis: map[string]json.RawMessage{ModuleName: raw}, GenesisTime: time.Unix(1_700_000_000, 0)})
		if err != nil {
			return
		}
		h := &harness{t: t, codec: c, key: m.key, m: m, mt: mt, now: 1_700_000_000}
		if err := h.checkInvariants(); err != nil {
			t.Fatal(err)
		}
	})
}
