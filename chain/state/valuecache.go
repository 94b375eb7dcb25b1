package state

import "sync"

// valueCacheSize bounds the flat value cache per generation (an entry
// costs about 150 bytes with a small value).
const valueCacheSize = 100_000

// valueCache keeps recently read or written committed values of the head
// version, so execution and queries at the head read state from memory
// instead of Badger's LSM. Entries are valid for one version only: a
// commit updates the keys it wrote and moves the cache to the new version
// under one lock, and a lookup for any other version misses. A nil value
// caches absence. Two generations approximate LRU, as in nodeCache.
type valueCache struct {
	mu      sync.RWMutex
	version uint64
	young   map[string][]byte
	old     map[string][]byte
}

func newValueCache(version uint64) *valueCache {
	return &valueCache{version: version, young: make(map[string][]byte)}
}

// get returns the value of k at version, if cached. The slice is shared:
// callers must not modify it.
func (c *valueCache) get(version uint64, k string) ([]byte, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if version != c.version {
		return nil, false
	}
	if v, ok := c.young[k]; ok {
		return v, true
	}
	v, ok := c.old[k]
	return v, ok
}

// put caches a value read from Badger at version (ignored if the head
// has moved on since).
func (c *valueCache) put(version uint64, k string, v []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if version == c.version {
		c.putLocked(k, v)
	}
}

func (c *valueCache) putLocked(k string, v []byte) {
	if len(c.young) >= valueCacheSize {
		c.old, c.young = c.young, make(map[string][]byte, valueCacheSize)
	}
	c.young[k] = v
}

// commit moves the cache from the version changes were staged on to
// version. If the cache was not at base (a gap), it starts empty.
func (c *valueCache) commit(base, version uint64, changes []change) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.version != base {
		c.young, c.old = make(map[string][]byte), nil
	}
	for _, ch := range changes {
		if _, ok := c.old[ch.key]; ok {
			delete(c.old, ch.key) // keep one copy, in young
		}
		c.putLocked(ch.key, ch.val)
	}
	c.version = version
}
