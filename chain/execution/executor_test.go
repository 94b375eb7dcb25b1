package execution

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/dgraph-io/badger/v4"

	"github.com/dure-network/dure/chain"
	"github.com/dure-network/dure/chain/state"
)

const (
	testChain = "dure-test"
	minFee    = 10
	gasPerFee = 1000
	startBal  = 1_000_000
)

// env is one node's worth of execution: a Badger database, its state and
// an executor with the bank and kv test modules.
type env struct {
	t     testing.TB
	codec *chain.Codec
	db    *badger.DB
	st    *state.State
	ex    *Executor
	keys  []chain.PrivKey
	// version of the last commit; block h is committed at h+1 because
	// Badger refuses commit timestamp 0 (genesis is height 0).
	height uint64
}

func testKeys(t testing.TB, n int) []chain.PrivKey {
	keys := make([]chain.PrivKey, n)
	for i := range keys {
		seed := bytes.Repeat([]byte{byte(i), byte(i >> 8), 7}, 11)[:chain.SeedLen]
		k, err := chain.PrivKeyFromSeed(seed)
		if err != nil {
			t.Fatal(err)
		}
		keys[i] = k
	}
	return keys
}

func newEnv(t testing.TB, keys []chain.PrivKey, verified func(chain.ID) bool) *env {
	t.Helper()
	db, err := badger.OpenManaged(badger.DefaultOptions(t.TempDir()).WithLogger(nil))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	st, err := state.New(db, 0, chain.Hash{})
	if err != nil {
		t.Fatal(err)
	}
	codec := chain.MustCodec()
	bk := &bank{key: chain.NewStoreKey("bank"), codec: codec}
	kvm := &kv{key: chain.NewStoreKey("kv"), codec: codec, foreign: chain.NewStoreKey("bank")}
	ex, err := New(Config{
		Codec: codec, ChainID: testChain,
		Modules:       []ModuleEntry{{bk, bk.key}, {kvm, kvm.key}},
		Fees:          bk,
		MinFee:        minFee,
		GasPerFeeUnit: gasPerFee,
		Verified:      verified,
	})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, codec: codec, db: db, st: st, ex: ex, keys: keys}

	var g bankGenesis
	for _, k := range keys {
		g.Balances = append(g.Balances, struct {
			Address chain.Address `json:"address"`
			Amount  uint64        `json:"amount"`
		}{k.PubKey().Address(), startBal})
	}
	raw, _ := json.Marshal(g)
	out, err := ex.InitGenesis(st, chain.BlockInfo{ChainID: testChain}, map[string]json.RawMessage{
		"bank": raw, "kv": json.RawMessage(`{"hello":"world"}`),
	})
	if err != nil {
		t.Fatal(err)
	}
	e.commit(out)
	return e
}

type batchWriter struct{ wb *badger.WriteBatch }

func (w batchWriter) Set(k, v []byte) error { return w.wb.Set(bytes.Clone(k), bytes.Clone(v)) }
func (w batchWriter) Delete(k []byte) error { return w.wb.Delete(bytes.Clone(k)) }

// commit plays the store: write the pending state at the next version.
func (e *env) commit(out *Outcome) {
	e.t.Helper()
	v, _ := e.st.Head()
	wb := e.db.NewWriteBatchAt(v + 1)
	if err := out.Pending.WriteTo(batchWriter{wb}); err != nil {
		e.t.Fatal(err)
	}
	if err := wb.Flush(); err != nil {
		e.t.Fatal(err)
	}
	if err := e.st.Committed(out.Pending, v+1); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) info() chain.BlockInfo {
	return chain.BlockInfo{ChainID: testChain, Height: e.height + 1, Time: chain.UnixSeconds(int64(e.height + 1))}
}

