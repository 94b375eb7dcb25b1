package royalty

import (
	"fmt"
	"slices"

	"github.com/dure-network/dure/chain"
)

func isUpper(c byte) bool { return c >= 'A' && c <= 'Z' }
func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// validISRC: CC XXX YY NNNNN written without hyphens, e.g. KRA012600001.
func validISRC(s string) error {
	if len(s) != 12 {
		return fmt.Errorf("%w: ISRC %q: 12 characters such as KRA012600001", ErrBadMetadata, s)
	}
	for i := 0; i < 12; i++ {
		c := s[i]
		ok := (i < 2 && isUpper(c)) || (i >= 2 && i < 5 && (isUpper(c) || isDigit(c))) || (i >= 5 && isDigit(c))
		if !ok {
			return fmt.Errorf("%w: ISRC %q: country (2 letters), registrant (3), year (2 digits), number (5 digits)", ErrBadMetadata, s)
		}
	}
	return nil
}

// validISWC: T, nine digits and the check digit, without punctuation
// (T-034.524.680-1 is written T0345246801).
func validISWC(s string) error {
	if len(s) != 11 || s[0] != 'T' {
		return fmt.Errorf("%w: ISWC %q: T and 10 digits, e.g. T0345246801", ErrBadMetadata, s)
	}
	sum := 1
	for i := 1; i <= 10; i++ {
		if !isDigit(s[i]) {
			return fmt.Errorf("%w: ISWC %q: T and 10 digits", ErrBadMetadata, s)
		}
		if i <= 9 {
			sum += i * int(s[i]-'0')
		}
	}
	if want := (10 - sum%10) % 10; int(s[10]-'0') != want {
		return fmt.Errorf("%w: ISWC %q: check digit %c, want %d", ErrBadMetadata, s, s[10], want)
	}
	return nil
}

func validCID(s string) error {
	if len(s) < 2 || len(s) > MaxCIDLen {
		return fmt.Errorf("%w: metadata CID of %d characters", ErrBadMetadata, len(s))
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(isDigit(c) || isUpper(c) || c >= 'a' && c <= 'z') {
			return fmt.Errorf("%w: metadata CID %q is not base32/base58", ErrBadMetadata, s)
		}
	}
	return nil
}

func (s *st) register(creator chain.Address, b Register) error {
	inv := func(err error) error { return fmt.Errorf("%w: %w", chain.ErrInvalidMsg, err) }
	if err := validID(b.ID, false); err != nil {
		return inv(err)
	}
	if v, err := s.r.Get(keyWork(b.ID)); err != nil {
		return err
	} else if v != nil {
		return inv(fmt.Errorf("%w: work %q", ErrExists, b.ID))
	}
	if err := validCID(b.CID); err != nil {
		return inv(err)
	}
	if b.ISRC != "" {
		if err := validISRC(b.ISRC); err != nil {
			return inv(err)
		}
	}
	if b.ISWC != "" {
		if err := validISWC(b.ISWC); err != nil {
			return inv(err)
		}
	}
	if len(b.Denoms) == 0 || len(b.Denoms) > MaxWorkDenoms {
		return inv(fmt.Errorf("%w: %d denoms, want 1 to %d", ErrBadDenom, len(b.Denoms), MaxWorkDenoms))
	}
	for i, d := range b.Denoms {
		if err := validDenom(d); err != nil {
			return inv(err)
		}
		if slices.Contains(b.Denoms[:i], d) {
			return inv(fmt.Errorf("%w: %q listed twice", ErrBadDenom, d))
		}
	}
	reg, err := s.registry()
	if err != nil {
		return err
	}
	if b.ResaleBps > reg.MaxResaleBps {
		return inv(fmt.Errorf("%w: resale royalty %d bps, max %d", ErrCapIncrease, b.ResaleBps, reg.MaxResaleBps))
	}
	if len(b.Waterfall) == 1 || len(b.Waterfall) > MaxTranches {
		return inv(fmt.Errorf("%w: %d tranches, want none or 2 to %d", ErrBadWaterfall, len(b.Waterfall), MaxTranches))
	}
	if len(b.Waterfall) > 0 && len(b.Denoms) != 1 {
		return inv(fmt.Errorf("%w: thresholds are in one currency: a work with a waterfall takes exactly one denom", ErrBadWaterfall))
	}
	var last uint64
	for i, t := range b.Waterfall {
		switch {
		case i == len(b.Waterfall)-1 && t.Threshold != 0:
			return inv(fmt.Errorf("%w: the last tranche takes the rest (threshold 0)", ErrBadWaterfall))
		case i < len(b.Waterfall)-1 && t.Threshold <= last:
			return inv(fmt.Errorf("%w: tranche %d threshold %d not above %d", ErrBadWaterfall, i, t.Threshold, last))
		case (t.Split == "") == t.Account.IsZero():
			return inv(fmt.Errorf("%w: tranche %d: a split or an account", ErrBadWaterfall, i))
		}
		last = t.Threshold
	}
	if _, err := s.createSplit(creator, b.ID, b.Holders, false); err != nil {
		return err
	}
	w := &Work{ID: b.ID, Creator: creator, CID: b.CID, ISRC: b.ISRC, ISWC: b.ISWC, Denoms: b.Denoms,
		ResaleBps: b.ResaleBps, Height: s.height()}
	for i, t := range b.Waterfall {
		id := t.Split
		if id == "" {
			id = fmt.Sprintf("%s/t%d", b.ID, i)
			if _, err := s.createSplit(creator, id, []Holder{{Account: t.Account, Units: TotalUnits}}, true); err != nil {
				return err
			}
		} else if id != b.ID {
			sp, err := s.split(id)
			if err != nil {
				return fmt.Errorf("tranche %d: %w", i, err)
			}
			if sp.Depth >= MaxDepth {
				return inv(fmt.Errorf("%w: tranche %d split %q", ErrTooDeep, i, id))
			}
		}
		w.Waterfall = append(w.Waterfall, Tranche{Split: id, Threshold: t.Threshold})
	}
	if err := s.put(keyWork(b.ID), w); err != nil {
		return err
	}
	if err := s.kv.Set(keyByCreator(creator, b.ID), marker); err != nil {
		return err
	}
	return s.emit("royalty.register", "work", b.ID, "creator", creator.String(), "cid", b.CID, "isrc", b.ISRC,
		"iswc", b.ISWC, "tranches", u64s(uint64(len(w.Waterfall))))
}

