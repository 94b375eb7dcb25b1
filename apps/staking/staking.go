package staking

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/dure-network/dure/chain"
)

// Bank is what staking needs from the module holding the tokens
// (apps/currency satisfies it). Transfer moves funds between any two
// accounts without further authorization: staking calls it only for the
// tx sender's own funds or for its module accounts.
type Bank interface {
	Balance(ctx *chain.Context, addr chain.Address, denom string) (uint64, error)
	Transfer(ctx *chain.Context, from, to chain.Address, denom string, amount uint64) error
}

func moduleAddress(name string) chain.Address {
	sum := sha256.Sum256([]byte(name))
	var a chain.Address
	copy(a[:], sum[:chain.AddressLen])
	return a
}

// BondedPool is the account holding all delegated tokens: first 20 bytes
// of sha256("staking/bonded"). No key can sign for it.
func BondedPool() chain.Address { return moduleAddress("staking/bonded") }

// UnbondingPool holds unbonding tokens until they are released:
// sha256("staking/unbonding")[:20].
func UnbondingPool() chain.Address { return moduleAddress("staking/unbonding") }

// SlashedPool receives slashed tokens, which are thereby out of
// circulation for good: sha256("staking/slashed")[:20].
func SlashedPool() chain.Address { return moduleAddress("staking/slashed") }

// Module is the staking module.
type Module struct {
	key   *chain.StoreKey
	codec *chain.Codec
	bank  Bank
}

// The capabilities staking holds, besides chain.Module.
var (
	_ chain.Module              = (*Module)(nil)
	_ chain.BeginBlocker        = (*Module)(nil)
	_ chain.EndBlocker          = (*Module)(nil)
	_ chain.ValidatorSetOwner   = (*Module)(nil)
	_ chain.ModuleAccountHolder = (*Module)(nil)
	_ chain.Describer           = (*Module)(nil)
	_ chain.GenesisExporter     = (*Module)(nil)
)

// ModuleAccounts are staking's pools (chain.ModuleAccountHolder): the
// bank exempts them from holding caps and transfer policies.
func (m *Module) ModuleAccounts() []chain.Address {
	return []chain.Address{BondedPool(), UnbondingPool(), SlashedPool()}
}

// GenesisValidators is the package function GenesisValidators, as the
// chain.ValidatorSetOwner capability.
func (m *Module) GenesisValidators(section json.RawMessage) ([]chain.Validator, error) {
	return GenesisValidators(section)
}

// New builds the module over its store key, the chain codec and the bank.
func New(key *chain.StoreKey, codec *chain.Codec, bank Bank) *Module {
	return &Module{key: key, codec: codec, bank: bank}
}

// Name is "staking".
func (m *Module) Name() string { return ModuleName }

func (m *Module) open(ctx *chain.Context) *store {
	kv := ctx.Store(m.key)
	return &store{kv: kv, w: kv, c: m.codec}
}

// Deliver executes one staking message for ctx.Sender.
func (m *Module) Deliver(ctx *chain.Context, msg chain.Msg) error {
	s := m.open(ctx)
	p, err := s.params()
	if err != nil {
		return err
	}
	switch msg.Type {
	case TypeBond:
		var b Bond
		if err := decode(m.codec, msg, &b); err != nil {
			return err
		}
		return m.bond(ctx, s, &p, b)
	case TypeUnbond:
		var u Unbond
		if err := decode(m.codec, msg, &u); err != nil {
			return err
		}
		return m.unbond(ctx, s, &p, u)
	case TypeDelegate:
		var d Delegate
		if err := decode(m.codec, msg, &d); err != nil {
			return err
		}
		return m.delegate(ctx, s, &p, d)
	case TypeUndelegate:
		var u Undelegate
		if err := decode(m.codec, msg, &u); err != nil {
			return err
		}
		return m.undelegate(ctx, s, &p, u)
	case TypeUnjail:
		var u Unjail
		if err := decode(m.codec, msg, &u); err != nil {
			return err
		}
		return m.unjail(ctx, s, &p)
	}
	return fmt.Errorf("%w: staking message type %q", chain.ErrUnknownMsg, msg.Type)
}

// pay moves amount of the bond denom from a sender, with a clear error
// when the balance is short.
func (m *Module) pay(ctx *chain.Context, p *Params, from, to chain.Address, amount uint64) error {
	bal, err := m.bank.Balance(ctx, from, p.BondDenom)
	if err != nil {
		return fmt.Errorf("staking: balance of %s: %w", from, err)
	}
	if bal < amount {
		return fmt.Errorf("%w: %s has %d %s, needs %d", chain.ErrInsufficient, from, bal, p.BondDenom, amount)
	}
	return m.move(ctx, p, from, to, amount)
}

