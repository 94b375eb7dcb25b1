package staking

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"sort"

	"github.com/dure-network/dure/chain"
)

// candidate is a validator eligible for the active set.
type candidate struct {
	addr  chain.Address
	pub   chain.PubKey
	power uint64
}

// rank sorts by power descending, then address ascending, and keeps the
// top n.
func rank(cs []candidate, n uint32) []candidate {
	sort.Slice(cs, func(i, j int) bool {
		if cs[i].power != cs[j].power {
			return cs[i].power > cs[j].power
		}
		return bytes.Compare(cs[i].addr[:], cs[j].addr[:]) < 0
	})
	if uint32(len(cs)) > n {
		cs = cs[:n]
	}
	return cs
}

// eligible reports whether v may be in the active set, and its power.
func eligible(p *Params, v *validatorRec) (uint64, bool) {
	if v.Jailed || v.Tombstoned || v.selfStake() < p.MinSelfStake {
		return 0, false
	}
	pw := p.power(v.Tokens)
	return pw, pw > 0
}

// EndBlock releases matured unbondings, pays rewards to the active set,
// then recomputes the top-N set and reports every change to consensus.
func (m *Module) EndBlock(ctx *chain.Context) error {
	s := m.open(ctx)
	p, err := s.params()
	if err != nil {
		return err
	}
	if err := m.releaseMatured(ctx, s, &p); err != nil {
		return fmt.Errorf("staking end block %d: release: %w", ctx.Block.Height, err)
	}
	if err := m.distribute(ctx, s, &p); err != nil {
		return fmt.Errorf("staking end block %d: rewards: %w", ctx.Block.Height, err)
	}
	if err := m.updateSet(ctx, s, &p, ctx.Block.Height+2); err != nil {
		return fmt.Errorf("staking end block %d: validator set: %w", ctx.Block.Height, err)
	}
	return nil
}

func (m *Module) releaseMatured(ctx *chain.Context, s *store, p *Params) error {
	var keys [][]byte
	var recs []unbondingRec
	err := s.kv.Iterate(prefixUnbond, func(k, v []byte) (bool, error) {
		var r unbondingRec
		if err := s.c.Unmarshal(v, &r); err != nil {
			return true, fmt.Errorf("decode unbonding %x: %w", k, err)
		}
		if r.Completion > ctx.Block.Time {
			return true, nil // queue is ordered by completion time
		}
		keys = append(keys, append([]byte(nil), k...))
		recs = append(recs, r)
		return false, nil
	})
	if err != nil {
		return err
	}
	for i, r := range recs {
		seq := binary.BigEndian.Uint64(keys[i][len(prefixUnbond)+8:])
		if err := m.move(ctx, p, UnbondingPool(), r.Delegator, r.Amount); err != nil {
			return err
		}
		if err := s.del(keys[i]); err != nil {
			return err
		}
		if err := s.del(ubdIdxKey(r.Delegator, r.Completion, seq)); err != nil {
			return err
		}
		if err := ctx.Emit("staking.unbonding_complete", chain.Attr{Key: "delegator", Value: r.Delegator.String()},
			chain.Attr{Key: "validator", Value: r.Validator.String()}, chain.Attr{Key: "amount", Value: itoa(r.Amount)}); err != nil {
			return err
		}
	}
	return nil
}

