package node

import (
	"math"

	"github.com/dure-network/dure/chain"
)

// FeeBalance is what addr can pay in fees at the head, for the mempool's
// admission check (mempool.FeeFunds), from the fee module's chain.FeeFunds
// capability; without one nothing is refused for its fee.
func (r nonceReader) FeeBalance(addr chain.Address) (uint64, error) {
	a := r.n.app
	if a.funds == nil {
		return math.MaxUint64, nil
	}
	h, _ := r.n.state.Head()
	return a.funds.FeeFunds(&prefixReader{r: r.n.state.Reader(h), prefix: []byte(a.feeName + "/")}, addr)
}
