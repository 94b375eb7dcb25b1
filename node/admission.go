package node

import (
	"fmt"

	"github.com/dure-network/dure/apps/currency"
	"github.com/dure-network/dure/chain"
)

// FeeBalance is addr's committed balance of the fee (native) denom at the
// head, for the mempool's admission check (mempool.FeeFunds): the whole
// MaxFee is charged, so a tx offering more than this can never be included.
// It reads the stored balance; expiry or demurrage due but not yet applied
// only lower what the account can pay, so nothing payable is refused.
func (r nonceReader) FeeBalance(addr chain.Address) (uint64, error) {
	h, _ := r.n.state.Head()
	pr := &prefixReader{r: r.n.state.Reader(h), prefix: []byte(r.n.app.currency.Name() + "/")}
	nat, err := r.n.app.currency.Query(pr, "native", nil)
	if err != nil {
		return 0, fmt.Errorf("fee denom: %w", err)
	}
	denom, _ := nat.(map[string]string)["denom"]
	res, err := r.n.app.currency.Query(pr, "balance", map[string]string{"address": addr.String(), "denom": denom})
	if err != nil {
		return 0, fmt.Errorf("balance of %s in %s: %w", addr, denom, err)
	}
	b, ok := res.(currency.BalanceResult)
	if !ok {
		return 0, fmt.Errorf("balance of %s: unexpected answer %T", addr, res)
	}
	return uint64(b.Amount), nil
}