// move transfers between accounts whose balance staking itself tracks.
func (m *Module) move(ctx *chain.Context, p *Params, from, to chain.Address, amount uint64) error {
	if amount == 0 {
		return nil
	}
	if err := m.bank.Transfer(ctx, from, to, p.BondDenom, amount); err != nil {
		return fmt.Errorf("staking: transfer %d %s from %s to %s: %w", amount, p.BondDenom, from, to, err)
	}
	return nil
}

func itoa(v uint64) string { return strconv.FormatUint(v, 10) }

func (m *Module) bond(ctx *chain.Context, s *store, p *Params, b Bond) error {
	if b.Amount == 0 {
		return fmt.Errorf("%w: bond amount must be positive", chain.ErrInvalidMsg)
	}
	addr := chain.AddressOf(b.PubKey)
	if addr != ctx.Sender {
		return fmt.Errorf("%w: %w: key %s is %s, sender is %s", chain.ErrUnauthorized, ErrPubKeyMismatch, b.PubKey, addr, ctx.Sender)
	}
	v, exists, err := s.validator(addr)
	if err != nil {
		return err
	}
	switch {
	case exists && v.Tombstoned:
		return fmt.Errorf("%w: %w: %s", chain.ErrInvalidMsg, ErrTombstoned, addr)
	case !exists && b.Amount < p.MinSelfStake:
		return fmt.Errorf("%w: %w: bond %d, minimum %d", chain.ErrInvalidMsg, ErrBelowMinSelfStake, b.Amount, p.MinSelfStake)
	case !exists:
		v = validatorRec{PubKey: b.PubKey}
	}
	sh, err := v.addTokens(b.Amount)
	if err != nil {
		return err
	}
	v.SelfShares += sh
	if err := m.pay(ctx, p, ctx.Sender, BondedPool(), b.Amount); err != nil {
		return err
	}
	if err := s.set(valKey(addr), &v); err != nil {
		return err
	}
	return ctx.Emit("staking.bond", chain.Attr{Key: "validator", Value: addr.String()},
		chain.Attr{Key: "amount", Value: itoa(b.Amount)}, chain.Attr{Key: "tokens", Value: itoa(v.Tokens)})
}

func (m *Module) unbond(ctx *chain.Context, s *store, p *Params, u Unbond) error {
	if err := checkAmount(u.Amount, u.All); err != nil {
		return err
	}
	v, err := s.mustValidator(ctx.Sender)
	if err != nil {
		return err
	}
	sh, tokens, err := v.removeTokens(v.SelfShares, u.Amount, u.All)
	if err != nil {
		return fmt.Errorf("unbond from %s: %w", ctx.Sender, err)
	}
	v.SelfShares -= sh
	if err := m.startUnbonding(ctx, s, p, ctx.Sender, ctx.Sender, tokens); err != nil {
		return err
	}
	if err := m.saveValidator(s, ctx.Sender, &v); err != nil {
		return err
	}
	return ctx.Emit("staking.unbond", chain.Attr{Key: "validator", Value: ctx.Sender.String()},
		chain.Attr{Key: "amount", Value: itoa(tokens)})
}

func (m *Module) delegate(ctx *chain.Context, s *store, p *Params, d Delegate) error {
	if d.Amount == 0 {
		return fmt.Errorf("%w: delegate amount must be positive", chain.ErrInvalidMsg)
	}
	if d.Validator == ctx.Sender {
		return fmt.Errorf("%w: an operator adds to its own validator with bond, not delegate", chain.ErrInvalidMsg)
	}
	v, err := s.mustValidator(d.Validator)
	if err != nil {
		return err
	}
	if v.Tombstoned {
		return fmt.Errorf("%w: %w: %s", chain.ErrInvalidMsg, ErrTombstoned, d.Validator)
	}
	sh, err := v.addTokens(d.Amount)
	if err != nil {
		return err
	}
	var del delegationRec
	if _, err := s.get(delKey(ctx.Sender, d.Validator), &del); err != nil {
		return err
	}
	del.Shares += sh // cannot overflow: bounded by v.Shares, checked in addTokens
	if err := m.pay(ctx, p, ctx.Sender, BondedPool(), d.Amount); err != nil {
		return err
	}
	if err := s.set(delKey(ctx.Sender, d.Validator), &del); err != nil {
		return err
	}
	if err := s.set(valKey(d.Validator), &v); err != nil {
		return err
	}
	return ctx.Emit("staking.delegate", chain.Attr{Key: "delegator", Value: ctx.Sender.String()},
		chain.Attr{Key: "validator", Value: d.Validator.String()}, chain.Attr{Key: "amount", Value: itoa(d.Amount)})
}

