package blockexec

import (
	"bytes"
	"sort"
	"sync"

	"github.com/dure-network/dure/chain"
)

// EvidencePool holds verified evidence until a block includes it. It is
// safe for concurrent use.
type EvidencePool struct {
	mu   sync.Mutex
	byID map[chain.Hash]chain.Evidence
	done map[chain.Hash]uint64 // committed evidence → height, to drop repeats
}

const maxPendingEvidence = 1000

// NewEvidencePool makes an empty pool.
func NewEvidencePool() *EvidencePool {
	return &EvidencePool{byID: map[chain.Hash]chain.Evidence{}, done: map[chain.Hash]uint64{}}
}

// EvidenceKey identifies a piece of evidence by its encoding.
func EvidenceKey(c *chain.Codec, ev chain.Evidence) chain.Hash {
	b, err := c.Marshal(ev)
	if err != nil {
		panic(err)
	}
	return chain.Sum256(b)
}

// Add keeps verified evidence until a block includes it (or it ages out).
func (p *EvidencePool) Add(c *chain.Codec, ev chain.Evidence) {
	k := EvidenceKey(c, ev)
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.done[k]; ok || len(p.byID) >= maxPendingEvidence {
		return
	}
	p.byID[k] = ev
}

// Pending returns up to max items still in range at height, in a stable
// order.
func (p *EvidencePool) Pending(height uint64, max int) []chain.Evidence {
	p.mu.Lock()
	defer p.mu.Unlock()
	keys := make([]chain.Hash, 0, len(p.byID))
	for k, ev := range p.byID {
		if ev.VoteA.Height+MaxEvidenceAge < height {
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

// Committed drops evidence a block at height included, and remembers it
// so it is not taken again.
func (p *EvidencePool) Committed(c *chain.Codec, evs []chain.Evidence, height uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, ev := range evs {
		k := EvidenceKey(c, ev)
		delete(p.byID, k)
		p.done[k] = height
	}
	for k, h := range p.done {
		if h+MaxEvidenceAge < height {
			delete(p.done, k)
		}
	}
}
