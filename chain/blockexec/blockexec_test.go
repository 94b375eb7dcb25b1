package blockexec

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/dure-network/dure/apps/notes"
	"github.com/dure-network/dure/chain"
	"github.com/dure-network/dure/chain/execution"
	"github.com/dure-network/dure/chain/genesis"
	"github.com/dure-network/dure/chain/state"
	"github.com/dure-network/dure/chain/store"
)

func testKey(t testing.TB, i int) chain.PrivKey {
	t.Helper()
	var seed [chain.SeedLen]byte
	binary.BigEndian.PutUint64(seed[:], uint64(i)+1)
	k, err := chain.PrivKeyFromSeed(seed[:])
	if err != nil {
		t.Fatal(err)
	}
	return k
}

type freeFees struct{}

func (freeFees) ChargeFee(*chain.Context, chain.Address, uint64) error { return nil }

var genesisTime = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// node is one validator's store, state and block executor on a real
// Badger database; its clock is the test's.
type node struct {
	st  *store.Store
	bx  *BlockExec
	cur State
	now time.Time
}

func newNode(t *testing.T, g *genesis.Genesis) *node {
	t.Helper()
	c := chain.MustCodec()
	s, err := store.Open(t.TempDir(), store.Options{Codec: c})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	key := chain.NewStoreKey(notes.ModuleName)
	ex, err := execution.New(execution.Config{Codec: c, ChainID: g.ChainID, Fees: freeFees{}, GasPerFeeUnit: g.Params.GasPerFeeUnit,
		Modules: []execution.ModuleEntry{{Module: notes.New(key, c), Key: key}}})
	if err != nil {
		t.Fatal(err)
	}
	st0, err := state.New(s.DB(), 0, chain.Hash{})
	if err != nil {
		t.Fatal(err)
	}
	gh, err := g.Hash()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := CommitGenesis(c, ex, s, st0, g, gh); err != nil {
		t.Fatal(err)
	}
	head := s.Head()
	sv, err := state.New(s.DB(), store.TS(head.Height), head.StateRoot)
	if err != nil {
		t.Fatal(err)
	}
	n := &node{st: s, now: genesisTime}
	n.bx = New(Config{Codec: c, Exec: ex, Store: s, State: sv, Now: func() time.Time { return n.now }})
	if n.cur, err = Load(g.ChainID, s); err != nil {
		t.Fatal(err)
	}
	return n
}

func testGenesis(t *testing.T, keys ...chain.PrivKey) *genesis.Genesis {
	g := &genesis.Genesis{ChainID: "bx-1", GenesisTime: genesisTime, Params: genesis.DefaultParams(),
		AppState: map[string]json.RawMessage{}}
	for _, k := range keys {
		g.Validators = append(g.Validators, genesis.Validator{PubKey: k.PubKey(), Power: 10})
	}
	if err := g.Validate(); err != nil {
		t.Fatal(err)
	}
	return g
}

