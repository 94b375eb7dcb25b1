package currency

import (
	"testing"

	"github.com/dure-network/dure/chain"
)

// mapReader is a fixed state for ledger reads.
type mapReader map[string][]byte

func (r mapReader) Get(k []byte) ([]byte, error) { return r[string(k)], nil }
func (r mapReader) Iterate([]byte, func(k, v []byte) (bool, error)) error {
	return nil
}

// TestRecordCacheIsExactAndPrivate: a cached record is used only for the
// same bytes, a changed record is decoded again, and editing a returned
// value does not reach the cache.
func TestRecordCacheIsExactAndPrivate(t *testing.T) {
	c := chain.MustCodec()
	m := New(chain.NewStoreKey(ModuleName), c, Params{})
	enc := func(v any) []byte {
		b, err := c.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	r := mapReader{string(keyCurrency("vv")): enc(Currency{Denom: "vv", Rules: Rules{Categories: []string{"food", "books"}}})}
	l := &ledger{m: m, r: r}
	first, err := l.currency("vv")
	if err != nil {
		t.Fatal(err)
	}
	first.Rules.Categories[0] = "edited"
	first.Decimals = 9
	again, err := l.currency("vv")
	if err != nil || again.Rules.Categories[0] != "food" || again.Decimals != 0 {
		t.Fatalf("cached currency changed by a caller: %+v %v", again, err)
	}
	r[string(keyCurrency("vv"))] = enc(Currency{Denom: "vv", Decimals: 2, Rules: Rules{Categories: []string{"toys"}}})
	if got, err := l.currency("vv"); err != nil || got.Decimals != 2 || got.Rules.Categories[0] != "toys" {
		t.Fatalf("changed record not decoded again: %+v %v", got, err)
	}

	var a chain.Address
	a[0] = 7
	mk := keyMerchant("vv", a)
	r[string(mk)] = enc(Merchant{Categories: []string{"food"}})
	mr, err := l.merchant("vv", a)
	if err != nil || mr == nil || mr.Suspended {
		t.Fatalf("merchant: %+v %v", mr, err)
	}
	mr.Categories[0] = "edited"
	r[string(mk)] = enc(Merchant{Categories: []string{"food"}, Suspended: true})
	if mr, err = l.merchant("vv", a); err != nil || !mr.Suspended || mr.Categories[0] != "food" {
		t.Fatalf("merchant after suspension: %+v %v", mr, err)
	}
	delete(r, string(mk))
	if mr, err = l.merchant("vv", a); err != nil || mr != nil {
		t.Fatalf("removed merchant: %+v %v", mr, err)
	}
	r[string(mk)] = []byte{0xff}
	if _, err := l.merchant("vv", a); err == nil {
		t.Fatal("corrupt merchant record decoded")
	}
}
