package mempool

import (
	"bytes"
	"sync"
	"testing"

	"github.com/dure-network/dure/chain"
)

const testChain = "mempool-test-1"

// accounts is an in-memory AccountState (the consumer-side interface; the
// node backs it with committed state).
type accounts struct {
	mu   sync.Mutex
	next map[chain.Address]uint64
}

func newAccounts() *accounts { return &accounts{next: map[chain.Address]uint64{}} }

func (a *accounts) NextNonce(addr chain.Address) (uint64, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.next[addr], nil
}

func (a *accounts) set(addr chain.Address, n uint64) {
	a.mu.Lock()
	a.next[addr] = n
	a.mu.Unlock()
}

func key(tb testing.TB, i int) chain.PrivKey {
	tb.Helper()
	seed := bytes.Repeat([]byte{byte(i), byte(i >> 8), 0x5e}, 11)[:32]
	k, err := chain.PrivKeyFromSeed(seed)
	if err != nil {
		tb.Fatal(err)
	}
	return k
}

type txOpt struct {
	chainID string
	fee     uint64
	pad     int
}

// signTx makes a real signed tx of about 250 bytes.
func signTx(tb testing.TB, c *chain.Codec, k chain.PrivKey, nonce uint64, o txOpt) []byte {
	tb.Helper()
	if o.chainID == "" {
		o.chainID = testChain
	}
	if o.fee == 0 {
		o.fee = 10
	}
	body, err := c.Marshal([]any{"dure1someone", nonce, bytes.Repeat([]byte{'p'}, 60+o.pad)})
	if err != nil {
		tb.Fatal(err)
	}
	tx := &chain.Tx{ChainID: o.chainID, Nonce: nonce, MaxFee: o.fee,
		Msgs: []chain.Msg{{Module: "currency", Type: "send", Body: body}}}
	raw, err := tx.Sign(c, k)
	if err != nil {
		tb.Fatal(err)
	}
	return raw
}

// corruptSig returns raw with a flipped signature bit, still canonical.
func corruptSig(tb testing.TB, c *chain.Codec, raw []byte) []byte {
	tb.Helper()
	tx, err := chain.DecodeTx(c, raw)
	if err != nil {
		tb.Fatal(err)
	}
	tx.Sig = append([]byte{}, tx.Sig...)
	tx.Sig[10] ^= 1
	out, err := c.Marshal(tx)
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

func newPool(cfg Config, acct AccountState) *Mempool {
	cfg.Codec = chain.MustCodec()
	cfg.ChainID = testChain
	return New(cfg, acct)
}
