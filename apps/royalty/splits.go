package royalty

import (
	"encoding/binary"
	"fmt"
	"slices"

	"github.com/dure-network/dure/chain"
)

// validID: 1..MaxIDLen of [a-z0-9-_.]; "/" is reserved for the splits a
// work makes for its account tranches ("<work>/t<i>").
func validID(id string, reserved bool) error {
	if len(id) == 0 || len(id) > MaxIDLen {
		return fmt.Errorf("%w: %q: 1 to %d characters", ErrBadID, id, MaxIDLen)
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-', c == '_', c == '.':
		case c == '/' && reserved:
		default:
			return fmt.Errorf("%w: %q: use a-z, 0-9, '-', '_' or '.'", ErrBadID, id)
		}
	}
	return nil
}

func validDenom(d string) error {
	if len(d) == 0 || len(d) > 64 {
		return fmt.Errorf("%w: %q", ErrBadDenom, d)
	}
	for i := 0; i < len(d); i++ {
		c := d[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == '/') {
			return fmt.Errorf("%w: %q", ErrBadDenom, d)
		}
	}
	return nil
}

// createSplit validates holders and writes a new split. Holders must sum
// to exactly TotalUnits; nested splits must exist already, which makes
// cycles impossible (and a split's nested holdings never change).
func (s *st) createSplit(creator chain.Address, id string, holders []Holder, reserved bool) (*Split, error) {
	if err := validID(id, reserved); err != nil {
		return nil, fmt.Errorf("%w: %w", chain.ErrInvalidMsg, err)
	}
	if v, err := s.r.Get(keySplit(id)); err != nil {
		return nil, err
	} else if v != nil {
		return nil, fmt.Errorf("%w: %w: split %q", chain.ErrInvalidMsg, ErrExists, id)
	}
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: %w: split %q: %s", chain.ErrInvalidMsg, ErrBadSplit, id, fmt.Sprintf(format, a...))
	}
	if len(holders) == 0 || len(holders) > MaxEntries {
		return nil, bad("%d holders, want 1 to %d", len(holders), MaxEntries)
	}
	sp := &Split{ID: id, Creator: creator, Nodes: 1}
	seenAcct := make(map[chain.Address]bool, len(holders)) // looked up, never iterated
	var sum uint64
	for i, h := range holders {
		if h.Units == 0 || h.Units > TotalUnits {
			return nil, bad("holder %d: %d units, want 1 to %d", i, h.Units, TotalUnits)
		}
		sum += h.Units // ≤ MaxEntries × TotalUnits: no overflow
		switch {
		case h.Split != "" && !h.Account.IsZero():
			return nil, bad("holder %d: an account or a split, not both", i)
		case h.Split != "":
			if len(sp.Nested) == MaxNested {
				return nil, bad("more than %d split holders", MaxNested)
			}
			for _, n := range sp.Nested {
				if n.Split == h.Split {
					return nil, bad("split %q listed twice", h.Split)
				}
			}
			child, err := s.split(h.Split)
			if err != nil {
				return nil, err
			}
			if child.Depth+1 > MaxDepth {
				return nil, fmt.Errorf("%w: %w: %q under %q is %d levels (max %d)", chain.ErrInvalidMsg, ErrTooDeep, h.Split, id, child.Depth+1, MaxDepth)
			}
			sp.Depth = max(sp.Depth, child.Depth+1)
			sp.Nodes += child.Nodes
			if sp.Nodes > MaxTreeNodes {
				return nil, fmt.Errorf("%w: %w: %q reaches more than %d splits", chain.ErrInvalidMsg, ErrTooDeep, id, MaxTreeNodes)
			}
			sp.Nested = append(sp.Nested, Holder{Split: h.Split, Units: h.Units})
		case h.Account.IsZero():
			return nil, bad("holder %d: no account", i)
		default:
			if seenAcct[h.Account] {
				return nil, bad("account %s listed twice", h.Account)
			}
			seenAcct[h.Account] = true
		}
	}
	if sum != TotalUnits {
		return nil, bad("units sum to %d, want exactly %d", sum, TotalUnits)
	}
	for _, h := range holders {
		if h.Split != "" {
			continue
		}
		if err := s.put(keyHolding(id, h.Account), &Holding{Units: h.Units}); err != nil {
			return nil, err
		}
		sp.Holders++
	}
	if err := s.put(keySplit(id), sp); err != nil {
		return nil, err
	}
	return sp, s.emit("royalty.split_created", "split", id, "creator", creator.String(), "holders", u64s(sp.Holders),
		"nested", u64s(uint64(len(sp.Nested))))
}

