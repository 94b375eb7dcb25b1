package chain

import (
	"crypto/sha256"
	"errors"
	"fmt"

	"github.com/btcsuite/btcd/btcutil/bech32"
)

// AddressPrefix is the bech32 human-readable part of dure addresses.
const AddressPrefix = "dure"

// AddressLen is the byte length of an address.
const AddressLen = 20

// Address identifies an account: the first 20 bytes of sha2-256 of its
// ed25519 public key.
type Address [AddressLen]byte

var (
	errBadHashLen = errors.New("hash must be 64 hex characters")
	// ErrBadAddress is returned for text that is not a dure bech32 address.
	ErrBadAddress = errors.New("chain: invalid address")
)

// AddressOf derives the address of a public key.
func AddressOf(pub PubKey) Address {
	sum := sha256.Sum256(pub[:])
	var a Address
	copy(a[:], sum[:AddressLen])
	return a
}

// String renders the address in bech32 with the "dure" prefix.
func (a Address) String() string {
	conv, err := bech32.ConvertBits(a[:], 8, 5, true)
	if err != nil {
		return fmt.Sprintf("invalid-address(%x)", a[:])
	}
	s, err := bech32.Encode(AddressPrefix, conv)
	if err != nil {
		return fmt.Sprintf("invalid-address(%x)", a[:])
	}
	return s
}

// IsZero reports whether a is the zero address.
func (a Address) IsZero() bool { return a == Address{} }

// ParseAddress parses a bech32 "dure1..." address.
func ParseAddress(s string) (Address, error) {
	hrp, data, err := bech32.Decode(s)
	if err != nil {
		return Address{}, fmt.Errorf("%w %q: %v", ErrBadAddress, s, err)
	}
	if hrp != AddressPrefix {
		return Address{}, fmt.Errorf("%w %q: prefix %q, want %q", ErrBadAddress, s, hrp, AddressPrefix)
	}
	raw, err := bech32.ConvertBits(data, 5, 8, false)
	if err != nil {
		return Address{}, fmt.Errorf("%w %q: %v", ErrBadAddress, s, err)
	}
	if len(raw) != AddressLen {
		return Address{}, fmt.Errorf("%w %q: %d bytes, want %d", ErrBadAddress, s, len(raw), AddressLen)
	}
	var a Address
	copy(a[:], raw)
	return a, nil
}

// MarshalText renders bech32 for JSON and TOML.
func (a Address) MarshalText() ([]byte, error) { return []byte(a.String()), nil }

// UnmarshalText parses bech32.
func (a *Address) UnmarshalText(b []byte) error {
	v, err := ParseAddress(string(b))
	if err != nil {
		return err
	}
	*a = v
	return nil
}
