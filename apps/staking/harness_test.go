package staking

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/dure-network/dure/chain"
)

// memDB is an in-memory state: one sorted keyspace shared by all modules,
// each under "<name>/", like the executor's prefixed stores. keys is kept
// sorted so iteration is ordered and cheap.
type memDB struct {
	m    map[string][]byte
	keys []string
}

func newMemDB() *memDB { return &memDB{m: map[string][]byte{}} }

func (d *memDB) clone() *memDB {
	c := &memDB{m: make(map[string][]byte, len(d.m)), keys: append([]string(nil), d.keys...)}
	for k, v := range d.m {
		c.m[k] = v
	}
	return c
}

type memStore struct {
	db     *memDB
	prefix string
}

func (s *memStore) Get(k []byte) ([]byte, error) {
	v, ok := s.db.m[s.prefix+string(k)]
	if !ok {
		return nil, nil
	}
	return append([]byte{}, v...), nil
}

func (s *memStore) Set(k, v []byte) error {
	if len(v) == 0 { // as chain/state: an empty value cannot be proven apart from absence
		return errors.New("memStore: empty value (use Delete)")
	}
	full := s.prefix + string(k)
	if _, ok := s.db.m[full]; !ok {
		i := sort.SearchStrings(s.db.keys, full)
		s.db.keys = append(s.db.keys, "")
		copy(s.db.keys[i+1:], s.db.keys[i:])
		s.db.keys[i] = full
	}
	s.db.m[full] = append([]byte{}, v...)
	return nil
}

func (s *memStore) Delete(k []byte) error {
	full := s.prefix + string(k)
	if _, ok := s.db.m[full]; !ok {
		return nil
	}
	delete(s.db.m, full)
	i := sort.SearchStrings(s.db.keys, full)
	s.db.keys = append(s.db.keys[:i], s.db.keys[i+1:]...)
	return nil
}

func (s *memStore) Iterate(prefix []byte, fn func(k, v []byte) (bool, error)) error {
	full := s.prefix + string(prefix)
	i := sort.SearchStrings(s.db.keys, full)
	j := i
	for j < len(s.db.keys) && strings.HasPrefix(s.db.keys[j], full) {
		j++
	}
	for _, k := range append([]string(nil), s.db.keys[i:j]...) {
		v, ok := s.db.m[k]
		if !ok {
			continue
		}
		stop, err := fn([]byte(k[len(s.prefix):]), v)
		if err != nil || stop {
			return err
		}
	}
	return nil
}

type opener struct{ db *memDB }

func (o opener) Open(k *chain.StoreKey) chain.KVStore {
	return &memStore{db: o.db, prefix: k.Name() + "/"}
}

// fakeBank keeps balances in its own store so that a failed message's
// revert (the harness restores the whole db) covers transfers too.
type fakeBank struct{ key *chain.StoreKey }

func balKey(a chain.Address, denom string) []byte { return append([]byte(denom+"/"), a[:]...) }

func (b *fakeBank) Balance(ctx *chain.Context, a chain.Address, denom string) (uint64, error) {
	v, err := ctx.Store(b.key).Get(balKey(a, denom))
	if err != nil || v == nil {
		return 0, err
	}
	return binary.BigEndian.Uint64(v), nil
}

func (b *fakeBank) set(ctx *chain.Context, a chain.Address, denom string, v uint64) error {
	return ctx.Store(b.key).Set(balKey(a, denom), binary.BigEndian.AppendUint64(nil, v))
}

func (b *fakeBank) Transfer(ctx *chain.Context, from, to chain.Address, denom string, amt uint64) error {
	fb, err := b.Balance(ctx, from, denom)
	if err != nil {
		return err
	}
	if fb < amt {
		return fmt.Errorf("%w: %s has %d", chain.ErrInsufficient, from, fb)
	}
	if err := b.set(ctx, from, denom, fb-amt); err != nil {
		return err
	}
	tb, err := b.Balance(ctx, to, denom)
	if err != nil {
		return err
	}
	return b.set(ctx, to, denom, tb+amt)
}

const denom = "stake"

// feeCollector stands in for currency's fee collector.
var feeCollector = chain.Address{0xfe}

func testParams() Params {
	return Params{BondDenom: denom, MinSelfStake: 100, MaxValidators: 3, UnbondingSeconds: 10,
		DowntimeWindow: 10, MinSignedPerWindow: 5, JailSeconds: 60, DoubleSignSlashBps: 500,
		DowntimeSlashBps: 100, PowerReduction: 10, RewardSource: feeCollector}
}

