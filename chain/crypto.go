package chain

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"

	"github.com/oasisprotocol/curve25519-voi/primitives/ed25519"
)

// PubKeyLen and SigLen are the ed25519 sizes.
const (
	PubKeyLen = 32
	SigLen    = 64
	SeedLen   = 32
)

// PubKey is an ed25519 public key.
type PubKey [PubKeyLen]byte

// Address returns the account address of the key.
func (p PubKey) Address() Address { return AddressOf(p) }

// String renders hex.
func (p PubKey) String() string { return hex.EncodeToString(p[:]) }

// MarshalText renders hex for JSON.
func (p PubKey) MarshalText() ([]byte, error) { return []byte(p.String()), nil }

// UnmarshalText parses hex.
func (p *PubKey) UnmarshalText(b []byte) error {
	if len(b) != 2*PubKeyLen {
		return fmt.Errorf("public key must be %d hex characters, got %d", 2*PubKeyLen, len(b))
	}
	_, err := hex.Decode(p[:], b)
	return err
}

// PrivKey is an ed25519 private key (seed followed by public key).
type PrivKey struct {
	key ed25519.PrivateKey
}

// GenerateKey makes a new key from r (crypto/rand when r is nil).
func GenerateKey(r io.Reader) (PrivKey, error) {
	if r == nil {
		r = rand.Reader
	}
	_, k, err := ed25519.GenerateKey(r)
	if err != nil {
		return PrivKey{}, fmt.Errorf("generate ed25519 key: %w", err)
	}
	return PrivKey{key: k}, nil
}

// PrivKeyFromSeed rebuilds a key from its 32-byte seed.
func PrivKeyFromSeed(seed []byte) (PrivKey, error) {
	if len(seed) != SeedLen {
		return PrivKey{}, fmt.Errorf("ed25519 seed must be %d bytes, got %d", SeedLen, len(seed))
	}
	return PrivKey{key: ed25519.NewKeyFromSeed(seed)}, nil
}

// Seed returns the 32-byte seed (the secret to store).
func (k PrivKey) Seed() []byte { return k.key.Seed() }

// PubKey returns the public half.
func (k PrivKey) PubKey() PubKey {
	var p PubKey
	copy(p[:], k.key[SeedLen:])
	return p
}

// IsZero reports whether the key is unset.
func (k PrivKey) IsZero() bool { return len(k.key) == 0 }

// Sign signs msg.
func (k PrivKey) Sign(msg []byte) []byte { return ed25519.Sign(k.key, msg) }

// zip215 is the verification rule for every signature on the chain, single
// or batched, so the two paths can never disagree.
var zip215 = &ed25519.Options{Verify: ed25519.VerifyOptionsZIP_215}

// VerifySig checks an ed25519 signature under ZIP-215 rules.
func VerifySig(pub PubKey, msg, sig []byte) bool {
	if len(sig) != SigLen {
		return false
	}
	return ed25519.VerifyWithOptions(ed25519.PublicKey(pub[:]), msg, sig, zip215)
}

// SigItem is one signature to check in a batch.
type SigItem struct {
	PubKey PubKey
	Msg    []byte
	Sig    []byte
}

// VerifyBatch checks many signatures at once under the same ZIP-215 rules as
// VerifySig and returns, for each item, whether it is valid. With all
// signatures valid (the common case) this is about twice as fast as one by one.
func VerifyBatch(items []SigItem) (allValid bool, valid []bool) {
	if len(items) == 0 {
		return true, nil
	}
	bv := ed25519.NewBatchVerifierWithCapacity(len(items))
	for _, it := range items {
		bv.AddWithOptions(ed25519.PublicKey(it.PubKey[:]), it.Msg, it.Sig, zip215)
	}
	return bv.Verify(rand.Reader)
}