func (m *Module) undelegate(ctx *chain.Context, s *store, p *Params, u Undelegate) error {
	if err := checkAmount(u.Amount, u.All); err != nil {
		return err
	}
	var del delegationRec
	ok, err := s.get(delKey(ctx.Sender, u.Validator), &del)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("%w: %w: %s to %s", chain.ErrInvalidMsg, ErrNoDelegation, ctx.Sender, u.Validator)
	}
	v, err := s.mustValidator(u.Validator)
	if err != nil {
		return err
	}
	sh, tokens, err := v.removeTokens(del.Shares, u.Amount, u.All)
	if err != nil {
		return fmt.Errorf("undelegate from %s: %w", u.Validator, err)
	}
	del.Shares -= sh
	if err := m.startUnbonding(ctx, s, p, ctx.Sender, u.Validator, tokens); err != nil {
		return err
	}
	if del.Shares == 0 {
		err = s.del(delKey(ctx.Sender, u.Validator))
	} else {
		err = s.set(delKey(ctx.Sender, u.Validator), &del)
	}
	if err != nil {
		return err
	}
	if err := m.saveValidator(s, u.Validator, &v); err != nil {
		return err
	}
	return ctx.Emit("staking.undelegate", chain.Attr{Key: "delegator", Value: ctx.Sender.String()},
		chain.Attr{Key: "validator", Value: u.Validator.String()}, chain.Attr{Key: "amount", Value: itoa(tokens)})
}

// saveValidator writes v, or forgets it once nobody holds shares in it and
// it carries no jail or tombstone that must be remembered.
func (m *Module) saveValidator(s *store, a chain.Address, v *validatorRec) error {
	if v.Shares == 0 && !v.Jailed && !v.Tombstoned {
		if err := s.resetSigning(a); err != nil {
			return err
		}
		return s.del(valKey(a))
	}
	return s.set(valKey(a), v)
}

// startUnbonding moves tokens to the unbonding pool and queues their
// release at block time + UnbondingSeconds.
func (m *Module) startUnbonding(ctx *chain.Context, s *store, p *Params, delegator, validator chain.Address, tokens uint64) error {
	if tokens == 0 {
		return nil
	}
	n := 0
	err := s.kv.Iterate(cat(prefixUbdIdx, delegator[:]), func(_, _ []byte) (bool, error) {
		n++
		return n >= MaxUnbondingEntries, nil
	})
	if err != nil {
		return err
	}
	if n >= MaxUnbondingEntries {
		return fmt.Errorf("%w: %w: %s has %d", chain.ErrInvalidMsg, ErrTooManyUnbondings, delegator, n)
	}
	seq, err := s.nextSeq()
	if err != nil {
		return err
	}
	done := after(ctx.Block.Time, p.UnbondingSeconds)
	rec := unbondingRec{Delegator: delegator, Validator: validator, Amount: tokens,
		CreationHeight: ctx.Block.Height, Completion: done}
	if err := s.set(unbondKey(done, seq), &rec); err != nil {
		return err
	}
	if err := s.w.Set(ubdIdxKey(delegator, done, seq), marker); err != nil {
		return err
	}
	return m.move(ctx, p, BondedPool(), UnbondingPool(), tokens)
}

func (m *Module) unjail(ctx *chain.Context, s *store, p *Params) error {
	v, err := s.mustValidator(ctx.Sender)
	if err != nil {
		return err
	}
	switch {
	case v.Tombstoned:
		return fmt.Errorf("%w: %w: %s can never unjail", chain.ErrInvalidMsg, ErrTombstoned, ctx.Sender)
	case !v.Jailed:
		return fmt.Errorf("%w: %w: %s", chain.ErrInvalidMsg, ErrNotJailed, ctx.Sender)
	case ctx.Block.Time < v.JailedUntil:
		return fmt.Errorf("%w: %w: %s jailed until %d (block time %d)", chain.ErrInvalidMsg, ErrStillJailed,
			ctx.Sender, v.JailedUntil, ctx.Block.Time)
	case v.selfStake() < p.MinSelfStake:
		return fmt.Errorf("%w: %w: self-stake %d, minimum %d", chain.ErrInvalidMsg, ErrBelowMinSelfStake, v.selfStake(), p.MinSelfStake)
	}
	v.Jailed = false
	v.JailedUntil = 0
	if err := s.set(valKey(ctx.Sender), &v); err != nil {
		return err
	}
	return ctx.Emit("staking.unjail", chain.Attr{Key: "validator", Value: ctx.Sender.String()})
}

// ActiveValidators is the stored active set, in address order, with each
// validator's consensus power: the chain's own validators as its state
// holds them (apps/subnet counts a quorum of them to re-trust its parent).
func (m *Module) ActiveValidators(ctx *chain.Context) ([]chain.Validator, error) {
	addrs, recs, err := m.open(ctx).activeSet()
	if err != nil {
		return nil, err
	}
	out := make([]chain.Validator, len(addrs))
	for i := range addrs {
		out[i] = chain.Validator{Address: addrs[i], PubKey: recs[i].PubKey, Power: recs[i].Power}
	}
	return out, nil
}