func (s *st) createSplitMsg(from chain.Address, b CreateSplit) error {
	_, err := s.createSplit(from, b.ID, b.Holders, false)
	return err
}

// creditSplit adds x of denom to a split's pool, settling its nested
// holdings at once (bounded: MaxTreeNodes). Account holders claim later.
func (s *st) creditSplit(id, denom string, x uint64, period string) error {
	if x == 0 {
		return nil
	}
	sp, err := s.split(id)
	if err != nil {
		return err
	}
	if !slices.Contains(sp.Denoms, denom) {
		if len(sp.Denoms) >= MaxSplitDenoms {
			return fmt.Errorf("%w: %w: split %q already accrues %d denoms", chain.ErrInvalidMsg, ErrTooManyDenoms, id, MaxSplitDenoms)
		}
		sp.Denoms = append(sp.Denoms, denom)
		if err := s.put(keySplit(id), sp); err != nil {
			return err
		}
	}
	p, err := s.pool(id, denom)
	if err != nil {
		return err
	}
	if p.Paid, err = add(p.Paid, x); err != nil {
		return fmt.Errorf("split %q %s: %w", id, denom, err)
	}
	for len(p.NestedFrac) < len(sp.Nested) {
		p.NestedFrac = append(p.NestedFrac, 0)
		p.NestedPaid = append(p.NestedPaid, 0)
	}
	type push struct {
		split string
		amt   uint64
	}
	var pushes []push
	for i, n := range sp.Nested {
		q, r := accrue(n.Units, x, p.NestedFrac[i])
		p.NestedFrac[i] = r
		if q > 0 {
			p.NestedPaid[i] += q // ≤ Paid: no overflow
			pushes = append(pushes, push{n.Split, q})
		}
	}
	if err := s.put(keyPool(id, denom), p); err != nil {
		return err
	}
	// The credit and, below, each nested split's part: what stays is the
	// account holders' (x minus the nested parts), so the parts sum to x.
	if err := s.emit("royalty.credit", "split", id, "denom", denom, "amount", u64s(x)); err != nil {
		return err
	}
	if period != "" {
		if err := s.addPeriod(keyPeriod(id, denom, period), x); err != nil {
			return err
		}
	}
	for _, ps := range pushes {
		if err := s.creditSplit(ps.split, denom, ps.amt, period); err != nil {
			return err
		}
	}
	return nil
}

// distribute pays x of denom (already in the pool) to a work through its
// waterfall: each tranche takes what brings the work's income up to its
// threshold, the last the rest.
func (s *st) distribute(w *Work, denom string, x uint64, period string) error {
	if len(w.Waterfall) == 0 {
		return s.creditSplit(w.ID, denom, x, period)
	}
	income, err := add(w.Income, x)
	if err != nil {
		return fmt.Errorf("work %q income: %w", w.ID, err)
	}
	rest := x
	for i, t := range w.Waterfall {
		if rest == 0 {
			break
		}
		part := rest
		if i < len(w.Waterfall)-1 {
			if w.Income >= t.Threshold {
				continue
			}
			part = min(rest, t.Threshold-w.Income)
		}
		if err := s.creditSplit(t.Split, denom, part, period); err != nil {
			return err
		}
		if err := s.emit("royalty.tranche", "work", w.ID, "tranche", u64s(uint64(i)), "split", t.Split, "denom", denom,
			"amount", u64s(part)); err != nil {
			return err
		}
		w.Income += part
		rest -= part
	}
	w.Income = income
	return s.put(keyWork(w.ID), w)
}

// payTarget pays x of denom, already moved into the pool, to a work or, if
// no work has that id, to a split.
func (s *st) payTarget(target, denom string, x uint64, period string) error {
	var w Work
	ok, err := s.get(keyWork(target), &w)
	if err != nil {
		return err
	}
	if !ok {
		return s.creditSplit(target, denom, x, period)
	}
	if !slices.Contains(w.Denoms, denom) {
		return fmt.Errorf("%w: %w: work %q is paid in %v, not %q", chain.ErrInvalidMsg, ErrBadDenom, w.ID, w.Denoms, denom)
	}
	return s.distribute(&w, denom, x, period)
}