// run executes and commits a block and returns its outcome.
func (e *env) run(txs ...*chain.DecodedTx) *Outcome {
	e.t.Helper()
	out, err := e.ex.ExecuteBlock(e.st, e.info(), txs)
	if err != nil {
		e.t.Fatal(err)
	}
	e.commit(out)
	e.height++
	return out
}

func (e *env) reader() chain.KVReader {
	v, _ := e.st.Head()
	return e.st.Reader(v)
}

func (e *env) balance(k chain.PrivKey) uint64 {
	e.t.Helper()
	n, err := getU64(e.reader(), append([]byte("bank/"), balKey(k.PubKey().Address())...))
	if err != nil {
		e.t.Fatal(err)
	}
	return n
}

func (e *env) nonce(k chain.PrivKey) uint64 {
	e.t.Helper()
	n, err := Nonce(e.reader(), k.PubKey().Address())
	if err != nil {
		e.t.Fatal(err)
	}
	return n
}

func (e *env) kvGet(key string) string {
	e.t.Helper()
	v, err := e.reader().Get([]byte("kv/" + key))
	if err != nil {
		e.t.Fatal(err)
	}
	return string(v)
}

// txOpt adjusts a transaction before signing.
type txOpt func(*chain.Tx)

func withChain(id string) txOpt { return func(tx *chain.Tx) { tx.ChainID = id } }

