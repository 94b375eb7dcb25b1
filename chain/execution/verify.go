package execution

import (
	"runtime"
	"sync"

	"github.com/dure-network/dure/chain"
)

// minChunk is the smallest batch worth a goroutine of its own: below it
// the batch verifier's fixed cost dominates.
const minChunk = 64

// verifySignatures reports, per transaction, whether its signature is
// valid (or already verified by the mempool). It is the only concurrent
// stage of execution: each worker batch-verifies a contiguous chunk and
// writes only its own slots, and the outcome does not depend on scheduling.
func (e *Executor) verifySignatures(txs []*chain.DecodedTx) []bool {
	ok := make([]bool, len(txs))
	var todo []int
	for i, tx := range txs {
		switch {
		case tx == nil || tx.Tx == nil:
		case e.cfg.Verified != nil && e.cfg.Verified(tx.ID):
			ok[i] = true
		default:
			todo = append(todo, i)
		}
	}
	if len(todo) == 0 {
		return ok
	}
	workers := runtime.GOMAXPROCS(0)
	if n := (len(todo) + minChunk - 1) / minChunk; n < workers {
		workers = n
	}
	size := (len(todo) + workers - 1) / workers
	var wg sync.WaitGroup
	for start := 0; start < len(todo); start += size {
		chunk := todo[start:min(start+size, len(todo))]
		wg.Add(1)
		go func() {
			defer wg.Done()
			e.verifyChunk(txs, chunk, ok)
		}()
	}
	wg.Wait()
	return ok
}

func (e *Executor) verifyChunk(txs []*chain.DecodedTx, idx []int, ok []bool) {
	items := make([]chain.SigItem, 0, len(idx))
	pos := make([]int, 0, len(idx))
	for _, i := range idx {
		tx := txs[i].Tx
		sb, err := tx.SignBytes(e.cfg.Codec)
		if err != nil || len(tx.Sig) != chain.SigLen {
			continue // stays false
		}
		items = append(items, chain.SigItem{PubKey: tx.PubKey, Msg: sb, Sig: tx.Sig})
		pos = append(pos, i)
	}
	all, valid := chain.VerifyBatch(items)
	for k, i := range pos {
		ok[i] = all || (k < len(valid) && valid[k])
	}
}
