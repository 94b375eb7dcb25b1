package mempool

import (
	"errors"
	"math"
	"testing"

	"github.com/dure-network/dure/chain"
)

// fundedAccounts adds fee-denom balances to accounts (FeeFunds).
type fundedAccounts struct {
	*accounts
	bal map[chain.Address]uint64
	err error
}

func (f *fundedAccounts) FeeBalance(a chain.Address) (uint64, error) { return f.bal[a], f.err }

// TestUnpayableFeeRefused: a tx whose max fee exceeds the sender's balance
// is refused at admission, by Add and by AddBatch (gossip), and takes no
// room in the pool; one the sender can pay is admitted.
func TestUnpayableFeeRefused(t *testing.T) {
	c := chain.MustCodec()
	alice := key(t, 1)
	acct := &fundedAccounts{accounts: newAccounts(), bal: map[chain.Address]uint64{alice.PubKey().Address(): 1000}}
	m := newPool(Config{}, acct)
	for _, fee := range []uint64{math.MaxUint64, 1001} {
		raw := signTx(t, c, alice, 0, txOpt{fee: fee})
		if _, err := m.Add(raw); !errors.Is(err, ErrFeeUnpayable) || !errors.Is(err, chain.ErrInsufficient) {
			t.Errorf("Add with max fee %d against a balance of 1000: %v, want ErrFeeUnpayable", fee, err)
		}
		if _, errs := m.AddBatch([][]byte{raw}); !errors.Is(errs[0], ErrFeeUnpayable) {
			t.Errorf("AddBatch with max fee %d: %v, want ErrFeeUnpayable", fee, errs[0])
		}
	}
	if n, _ := m.Size(); n != 0 {
		t.Fatalf("%d unpayable txs in the pool", n)
	}
	// A bad signature is reported as such, whatever the sender holds.
	bad := corruptSig(t, c, signTx(t, c, alice, 0, txOpt{fee: math.MaxUint64}))
	if _, err := m.Add(bad); !errors.Is(err, chain.ErrBadSignature) {
		t.Errorf("bad signature and unpayable fee: %v, want ErrBadSignature", err)
	}
	bad = corruptSig(t, c, signTx(t, c, alice, 0, txOpt{fee: math.MaxUint64, pad: 1}))
	if _, errs := m.AddBatch([][]byte{bad}); !errors.Is(errs[0], chain.ErrBadSignature) {
		t.Errorf("AddBatch, bad signature and unpayable fee: %v, want ErrBadSignature", errs[0])
	}
	// A max fee the balance covers is admitted.
	mustAdd(t, m, signTx(t, c, alice, 0, txOpt{fee: 1000}))
	acct.err = errors.New("disk on fire")
	if _, err := m.Add(signTx(t, c, alice, 1, txOpt{fee: 1})); !errors.Is(err, ErrAccountState) {
		t.Errorf("balance read failing: %v, want ErrAccountState", err)
	}
}

// countingFunds counts FeeBalance reads.
type countingFunds struct {
	*fundedAccounts
	reads map[chain.Address]int
}

func (f *countingFunds) FeeBalance(a chain.Address) (uint64, error) {
	f.reads[a]++
	return f.fundedAccounts.FeeBalance(a)
}

// TestAddBatchReadsEachBalanceOnce: a batch with several txs of one sender
// reads its balance once, and judges every one of its txs against it.
func TestAddBatchReadsEachBalanceOnce(t *testing.T) {
	c := chain.MustCodec()
	alice, bob := key(t, 1), key(t, 2)
	acct := &countingFunds{fundedAccounts: &fundedAccounts{accounts: newAccounts(),
		bal: map[chain.Address]uint64{alice.PubKey().Address(): 100, bob.PubKey().Address(): 5}}, reads: map[chain.Address]int{}}
	m := newPool(Config{}, acct)
	raws := [][]byte{signTx(t, c, alice, 0, txOpt{fee: 100}), signTx(t, c, bob, 0, txOpt{fee: 10}),
		signTx(t, c, alice, 1, txOpt{fee: 101}), signTx(t, c, alice, 2, txOpt{fee: 50})}
	_, errs := m.AddBatch(raws)
	if errs[0] != nil || !errors.Is(errs[1], ErrFeeUnpayable) || !errors.Is(errs[2], ErrFeeUnpayable) || errs[3] != nil {
		t.Fatalf("errors %v", errs)
	}
	if r := acct.reads[alice.PubKey().Address()]; r != 1 {
		t.Errorf("alice's balance read %d times in one batch, want 1", r)
	}
	if n, _ := m.Size(); n != 2 {
		t.Errorf("%d txs pending, want 2", n)
	}
}