// checkIncrease: a cut may rise by at most MaxIncreaseBps per change and
// never above its maximum.
func checkIncrease(what string, old, proposed, maxBps, maxInc uint32) error {
	if proposed > maxBps {
		return fmt.Errorf("%w: %w: %s %d bps above the maximum %d", chain.ErrInvalidMsg, ErrCapIncrease, what, proposed, maxBps)
	}
	if proposed > old && proposed-old > maxInc {
		return fmt.Errorf("%w: %w: %s from %d to %d bps, at most +%d per change", chain.ErrInvalidMsg, ErrCapIncrease, what, old, proposed, maxInc)
	}
	return nil
}

func (s *st) proposeTerms(from chain.Address, b ProposeTerms) error {
	w, err := s.work(b.Work)
	if err != nil {
		return err
	}
	if from != w.Creator {
		return fmt.Errorf("%w: %w of %q", chain.ErrUnauthorized, ErrNotCreator, w.ID)
	}
	reg, err := s.registry()
	if err != nil {
		return err
	}
	// The cap counts from the value in effect, and a new proposal replaces
	// the pending one, so proposals cannot stack past it: a cut rises by at
	// most MaxIncreaseBps per timelock.
	if err := checkIncrease("resale royalty", w.ResaleBps, b.ResaleBps, reg.MaxResaleBps, reg.MaxIncreaseBps); err != nil {
		return err
	}
	if w.PendingAt != 0 {
		if err := s.kv.Delete(keyDue(w.PendingAt, w.ID)); err != nil {
			return err
		}
	}
	w.PendingResaleBps, w.PendingAt = b.ResaleBps, s.now+reg.TimelockSeconds
	if err := s.put(keyWork(w.ID), w); err != nil {
		return err
	}
	if err := s.kv.Set(keyDue(w.PendingAt, w.ID), marker); err != nil {
		return err
	}
	return s.emit("royalty.terms_proposed", "work", w.ID, "resale_bps", u64s(uint64(b.ResaleBps)), "effective", fmt.Sprint(w.PendingAt))
}

func (s *st) proposeFee(from chain.Address, b ProposeFee) error {
	reg, err := s.registry()
	if err != nil {
		return err
	}
	if reg.open() || from != reg.Operator {
		return fmt.Errorf("%w: %w", chain.ErrUnauthorized, ErrNotOperator)
	}
	if err := checkIncrease("platform fee", reg.PlatformBps, b.PlatformBps, reg.MaxPlatformBps, reg.MaxIncreaseBps); err != nil {
		return err
	}
	if reg.PendingAt != 0 {
		if err := s.kv.Delete(keyDue(reg.PendingAt, "")); err != nil {
			return err
		}
	}
	reg.PendingPlatformBps, reg.PendingAt = b.PlatformBps, s.now+reg.TimelockSeconds
	if err := s.put([]byte(pRegistry), reg); err != nil {
		return err
	}
	if err := s.kv.Set(keyDue(reg.PendingAt, ""), marker); err != nil {
		return err
	}
	return s.emit("royalty.fee_proposed", "platform_bps", u64s(uint64(b.PlatformBps)), "effective", fmt.Sprint(reg.PendingAt))
}

func (s *st) platformChange(from chain.Address, b PlatformChange, grant bool) error {
	reg, err := s.registry()
	if err != nil {
		return err
	}
	switch {
	case reg.open() && from != b.Account:
		return fmt.Errorf("%w: %w: an open registry (no operator) lets an account register only itself", chain.ErrUnauthorized, ErrNotOperator)
	case !reg.open() && from != reg.Operator:
		return fmt.Errorf("%w: %w", chain.ErrUnauthorized, ErrNotOperator)
	case b.Account.IsZero():
		return fmt.Errorf("%w: no account", chain.ErrInvalidMsg)
	}
	if !grant {
		if err := s.kv.Delete(keyPlatform(b.Account)); err != nil {
			return err
		}
		return s.emit("royalty.platform_revoked", "platform", b.Account.String())
	}
	if len(b.Name) == 0 || len(b.Name) > MaxIDLen {
		return fmt.Errorf("%w: platform name of %d bytes, want 1 to %d", chain.ErrInvalidMsg, len(b.Name), MaxIDLen)
	}
	p := Platform{Name: b.Name, Height: s.height()}
	if !reg.open() {
		p.GrantedBy = from
	}
	if err := s.put(keyPlatform(b.Account), &p); err != nil {
		return err
	}
	return s.emit("royalty.platform_granted", "platform", b.Account.String(), "name", b.Name)
}
