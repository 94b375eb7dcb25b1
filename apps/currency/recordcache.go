package currency

import (
	"bytes"
	"slices"
	"sync"
)

// recordCacheSize bounds the decoded records kept (currencies and
// merchants); a full cache starts over.
const recordCacheSize = 4096

// recordCache keeps the last decoded Currency and Merchant records by
// state key, each with the exact bytes it was decoded from. A lookup hits
// only when the bytes just read from state are equal to those, so a hit
// returns exactly what decoding them would: the state read (and its gas)
// still happens, only the CBOR decoding of an unchanged record is skipped.
// It is safe for concurrent use (queries run beside execution); a nil
// cache keeps nothing.
type recordCache struct {
	mu sync.Mutex
	m  map[string]cachedRecord
}

type cachedRecord struct {
	raw []byte
	cur *Currency // one of cur, mr
	mr  *Merchant
}

func (rc *recordCache) get(key, raw []byte) (cachedRecord, bool) {
	if rc == nil {
		return cachedRecord{}, false
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	r, ok := rc.m[string(key)]
	if !ok || !bytes.Equal(r.raw, raw) {
		return cachedRecord{}, false
	}
	return r, true
}

func (rc *recordCache) put(key []byte, r cachedRecord) {
	if rc == nil {
		return
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if rc.m == nil || len(rc.m) >= recordCacheSize {
		rc.m = make(map[string]cachedRecord)
	}
	r.raw = bytes.Clone(r.raw)
	rc.m[string(key)] = r
}

// copyCurrency and copyMerchant give callers values that share nothing
// with the cache.
func copyCurrency(c *Currency) Currency {
	out := *c
	out.Rules.Categories = slices.Clone(c.Rules.Categories)
	return out
}

func copyMerchant(m *Merchant) Merchant {
	out := *m
	out.Categories = slices.Clone(m.Categories)
	return out
}
