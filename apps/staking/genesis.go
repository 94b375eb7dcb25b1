package staking

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"

	"github.com/dure-network/dure/chain"
)

// GenesisState is staking's section of genesis.json.
type GenesisState struct {
	Params      Params              `json:"params"`
	Validators  []GenesisValidator  `json:"validators"`
	Delegations []GenesisDelegation `json:"delegations"`
}

// GenesisValidator is an initial validator; SelfStake is moved from its
// account (funded by currency's genesis) into the bonded pool.
type GenesisValidator struct {
	Address   chain.Address `json:"address"`
	PubKey    chain.PubKey  `json:"pub_key"`
	SelfStake uint64        `json:"self_stake"`
}

// GenesisDelegation is an initial delegation, also paid from the
// delegator's account.
type GenesisDelegation struct {
	Delegator chain.Address `json:"delegator"`
	Validator chain.Address `json:"validator"`
	Amount    uint64        `json:"amount"`
}

// ParseGenesis decodes and checks staking's genesis section.
func ParseGenesis(raw json.RawMessage) (*GenesisState, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var g GenesisState
	if err := dec.Decode(&g); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadGenesis, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: trailing data", ErrBadGenesis)
	}
	if err := g.Params.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadGenesis, err)
	}
	seen := make(map[chain.Address]bool, len(g.Validators))
	for i, v := range g.Validators {
		switch {
		case chain.AddressOf(v.PubKey) != v.Address:
			return nil, fmt.Errorf("%w: validator %d: address %s does not match pub_key", ErrBadGenesis, i, v.Address)
		case seen[v.Address]:
			return nil, fmt.Errorf("%w: validator %d: duplicate %s", ErrBadGenesis, i, v.Address)
		case v.SelfStake < g.Params.MinSelfStake || v.SelfStake == 0:
			return nil, fmt.Errorf("%w: validator %d: self_stake %d below min_self_stake %d", ErrBadGenesis, i, v.SelfStake, g.Params.MinSelfStake)
		}
		seen[v.Address] = true
	}
	pairs := make(map[[2]chain.Address]bool, len(g.Delegations))
	for i, d := range g.Delegations {
		pair := [2]chain.Address{d.Delegator, d.Validator}
		switch {
		case !seen[d.Validator]:
			return nil, fmt.Errorf("%w: delegation %d: unknown validator %s", ErrBadGenesis, i, d.Validator)
		case d.Delegator == d.Validator:
			return nil, fmt.Errorf("%w: delegation %d: self-delegation belongs in self_stake", ErrBadGenesis, i)
		case d.Amount == 0:
			return nil, fmt.Errorf("%w: delegation %d: zero amount", ErrBadGenesis, i)
		case pairs[pair]:
			return nil, fmt.Errorf("%w: delegation %d: duplicate %s to %s", ErrBadGenesis, i, d.Delegator, d.Validator)
		}
		pairs[pair] = true
	}
	return &g, nil
}

// genesisTokens sums each validator's stake in genesis order.
func (g *GenesisState) genesisTokens() ([]uint64, error) {
	idx := make(map[chain.Address]int, len(g.Validators))
	tokens := make([]uint64, len(g.Validators))
	for i, v := range g.Validators {
		idx[v.Address] = i
		tokens[i] = v.SelfStake
	}
	for _, d := range g.Delegations {
		i := idx[d.Validator]
		if tokens[i]+d.Amount < tokens[i] {
			return nil, fmt.Errorf("%w: stake of %s overflows", ErrBadGenesis, d.Validator)
		}
		tokens[i] += d.Amount
	}
	return tokens, nil
}

// GenesisValidators returns the initial active set (sorted by address)
// that InitGenesis will report, without touching state: the node needs it
// to start consensus at height 1.
func GenesisValidators(raw json.RawMessage) ([]chain.Validator, error) {
	if snap, ok, err := chain.ParseSnapshot(raw); ok {
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrBadGenesis, err)
		}
		return snapshotValidators(snap)
	}
	g, err := ParseGenesis(raw)
	if err != nil {
		return nil, err
	}
	tokens, err := g.genesisTokens()
	if err != nil {
		return nil, err
	}
	var cs []candidate
	for i, v := range g.Validators {
		if pw := g.Params.power(tokens[i]); pw > 0 {
			cs = append(cs, candidate{addr: v.Address, pub: v.PubKey, power: pw})
		}
	}
	cs = rank(cs, g.Params.MaxValidators)
	if len(cs) == 0 {
		return nil, fmt.Errorf("%w: no validator has power (stake / power_reduction >= 1)", ErrBadGenesis)
	}
	sort.Slice(cs, func(i, j int) bool { return bytes.Compare(cs[i].addr[:], cs[j].addr[:]) < 0 })
	out := make([]chain.Validator, len(cs))
	for i, c := range cs {
		out[i] = chain.Validator{Address: c.addr, PubKey: c.pub, Power: c.power}
	}
	return out, nil
}

