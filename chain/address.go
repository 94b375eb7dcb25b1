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

// String renders the address in bech32 with the "dure" prefix. It is the
// text of every address in events (so part of results roots): it must stay
// byte-identical to bech32.Encode(AddressPrefix, ConvertBits(a, 8, 5,
// true)), which TestAddressStringMatchesBech32 checks. It is written out
// here, without the library's intermediate slices, because execution
// renders two or three addresses per transfer.
func (a Address) String() string {
	const charset = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
	var buf [len(AddressPrefix) + 1 + addressChars + 6]byte
	n := copy(buf[:], AddressPrefix)
	buf[n] = '1'
	n++
	chk := uint32(1)
	for i := 0; i < len(AddressPrefix); i++ {
		chk = bech32Step(chk) ^ uint32(AddressPrefix[i]>>5)
	}
	chk = bech32Step(chk)
	for i := 0; i < len(AddressPrefix); i++ {
		chk = bech32Step(chk) ^ uint32(AddressPrefix[i]&31)
	}
	// 20 bytes are exactly 32 groups of 5 bits: no padding.
	var acc uint64
	bits := 0
	for _, b := range a {
		acc = acc<<8 | uint64(b)
		bits += 8
		for bits >= 5 {
			bits -= 5
			v := uint32(acc>>uint(bits)) & 31
			chk = bech32Step(chk) ^ v
			buf[n] = charset[v]
			n++
		}
	}
	for i := 0; i < 6; i++ {
		chk = bech32Step(chk)
	}
	chk ^= 1 // bech32 (not bech32m)
	for i := 0; i < 6; i++ {
		buf[n] = charset[(chk>>uint(5*(5-i)))&31]
		n++
	}
	return string(buf[:n])
}

// addressChars is the number of 5-bit groups of an address.
const addressChars = AddressLen * 8 / 5

// bech32Step is one step of the BCH checksum (BIP 173 polymod) before the
// next value is mixed in.
func bech32Step(chk uint32) uint32 {
	top := chk >> 25
	chk = (chk & 0x1ffffff) << 5
	// Branch-free: each generator is masked in when its bit of top is set.
	chk ^= -(top & 1) & 0x3b6a57b2
	chk ^= -(top >> 1 & 1) & 0x26508e6d
	chk ^= -(top >> 2 & 1) & 0x1ea119fa
	chk ^= -(top >> 3 & 1) & 0x3d4233dd
	chk ^= -(top >> 4 & 1) & 0x2a1462b3
	return chk
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