func post(t *testing.T, k chain.PrivKey, nonce uint64, text string) *chain.DecodedTx {
	t.Helper()
	m, err := notes.MsgPost(chain.MustCodec(), "town", text, 0)
	if err != nil {
		t.Fatal(err)
	}
	tx := chain.Tx{ChainID: "bx-1", Nonce: nonce, MaxFee: 10, Msgs: []chain.Msg{m}}
	raw, err := tx.Sign(chain.MustCodec(), k)
	if err != nil {
		t.Fatal(err)
	}
	d, err := chain.NewDecodedTx(chain.MustCodec(), raw)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// commitFor signs a commit for blk by every key.
func commitFor(t *testing.T, blk *Block, keys ...chain.PrivKey) *chain.Commit {
	c := chain.MustCodec()
	h := blk.Block.Header.Height
	cm := &chain.Commit{Height: h, BlockID: blk.ID}
	for _, k := range keys {
		v := chain.Vote{Type: chain.Precommit, Height: h, BlockID: blk.ID, Validator: k.PubKey().Address()}
		cm.Sigs = append(cm.Sigs, chain.CommitSig{Validator: v.Validator, Sig: k.Sign(v.SignBytes(c, "bx-1"))})
	}
	sortSigs(cm)
	return cm
}

func sortSigs(cm *chain.Commit) {
	for i := 1; i < len(cm.Sigs); i++ {
		for j := i; j > 0 && string(cm.Sigs[j].Validator[:]) < string(cm.Sigs[j-1].Validator[:]); j-- {
			cm.Sigs[j], cm.Sigs[j-1] = cm.Sigs[j-1], cm.Sigs[j]
		}
	}
}

// A proposer builds blocks, a second validator validates each from its
// bytes, both apply it and reach the same State; the State value given to
// Apply is left as it was.
func TestBuildValidateApply(t *testing.T) {
	k := testKey(t, 0)
	g := testGenesis(t, k)
	p, v := newNode(t, g), newNode(t, g)
	for h := uint64(1); h <= 3; h++ {
		p.now = p.now.Add(time.Second)
		v.now = p.now
		txs := []*chain.DecodedTx{post(t, k, h-1, fmt.Sprintf("note %d", h))}
		blk, err := p.bx.Build(p.cur, Proposal{Proposer: k.PubKey().Address(), Candidates: txs, MaxTxs: 10})
		if err != nil {
			t.Fatal(err)
		}
		b, err := chain.DecodeBlock(chain.MustCodec(), blk.Raw)
		if err != nil {
			t.Fatal(err)
		}
		got := &Block{ID: b.Header.ID(chain.MustCodec()), Block: b, Raw: blk.Raw}
		if got.Out, err = v.bx.Validate(v.cur, got, true, nil); err != nil {
			t.Fatalf("height %d: validate: %v", h, err)
		}
		cm := commitFor(t, blk, k)
		before := p.cur
		ps, pres, err := p.bx.Apply(p.cur, blk, cm)
		if err != nil {
			t.Fatal(err)
		}
		vs, _, err := v.bx.Apply(v.cur, got, cm)
		if err != nil {
			t.Fatal(err)
		}
		if before.Head != p.cur.Head || p.cur.Head.Height != h-1 {
			t.Fatal("Apply changed the State it was given")
		}
		if ps.Head != vs.Head || ps.Head.Height != h || ps.Head.BlockID != blk.ID || len(pres) != 1 || pres[0].Code != chain.CodeOK {
			t.Fatalf("height %d: proposer %+v, validator %+v, results %+v", h, ps.Head, vs.Head, pres)
		}
		p.cur, v.cur = ps, vs
	}
}

func TestValidateRefuses(t *testing.T) {
	k, other := testKey(t, 0), testKey(t, 1)
	g := testGenesis(t, k)
	p, v := newNode(t, g), newNode(t, g)
	p.now = p.now.Add(time.Second)
	good, err := p.bx.Build(p.cur, Proposal{Proposer: k.PubKey().Address(), MaxTxs: 10})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name  string
		edit  func(h *chain.Header)
		fresh bool
		want  error
	}{
		{"wrong chain", func(h *chain.Header) { h.ChainID = "other-1" }, false, ErrBadBlock},
		{"wrong height", func(h *chain.Header) { h.Height = 2 }, false, ErrBadBlock},
		{"wrong parent", func(h *chain.Header) { h.Parent = chain.IDOf([]byte("x")) }, false, ErrBadBlock},
		{"time not after the parent", func(h *chain.Header) { h.Time = 0 }, false, ErrBadBlock},
		{"validators hash", func(h *chain.Header) { h.ValidatorsHash = chain.Hash{1} }, false, ErrBadBlock},
		{"next validators hash", func(h *chain.Header) { h.NextValidatorsHash = chain.Hash{1} }, false, ErrBadBlock},
		{"proposer not a validator", func(h *chain.Header) { h.Proposer = other.PubKey().Address() }, false, ErrBadBlock},
		{"state root", func(h *chain.Header) { h.StateRoot = chain.Hash{1} }, false, ErrBadBlock},
		{"ahead of the clock, fresh", func(h *chain.Header) { h.Time = chain.TimeOf(genesisTime.Add(time.Minute)) }, true, ErrClockAhead},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := *good.Block
			c.edit(&b.Header)
			blk := &Block{ID: b.Header.ID(chain.MustCodec()), Block: &b}
			if _, err := v.bx.Validate(v.cur, blk, c.fresh, nil); !errors.Is(err, c.want) {
				t.Fatalf("err %v, want %v", err, c.want)
			}
		})
	}
	// The same block a minute ahead is fine once it carries a commit.
	b := *good.Block
	b.Header.Time = chain.TimeOf(genesisTime.Add(time.Minute))
	if _, err := v.bx.Validate(v.cur, &Block{Block: &b}, false, nil); errors.Is(err, ErrClockAhead) {
		t.Fatalf("committed block refused for the clock: %v", err)
	}
}

