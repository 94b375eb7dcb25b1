package chain

import (
	"bytes"
	"fmt"
	"math/big"
	"testing"

	"github.com/oasisprotocol/curve25519-voi/primitives/ed25519"
)

// edL is the order of the ed25519 base point.
var edL, _ = new(big.Int).SetString("7237005577332262213973186563042994240857116359379907606001950938285454250989", 10)

// malleateS returns sig with S replaced by S + L (same point equation,
// non-canonical scalar): every ed25519 rule, ZIP-215 included, rejects it.
func malleateS(sig []byte) []byte {
	le := func(b []byte) []byte {
		r := make([]byte, len(b))
		for i := range b {
			r[i] = b[len(b)-1-i]
		}
		return r
	}
	s := new(big.Int).SetBytes(le(sig[32:]))
	s.Add(s, edL)
	out := append([]byte(nil), sig[:32]...)
	sb := s.FillBytes(make([]byte, 32))
	return append(out, le(sb)...)
}

// sigCases is a mix a hostile peer could send: valid signatures, bad
// signatures, wrong keys, truncated signatures, malleated S, keys that are
// not points, small-order and non-canonical points (valid under ZIP-215
// with the identity as R and S = 0).
func sigCases(t *testing.T) []SigItem {
	t.Helper()
	var keys []PrivKey
	for i := range 6 {
		k, err := PrivKeyFromSeed(bytes.Repeat([]byte{byte(i + 1)}, SeedLen))
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k)
	}
	var notPoint PubKey
	for i := 2; ; i++ {
		notPoint[0] = byte(i)
		if _, err := ed25519.NewExpandedPublicKey(notPoint[:]); err != nil {
			break
		}
	}
	identity := PubKey{1}
	var nonCanonIdentity PubKey // y = p + 1 ≡ 1
	copy(nonCanonIdentity[:], append([]byte{0xee}, bytes.Repeat([]byte{0xff}, 31)...))
	nonCanonIdentity[31] = 0x7f
	var order2 PubKey // y = -1: the point of order 2
	copy(order2[:], append([]byte{0xec}, bytes.Repeat([]byte{0xff}, 31)...))
	order2[31] = 0x7f
	zeroS := func(r PubKey) []byte { return append(append([]byte(nil), r[:]...), make([]byte, 32)...) }

	var items []SigItem
	for i := range 40 {
		k := keys[i%len(keys)]
		msg := fmt.Appendf(nil, "transfer %d", i)
		sig := k.Sign(msg)
		it := SigItem{PubKey: k.PubKey(), Msg: msg, Sig: sig}
		switch i % 10 {
		case 1: // bad signature
			it.Sig = append([]byte(nil), sig...)
			it.Sig[5] ^= 1
		case 2: // wrong key
			it.PubKey = keys[(i+1)%len(keys)].PubKey()
		case 3: // wrong message
			it.Msg = append(it.Msg, '!')
		case 4: // malleated S
			it.Sig = malleateS(sig)
		case 5: // truncated
			it.Sig = sig[:63]
		case 6: // key not a point
			it.PubKey = notPoint
		case 7: // small-order key, identity R, S = 0: valid under ZIP-215
			it.PubKey, it.Sig = []PubKey{identity, order2}[i%2], zeroS(identity)
		case 8: // non-canonical key and R
			it.PubKey, it.Sig = nonCanonIdentity, zeroS(nonCanonIdentity)
		}
		items = append(items, it)
	}
	return items
}

// TestKeyCacheSameDecisions: with the cache (cold, then warm, then after
// eviction) every signature gets exactly the decision it gets without,
// single and batched, in batches below and above voi's precomputation
// threshold, and a batch's all-valid flag is the same.
func TestKeyCacheSameDecisions(t *testing.T) {
	items := sigCases(t)
	var wantValid, sawWeird int
	for i, it := range items {
		if VerifySig(it.PubKey, it.Msg, it.Sig) {
			wantValid++
			if i%10 >= 7 {
				sawWeird++
			}
		}
	}
	if wantValid == 0 || wantValid == len(items) || sawWeird == 0 {
		t.Fatalf("the mix must hold valid, invalid and small-order valid signatures: %d valid, %d small-order", wantValid, sawWeird)
	}
	if VerifySig(items[4].PubKey, items[4].Msg, items[4].Sig) {
		t.Fatal("a malleated S verified")
	}
	// Big batches (voi's Pippenger path) from repeated items.
	var big []SigItem
	for len(big) < 200 {
		big = append(big, items...)
	}
	allGood := make([]SigItem, 0, 120)
	for _, it := range big {
		if VerifySig(it.PubKey, it.Msg, it.Sig) {
			allGood = append(allGood, it)
		}
	}
	for _, size := range []int{2, 0} { // 0: default size; 2: evicts all the time
		kc := NewKeyCache(size)
		for round := range 3 {
			for i, it := range items {
				if got, want := VerifySigCached(kc, it.PubKey, it.Msg, it.Sig), VerifySig(it.PubKey, it.Msg, it.Sig); got != want {
					t.Fatalf("size %d round %d item %d: cached %v, plain %v", size, round, i, got, want)
				}
			}
			for _, batch := range [][]SigItem{items[:10], items, big, allGood, allGood[:20], items[7:9]} {
				wantAll, wantV := VerifyBatch(batch)
				gotAll, gotV := VerifyBatchCached(kc, batch)
				if gotAll != wantAll {
					t.Fatalf("size %d round %d batch of %d: all %v, plain %v", size, round, len(batch), gotAll, wantAll)
				}
				for i := range batch {
					want := wantAll || wantV[i]
					if got := gotAll || gotV[i]; got != want || want != VerifySig(batch[i].PubKey, batch[i].Msg, batch[i].Sig) {
						t.Fatalf("size %d round %d batch of %d item %d: cached %v, plain %v", size, round, len(batch), i, got, want)
					}
				}
			}
		}
		if n := kc.Len(); n == 0 || n > max(size, 2) && size != 0 {
			t.Fatalf("size %d: cache holds %d keys", size, n)
		}
	}
	if ok, _ := VerifyBatchCached(NewKeyCache(0), allGood); !ok {
		t.Fatal("a batch of valid signatures failed with the cache")
	}
}

// TestKeyCacheBounded: the cache never holds more keys than its size, and
// a key it dropped is expanded again (still verifying).
func TestKeyCacheBounded(t *testing.T) {
	kc := NewKeyCache(10)
	for i := range 100 {
		k, _ := PrivKeyFromSeed(bytes.Repeat([]byte{byte(i)}, SeedLen))
		msg := []byte{byte(i)}
		if !VerifySigCached(kc, k.PubKey(), msg, k.Sign(msg)) {
			t.Fatalf("key %d: valid signature refused", i)
		}
		if n := kc.Len(); n > 10 {
			t.Fatalf("after %d keys the cache holds %d, bound 10", i+1, n)
		}
	}
	var nilCache *KeyCache
	k, _ := PrivKeyFromSeed(bytes.Repeat([]byte{1}, SeedLen))
	if !VerifySigCached(nilCache, k.PubKey(), []byte("m"), k.Sign([]byte("m"))) || nilCache.Len() != 0 {
		t.Fatal("a nil cache must verify as VerifySig and hold nothing")
	}
}
