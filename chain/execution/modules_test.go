package execution

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/fxamacker/cbor/v2"

	"github.com/dure-network/dure/chain"
)

// bank is the test fee charger and transfer module: balances under
// "bal/"+address (8 bytes big-endian), collected fees under "pool".
type bank struct {
	key   *chain.StoreKey
	codec *chain.Codec
}

type sendMsg struct {
	_      struct{} `cbor:",toarray"`
	To     chain.Address
	Amount uint64
}

type bankGenesis struct {
	Balances []struct {
		Address chain.Address `json:"address"`
		Amount  uint64        `json:"amount"`
	} `json:"balances"`
}

func (b *bank) Name() string { return "bank" }

func balKey(a chain.Address) []byte { return append([]byte("bal/"), a[:]...) }

func getU64(s chain.KVReader, k []byte) (uint64, error) {
	v, err := s.Get(k)
	if err != nil || v == nil {
		return 0, err
	}
	if len(v) != 8 {
		return 0, fmt.Errorf("bad u64 record %q", k)
	}
	return binary.BigEndian.Uint64(v), nil
}

func setU64(s chain.KVStore, k []byte, n uint64) error {
	if n == 0 {
		return s.Delete(k)
	}
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], n)
	return s.Set(k, b[:])
}

func (b *bank) InitGenesis(ctx *chain.Context, raw json.RawMessage) error {
	if raw == nil {
		return nil
	}
	var g bankGenesis
	if err := json.Unmarshal(raw, &g); err != nil {
		return err
	}
	s := ctx.Store(b.key)
	for _, e := range g.Balances {
		if err := setU64(s, balKey(e.Address), e.Amount); err != nil {
			return err
		}
	}
	return nil
}

func (b *bank) move(s chain.KVStore, from chain.Address, to []byte, amount uint64) error {
	bal, err := getU64(s, balKey(from))
	if err != nil {
		return err
	}
	if bal < amount {
		return fmt.Errorf("%w: balance %d, need %d", chain.ErrInsufficient, bal, amount)
	}
	if err := setU64(s, balKey(from), bal-amount); err != nil {
		return err
	}
	dst, err := getU64(s, to)
	if err != nil {
		return err
	}
	return setU64(s, to, dst+amount)
}

func (b *bank) ChargeFee(ctx *chain.Context, payer chain.Address, amount uint64) error {
	if err := b.move(ctx.Store(b.key), payer, []byte("pool"), amount); err != nil {
		return err
	}
	return ctx.Emit("fee", chain.Attr{Key: "amount", Value: fmt.Sprint(amount)})
}

func (b *bank) Deliver(ctx *chain.Context, msg chain.Msg) error {
	if msg.Type != "send" {
		return fmt.Errorf("%w: bank/%s", chain.ErrUnknownMsg, msg.Type)
	}
	var m sendMsg
	if err := b.codec.UnmarshalCanonical(msg.Body, &m); err != nil {
		return fmt.Errorf("%w: %v", chain.ErrInvalidMsg, err)
	}
	return b.move(ctx.Store(b.key), ctx.Sender, balKey(m.To), m.Amount)
}

func (b *bank) EndBlock(*chain.Context) error { return nil }

func (b *bank) Query(s chain.KVReader, path string, args map[string]string) (any, error) {
	return nil, chain.ErrNotFound
}

// kv is the test application: set keys, fail on demand, burn gas, panic,
// and schedule validator updates that EndBlock hands to consensus.
type kv struct {
	key   *chain.StoreKey
	codec *chain.Codec
	// foreign, if set, is a key the executor was never given.
	foreign *chain.StoreKey
}

type kvMsg struct {
	_     struct{} `cbor:",toarray"`
	Key   string
	Value string
	N     uint64
	Val   chain.PubKey
}

func (k *kv) Name() string { return "kv" }

func (k *kv) InitGenesis(ctx *chain.Context, raw json.RawMessage) error {
	if raw == nil {
		return nil
	}
	var init map[string]string
	if err := json.Unmarshal(raw, &init); err != nil {
		return err
	}
	if v, ok := init["hello"]; ok { // lookups only: no map iteration
		return ctx.Store(k.key).Set([]byte("hello"), []byte(v))
	}
	return nil
}