func TestNextValidatorSet(t *testing.T) {
	a, b, c := testKey(t, 0).PubKey(), testKey(t, 1).PubKey(), testKey(t, 2).PubKey()
	vs, err := chain.NewValidatorSet([]chain.Validator{{Address: a.Address(), PubKey: a, Power: 10}, {Address: b.Address(), PubKey: b, Power: 5}})
	if err != nil {
		t.Fatal(err)
	}
	power := func(s *chain.ValidatorSet) map[chain.PubKey]uint64 {
		out := map[chain.PubKey]uint64{}
		for _, v := range s.Validators {
			out[v.PubKey] = v.Power
		}
		return out
	}
	for _, tc := range []struct {
		name string
		ups  []chain.ValidatorUpdate
		want map[chain.PubKey]uint64
	}{
		{"none", nil, map[chain.PubKey]uint64{a: 10, b: 5}},
		{"change", []chain.ValidatorUpdate{{PubKey: b, Power: 7}}, map[chain.PubKey]uint64{a: 10, b: 7}},
		{"add", []chain.ValidatorUpdate{{PubKey: c, Power: 1}}, map[chain.PubKey]uint64{a: 10, b: 5, c: 1}},
		{"remove", []chain.ValidatorUpdate{{PubKey: a, Power: 0}}, map[chain.PubKey]uint64{b: 5}},
		{"remove then re-add", []chain.ValidatorUpdate{{PubKey: a, Power: 0}, {PubKey: a, Power: 3}}, map[chain.PubKey]uint64{a: 3, b: 5}},
		{"removing everyone is ignored", []chain.ValidatorUpdate{{PubKey: a}, {PubKey: b}}, map[chain.PubKey]uint64{a: 10, b: 5}},
		{"unknown removal", []chain.ValidatorUpdate{{PubKey: c, Power: 0}}, map[chain.PubKey]uint64{a: 10, b: 5}},
	} {
		got := power(NextValidatorSet(vs, tc.ups))
		if fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
	if len(vs.Validators) != 2 || vs.Validators[0].Power+vs.Validators[1].Power != 15 {
		t.Fatal("NextValidatorSet changed its input")
	}
}

type osFiles struct{}

func (f osFiles) WriteFileAtomic(path string, data []byte) error { return writeFile(path, data) }
func (f osFiles) ReadFileChecked(path string) ([]byte, error)    { return readFile(path) }

func TestStash(t *testing.T) {
	k := testKey(t, 0)
	g := testGenesis(t, k)
	p := newNode(t, g)
	p.now = p.now.Add(time.Second)
	blk, err := p.bx.Build(p.cur, Proposal{Proposer: k.PubKey().Address(), MaxTxs: 1})
	if err != nil {
		t.Fatal(err)
	}
	s := NewStash(t.TempDir(), osFiles{}, chain.MustCodec(), nil)
	if err := s.Put(1, blk.ID, blk.Raw); err != nil {
		t.Fatal(err)
	}
	if got := s.Load(1); len(got) != 1 || got[0].ID != blk.ID {
		t.Fatalf("load: %+v", got)
	}
	if got := s.Load(2); len(got) != 0 {
		t.Fatalf("load of another height: %+v", got)
	}
	s.Prune(1)
	if got := s.Load(1); len(got) != 0 {
		t.Fatal("pruned block still loads")
	}
}
