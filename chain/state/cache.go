package state

import "sync"

// nodeCache keeps recently used trie nodes by digest. A node's encoding is a
// pure function of its digest, so an entry is valid for every version and
// every staged candidate; only memory bounds it. Two generations give a
// cheap approximation of LRU: when the young map fills, it becomes the old
// one and the previous old one is dropped.
type nodeCache struct {
	mu    sync.Mutex
	max   int
	young map[digest][]byte
	old   map[digest][]byte
}

func newNodeCache(max int) *nodeCache {
	return &nodeCache{max: max, young: make(map[digest][]byte)}
}

func (c *nodeCache) get(dg digest) ([]byte, bool) {
	if c == nil {
		return nil, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if v, ok := c.young[dg]; ok {
		return v, true
	}
	if v, ok := c.old[dg]; ok {
		c.putLocked(dg, v)
		return v, true
	}
	return nil, false
}

func (c *nodeCache) put(dg digest, enc []byte) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.putLocked(dg, enc)
}

func (c *nodeCache) putLocked(dg digest, enc []byte) {
	if len(c.young) >= c.max {
		c.old, c.young = c.young, make(map[digest][]byte, c.max)
	}
	c.young[dg] = enc
}
