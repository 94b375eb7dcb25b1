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
	return a.funds.FeeFunds(&admitReader{r: r.n.state.Reader(h), prefix: a.feeName + "/"}, addr)
}

// admitReader is the fee module's view of committed state for admission:
// its keys under prefix, nothing recorded (prefixReader records every key
// read for a proof; admission proves nothing). The key buffer is reused
// across reads: KVReader.Get does not keep its key.
type admitReader struct {
	r      chain.KVReader
	prefix string
	buf    []byte
}

func (p *admitReader) full(k []byte) []byte {
	p.buf = append(append(p.buf[:0], p.prefix...), k...)
	return p.buf
}

func (p *admitReader) Get(k []byte) ([]byte, error) { return p.r.Get(p.full(k)) }

func (p *admitReader) Iterate(prefix []byte, fn func(k, v []byte) (bool, error)) error {
	n := len(p.prefix)
	return p.r.Iterate(append([]byte(p.prefix), prefix...), func(k, v []byte) (bool, error) { return fn(k[n:], v) })
}
