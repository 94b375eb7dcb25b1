package store

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/dure-network/dure/chain"
)

const testChainID = "store-test-1"

// fixture builds a real chain: real ed25519 keys, signed txs and signed
// precommits. Validator set A (4 keys) signs heights up to changeAt, set B
// (3 of them) after, so validator history is exercised.
type fixture struct {
	c        *chain.Codec
	keys     []chain.PrivKey
	setA     *chain.ValidatorSet
	setB     *chain.ValidatorSet
	changeAt uint64
	sender   chain.PrivKey
	genesis  chain.Hash
}

func newFixture(tb testing.TB) *fixture {
	tb.Helper()
	f := &fixture{c: chain.MustCodec(), changeAt: 10, genesis: chain.Sum256([]byte("genesis of " + testChainID))}
	var vals []chain.Validator
	for i := range 4 {
		k, err := chain.PrivKeyFromSeed(bytes.Repeat([]byte{byte(i + 1)}, 32))
		if err != nil {
			tb.Fatal(err)
		}
		f.keys = append(f.keys, k)
		vals = append(vals, chain.Validator{Address: k.PubKey().Address(), PubKey: k.PubKey(), Power: 10})
	}
	var err error
	if f.setA, err = chain.NewValidatorSet(vals); err != nil {
		tb.Fatal(err)
	}
	if f.setB, err = chain.NewValidatorSet(vals[:3]); err != nil {
		tb.Fatal(err)
	}
	if f.sender, err = chain.PrivKeyFromSeed(bytes.Repeat([]byte{99}, 32)); err != nil {
		tb.Fatal(err)
	}
	return f
}

func (f *fixture) valsFor(h uint64) *chain.ValidatorSet {
	if h <= f.changeAt {
		return f.setA
	}
	return f.setB
}

func (f *fixture) signer(a chain.Address) chain.PrivKey {
	for _, k := range f.keys {
		if k.PubKey().Address() == a {
			return k
		}
	}
	panic("no key")
}

// signedTx makes a real signed tx of about 250 bytes.
func (f *fixture) signedTx(tb testing.TB, nonce uint64) []byte {
	tb.Helper()
	body, err := f.c.Marshal([]any{"dure1recipient", uint64(nonce), bytes.Repeat([]byte{'m'}, 80)})
	if err != nil {
		tb.Fatal(err)
	}
	tx := &chain.Tx{ChainID: testChainID, Nonce: nonce, MaxFee: 100,
		Msgs: []chain.Msg{{Module: "currency", Type: "send", Body: body}}}
	raw, err := tx.Sign(f.c, f.sender)
	if err != nil {
		tb.Fatal(err)
	}
	return raw
}

// commitFor signs precommits for block id at h by every member of the set.
func (f *fixture) commitFor(h uint64, id chain.ID) *chain.Commit {
	vs := f.valsFor(h)
	msg := chain.VoteSignBytes(f.c, testChainID, chain.Precommit, h, 0, id)
	cm := &chain.Commit{Height: h, BlockID: id}
	for _, v := range vs.Validators {
		cm.Sigs = append(cm.Sigs, chain.CommitSig{Validator: v.Address, Sig: f.signer(v.Address).Sign(msg)})
	}
	return cm
}

func stateRootAt(h uint64) chain.Hash { return chain.Sum256(binary.BigEndian.AppendUint64(nil, h)) }

// block builds block h on parent with txs and returns it with its commit
// and results.
func (f *fixture) block(h uint64, parent chain.ID, last *chain.Commit, txs [][]byte) (*chain.Block, *chain.Commit, []chain.TxResult) {
	results := make([]chain.TxResult, len(txs))
	for i := range results {
		results[i] = chain.TxResult{GasUsed: uint64(1000 + i), Events: []chain.Event{{Type: "transfer",
			Attrs: []chain.Attr{{Key: "amount", Value: "5"}}}}}
	}
	b := &chain.Block{
		Header: chain.Header{
			ChainID: testChainID, Height: h, Time: chain.UnixSeconds(int64(h)), Parent: parent,
			TxRoot: chain.TxRoot(txs), StateRoot: stateRootAt(h), ResultsRoot: chain.ResultsRoot(f.c, results),
			ValidatorsHash: f.valsFor(h).Hash(f.c), NextValidatorsHash: f.valsFor(h + 1).Hash(f.c),
			Proposer: f.valsFor(h).Validators[0].Address, LastCommitHash: chain.CommitHash(f.c, last),
		},
		Txs:        txs,
		LastCommit: last,
	}
	if h == 1 {
		b.LastCommit, b.Header.LastCommitHash = nil, chain.Hash{}
	}
	return b, f.commitFor(h, b.Header.ID(f.c)), results
}

// stateWrite is the extra callback: one state key per block recording the
// height, so tests can see which version a reader gets.
func stateWrite(h uint64) func(w chain.KVWriter) error {
	return func(w chain.KVWriter) error {
		return w.Set([]byte("s/height"), binary.BigEndian.AppendUint64(nil, h))
	}
}

func (f *fixture) genesisCommit(tb testing.TB, s *Store) {
	tb.Helper()
	if err := s.CommitGenesis(f.genesis, f.setA, stateRootAt(0), stateWrite(0)); err != nil {
		tb.Fatalf("genesis: %v", err)
	}
}

// next builds the block after the store's head, with n txs.
func (f *fixture) next(tb testing.TB, s *Store, n int) (*chain.Block, *chain.Commit, []chain.TxResult) {
	tb.Helper()
	head, ok := s.Head(), s.Initialized()
	if !ok {
		tb.Fatal("no head")
	}
	h := head.Height + 1
	var last *chain.Commit
	if head.Height > 0 {
		var err error
		if last, err = s.SeenCommit(head.Height); err != nil {
			tb.Fatalf("seen commit %d: %v", head.Height, err)
		}
	}
	txs := make([][]byte, n)
	for i := range txs {
		txs[i] = f.signedTx(tb, h*1000+uint64(i))
	}
	return f.block(h, head.BlockID, last, txs)
}

func (f *fixture) commitNext(tb testing.TB, s *Store, n int) *chain.Block {
	tb.Helper()
	b, cm, rs := f.next(tb, s, n)
	if err := s.CommitBlock(b, cm, rs, f.valsFor(b.Header.Height+1), stateWrite(b.Header.Height)); err != nil {
		tb.Fatalf("commit %d: %v", b.Header.Height, err)
	}
	return b
}

// stateHeight reads the "s/height" key at the store's read timestamp.
func stateHeight(tb testing.TB, s *Store) uint64 {
	tb.Helper()
	txn := s.DB().NewTransactionAt(s.ReadTS(), false)
	defer txn.Discard()
	v, err := get(txn, []byte("s/height"))
	if err != nil {
		tb.Fatalf("read state: %v", err)
	}
	return binary.BigEndian.Uint64(v)
}