func (s *st) pay(from chain.Address, b Pay) error {
	if b.Amount == 0 {
		return fmt.Errorf("%w: %w", chain.ErrInvalidMsg, ErrZeroAmount)
	}
	if len(b.Memo) > MaxMemoLen {
		return fmt.Errorf("%w: memo of %d bytes, max %d", chain.ErrInvalidMsg, len(b.Memo), MaxMemoLen)
	}
	if err := validDenom(b.Denom); err != nil {
		return fmt.Errorf("%w: %w", chain.ErrInvalidMsg, err)
	}
	if err := s.checkTarget(b.Work, b.Denom); err != nil {
		return err
	}
	if err := s.m.bank.Transfer(s.ctx, from, PoolAccount(), b.Denom, b.Amount); err != nil {
		return fmt.Errorf("royalty: pay %s: %w", b.Work, err)
	}
	if err := s.payTarget(b.Work, b.Denom, b.Amount, ""); err != nil {
		return err
	}
	return s.emit("royalty.pay", "from", from.String(), "work", b.Work, "denom", b.Denom, "amount", u64s(b.Amount), "memo", b.Memo)
}

// checkTarget refuses an unknown target or denom before money moves.
func (s *st) checkTarget(target, denom string) error {
	var w Work
	ok, err := s.get(keyWork(target), &w)
	if err != nil {
		return err
	}
	if ok {
		if !slices.Contains(w.Denoms, denom) {
			return fmt.Errorf("%w: %w: work %q is paid in %v, not %q", chain.ErrInvalidMsg, ErrBadDenom, w.ID, w.Denoms, denom)
		}
		return nil
	}
	_, err = s.split(target)
	if err != nil {
		return fmt.Errorf("%w (no work or split has that id)", err)
	}
	return nil
}

// settle brings an account holding up to date in every denom of the split.
func (s *st) settle(sp *Split, h *Holding) error {
	for _, d := range sp.Denoms {
		p, err := s.pool(sp.ID, d)
		if err != nil {
			return err
		}
		i := slices.IndexFunc(h.Acc, func(a Accrual) bool { return a.Denom == d })
		if i < 0 {
			h.Acc = append(h.Acc, Accrual{Denom: d})
			i = len(h.Acc) - 1
		}
		a := &h.Acc[i]
		if p.Paid < a.Mark {
			return fmt.Errorf("%w: split %q %s mark %d above paid %d", ErrCorrupt, sp.ID, d, a.Mark, p.Paid)
		}
		q, r := accrue(h.Units, p.Paid-a.Mark, a.Frac)
		if a.Owed, err = add(a.Owed, q); err != nil {
			return err
		}
		a.Frac, a.Mark = r, p.Paid
	}
	return nil
}

// loadHolding reads and settles an account's holding.
func (s *st) loadHolding(sp *Split, a chain.Address) (*Holding, bool, error) {
	var h Holding
	existed, err := s.get(keyHolding(sp.ID, a), &h)
	if err != nil {
		return nil, false, err
	}
	if err := s.settle(sp, &h); err != nil {
		return nil, false, err
	}
	return &h, existed, nil
}

// saveHolding writes (or, once empty, deletes) a holding and keeps the
// split's holder count; it reports whether the count changed.
func (s *st) saveHolding(sp *Split, a chain.Address, h *Holding, existed bool) (bool, error) {
	k := keyHolding(sp.ID, a)
	if h.empty() {
		if !existed {
			return false, nil
		}
		sp.Holders--
		return true, s.kv.Delete(k)
	}
	if err := s.put(k, h); err != nil {
		return false, err
	}
	if !existed {
		sp.Holders++
		return true, nil
	}
	return false, nil
}

