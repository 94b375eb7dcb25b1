package node

import (
	"bytes"
	"sort"
	"sync"

	"github.com/dure-network/dure/chain"
)

// evidencePool holds verified evidence until a block includes it.
type evidencePool struct {
	mu   sync.Mutex
	byID map[chain.Hash]chain.Evidence
	done map[chain.Hash]uint64 // committed evidence → height, to drop repeats
}

const maxPendingEvidence = 1000

func newEvidencePool() *evidencePool {
	return &evidencePool{byID: map[chain.Hash]chain.Evidence{}, done: map[chain.Hash]uint64{}}
}

func evidenceKey(c *chain.Codec, ev chain.Evidence) chain.Hash {
	b, err := c.Marshal(ev)
	if err != nil {
		panic(err)
	}
	return chain.Sum256(b)
}

func (p *evidencePool) add(c *chain.Codec, ev chain.Evidence) {
	k := evidenceKey(c, ev)
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.done[k]; ok || len(p.byID) >= maxPendingEvidence {
		return
	}
	p.byID[k] = ev
}

// pending returns up to max items in a stable order.
func (p *evidencePool) pending(height uint64, max int) []chain.Evidence {
	p.mu.Lock()
	defer p.mu.Unlock()
	keys := make([]chain.Hash, 0, len(p.byID))
	for k, ev := range p.byID {
		if ev.VoteA.Height+maxEvidenceAge < height {
			delete(p.byID, k)
			continue
		}
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return bytes.Compare(keys[i][:], keys[j][:]) < 0 })
	if len(keys) > max {
		keys = keys[:max]
	}
	out := make([]chain.Evidence, len(keys))
	for i, k := range keys {
		out[i] = p.byID[k]
	}
	return out
}

func (p *evidencePool) committed(c *chain.Codec, evs []chain.Evidence, height uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, ev := range evs {
		k := evidenceKey(c, ev)
		delete(p.byID, k)
		p.done[k] = height
	}
	for k, h := range p.done {
		if h+maxEvidenceAge < height {
			delete(p.done, k)
		}
	}
}
