package node

import (
	"errors"
	"testing"
	"time"

	"github.com/dure-network/dure/apps/currency"
	"github.com/dure-network/dure/chain"
	"github.com/dure-network/dure/chain/execution"
	"github.com/dure-network/dure/chain/mempool"
	"github.com/dure-network/dure/chain/state"
)

// branchNonces is the mempool's account state over a chain's committed
// state, nonces and fee balances read as the node reads them (AddBatch
// reads it from one goroutine).
type branchNonces struct {
	st  *state.State
	app *app
}

func (b branchNonces) NextNonce(a chain.Address) (uint64, error) {
	return execution.Nonce(b.st.Branch(), a)
}

func (b branchNonces) FeeBalance(a chain.Address) (uint64, error) {
	return b.app.funds.FeeFunds(&admitReader{r: b.st.Branch(), prefix: b.app.feeName + "/"}, a)
}

// TestMempoolVerifiedMatchesExecutor: the executor skips the signature
// check of a tx the mempool verified (Config.Verified), and the mempool
// verifies over sign bytes cut from the raw tx (chain.SignBytesOf), not
// re-encoded. So whatever shape of tx a peer or client sends, a proposer
// whose mempool admitted it and a validator that never saw it must agree.
// Hostile but decodable txs (message bodies the tx's canonical check
// passes verbatim: non-minimal integers, a map, non-ASCII text, a huge
// nonce and fee) go through AddBatch on real Badger with real
// signatures; the proposer's PrepareBlock (with the mempool's verdicts)
// and a validator's ExecuteBlock (verifying everything itself) must give
// the same roots and results, a forged signature must be refused by both.
func TestMempoolVerifiedMatchesExecutor(t *testing.T) {
	const chainID = "admit-1"
	c := chain.MustCodec()
	vkey := goldenKey(t, 0xab, 0)
	keys := make([]chain.PrivKey, 8)
	accts := make([]GenesisAccount, len(keys))
	for i := range keys {
		keys[i] = goldenKey(t, 0x05, i)
		accts[i] = GenesisAccount{Addr: keys[i].PubKey().Address(), Amount: 1_000_000}
	}
	gen, err := BuildGenesis(chainID, time.Unix(1_700_000_000, 0), []GenesisValidator{{PubKey: vkey.PubKey(), Stake: DefaultValidatorStake}}, accts)
	if err != nil {
		t.Fatal(err)
	}
	var pool *mempool.Mempool
	proposer := newGoldenChain(t, c, chainID, gen, func(id chain.ID) bool { return pool.Verified(id) })
	validator := newGoldenChain(t, c, chainID, gen, nil)
	a, err := newApp(c)
	if err != nil {
		t.Fatal(err)
	}
	if a.funds == nil {
		t.Fatal("the app has no fee funds capability")
	}
	pool = mempool.New(mempool.Config{Codec: c, ChainID: chainID, MinFee: gen.Params.MinFee}, branchNonces{proposer.st, a})

	to := keys[7].PubKey().Address()
	canon, err := currency.MsgSend(c, to, NativeDenom, 5)
	if err != nil {
		t.Fatal(err)
	}
	body := func(b ...byte) chain.Msg { return chain.Msg{Module: "currency", Type: "send", Body: b} }
	addr := append([]byte{0x54}, to[:]...)
	nonMinimal := body(append(append([]byte{0x83}, addr...), 0x64, 'd', 'u', 'r', 'e', 0x18, 0x05)...) // amount 5 as 0x18 0x05
	asMap := body(0xa1, 0x61, 'a', 0x01)
	cafe, err := currency.MsgPay(c, to, NativeDenom, 1, "caf\u00e9")
	if err != nil {
		t.Fatal(err)
	}
	type txCase struct {
		key      int
		nonce    uint64
		fee      uint64
		msgs     []chain.Msg
		forged   bool
		admitted bool
	}
	cases := []txCase{
		{key: 0, fee: 10, msgs: []chain.Msg{canon}, admitted: true},
		{key: 1, fee: 10, msgs: []chain.Msg{nonMinimal}, admitted: true},
		{key: 2, fee: 10, msgs: []chain.Msg{asMap}, admitted: true},
		{key: 3, fee: 10, msgs: []chain.Msg{cafe}, admitted: true},
		{key: 4, fee: 10, msgs: []chain.Msg{canon, nonMinimal, canon}, admitted: true},
		{key: 5, fee: 1 << 40, msgs: []chain.Msg{canon}}, // fee over the balance: refused
		{key: 6, fee: 10, msgs: []chain.Msg{canon}, forged: true},
		{key: 0, nonce: 1, fee: 1<<32 + 7, msgs: []chain.Msg{canon}}, // same sender, fee over the balance
		{key: 0, nonce: 1, fee: 300, msgs: []chain.Msg{canon}, admitted: true},
	}
	raws := make([][]byte, len(cases))
	var cands []*chain.DecodedTx
	for i, tc := range cases {
		tx := chain.Tx{ChainID: chainID, Nonce: tc.nonce, MaxFee: tc.fee, Msgs: tc.msgs}
		raw, err := tx.Sign(c, keys[tc.key])
		if err != nil {
			t.Fatalf("case %d: sign: %v", i, err)
		}
		if tc.forged {
			d, err := chain.DecodeTx(c, raw)
			if err != nil {
				t.Fatal(err)
			}
			d.Sig[5] ^= 0x40
			if raw, err = c.Marshal(d); err != nil {
				t.Fatal(err)
			}
		}
		raws[i] = raw
		d, err := chain.NewDecodedTx(c, raw)
		if err != nil {
			t.Fatalf("case %d: the tx does not decode: %v", i, err)
		}
		cands = append(cands, d)
	}
	_, errs := pool.AddBatch(raws)
	for i, tc := range cases {
		if got := errs[i] == nil; got != tc.admitted {
			t.Errorf("case %d: admitted %v (%v), want %v", i, got, errs[i], tc.admitted)
		}
		if tc.forged && !errors.Is(errs[i], chain.ErrBadSignature) {
			t.Errorf("case %d: forged signature answered %v", i, errs[i])
		}
		if pool.Verified(cands[i].ID) != tc.admitted {
			t.Errorf("case %d: mempool Verified %v, admitted %v", i, pool.Verified(cands[i].ID), tc.admitted)
		}
	}

	info := chain.BlockInfo{ChainID: chainID, Height: 1, Time: chain.TimeOf(gen.GenesisTime.Add(time.Second)),
		Proposer: vkey.PubKey().Address(), LastCommitSigners: []chain.Address{vkey.PubKey().Address()}}
	included, out, err := proposer.ex.PrepareBlock(proposer.st, info, cands, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, tx := range included {
		if tx == cands[6] {
			t.Fatal("the forged tx was included")
		}
	}
	vout, err := validator.ex.ExecuteBlock(validator.st, info, included)
	if err != nil {
		t.Fatalf("the validator refuses the proposer's block: %v", err)
	}
	if vout.StateRoot != out.StateRoot || vout.ResultsRoot != out.ResultsRoot {
		t.Fatalf("roots: proposer %s %s, validator %s %s", out.StateRoot, out.ResultsRoot, vout.StateRoot, vout.ResultsRoot)
	}
	codes := map[*chain.DecodedTx]uint32{}
	for i := range out.Results {
		r, v := out.Results[i], vout.Results[i]
		if r.Code != v.Code || r.Log != v.Log || r.GasUsed != v.GasUsed {
			t.Errorf("tx %d: proposer %+v, validator %+v", i, r, v)
		}
		codes[included[i]] = r.Code
	}
	// What a sender sees: the canonical transfers and the non-ASCII
	// payment's body decode (the payment then fails on its merchant), the
	// non-canonical bodies are refused as invalid messages with the fee
	// paid.
	for i, want := range map[int]bool{0: true, 1: false, 2: false, 4: false, 8: true} {
		code, ok := codes[cands[i]]
		if !ok {
			t.Errorf("case %d not included", i)
			continue
		}
		if (code == chain.CodeOK) != want {
			t.Errorf("case %d: code %d, want ok %v", i, code, want)
		}
	}
}