func mkTx(t testing.TB, c *chain.Codec, key chain.PrivKey, nonce, fee uint64, msgs []chain.Msg, opts ...txOpt) *chain.DecodedTx {
	t.Helper()
	tx := &chain.Tx{ChainID: testChain, Nonce: nonce, MaxFee: fee, Msgs: msgs}
	for _, o := range opts {
		o(tx)
	}
	raw, err := tx.Sign(c, key)
	if err != nil {
		t.Fatal(err)
	}
	d, err := chain.NewDecodedTx(c, raw)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func kvm(c *chain.Codec, typ string, m kvMsg) []chain.Msg {
	return []chain.Msg{{Module: "kv", Type: typ, Body: body(c, m)}}
}

func TestFailedMessageKeepsFeeAndNonce(t *testing.T) {
	keys := testKeys(t, 2)
	e := newEnv(t, keys, nil)
	a, c := keys[0], e.codec
	if e.kvGet("hello") != "world" {
		t.Fatal("genesis state missing")
	}
	txs := []*chain.DecodedTx{
		mkTx(t, c, a, 0, 20, kvm(c, "set", kvMsg{Key: "ok", Value: "1"})),
		mkTx(t, c, a, 1, 30, kvm(c, "fail", kvMsg{Key: "bad", Value: "2"})),
		mkTx(t, c, a, 2, 40, []chain.Msg{{Module: "nosuch", Type: "x", Body: []byte{0x80}}}),
		mkTx(t, c, a, 3, 50, kvm(c, "panic", kvMsg{N: 5})),
		// Second message fails: the first one's write is reverted too.
		mkTx(t, c, a, 4, 60, append(kvm(c, "set", kvMsg{Key: "half", Value: "h"}), kvm(c, "fail", kvMsg{Key: "x", Value: "y"})...)),
		mkTx(t, c, a, 5, 70, kvm(c, "foreign", kvMsg{Key: "bal/steal", Value: "1"})),
	}
	out := e.run(txs...)

	wantCodes := []uint32{chain.CodeOK, chain.CodeInvalidMsg, chain.CodeUnknownMsg, chain.CodeInternal, chain.CodeInvalidMsg, chain.CodeUnauthorized}
	wantLog := []string{"", "asked to fail", "nosuch", "panicked", "message 1 (kv/fail)", "not registered"}
	if len(out.Results) != len(txs) {
		t.Fatalf("%d results for %d txs", len(out.Results), len(txs))
	}
	for i, r := range out.Results {
		if r.Code != wantCodes[i] || !strings.Contains(r.Log, wantLog[i]) {
			t.Errorf("tx %d: code %d log %q, want code %d log containing %q", i, r.Code, r.Log, wantCodes[i], wantLog[i])
		}
		if r.GasUsed == 0 {
			t.Errorf("tx %d: no gas recorded", i)
		}
		if len(r.Events) == 0 || r.Events[0].Type != "fee" {
			t.Errorf("tx %d: fee event missing: %+v", i, r.Events)
		}
	}
	if got := out.Results[0].Events; len(got) != 2 || got[1].Type != "set" {
		t.Errorf("successful tx events %+v", got)
	}
	if got := e.balance(a); got != startBal-(20+30+40+50+60+70) {
		t.Errorf("balance %d: every fee must be charged", got)
	}
	if got := e.nonce(a); got != 6 {
		t.Errorf("next nonce %d, want 6", got)
	}
	if e.kvGet("ok") != "1" || e.kvGet("bad") != "" || e.kvGet("half") != "" {
		t.Error("failed messages' writes were not reverted")
	}
	if out.ResultsRoot != chain.ResultsRoot(e.codec, out.Results) {
		t.Error("results root does not match chain.ResultsRoot")
	}
	if _, root := e.st.Head(); root != out.StateRoot {
		t.Error("committed root differs from outcome")
	}
}

func TestOutOfGas(t *testing.T) {
	keys := testKeys(t, 1)
	e := newEnv(t, keys, nil)
	c := e.codec
	// Fee 10 gives 10,000 gas; 200 writes of ~110 gas each do not fit.
	tx := mkTx(t, c, keys[0], 0, minFee, kvm(c, "burn", kvMsg{Key: "b", Value: "v", N: 200}))
	small := mkTx(t, c, keys[0], 1, minFee, kvm(c, "burn", kvMsg{Key: "s", Value: "v", N: 3}))
	out := e.run(tx, small)
	r := out.Results[0]
	if r.Code != chain.CodeOutOfGas || !strings.Contains(r.Log, "out of gas") {
		t.Fatalf("code %d log %q, want out of gas", r.Code, r.Log)
	}
	if r.GasUsed != minFee*gasPerFee {
		t.Errorf("gas used %d, want the whole limit %d", r.GasUsed, minFee*gasPerFee)
	}
	if out.Results[1].Code != chain.CodeOK {
		t.Errorf("small tx failed: %s", out.Results[1].Log)
	}
	if e.kvGet("b/0") != "" || e.kvGet("s/2") != "v" {
		t.Error("out-of-gas writes kept or in-budget writes lost")
	}
	if e.balance(keys[0]) != startBal-2*minFee || e.nonce(keys[0]) != 2 {
		t.Error("fee or nonce not kept on out-of-gas")
	}
}

func TestInvalidTxMakesBlockInvalid(t *testing.T) {
	keys := testKeys(t, 3)
	e := newEnv(t, keys, nil)
	c, a := e.codec, keys[0]
	e.run(mkTx(t, c, a, 0, minFee, kvm(c, "set", kvMsg{Key: "k", Value: "v"})))
	poor, _ := chain.PrivKeyFromSeed(bytes.Repeat([]byte{0xee}, chain.SeedLen)) // no balance

	badSig := mkTx(t, c, keys[1], 0, minFee, kvm(c, "set", kvMsg{Key: "k", Value: "v"}))
	badSig.Tx.Sig = bytes.Clone(badSig.Tx.Sig)
	badSig.Tx.Sig[0] ^= 1
	good := mkTx(t, c, keys[2], 0, minFee, kvm(c, "set", kvMsg{Key: "g", Value: "v"}))

	cases := []struct {
		name string
		tx   *chain.DecodedTx
		want error
	}{
		{"replayed nonce", mkTx(t, c, a, 0, minFee, kvm(c, "set", kvMsg{Key: "k", Value: "w"})), chain.ErrNonceTooLow},
		{"nonce gap", mkTx(t, c, a, 5, minFee, kvm(c, "set", kvMsg{Key: "k", Value: "w"})), chain.ErrNonceTooHigh},
		{"wrong chain", mkTx(t, c, a, 1, minFee, kvm(c, "set", kvMsg{Key: "k", Value: "w"}), withChain("other-chain")), chain.ErrWrongChain},
		{"bad signature", badSig, chain.ErrBadSignature},
		{"fee below minimum", mkTx(t, c, a, 1, minFee-1, kvm(c, "set", kvMsg{Key: "k", Value: "w"})), chain.ErrFeeTooLow},
		{"fee unpayable", mkTx(t, c, poor, 0, minFee, kvm(c, "set", kvMsg{Key: "k", Value: "w"})), chain.ErrInsufficient},
		{"nil tx", nil, chain.ErrTxMalformed},
	}
	headV, headRoot := e.st.Head()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.ex.ExecuteBlock(e.st, e.info(), []*chain.DecodedTx{good, tc.tx})
			if !errors.Is(err, ErrInvalidBlockTx) || !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want ErrInvalidBlockTx wrapping %v", err, tc.want)
			}
			if !strings.Contains(err.Error(), "tx 1") {
				t.Errorf("error does not name the tx index: %v", err)
			}
		})
	}
	if v, root := e.st.Head(); v != headV || root != headRoot {
		t.Fatal("an invalid block moved the head")
	}
	if _, err := e.ex.ExecuteBlock(e.st, chain.BlockInfo{ChainID: "other", Height: 2}, nil); err == nil {
		t.Fatal("block of another chain executed")
	}
}

