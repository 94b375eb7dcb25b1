package chain

import (
	"crypto/rand"
	"sync"

	"github.com/oasisprotocol/curve25519-voi/primitives/ed25519"
)

// DefaultKeyCacheSize is the number of expanded public keys a KeyCache
// keeps by default: each is about 1.5 KiB, so 8,192 keys hold ≈ 12 MiB.
const DefaultKeyCacheSize = 8192

// KeyCache keeps ed25519 public keys in voi's expanded form (the point
// decompressed and its multiplication table built), so a sender's key is
// decompressed once rather than for every one of its signatures. It is
// bounded: two generations of at most size/2 keys each; when the current
// one fills, the older is dropped and a key used since is carried over on
// its next lookup. A key that does not decode as a point is not cached
// (the verifier then rejects its signatures exactly as without a cache).
//
// The cache only changes speed, never a decision: an expanded key carries
// the same validity, small-order and canonicity facts the verifier would
// compute from the 32 bytes, and the same ZIP-215 options apply. It is safe
// for concurrent use; the owner (the mempool, the node) passes it in
// explicitly. A nil *KeyCache is valid and caches nothing.
type KeyCache struct {
	mu       sync.Mutex
	half     int
	cur, old map[PubKey]*ed25519.ExpandedPublicKey
}

// NewKeyCache makes a cache of at most size keys (DefaultKeyCacheSize when
// size <= 0).
func NewKeyCache(size int) *KeyCache {
	if size <= 0 {
		size = DefaultKeyCacheSize
	}
	half := max(1, size/2)
	return &KeyCache{half: half, cur: make(map[PubKey]*ed25519.ExpandedPublicKey, half)}
}

// Len is the number of keys held.
func (kc *KeyCache) Len() int {
	if kc == nil {
		return 0
	}
	kc.mu.Lock()
	defer kc.mu.Unlock()
	return len(kc.cur) + len(kc.old)
}

// expanded returns pub's expanded form, or nil when pub is not a valid
// point encoding (or kc is nil and no expansion is wanted).
func (kc *KeyCache) expanded(pub PubKey) *ed25519.ExpandedPublicKey {
	kc.mu.Lock()
	if x, ok := kc.cur[pub]; ok {
		kc.mu.Unlock()
		return x
	}
	x, ok := kc.old[pub]
	kc.mu.Unlock()
	if !ok {
		var err error
		if x, err = ed25519.NewExpandedPublicKey(ed25519.PublicKey(pub[:])); err != nil {
			return nil
		}
	}
	kc.mu.Lock()
	if len(kc.cur) >= kc.half {
		kc.old, kc.cur = kc.cur, make(map[PubKey]*ed25519.ExpandedPublicKey, kc.half)
	}
	kc.cur[pub] = x
	kc.mu.Unlock()
	return x
}

// VerifySigCached is VerifySig with pub's expanded form taken from (or put
// in) kc. The decision is VerifySig's.
func VerifySigCached(kc *KeyCache, pub PubKey, msg, sig []byte) bool {
	if kc == nil {
		return VerifySig(pub, msg, sig)
	}
	if len(sig) != SigLen {
		return false
	}
	x := kc.expanded(pub)
	if x == nil {
		return VerifySig(pub, msg, sig) // not a point: rejected as without the cache
	}
	return ed25519.VerifyExpandedWithOptions(x, msg, sig, zip215)
}

// VerifyBatchCached is VerifyBatch with each key's expanded form taken from
// (or put in) kc. The decisions are VerifyBatch's.
func VerifyBatchCached(kc *KeyCache, items []SigItem) (allValid bool, valid []bool) {
	if kc == nil {
		return VerifyBatch(items)
	}
	if len(items) == 0 {
		return true, nil
	}
	bv := ed25519.NewBatchVerifierWithCapacity(len(items))
	for _, it := range items {
		if x := kc.expanded(it.PubKey); x != nil {
			bv.AddExpandedWithOptions(x, it.Msg, it.Sig, zip215)
		} else {
			bv.AddWithOptions(ed25519.PublicKey(it.PubKey[:]), it.Msg, it.Sig, zip215)
		}
	}
	return bv.Verify(rand.Reader)
}
