package mempool

import "github.com/dure-network/dure/chain"

type seenStatus uint8

const (
	seenNone      seenStatus = iota
	seenVerified             // signature checked here and valid
	seenBadSig               // signature checked here and invalid
	seenCommitted            // committed in a block; never verified here
)

// seenCache remembers the last n tx IDs and what became of them, so a tx
// gossiped by many peers is decoded and verified once. FIFO eviction over
// a ring; not safe for concurrent use (the mempool lock guards it).
type seenCache struct {
	m    map[chain.ID]seenStatus
	ring []chain.ID
	pos  int
}

func newSeenCache(n int) *seenCache {
	return &seenCache{m: make(map[chain.ID]seenStatus, n), ring: make([]chain.ID, n)}
}

func (c *seenCache) get(id chain.ID) seenStatus { return c.m[id] }

func (c *seenCache) put(id chain.ID, st seenStatus) {
	if _, ok := c.m[id]; ok {
		c.m[id] = st
		return
	}
	if old := c.ring[c.pos]; old != "" {
		delete(c.m, old)
	}
	c.ring[c.pos] = id
	c.pos = (c.pos + 1) % len(c.ring)
	c.m[id] = st
}