func TestPrepareBlockDropsInvalid(t *testing.T) {
	keys := testKeys(t, 3)
	e := newEnv(t, keys, nil)
	c := e.codec
	a, b := keys[0], keys[1]
	e.run(mkTx(t, c, a, 0, minFee, kvm(c, "set", kvMsg{Key: "k", Value: "0"})))
	poor, _ := chain.PrivKeyFromSeed(bytes.Repeat([]byte{0xee}, chain.SeedLen))

	badSig := mkTx(t, c, b, 0, minFee, kvm(c, "set", kvMsg{Key: "sig", Value: "x"}))
	badSig.Tx.Sig = bytes.Clone(badSig.Tx.Sig)
	badSig.Tx.Sig[5] ^= 1

	cands := []*chain.DecodedTx{
		mkTx(t, c, a, 0, minFee, kvm(c, "set", kvMsg{Key: "replay", Value: "x"})), // drop: replay
		mkTx(t, c, a, 1, minFee, kvm(c, "set", kvMsg{Key: "a1", Value: "x"})),     // keep
		badSig, // drop
		mkTx(t, c, a, 3, minFee, kvm(c, "set", kvMsg{Key: "gap", Value: "x"})),                        // drop: gap
		mkTx(t, c, a, 2, minFee, kvm(c, "fail", kvMsg{Key: "f", Value: "x"})),                         // keep (failed msg)
		mkTx(t, c, poor, 0, minFee, kvm(c, "set", kvMsg{Key: "poor", Value: "x"})),                    // drop: no funds
		mkTx(t, c, b, 0, minFee, kvm(c, "set", kvMsg{Key: "b0", Value: "x"}), withChain("elsewhere")), // drop
		mkTx(t, c, b, 0, minFee, kvm(c, "set", kvMsg{Key: "b0", Value: "x"})),                         // keep
		mkTx(t, c, a, 3, minFee, kvm(c, "set", kvMsg{Key: "a3", Value: "x"})),                         // keep: gap now filled
		mkTx(t, c, keys[2], 0, minFee, kvm(c, "set", kvMsg{Key: "over", Value: "x"})),                 // beyond maxTxs
	}
	included, out, err := e.ex.PrepareBlock(e.st, e.info(), cands, 4)
	if err != nil {
		t.Fatal(err)
	}
	want := []*chain.DecodedTx{cands[1], cands[4], cands[7], cands[8]}
	if len(included) != len(want) {
		t.Fatalf("included %d txs, want %d", len(included), len(want))
	}
	for i := range want {
		if included[i] != want[i] {
			t.Fatalf("included[%d] is not the expected tx", i)
		}
	}
	// Validators re-execute the proposed block and must agree.
	again, err := e.ex.ExecuteBlock(e.st, e.info(), included)
	if err != nil {
		t.Fatalf("prepared block is invalid: %v", err)
	}
	if again.StateRoot != out.StateRoot || again.ResultsRoot != out.ResultsRoot {
		t.Fatal("prepared and executed outcomes differ")
	}
	e.commit(out)
	if e.kvGet("a1") != "x" || e.kvGet("a3") != "x" || e.kvGet("replay") != "" || e.kvGet("over") != "" {
		t.Fatal("wrong writes after prepared block")
	}
}