// moveUnits moves free units between two accounts of a split, settling
// both first. A holder that gives away its last unit hands its sub-unit
// remainders to the receiver, so nothing is stranded.
func (s *st) moveUnits(sp *Split, from, to chain.Address, units uint64, unlock bool) error {
	if from == to {
		return fmt.Errorf("%w: transfer to oneself", chain.ErrInvalidMsg)
	}
	if to.IsZero() {
		return fmt.Errorf("%w: no recipient", chain.ErrInvalidMsg)
	}
	hf, fe, err := s.loadHolding(sp, from)
	if err != nil {
		return err
	}
	if unlock {
		if hf.Locked < units {
			return fmt.Errorf("%w: %d locked units, want %d", ErrCorrupt, hf.Locked, units)
		}
		hf.Locked -= units
	}
	if units == 0 || hf.Units-hf.Locked < units {
		return fmt.Errorf("%w: %w: %s holds %d free units of %q, wants to move %d", chain.ErrInsufficient, ErrNoShares,
			from, hf.Units-hf.Locked, sp.ID, units)
	}
	ht, te, err := s.loadHolding(sp, to)
	if err != nil {
		return err
	}
	hf.Units -= units
	ht.Units += units
	hf.Changed, ht.Changed = s.height(), s.height()
	if hf.Units == 0 {
		for i := range hf.Acc {
			fa := &hf.Acc[i]
			j := slices.IndexFunc(ht.Acc, func(a Accrual) bool { return a.Denom == fa.Denom })
			ta := &ht.Acc[j] // both settled over sp.Denoms
			f := ta.Frac + fa.Frac
			if ta.Owed, err = add(ta.Owed, f/TotalUnits); err != nil {
				return err
			}
			ta.Frac, fa.Frac = f%TotalUnits, 0
		}
	}
	c1, err := s.saveHolding(sp, from, hf, fe)
	if err != nil {
		return err
	}
	c2, err := s.saveHolding(sp, to, ht, te)
	if err != nil {
		return err
	}
	if c1 || c2 {
		return s.put(keySplit(sp.ID), sp)
	}
	return nil
}

func (s *st) transferMsg(from chain.Address, b Transfer) error {
	sp, err := s.split(b.Split)
	if err != nil {
		return err
	}
	if err := s.moveUnits(sp, from, b.To, b.Units, false); err != nil {
		return err
	}
	return s.emit("royalty.transfer", "split", b.Split, "from", from.String(), "to", b.To.String(), "units", u64s(b.Units))
}

func (s *st) claim(from chain.Address, b Claim) error {
	sp, err := s.split(b.Split)
	if err != nil {
		return err
	}
	if b.Denom != "" && !slices.Contains(sp.Denoms, b.Denom) {
		return fmt.Errorf("%w: %w: split %q has received no %q", chain.ErrInvalidMsg, ErrNothingToClaim, sp.ID, b.Denom)
	}
	h, existed, err := s.loadHolding(sp, from)
	if err != nil {
		return err
	}
	claimed := false
	for i := range h.Acc {
		a := &h.Acc[i]
		if a.Owed == 0 || (b.Denom != "" && a.Denom != b.Denom) {
			continue
		}
		amt := a.Owed
		p, err := s.pool(sp.ID, a.Denom)
		if err != nil {
			return err
		}
		if p.Claimed, err = add(p.Claimed, amt); err != nil {
			return err
		}
		p.ClaimedCount++
		if err := s.put(keyPool(sp.ID, a.Denom), p); err != nil {
			return err
		}
		a.Owed = 0
		a.Claimed += amt // ≤ Paid
		claimed = true
		if err := s.m.bank.Transfer(s.ctx, PoolAccount(), from, a.Denom, amt); err != nil {
			return fmt.Errorf("royalty: claim: %w", err)
		}
		if err := s.emit("royalty.claim", "split", sp.ID, "holder", from.String(), "denom", a.Denom, "amount", u64s(amt)); err != nil {
			return err
		}
	}
	if !claimed {
		return fmt.Errorf("%w: %w: %s in %q", chain.ErrInvalidMsg, ErrNothingToClaim, from, sp.ID)
	}
	changed, err := s.saveHolding(sp, from, h, existed)
	if err != nil {
		return err
	}
	if changed {
		return s.put(keySplit(sp.ID), sp)
	}
	return nil
}

// periodRecord is what a split was credited in one period and the height
// of the first credit (so a statement knows whether a holding changed
// since): 16 bytes, two big-endian u64s.
type periodRecord struct{ total, first uint64 }

func (s *st) period(k []byte) (periodRecord, error) {
	v, err := s.r.Get(k)
	if err != nil || v == nil {
		return periodRecord{}, err
	}
	if len(v) != 16 {
		return periodRecord{}, fmt.Errorf("%w: period record %q has %d bytes", ErrCorrupt, k, len(v))
	}
	return periodRecord{binary.BigEndian.Uint64(v), binary.BigEndian.Uint64(v[8:])}, nil
}

func (s *st) addPeriod(k []byte, x uint64) error {
	p, err := s.period(k)
	if err != nil {
		return err
	}
	if p.total == 0 {
		p.first = s.height()
	}
	if p.total, err = add(p.total, x); err != nil {
		return err
	}
	return s.kv.Set(k, be64(be64(nil, p.total), p.first))
}