// InitGenesis stores params, moves initial stakes into the bonded pool
// (currency's genesis must have funded the accounts, so the node runs it
// first) and reports the initial set through ctx.UpdateValidator.
//
// A section in snapshot form (an export, chain.Snapshot) is written as it
// is, and its active set reported.
func (m *Module) InitGenesis(ctx *chain.Context, raw json.RawMessage) error {
	if snap, ok, err := chain.ParseSnapshot(raw); ok {
		if err != nil {
			return fmt.Errorf("%w: %w", ErrBadGenesis, err)
		}
		vals, err := snapshotValidators(snap)
		if err != nil {
			return err
		}
		if err := snap.WriteTo(ctx.Store(m.key)); err != nil {
			return err
		}
		for _, v := range vals {
			if err := ctx.UpdateValidator(chain.ValidatorUpdate{PubKey: v.PubKey, Power: v.Power}); err != nil {
				return err
			}
		}
		return nil
	}
	g, err := ParseGenesis(raw)
	if err != nil {
		return err
	}
	if _, err := GenesisValidators(raw); err != nil {
		return err
	}
	s := m.open(ctx)
	if err := s.set(keyParams, &g.Params); err != nil {
		return err
	}
	recs := make(map[chain.Address]*validatorRec, len(g.Validators))
	for _, gv := range g.Validators {
		if err := m.pay(ctx, &g.Params, gv.Address, BondedPool(), gv.SelfStake); err != nil {
			return fmt.Errorf("%w: self_stake of %s: %w", ErrBadGenesis, gv.Address, err)
		}
		recs[gv.Address] = &validatorRec{PubKey: gv.PubKey, Tokens: gv.SelfStake, Shares: gv.SelfStake, SelfShares: gv.SelfStake}
	}
	for _, d := range g.Delegations {
		if err := m.pay(ctx, &g.Params, d.Delegator, BondedPool(), d.Amount); err != nil {
			return fmt.Errorf("%w: delegation of %s: %w", ErrBadGenesis, d.Delegator, err)
		}
		v := recs[d.Validator]
		if _, err := v.addTokens(d.Amount); err != nil {
			return fmt.Errorf("%w: delegation of %s: %w", ErrBadGenesis, d.Delegator, err)
		}
		// Before any slash or reward, a share is worth one token.
		if err := s.set(delKey(d.Delegator, d.Validator), &delegationRec{Shares: d.Amount}); err != nil {
			return err
		}
	}
	for _, gv := range g.Validators {
		if err := s.set(valKey(gv.Address), recs[gv.Address]); err != nil {
			return err
		}
	}
	return m.updateSet(ctx, s, &g.Params, 1)
}

// snapshotValidators is the active set recorded in an exported state, by
// address: the set the exported chain would have had signing next.
func snapshotValidators(snap *chain.Snapshot) ([]chain.Validator, error) {
	s := &store{kv: snap.Reader(), c: chain.MustCodec()}
	addrs, recs, err := s.activeSet()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadGenesis, err)
	}
	if len(addrs) == 0 {
		return nil, fmt.Errorf("%w: the snapshot has no active validator", ErrBadGenesis)
	}
	out := make([]chain.Validator, len(addrs))
	for i, a := range addrs {
		out[i] = chain.Validator{Address: a, PubKey: recs[i].PubKey, Power: recs[i].Power}
	}
	return out, nil
}

// ExportGenesis writes staking's state in snapshot form
// (chain.GenesisExporter): validators with their shares, delegations,
// unbonding queues and signing windows carry over exactly.
func (m *Module) ExportGenesis(r chain.KVReader) (json.RawMessage, error) {
	return chain.ExportSnapshot(r)
}