// distribute pays the reward source's whole bond-denom balance to the
// active, unjailed validators pro rata by power. Each validator's cut is
// added to its tokens, so every holder of its shares (operator and
// delegators) gains in proportion. floor(R*p_i/P) leaves a remainder
// smaller than the number of validators; it goes to the top-ranked
// validator (highest power, then lowest address), so the sum paid is
// exactly the balance collected.
func (m *Module) distribute(ctx *chain.Context, s *store, p *Params) error {
	if p.RewardSource.IsZero() {
		return nil
	}
	reward, err := m.bank.Balance(ctx, p.RewardSource, p.BondDenom)
	if err != nil || reward == 0 {
		return err
	}
	addrs, recs, err := s.activeSet()
	if err != nil {
		return err
	}
	type payee struct {
		addr  chain.Address
		v     validatorRec
		power uint64
	}
	var payees []payee
	var total uint64
	for i, a := range addrs {
		v, ok, err := s.validator(a)
		if err != nil {
			return err
		}
		if !ok || v.Jailed || v.Tombstoned || v.Shares == 0 {
			continue
		}
		payees = append(payees, payee{addr: a, v: v, power: recs[i].Power})
		total += recs[i].Power // bounded by maxPower * MaxValidators
	}
	if total == 0 {
		return nil // nobody to pay: the balance waits for the next block
	}
	top := 0
	var paid uint64
	cuts := make([]uint64, len(payees))
	for i := range payees {
		cuts[i], _ = mulDiv(reward, payees[i].power, total) // power <= total: fits
		paid += cuts[i]
		t := &payees[top]
		if payees[i].power > t.power || (payees[i].power == t.power && bytes.Compare(payees[i].addr[:], t.addr[:]) < 0) {
			top = i
		}
	}
	cuts[top] += reward - paid
	if err := m.move(ctx, p, p.RewardSource, BondedPool(), reward); err != nil {
		return err
	}
	for i := range payees {
		v := &payees[i].v
		if v.Tokens+cuts[i] < v.Tokens {
			return fmt.Errorf("%w: rewards to %s", ErrOverflow, payees[i].addr)
		}
		v.Tokens += cuts[i]
		if err := s.set(valKey(payees[i].addr), v); err != nil {
			return err
		}
	}
	return ctx.Emit("staking.rewards", chain.Attr{Key: "amount", Value: itoa(reward)},
		chain.Attr{Key: "validators", Value: itoa(uint64(len(payees)))})
}

// candidates lists every eligible validator.
func candidates(s *store, p *Params) ([]candidate, error) {
	var cs []candidate
	err := s.kv.Iterate(prefixVal, func(k, b []byte) (bool, error) {
		var v validatorRec
		if err := s.c.Unmarshal(b, &v); err != nil {
			return true, fmt.Errorf("decode validator %x: %w", k, err)
		}
		if pw, ok := eligible(p, &v); ok {
			var a chain.Address
			copy(a[:], k[len(prefixVal):])
			cs = append(cs, candidate{addr: a, pub: v.PubKey, power: pw})
		}
		return false, nil
	})
	return cs, err
}

// updateSet computes the new active set, stores it and emits one update
// per change, in address order. since is the height new members start
// being expected to sign. An empty result is refused (the old set stays):
// a chain with no validators could never make another block.
func (m *Module) updateSet(ctx *chain.Context, s *store, p *Params, since uint64) error {
	cs, err := candidates(s, p)
	if err != nil {
		return err
	}
	next := rank(cs, p.MaxValidators)
	if len(next) == 0 {
		return ctx.Emit("staking.empty_set_refused")
	}
	sort.Slice(next, func(i, j int) bool { return bytes.Compare(next[i].addr[:], next[j].addr[:]) < 0 })
	oldAddrs, oldRecs, err := s.activeSet()
	if err != nil {
		return err
	}
	i, j := 0, 0
	for i < len(oldAddrs) || j < len(next) {
		var cmp int
		switch {
		case i == len(oldAddrs):
			cmp = 1
		case j == len(next):
			cmp = -1
		default:
			cmp = bytes.Compare(oldAddrs[i][:], next[j].addr[:])
		}
		switch {
		case cmp < 0: // left the set
			if err := ctx.UpdateValidator(chain.ValidatorUpdate{PubKey: oldRecs[i].PubKey, Power: 0}); err != nil {
				return err
			}
			if err := s.del(activeKey(oldAddrs[i])); err != nil {
				return err
			}
			i++
		case cmp > 0: // joined
			c := next[j]
			if err := ctx.UpdateValidator(chain.ValidatorUpdate{PubKey: c.pub, Power: c.power}); err != nil {
				return err
			}
			if err := s.resetSigning(c.addr); err != nil {
				return err
			}
			if err := s.set(activeKey(c.addr), &activeRec{PubKey: c.pub, Power: c.power, Since: since}); err != nil {
				return err
			}
			j++
		default:
			r, c := oldRecs[i], next[j]
			if r.Power != c.power {
				if err := ctx.UpdateValidator(chain.ValidatorUpdate{PubKey: c.pub, Power: c.power}); err != nil {
					return err
				}
				r.Power = c.power
				if err := s.set(activeKey(c.addr), &r); err != nil {
					return err
				}
			}
			i++
			j++
		}
	}
	return nil
}

