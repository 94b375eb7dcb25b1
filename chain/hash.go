package chain

import (
	"crypto/sha256"
	"encoding/hex"
)

// Hash is a sha2-256 digest.
type Hash [32]byte

// Sum256 hashes data with sha2-256.
func Sum256(data []byte) Hash { return sha256.Sum256(data) }

// String renders the hash in hex.
func (h Hash) String() string { return hex.EncodeToString(h[:]) }

// IsZero reports whether h is all zeroes.
func (h Hash) IsZero() bool { return h == Hash{} }

// MarshalText renders hex for JSON.
func (h Hash) MarshalText() ([]byte, error) { return []byte(h.String()), nil }

// UnmarshalText parses hex.
func (h *Hash) UnmarshalText(b []byte) error {
	if len(b) != 64 {
		return errBadHashLen
	}
	_, err := hex.Decode(h[:], b)
	return err
}
