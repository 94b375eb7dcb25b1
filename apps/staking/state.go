package staking

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"

	"github.com/dure-network/dure/chain"
)

// Errors returned by staking. Each Deliver error also wraps the chain
// sentinel that sets the tx result code (ErrInvalidMsg, ErrUnauthorized,
// ErrInsufficient).
var (
	ErrBadParams         = errors.New("staking: invalid params")
	ErrBadGenesis        = errors.New("staking: invalid genesis")
	ErrUnknownValidator  = errors.New("staking: unknown validator")
	ErrBelowMinSelfStake = errors.New("staking: below minimum self-stake")
	ErrPubKeyMismatch    = errors.New("staking: consensus key does not belong to the sender")
	ErrTombstoned        = errors.New("staking: validator is tombstoned")
	ErrNotJailed         = errors.New("staking: validator is not jailed")
	ErrStillJailed       = errors.New("staking: jail period has not ended")
	ErrNoDelegation      = errors.New("staking: no such delegation")
	ErrTooManyUnbondings = errors.New("staking: too many pending unbondings")
	ErrOverflow          = errors.New("staking: amount overflows")
)

// Key layout inside the module's store (all integers big-endian):
//
//	p                                   Params
//	v/<validator 20>                    validatorRec
//	d/<delegator 20><validator 20>      delegationRec (not the operator's own)
//	a/<validator 20>                    activeRec: the active set as last reported
//	i/<validator 20>                    signingInfo
//	m/<validator 20><chunk 4>           missed-block bits, 64 per chunk
//	u/<completion ns 8><seq 8>          unbondingRec, the release queue
//	q/<delegator 20><completion 8><seq 8>  empty: index of u/ by delegator
//	n                                   next unbonding sequence number
var (
	keyParams    = []byte("p")
	keySeq       = []byte("n")
	prefixVal    = []byte("v/")
	prefixDel    = []byte("d/")
	prefixActive = []byte("a/")
	prefixInfo   = []byte("i/")
	prefixMissed = []byte("m/")
	prefixUnbond = []byte("u/")
	prefixUbdIdx = []byte("q/")
)