func TestEndBlockValidatorUpdates(t *testing.T) {
	keys := testKeys(t, 3)
	e := newEnv(t, keys, nil)
	c := e.codec
	v1, v2 := keys[1].PubKey(), keys[2].PubKey()
	out := e.run(
		mkTx(t, c, keys[0], 0, minFee, kvm(c, "val", kvMsg{Val: v2, N: 5})),
		mkTx(t, c, keys[0], 1, minFee, kvm(c, "val", kvMsg{Val: v1, N: 0})),
	)
	want := []chain.ValidatorUpdate{{PubKey: v1, Power: 0}, {PubKey: v2, Power: 5}}
	if v1.String() > v2.String() {
		want[0], want[1] = want[1], want[0]
	}
	if fmt.Sprint(out.ValidatorUpdates) != fmt.Sprint(want) {
		t.Fatalf("updates %v, want %v (key order)", out.ValidatorUpdates, want)
	}
	if len(out.EndBlockEvents) != 1 || out.EndBlockEvents[0].Type != "validators" {
		t.Fatalf("end block events %+v", out.EndBlockEvents)
	}
	if next := e.run(); len(next.ValidatorUpdates) != 0 || len(next.Results) != 0 {
		t.Fatal("EndBlock repeated updates in the next block")
	}
}

