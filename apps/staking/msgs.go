package staking

import (
	"fmt"

	"github.com/dure-network/dure/chain"
)

// ModuleName routes messages to staking and prefixes its state.
const ModuleName = "staking"

// Message types.
const (
	TypeBond       = "bond"
	TypeUnbond     = "unbond"
	TypeDelegate   = "delegate"
	TypeUndelegate = "undelegate"
	TypeUnjail     = "unjail"
)

// Bond creates the sender's validator or adds to its self-stake. PubKey is
// the consensus key and must be the sender's own key: a validator's
// address, operator account and consensus identity are one.
type Bond struct {
	_      struct{} `cbor:",toarray"`
	PubKey chain.PubKey
	Amount uint64
}

// Unbond withdraws the sender's self-stake: Amount tokens, or everything
// when All is set (then Amount must be 0).
type Unbond struct {
	_      struct{} `cbor:",toarray"`
	Amount uint64
	All    bool
}

// Delegate stakes Amount of the sender's tokens with another validator.
type Delegate struct {
	_         struct{} `cbor:",toarray"`
	Validator chain.Address
	Amount    uint64
}

// Undelegate withdraws Amount tokens (or all with All) of the sender's
// delegation to Validator.
type Undelegate struct {
	_         struct{} `cbor:",toarray"`
	Validator chain.Address
	Amount    uint64
	All       bool
}

// Unjail returns the sender's jailed validator to candidacy.
type Unjail struct {
	_ struct{} `cbor:",toarray"`
}

func newMsg(c *chain.Codec, typ string, body any) (chain.Msg, error) {
	return chain.NewMsg(c, ModuleName, typ, body)
}

// MsgBond builds a bond message for the key's owner.
func MsgBond(c *chain.Codec, pub chain.PubKey, amount uint64) (chain.Msg, error) {
	if amount == 0 {
		return chain.Msg{}, fmt.Errorf("%w: bond amount must be positive", chain.ErrInvalidMsg)
	}
	return newMsg(c, TypeBond, Bond{PubKey: pub, Amount: amount})
}

// MsgUnbond builds a message unbonding amount tokens of self-stake.
func MsgUnbond(c *chain.Codec, amount uint64) (chain.Msg, error) {
	if amount == 0 {
		return chain.Msg{}, fmt.Errorf("%w: unbond amount must be positive (use MsgUnbondAll)", chain.ErrInvalidMsg)
	}
	return newMsg(c, TypeUnbond, Unbond{Amount: amount})
}

// MsgUnbondAll builds a message unbonding all self-stake.
func MsgUnbondAll(c *chain.Codec) (chain.Msg, error) {
	return newMsg(c, TypeUnbond, Unbond{All: true})
}

// MsgDelegate builds a delegation of amount to validator.
func MsgDelegate(c *chain.Codec, validator chain.Address, amount uint64) (chain.Msg, error) {
	if amount == 0 {
		return chain.Msg{}, fmt.Errorf("%w: delegate amount must be positive", chain.ErrInvalidMsg)
	}
	return newMsg(c, TypeDelegate, Delegate{Validator: validator, Amount: amount})
}

// MsgUndelegate builds a message withdrawing amount from a delegation.
func MsgUndelegate(c *chain.Codec, validator chain.Address, amount uint64) (chain.Msg, error) {
	if amount == 0 {
		return chain.Msg{}, fmt.Errorf("%w: undelegate amount must be positive (use MsgUndelegateAll)", chain.ErrInvalidMsg)
	}
	return newMsg(c, TypeUndelegate, Undelegate{Validator: validator, Amount: amount})
}

// MsgUndelegateAll builds a message withdrawing a whole delegation.
func MsgUndelegateAll(c *chain.Codec, validator chain.Address) (chain.Msg, error) {
	return newMsg(c, TypeUndelegate, Undelegate{Validator: validator, All: true})
}

// MsgUnjail builds an unjail message.
func MsgUnjail(c *chain.Codec) (chain.Msg, error) { return newMsg(c, TypeUnjail, Unjail{}) }

func checkAmount(amount uint64, all bool) error {
	switch {
	case all && amount != 0:
		return fmt.Errorf("%w: amount must be 0 when all is set", chain.ErrInvalidMsg)
	case !all && amount == 0:
		return fmt.Errorf("%w: amount must be positive", chain.ErrInvalidMsg)
	}
	return nil
}

// decode decodes a message body canonically into v.
func decode(c *chain.Codec, msg chain.Msg, v any) error { return msg.DecodeBody(c, v) }