func (k *kv) Deliver(ctx *chain.Context, msg chain.Msg) error {
	var m kvMsg
	if err := k.codec.UnmarshalCanonical(msg.Body, &m); err != nil {
		return fmt.Errorf("%w: %v", chain.ErrInvalidMsg, err)
	}
	s := ctx.Store(k.key)
	switch msg.Type {
	case "set":
		if err := s.Set([]byte(m.Key), []byte(m.Value)); err != nil {
			return err
		}
		return ctx.Emit("set", chain.Attr{Key: "key", Value: m.Key})
	case "fail":
		if err := s.Set([]byte(m.Key), []byte(m.Value)); err != nil {
			return err
		}
		return fmt.Errorf("%w: asked to fail", chain.ErrInvalidMsg)
	case "burn":
		for i := uint64(0); i < m.N; i++ {
			if err := s.Set([]byte(fmt.Sprintf("%s/%d", m.Key, i)), []byte(m.Value)); err != nil {
				return err
			}
		}
		return nil
	case "val":
		var p [8]byte
		binary.BigEndian.PutUint64(p[:], m.N)
		return s.Set(append([]byte("pv/"), m.Val[:]...), p[:])
	case "panic":
		var x []int
		_ = x[m.N]
		return nil
	case "foreign":
		return ctx.Store(k.foreign).Set([]byte(m.Key), []byte(m.Value))
	}
	return fmt.Errorf("%w: kv/%s", chain.ErrUnknownMsg, msg.Type)
}

// EndBlock turns pending power changes into validator updates, in key
// order, and clears them.
func (k *kv) EndBlock(ctx *chain.Context) error {
	s := ctx.Store(k.key)
	var done [][]byte
	err := s.Iterate([]byte("pv/"), func(key, v []byte) (bool, error) {
		var u chain.ValidatorUpdate
		copy(u.PubKey[:], key[len("pv/"):])
		u.Power = binary.BigEndian.Uint64(v)
		ctx.UpdateValidator(u)
		done = append(done, key)
		return false, nil
	})
	if err != nil {
		return err
	}
	for _, key := range done {
		if err := s.Delete(key); err != nil {
			return err
		}
	}
	if len(done) > 0 {
		return ctx.Emit("validators", chain.Attr{Key: "count", Value: fmt.Sprint(len(done))})
	}
	return nil
}

func (k *kv) Query(s chain.KVReader, path string, args map[string]string) (any, error) {
	return nil, errors.New("no queries")
}

func body(c *chain.Codec, v any) cbor.RawMessage {
	b, err := c.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// GenesisValidators makes kv the chain.ValidatorSetOwner of the tests: only
// its contexts may schedule validator updates.
func (k *kv) GenesisValidators(json.RawMessage) ([]chain.Validator, error) { return nil, nil }

// probe is a module with every optional block capability but the
// validator set: it records what its contexts allowed.
type probe struct {
	key       *chain.StoreKey
	acct      chain.Address
	beginErr  error // UpdateValidator's answer in BeginBlock
	sawAcct   bool  // ctx.IsModuleAccount(acct) in EndBlock
	order     *[]string
	updateVal chain.PubKey
}

func (p *probe) Name() string                                                 { return p.key.Name() }
func (p *probe) InitGenesis(*chain.Context, json.RawMessage) error            { return nil }
func (p *probe) Deliver(*chain.Context, chain.Msg) error                      { return chain.ErrUnknownMsg }
func (p *probe) Query(chain.KVReader, string, map[string]string) (any, error) { return nil, nil }
func (p *probe) ModuleAccounts() []chain.Address                              { return []chain.Address{p.acct} }

func (p *probe) BeginBlock(ctx *chain.Context) error {
	*p.order = append(*p.order, "begin "+p.Name())
	p.beginErr = ctx.UpdateValidator(chain.ValidatorUpdate{PubKey: p.updateVal, Power: 9})
	return nil
}

func (p *probe) EndBlock(ctx *chain.Context) error {
	*p.order = append(*p.order, "end "+p.Name())
	p.sawAcct = ctx.IsModuleAccount(p.acct)
	return nil
}