func key(t testing.TB, i int) chain.PrivKey {
	t.Helper()
	k, err := chain.PrivKeyFromSeed(bytes.Repeat([]byte{byte(i + 1)}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func addr(t testing.TB, i int) chain.Address { return key(t, i).PubKey().Address() }

type env struct {
	t      testing.TB
	c      *chain.Codec
	db     *memDB
	m      *Module
	bank   Bank
	height uint64
	time   int64
}

func newEnv(t testing.TB) *env {
	c := chain.MustCodec()
	bank := &fakeBank{key: chain.NewStoreKey("bank")}
	return &env{t: t, c: c, db: newMemDB(), bank: bank,
		m: New(chain.NewStoreKey(ModuleName), c, bank), height: 1, time: 1_000_000_000_000}
}

func (e *env) ctx(sender chain.Address) *chain.Context {
	return chain.NewContext(chain.BlockInfo{ChainID: "test-1", Height: e.height, Time: chain.Time(e.time)}, sender, nil, opener{e.db})
}

func (e *env) fund(a chain.Address, amt uint64) {
	e.t.Helper()
	fb, ok := e.bank.(*fakeBank)
	if !ok {
		e.t.Fatal("fund needs the fake bank")
	}
	if err := fb.set(e.ctx(chain.Address{}), a, denom, amt); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) balance(a chain.Address) uint64 {
	e.t.Helper()
	b, err := e.bank.Balance(e.ctx(chain.Address{}), a, denom)
	if err != nil {
		e.t.Fatal(err)
	}
	return b
}

// genesis funds and loads genesis validators 0..len(stakes)-1.
func (e *env) genesis(p Params, stakes ...uint64) []chain.ValidatorUpdate {
	e.t.Helper()
	g := GenesisState{Params: p}
	for i, s := range stakes {
		e.fund(addr(e.t, i), s+1_000_000)
		g.Validators = append(g.Validators, GenesisValidator{Address: addr(e.t, i), PubKey: key(e.t, i).PubKey(), SelfStake: s})
	}
	raw, err := json.Marshal(g)
	if err != nil {
		e.t.Fatal(err)
	}
	ctx := e.ctx(chain.Address{})
	if err := e.m.InitGenesis(ctx, raw); err != nil {
		e.t.Fatalf("init genesis: %v", err)
	}
	return ctx.ValidatorUpdates()
}

// deliver runs a message and, like the executor, reverts all writes of a
// failed one.
func (e *env) deliver(sender chain.Address, msg chain.Msg) error {
	e.t.Helper()
	snap := e.db.clone()
	err := e.m.Deliver(e.ctx(sender), msg)
	if err != nil {
		e.db = snap
	}
	return err
}

// msg unwraps a message constructor's result.
func (e *env) msg(m chain.Msg, err error) chain.Msg {
	e.t.Helper()
	if err != nil {
		e.t.Fatalf("build msg: %v", err)
	}
	return m
}

func (e *env) mustDeliver(sender chain.Address, msg chain.Msg) {
	e.t.Helper()
	if err := e.deliver(sender, msg); err != nil {
		e.t.Fatalf("deliver %s: %v", msg.Type, err)
	}
}

func (e *env) beginBlock(signers []chain.Address, ev []chain.Evidence) {
	e.t.Helper()
	ctx := e.ctx(chain.Address{})
	ctx.Block.LastCommitSigners, ctx.Block.Evidence = signers, ev
	if err := e.m.BeginBlock(ctx); err != nil {
		e.t.Fatalf("begin block %d: %v", e.height, err)
	}
}

func (e *env) endBlock() []chain.ValidatorUpdate {
	e.t.Helper()
	ctx := e.ctx(chain.Address{})
	if err := e.m.EndBlock(ctx); err != nil {
		e.t.Fatalf("end block %d: %v", e.height, err)
	}
	return ctx.ValidatorUpdates()
}

// advance starts the next block (one second later) with the given last
// commit signers and evidence; the caller delivers txs, then endBlock.
func (e *env) advance(signers []chain.Address, ev ...chain.Evidence) {
	e.t.Helper()
	e.height++
	e.time += 1_000_000_000
	e.beginBlock(signers, ev)
}

// activeAddrs lists the stored active set.
func (e *env) activeAddrs() []chain.Address {
	e.t.Helper()
	s := e.m.open(e.ctx(chain.Address{}))
	a, _, err := s.activeSet()
	if err != nil {
		e.t.Fatal(err)
	}
	return a
}

func (e *env) validator(a chain.Address) ValidatorInfo {
	e.t.Helper()
	v, err := e.m.Query(e.ctx(chain.Address{}).Store(e.m.key), "validator", map[string]string{"address": a.String()})
	if err != nil {
		e.t.Fatalf("query validator %s: %v", a, err)
	}
	return v.(ValidatorInfo)
}

// stakeSum is the sum of all validators' tokens, which must always equal
// the bonded pool's balance.
func (e *env) stakeSum() uint64 {
	e.t.Helper()
	vs, err := e.m.Query(e.ctx(chain.Address{}).Store(e.m.key), "validators", nil)
	if err != nil {
		e.t.Fatal(err)
	}
	var sum uint64
	for _, v := range vs.([]ValidatorInfo) {
		sum += v.Tokens
	}
	return sum
}

func (e *env) checkPools() {
	e.t.Helper()
	if got, want := e.balance(BondedPool()), e.stakeSum(); got != want {
		e.t.Fatalf("bonded pool holds %d, validators' tokens sum to %d", got, want)
	}
}

func updateOf(t testing.TB, i int, power uint64) chain.ValidatorUpdate {
	return chain.ValidatorUpdate{PubKey: key(t, i).PubKey(), Power: power}
}

func powerOf(ups []chain.ValidatorUpdate, pub chain.PubKey) (uint64, bool) {
	for _, u := range ups {
		if u.PubKey == pub {
			return u.Power, true
		}
	}
	return 0, false
}