// Two nodes with fresh databases, one trusting the mempool's verification
// and one not, must reach the same roots block after block.
func TestDeterministicAcrossNodes(t *testing.T) {
	keys := testKeys(t, 4)
	n1 := newEnv(t, keys, nil)
	n2 := newEnv(t, keys, func(chain.ID) bool { return true })
	c := n1.codec
	if _, r1 := n1.st.Head(); true {
		if _, r2 := n2.st.Head(); r1 != r2 {
			t.Fatal("genesis roots differ")
		}
	}
	send := func(to chain.PrivKey, amt uint64) []chain.Msg {
		return []chain.Msg{{Module: "bank", Type: "send", Body: body(c, sendMsg{To: to.PubKey().Address(), Amount: amt})}}
	}
	blocks := [][]*chain.DecodedTx{
		{mkTx(t, c, keys[0], 0, 15, send(keys[1], 100)), mkTx(t, c, keys[1], 0, 12, kvm(c, "set", kvMsg{Key: "x", Value: "1"}))},
		{mkTx(t, c, keys[2], 0, 11, kvm(c, "val", kvMsg{Val: keys[3].PubKey(), N: 9})), mkTx(t, c, keys[0], 1, 10, send(keys[2], startBal*2))},
		{},
		{mkTx(t, c, keys[3], 0, 10, kvm(c, "fail", kvMsg{Key: "y", Value: "2"})), mkTx(t, c, keys[1], 1, 10, send(keys[0], 5))},
	}
	for h, txs := range blocks {
		o1, o2 := n1.run(txs...), n2.run(txs...)
		if o1.StateRoot != o2.StateRoot || o1.ResultsRoot != o2.ResultsRoot ||
			fmt.Sprint(o1.ValidatorUpdates) != fmt.Sprint(o2.ValidatorUpdates) {
			t.Fatalf("block %d: nodes disagree", h+1)
		}
		if o1.ResultsRoot != chain.ResultsRoot(c, o1.Results) {
			t.Fatalf("block %d: results root mismatch", h+1)
		}
	}
	if got := n1.balance(keys[1]); got != startBal-12-10+100-5 {
		t.Fatalf("balance %d", got)
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	codec := chain.MustCodec()
	bk := &bank{key: chain.NewStoreKey("bank"), codec: codec}
	good := func() Config {
		return Config{Codec: codec, ChainID: testChain, Fees: bk, GasPerFeeUnit: 1,
			Modules: []ModuleEntry{{bk, bk.key}}}
	}
	authMod := &kv{key: chain.NewStoreKey("kv")}
	cases := []struct {
		name string
		mod  func(*Config)
	}{
		{"nil codec", func(c *Config) { c.Codec = nil }},
		{"no chain id", func(c *Config) { c.ChainID = "" }},
		{"no fees", func(c *Config) { c.Fees = nil }},
		{"zero gas per fee", func(c *Config) { c.GasPerFeeUnit = 0 }},
		{"duplicate module", func(c *Config) { c.Modules = append(c.Modules, c.Modules[0]) }},
		{"key name mismatch", func(c *Config) { c.Modules[0].Key = chain.NewStoreKey("other") }},
		{"nil key", func(c *Config) { c.Modules[0].Key = nil }},
		{"reserved name", func(c *Config) {
			c.Modules = append(c.Modules, ModuleEntry{renamed{authMod, "auth"}, chain.NewStoreKey("auth")})
		}},
	}
	if _, err := New(good()); err != nil {
		t.Fatalf("good config rejected: %v", err)
	}
	for _, tc := range cases {
		cfg := good()
		tc.mod(&cfg)
		if _, err := New(cfg); !errors.Is(err, ErrConfig) {
			t.Errorf("%s: got %v, want ErrConfig", tc.name, err)
		}
	}
}

type renamed struct {
	chain.Module
	name string
}

func (r renamed) Name() string { return r.name }

func TestGenesisRejectsUnknownSection(t *testing.T) {
	e := newEnv(t, testKeys(t, 1), nil)
	_, err := e.ex.InitGenesis(e.st, chain.BlockInfo{ChainID: testChain}, map[string]json.RawMessage{"bank": nil, "stakng": []byte(`{}`)})
	if err == nil || !strings.Contains(err.Error(), `"stakng"`) {
		t.Fatalf("got %v, want an error naming the unknown section", err)
	}
}

func TestNonceLayout(t *testing.T) {
	keys := testKeys(t, 1)
	e := newEnv(t, keys, nil)
	addr := keys[0].PubKey().Address()
	if n := e.nonce(keys[0]); n != 0 {
		t.Fatalf("fresh account nonce %d", n)
	}
	e.run(mkTx(t, e.codec, keys[0], 0, minFee, kvm(e.codec, "set", kvMsg{Key: "a", Value: "b"})))
	raw, err := e.reader().Get(append([]byte("auth/n/"), addr[:]...))
	if err != nil || !bytes.Equal(raw, []byte{0, 0, 0, 0, 0, 0, 0, 1}) {
		t.Fatalf("nonce record %x, %v: want 8-byte big-endian 1 under auth/n/<addr>", raw, err)
	}
	br := e.st.Branch()
	if err := br.Set(append([]byte("auth/n/"), addr[:]...), []byte{1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	if _, err := Nonce(br, addr); err == nil {
		t.Fatal("corrupt nonce record accepted")
	}
}

// Signatures of large blocks are checked in parallel batches; one bad
// signature must still be pinned to its own transaction.
func TestParallelSignatureCheck(t *testing.T) {
	const n, bad = 300, 217
	keys := testKeys(t, n)
	e := newEnv(t, keys, nil)
	c := e.codec
	txs := make([]*chain.DecodedTx, n)
	for i := range txs {
		txs[i] = mkTx(t, c, keys[i], 0, minFee, kvm(c, "set", kvMsg{Key: fmt.Sprint(i), Value: "v"}))
	}
	txs[bad].Tx.Sig = bytes.Clone(txs[bad].Tx.Sig)
	txs[bad].Tx.Sig[10] ^= 0x40

	_, err := e.ex.ExecuteBlock(e.st, e.info(), txs)
	if !errors.Is(err, chain.ErrBadSignature) || !strings.Contains(err.Error(), fmt.Sprintf("tx %d ", bad)) {
		t.Fatalf("got %v, want bad signature at tx %d", err, bad)
	}
	included, _, err := e.ex.PrepareBlock(e.st, e.info(), txs, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(included) != n-1 {
		t.Fatalf("included %d, want %d", len(included), n-1)
	}
	for _, tx := range included {
		if tx == txs[bad] {
			t.Fatal("bad signature included")
		}
	}
}

// Whatever bytes arrive as transactions, the proposer path never fails or
// panics: undecodable ones never reach it, decodable ones run or drop. All
// signatures count as verified so mutated bodies reach the modules.
func FuzzPrepareBlock(f *testing.F) {
	keys := testKeys(f, 2)
	e := newEnv(f, keys, func(chain.ID) bool { return true })
	c := e.codec
	f.Add(mkTx(f, c, keys[0], 0, minFee, kvm(c, "set", kvMsg{Key: "k", Value: "v"})).Raw)
	f.Add(mkTx(f, c, keys[1], 0, 1<<40, kvm(c, "burn", kvMsg{Key: "b", Value: "v", N: 50})).Raw)
	f.Add(mkTx(f, c, keys[0], 0, minFee, []chain.Msg{{Module: "bank", Type: "send", Body: []byte{0x82, 0x40, 0x01}}}).Raw)
	f.Fuzz(func(t *testing.T, raw []byte) {
		tx, err := chain.NewDecodedTx(c, raw)
		if err != nil {
			return
		}
		included, out, err := e.ex.PrepareBlock(e.st, e.info(), []*chain.DecodedTx{tx}, 1)
		if err != nil {
			t.Fatalf("prepare failed: %v", err)
		}
		if len(included) != len(out.Results) {
			t.Fatalf("%d included, %d results", len(included), len(out.Results))
		}
		if len(included) == 1 {
			if _, err := e.ex.ExecuteBlock(e.st, e.info(), included); err != nil {
				t.Fatalf("prepared block rejected: %v", err)
			}
		}
	})
}

// Gas is what the schedule in package chain says, byte for byte.
func TestGasSchedule(t *testing.T) {
	keys := testKeys(t, 1)
	e := newEnv(t, keys, nil)
	c := e.codec
	tx := mkTx(t, c, keys[0], 0, minFee, kvm(c, "set", kvMsg{Key: "abc", Value: "defgh"}))
	out := e.run(tx)
	want := uint64(chain.GasPerTx + chain.GasPerTxByte*len(tx.Raw) +
		chain.GasPerWrite + chain.GasPerWriteByte*(len("abc")+len("defgh")) +
		chain.GasPerEvent)
	if got := out.Results[0].GasUsed; got != want {
		t.Fatalf("gas used %d, want %d", got, want)
	}
}

// The executor finds the optional capabilities on the module values: block
// hooks run in module order, module accounts reach every context, and a
// module without ValidatorSetOwner cannot change the validator set.
func TestModuleCapabilities(t *testing.T) {
	codec := chain.MustCodec()
	keys := testKeys(t, 2)
	var order []string
	bk := &bank{key: chain.NewStoreKey("bank"), codec: codec}
	p1 := &probe{key: chain.NewStoreKey("p1"), acct: chain.Address{1}, order: &order, updateVal: keys[1].PubKey()}
	p2 := &probe{key: chain.NewStoreKey("p2"), acct: chain.Address{2}, order: &order, updateVal: keys[1].PubKey()}
	db, err := badger.OpenManaged(badger.DefaultOptions(t.TempDir()).WithLogger(nil))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	st, err := state.New(db, 0, chain.Hash{})
	if err != nil {
		t.Fatal(err)
	}
	ex, err := New(Config{Codec: codec, ChainID: testChain, Fees: bk, MinFee: minFee, GasPerFeeUnit: gasPerFee,
		Modules: []ModuleEntry{{bk, bk.key}, {p1, p1.key}, {p2, p2.key}}})
	if err != nil {
		t.Fatal(err)
	}
	out, err := ex.ExecuteBlock(st, chain.BlockInfo{ChainID: testChain, Height: 1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(order, ", "); got != "begin p1, begin p2, end p1, end p2" {
		t.Errorf("hook order: %s", got)
	}
	if !errors.Is(p1.beginErr, chain.ErrNoValidatorCapability) || !errors.Is(p1.beginErr, chain.ErrUnauthorized) {
		t.Errorf("UpdateValidator without the capability: %v", p1.beginErr)
	}
	if len(out.ValidatorUpdates) != 0 {
		t.Errorf("updates from modules without the capability reached consensus: %v", out.ValidatorUpdates)
	}
	if !p1.sawAcct || !p2.sawAcct {
		t.Errorf("module accounts not visible in contexts: %v %v", p1.sawAcct, p2.sawAcct)
	}

	a, b := &kv{key: chain.NewStoreKey("kv1")}, &kv{key: chain.NewStoreKey("kv2")}
	_, err = New(Config{Codec: codec, ChainID: testChain, Fees: bk, GasPerFeeUnit: 1,
		Modules: []ModuleEntry{{bk, bk.key}, {a, a.key}, {b, b.key}}})
	if !errors.Is(err, ErrConfig) {
		t.Errorf("two validator-set owners: New: %v, want ErrConfig", err)
	}
}

// The proposer's stop function ends the taking of candidates between
// checks (every stopEvery); the block is exactly what was executed, so a
// validator re-executing it agrees, and a stop that never fires changes
// nothing.
func TestPrepareBlockUntilStops(t *testing.T) {
	const n = 100
	keys := testKeys(t, n)
	tests := []struct {
		name   string
		stopAt int // the stop function's call number that returns true; 0 never
		want   int
	}{
		{"never", 0, n},
		{"first check", 1, stopEvery},
		{"second check", 2, 2 * stopEvery},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, keys, nil)
			c := e.codec
			txs := make([]*chain.DecodedTx, n)
			for i := range txs {
				txs[i] = mkTx(t, c, keys[i], 0, minFee, kvm(c, "set", kvMsg{Key: fmt.Sprint(i), Value: "v"}))
			}
			calls := 0
			stop := func() bool { calls++; return calls == tc.stopAt || tc.stopAt > 0 && calls > tc.stopAt }
			included, out, err := e.ex.PrepareBlockUntil(e.st, e.info(), txs, 0, stop)
			if err != nil {
				t.Fatal(err)
			}
			if len(included) != tc.want {
				t.Fatalf("included %d txs, want %d", len(included), tc.want)
			}
			for i, tx := range included {
				if tx != txs[i] {
					t.Fatalf("included[%d] is not candidate %d", i, i)
				}
			}
			again, err := e.ex.ExecuteBlock(e.st, e.info(), included)
			if err != nil {
				t.Fatalf("prepared block is invalid: %v", err)
			}
			if again.StateRoot != out.StateRoot || again.ResultsRoot != out.ResultsRoot {
				t.Fatal("prepared and executed outcomes differ")
			}
		})
	}
}