// BeginBlock (chain.BeginBlocker) applies what the node learnt from the
// block header before any tx runs: ctx.Block.Evidence of double-signing
// (already verified by the node against the validator set of its height)
// and ctx.Block.LastCommitSigners, the signers of the last commit (the
// commit for height Block.Height-1 carried in this block).
func (m *Module) BeginBlock(ctx *chain.Context) error {
	lastCommitSigners, evidence := ctx.Block.LastCommitSigners, ctx.Block.Evidence
	s := m.open(ctx)
	p, err := s.params()
	if err != nil {
		return err
	}
	for i := range evidence {
		if err := m.doubleSign(ctx, s, &p, &evidence[i]); err != nil {
			return fmt.Errorf("staking begin block %d: evidence %d: %w", ctx.Block.Height, i, err)
		}
	}
	if ctx.Block.Height < 2 {
		return nil
	}
	if err := m.liveness(ctx, s, &p, ctx.Block.Height-1, lastCommitSigners); err != nil {
		return fmt.Errorf("staking begin block %d: liveness: %w", ctx.Block.Height, err)
	}
	return nil
}

// slash takes bps of v's tokens into the slashed pool.
func (m *Module) slash(ctx *chain.Context, p *Params, a chain.Address, v *validatorRec, bps uint32, reason string) error {
	amt, _ := mulDiv(v.Tokens, uint64(bps), bpsDenominator) // bps <= denominator: fits
	v.Tokens -= amt
	if err := m.move(ctx, p, BondedPool(), SlashedPool(), amt); err != nil {
		return err
	}
	return ctx.Emit("staking.slash", chain.Attr{Key: "validator", Value: a.String()},
		chain.Attr{Key: "amount", Value: itoa(amt)}, chain.Attr{Key: "reason", Value: reason})
}

func (m *Module) doubleSign(ctx *chain.Context, s *store, p *Params, ev *chain.Evidence) error {
	a := ev.VoteA.Validator
	v, ok, err := s.validator(a)
	if err != nil {
		return err
	}
	if ok && v.Tombstoned {
		return nil // one tombstone per validator, however many equivocations
	}
	if !ok {
		// It left entirely after signing twice: its stake is in the
		// unbonding queue, still slashable, and the tombstone record keeps
		// the address from bonding again.
		v = validatorRec{}
	}
	if err := m.slash(ctx, p, a, &v, p.DoubleSignSlashBps, "double_sign"); err != nil {
		return err
	}
	if err := m.slashUnbondings(ctx, s, p, a, ev.VoteA.Height); err != nil {
		return err
	}
	v.Jailed, v.Tombstoned, v.JailedUntil = true, true, 1<<63-1
	if err := s.set(valKey(a), &v); err != nil {
		return err
	}
	return ctx.Emit("staking.tombstone", chain.Attr{Key: "validator", Value: a.String()},
		chain.Attr{Key: "infraction_height", Value: itoa(ev.VoteA.Height)})
}