func cat(parts ...[]byte) []byte {
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	out := make([]byte, 0, n)
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func u64(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }

func valKey(a chain.Address) []byte       { return cat(prefixVal, a[:]) }
func activeKey(a chain.Address) []byte    { return cat(prefixActive, a[:]) }
func infoKey(a chain.Address) []byte      { return cat(prefixInfo, a[:]) }
func delKey(d, v chain.Address) []byte    { return cat(prefixDel, d[:], v[:]) }
func missedPrefix(a chain.Address) []byte { return cat(prefixMissed, a[:]) }
func unbondKey(done chain.Time, seq uint64) []byte {
	return cat(prefixUnbond, u64(uint64(done)), u64(seq))
}
func ubdIdxKey(d chain.Address, done chain.Time, seq uint64) []byte {
	return cat(prefixUbdIdx, d[:], u64(uint64(done)), u64(seq))
}
func missedKey(a chain.Address, chunk uint32) []byte {
	return cat(prefixMissed, a[:], binary.BigEndian.AppendUint32(nil, chunk))
}

// validatorRec is a validator keyed by its address (= operator account =
// AddressOf(consensus key)). Tokens are owned pro rata by Shares; the
// operator's own shares are SelfShares, other holders have d/ records.
type validatorRec struct {
	_           struct{} `cbor:",toarray"`
	PubKey      chain.PubKey
	Tokens      uint64
	Shares      uint64
	SelfShares  uint64
	Jailed      bool
	JailedUntil chain.Time
	Tombstoned  bool
}

type delegationRec struct {
	_      struct{} `cbor:",toarray"`
	Shares uint64
}

// activeRec is one member of the active set as last reported to consensus.
// Since is the first height whose commit it is expected to sign (the
// height its addition takes effect: decided + 2).
type activeRec struct {
	_      struct{} `cbor:",toarray"`
	PubKey chain.PubKey
	Power  uint64
	Since  uint64
}

// signingInfo tracks liveness over a sliding window: Counted commits have
// been judged so far; bit Counted%Window of m/ says whether that one was
// missed; Missed is the number of set bits.
type signingInfo struct {
	_       struct{} `cbor:",toarray"`
	Counted uint64
	Missed  uint64
}

type unbondingRec struct {
	_              struct{} `cbor:",toarray"`
	Delegator      chain.Address
	Validator      chain.Address
	Amount         uint64
	CreationHeight uint64
	Completion     chain.Time
}

// store wraps a module store with typed accessors.
type store struct {
	kv chain.KVReader
	w  chain.KVStore // nil for queries
	c  *chain.Codec
}

func (s *store) get(key []byte, v any) (bool, error) {
	b, err := s.kv.Get(key)
	if err != nil {
		return false, fmt.Errorf("staking: read %q: %w", key, err)
	}
	if b == nil {
		return false, nil
	}
	if err := s.c.Unmarshal(b, v); err != nil {
		return false, fmt.Errorf("staking: decode %q: %w", key, err)
	}
	return true, nil
}

func (s *store) set(key []byte, v any) error {
	b, err := s.c.Marshal(v)
	if err != nil {
		return fmt.Errorf("staking: encode %q: %w", key, err)
	}
	return s.w.Set(key, b)
}

func (s *store) del(key []byte) error { return s.w.Delete(key) }

func (s *store) params() (Params, error) {
	var p Params
	ok, err := s.get(keyParams, &p)
	if err == nil && !ok {
		err = fmt.Errorf("%w: params not set (genesis not loaded)", ErrBadParams)
	}
	return p, err
}

func (s *store) validator(a chain.Address) (validatorRec, bool, error) {
	var v validatorRec
	ok, err := s.get(valKey(a), &v)
	return v, ok, err
}

func (s *store) mustValidator(a chain.Address) (validatorRec, error) {
	v, ok, err := s.validator(a)
	if err == nil && !ok {
		err = fmt.Errorf("%w: %w %s", chain.ErrInvalidMsg, ErrUnknownValidator, a)
	}
	return v, err
}

// activeSet returns the stored active set in address order.
func (s *store) activeSet() ([]chain.Address, []activeRec, error) {
	var addrs []chain.Address
	var recs []activeRec
	err := s.kv.Iterate(prefixActive, func(k, v []byte) (bool, error) {
		var r activeRec
		if err := s.c.Unmarshal(v, &r); err != nil {
			return true, fmt.Errorf("staking: decode active %x: %w", k, err)
		}
		var a chain.Address
		copy(a[:], k[len(prefixActive):])
		addrs = append(addrs, a)
		recs = append(recs, r)
		return false, nil
	})
	return addrs, recs, err
}

// resetSigning forgets a validator's liveness history.
func (s *store) resetSigning(a chain.Address) error {
	var keys [][]byte
	err := s.kv.Iterate(missedPrefix(a), func(k, _ []byte) (bool, error) {
		keys = append(keys, append([]byte(nil), k...))
		return false, nil
	})
	if err != nil {
		return err
	}
	for _, k := range keys {
		if err := s.del(k); err != nil {
			return err
		}
	}
	return s.del(infoKey(a))
}

func (s *store) nextSeq() (uint64, error) {
	b, err := s.kv.Get(keySeq)
	if err != nil {
		return 0, err
	}
	var n uint64
	if len(b) == 8 {
		n = binary.BigEndian.Uint64(b)
	}
	return n, s.w.Set(keySeq, u64(n+1))
}

// mulDiv returns floor(a*b/c) with a 128-bit intermediate; ok is false if
// c is 0 or the result does not fit 64 bits.
func mulDiv(a, b, c uint64) (uint64, bool) {
	if c == 0 {
		return 0, false
	}
	hi, lo := bits.Mul64(a, b)
	if hi >= c {
		return 0, false
	}
	q, _ := bits.Div64(hi, lo, c)
	return q, true
}

// mulDivUp is mulDiv rounded up.
func mulDivUp(a, b, c uint64) (uint64, bool) {
	if c == 0 {
		return 0, false
	}
	hi, lo := bits.Mul64(a, b)
	if hi >= c {
		return 0, false
	}
	q, r := bits.Div64(hi, lo, c)
	if r != 0 {
		if q == ^uint64(0) {
			return 0, false
		}
		q++
	}
	return q, true
}

// value is what shares of v are worth in tokens (rounded down; the last
// holder out gets the rest).
func (v *validatorRec) value(shares uint64) uint64 {
	if shares == v.Shares {
		return v.Tokens
	}
	t, _ := mulDiv(shares, v.Tokens, v.Shares) // shares < v.Shares: fits
	return t
}

// selfStake is the token value of the operator's own shares.
func (v *validatorRec) selfStake() uint64 {
	if v.SelfShares == 0 {
		return 0
	}
	return v.value(v.SelfShares)
}

// addTokens adds amount to v and returns the shares it buys.
func (v *validatorRec) addTokens(amount uint64) (uint64, error) {
	var sh uint64
	switch {
	case v.Shares == 0:
		// First holder, or everyone left (any unowned tokens then join the
		// new holder's stake): one share per token.
		sh = amount
	case v.Tokens == 0:
		return 0, fmt.Errorf("%w: validator has no tokens left (fully slashed)", chain.ErrInvalidMsg)
	default:
		var ok bool
		sh, ok = mulDiv(amount, v.Shares, v.Tokens)
		if !ok || v.Shares+sh < v.Shares {
			return 0, fmt.Errorf("%w: %w: shares for %d tokens", chain.ErrInvalidMsg, ErrOverflow, amount)
		}
		if sh == 0 {
			return 0, fmt.Errorf("%w: amount %d buys no shares", chain.ErrInvalidMsg, amount)
		}
	}
	if v.Tokens+amount < v.Tokens {
		return 0, fmt.Errorf("%w: %w: validator tokens", chain.ErrInvalidMsg, ErrOverflow)
	}
	v.Tokens += amount
	v.Shares += sh
	return sh, nil
}

// removeTokens takes amount tokens (or everything owned when all) out of a
// holding of owned shares, returning the shares burnt and tokens freed.
// Shares are rounded up so the remaining holders never lose value.
func (v *validatorRec) removeTokens(owned, amount uint64, all bool) (shares, tokens uint64, err error) {
	if all {
		shares = owned
		tokens = v.value(owned)
	} else {
		if amount == 0 {
			return 0, 0, fmt.Errorf("%w: amount must be positive", chain.ErrInvalidMsg)
		}
		sh, ok := mulDivUp(amount, v.Shares, v.Tokens)
		if !ok || sh > owned || amount > v.Tokens {
			return 0, 0, fmt.Errorf("%w: stake worth %d, asked for %d", chain.ErrInsufficient, v.value(owned), amount)
		}
		shares, tokens = sh, amount
		if shares == v.Shares {
			tokens = v.Tokens
		}
	}
	if shares == 0 {
		return 0, 0, fmt.Errorf("%w: nothing staked", chain.ErrInsufficient)
	}
	v.Shares -= shares
	v.Tokens -= tokens
	return shares, tokens, nil
}
