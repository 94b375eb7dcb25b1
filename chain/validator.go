package chain

import (
	"bytes"
	"errors"
	"fmt"
	"sort"
)

// MaxValidators bounds a validator set.
const MaxValidators = 1000

// ErrBadValidatorSet is returned for empty, oversized, duplicated or
// zero-power sets.
var ErrBadValidatorSet = errors.New("invalid validator set")

// Validator is a consensus participant with voting power.
type Validator struct {
	_       struct{} `cbor:",toarray"`
	Address Address  `json:"address"`
	PubKey  PubKey   `json:"pub_key"`
	Power   uint64   `json:"power"`
}

// ValidatorSet is an ordered set of validators (sorted by address, so its
// hash is canonical).
type ValidatorSet struct {
	Validators []Validator `json:"validators"`
	total      uint64
	index      map[Address]int
}

// NewValidatorSet sorts, checks and indexes vals.
func NewValidatorSet(vals []Validator) (*ValidatorSet, error) {
	if len(vals) == 0 || len(vals) > MaxValidators {
		return nil, fmt.Errorf("%w: %d validators", ErrBadValidatorSet, len(vals))
	}
	vs := &ValidatorSet{Validators: append([]Validator(nil), vals...), index: make(map[Address]int, len(vals))}
	sort.Slice(vs.Validators, func(i, j int) bool {
		return bytes.Compare(vs.Validators[i].Address[:], vs.Validators[j].Address[:]) < 0
	})
	const maxTotal = uint64(1) << 60 // keeps 3*total and priorities far from overflow
	for i, v := range vs.Validators {
		if v.Power == 0 {
			return nil, fmt.Errorf("%w: %s has zero power", ErrBadValidatorSet, v.Address)
		}
		if v.Address != AddressOf(v.PubKey) {
			return nil, fmt.Errorf("%w: %s does not match its public key", ErrBadValidatorSet, v.Address)
		}
		if _, dup := vs.index[v.Address]; dup {
			return nil, fmt.Errorf("%w: duplicate %s", ErrBadValidatorSet, v.Address)
		}
		vs.index[v.Address] = i
		vs.total += v.Power
		if vs.total > maxTotal {
			return nil, fmt.Errorf("%w: total power overflows", ErrBadValidatorSet)
		}
	}
	return vs, nil
}

// Len is the number of validators.
func (vs *ValidatorSet) Len() int { return len(vs.Validators) }

// TotalPower is the sum of all powers.
func (vs *ValidatorSet) TotalPower() uint64 { return vs.total }

// QuorumPower is the smallest power strictly greater than 2/3 of the total.
func (vs *ValidatorSet) QuorumPower() uint64 { return vs.total*2/3 + 1 }

// ByAddress returns the validator and its index.
func (vs *ValidatorSet) ByAddress(a Address) (Validator, int, bool) {
	i, ok := vs.index[a]
	if !ok {
		return Validator{}, -1, false
	}
	return vs.Validators[i], i, true
}

// Hash commits to the whole ordered set: the RFC 6962 root of the encoded
// validators.
func (vs *ValidatorSet) Hash(c *Codec) Hash {
	leaves := make([][]byte, len(vs.Validators))
	for i, v := range vs.Validators {
		b, err := c.Marshal(v)
		if err != nil {
			panic(err) // fixed-shape struct always encodes
		}
		leaves[i] = b
	}
	return MerkleRoot(leaves)
}