// slashUnbondings cuts the double-sign fraction from stake that left the
// offender at or after the infraction height: leaving does not escape.
// It scans the whole queue; double-signing is rare.
func (m *Module) slashUnbondings(ctx *chain.Context, s *store, p *Params, a chain.Address, height uint64) error {
	var keys [][]byte
	var recs []unbondingRec
	err := s.kv.Iterate(prefixUnbond, func(k, b []byte) (bool, error) {
		var r unbondingRec
		if err := s.c.Unmarshal(b, &r); err != nil {
			return true, fmt.Errorf("decode unbonding %x: %w", k, err)
		}
		if r.Validator == a && r.CreationHeight >= height {
			keys = append(keys, append([]byte(nil), k...))
			recs = append(recs, r)
		}
		return false, nil
	})
	if err != nil {
		return err
	}
	var total uint64
	for i := range recs {
		amt, _ := mulDiv(recs[i].Amount, uint64(p.DoubleSignSlashBps), bpsDenominator)
		recs[i].Amount -= amt
		total += amt // bounded by the unbonding pool's balance
		if err := s.set(keys[i], &recs[i]); err != nil {
			return err
		}
	}
	return m.move(ctx, p, UnbondingPool(), SlashedPool(), total)
}

// liveness records, for every active validator expected to sign the commit
// for height h, whether it did, and jails (with a small slash) any that
// missed more than DowntimeWindow-MinSignedPerWindow of its last window.
func (m *Module) liveness(ctx *chain.Context, s *store, p *Params, h uint64, signers []chain.Address) error {
	signed := make(map[chain.Address]bool, len(signers)) // lookups only, never iterated
	for _, a := range signers {
		signed[a] = true
	}
	addrs, recs, err := s.activeSet()
	if err != nil {
		return err
	}
	maxMissed := p.DowntimeWindow - p.MinSignedPerWindow
	for i, a := range addrs {
		if recs[i].Since > h {
			continue // not yet in the set that signed h
		}
		var info signingInfo
		if _, err := s.get(infoKey(a), &info); err != nil {
			return err
		}
		missed := !signed[a]
		pos := info.Counted % p.DowntimeWindow
		if missed || info.Missed > 0 {
			// A validator that never missed has an all-zero window: skip
			// the chunk read on the common path.
			if err := m.setMissedBit(s, a, &info, pos, missed); err != nil {
				return err
			}
		}
		info.Counted++
		if info.Counted >= p.DowntimeWindow && info.Missed > maxMissed {
			if err := m.jailForDowntime(ctx, s, p, a, info.Missed); err != nil {
				return err
			}
			continue
		}
		if err := s.set(infoKey(a), &info); err != nil {
			return err
		}
	}
	return nil
}

func (m *Module) setMissedBit(s *store, a chain.Address, info *signingInfo, pos uint64, missed bool) error {
	key := missedKey(a, uint32(pos/64))
	b, err := s.kv.Get(key)
	if err != nil {
		return err
	}
	var word uint64
	if len(b) == 8 {
		word = binary.BigEndian.Uint64(b)
	}
	bit := uint64(1) << (pos % 64)
	was := word&bit != 0
	if was == missed {
		return nil
	}
	if missed {
		word |= bit
		info.Missed++
	} else {
		word &^= bit
		info.Missed--
	}
	if word == 0 {
		return s.del(key)
	}
	return s.w.Set(key, u64(word))
}

func (m *Module) jailForDowntime(ctx *chain.Context, s *store, p *Params, a chain.Address, missed uint64) error {
	v, ok, err := s.validator(a)
	if err != nil || !ok || v.Jailed {
		return err
	}
	if err := m.slash(ctx, p, a, &v, p.DowntimeSlashBps, "downtime"); err != nil {
		return err
	}
	v.Jailed = true
	v.JailedUntil = after(ctx.Block.Time, p.JailSeconds)
	if err := s.set(valKey(a), &v); err != nil {
		return err
	}
	if err := s.resetSigning(a); err != nil {
		return err
	}
	return ctx.Emit("staking.jail", chain.Attr{Key: "validator", Value: a.String()},
		chain.Attr{Key: "missed", Value: itoa(missed)}, chain.Attr{Key: "until", Value: fmt.Sprint(v.JailedUntil)})
}
