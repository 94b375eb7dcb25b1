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
