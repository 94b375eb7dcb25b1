package royalty

import (
	"fmt"
	"slices"
	"strings"

	"github.com/dure-network/dure/chain"
)

func validPeriod(p string) error {
	if len(p) == 0 || len(p) > MaxPeriodLen {
		return fmt.Errorf("%w: period %q: 1 to %d characters such as 2026-11", ErrBadReport, p, MaxPeriodLen)
	}
	for i := 0; i < len(p); i++ {
		if c := p[i]; !(isDigit(c) || isUpper(c) || c >= 'a' && c <= 'z' || c == '-') {
			return fmt.Errorf("%w: period %q: letters, digits and '-'", ErrBadReport, p)
		}
	}
	return nil
}

func validTerritory(t string) error {
	if len(t) != 2 || !isUpper(t[0]) || !isUpper(t[1]) {
		return fmt.Errorf("%w: territory %q: ISO 3166-1 alpha-2 such as KR, or WW for worldwide", ErrBadReport, t)
	}
	return nil
}

// totals sums a report's lines per work, in work id order.
func totals(lines []ReportLine) ([]WorkTotal, error) {
	sorted := slices.Clone(lines)
	slices.SortStableFunc(sorted, func(a, b ReportLine) int { return strings.Compare(a.Work, b.Work) })
	var out []WorkTotal
	for _, l := range sorted {
		if n := len(out); n > 0 && out[n-1].Work == l.Work {
			v, err := add(out[n-1].Amount, l.Amount)
			if err != nil {
				return nil, fmt.Errorf("work %q: %w", l.Work, err)
			}
			out[n-1].Amount = v
			continue
		}
		out = append(out, WorkTotal{Work: l.Work, Amount: l.Amount})
	}
	return out, nil
}

// report settles a platform's usage report in one transaction: every
// work's total is paid through its terms. A superseding report pays only
// what it adds over the report it corrects; what it takes away becomes a
// credit of the platform for that work, used by its next reports.
func (s *st) report(from chain.Address, b SubmitReport) error {
	inv := func(err error) error { return fmt.Errorf("%w: %w", chain.ErrInvalidMsg, err) }
	var pf Platform
	if ok, err := s.get(keyPlatform(from), &pf); err != nil {
		return err
	} else if !ok {
		return fmt.Errorf("%w: %w: %s", chain.ErrUnauthorized, ErrNotPlatform, from)
	}
	if err := validID(b.ID, false); err != nil {
		return inv(err)
	}
	if err := validPeriod(b.Period); err != nil {
		return inv(err)
	}
	if err := validDenom(b.Denom); err != nil {
		return inv(err)
	}
	if len(b.Lines) == 0 || len(b.Lines) > MaxReportLines {
		return inv(fmt.Errorf("%w: %d lines, want 1 to %d", ErrBadReport, len(b.Lines), MaxReportLines))
	}
	for i, l := range b.Lines {
		if err := validID(l.Work, false); err != nil {
			return inv(fmt.Errorf("line %d: %w", i, err))
		}
		if err := validTerritory(l.Territory); err != nil {
			return inv(fmt.Errorf("line %d: %w", i, err))
		}
	}
	if v, err := s.r.Get(keyReport(from, b.ID)); err != nil {
		return err
	} else if v != nil {
		return inv(fmt.Errorf("%w: %q of %s", ErrDuplicateReport, b.ID, from))
	}
	tot, err := totals(b.Lines)
	if err != nil {
		return inv(err)
	}
	works := make([]*Work, len(tot))
	for i, t := range tot {
		w, err := s.work(t.Work)
		if err != nil {
			return err
		}
		if !slices.Contains(w.Denoms, b.Denom) {
			return inv(fmt.Errorf("%w: work %q is paid in %v, not %q", ErrBadDenom, w.ID, w.Denoms, b.Denom))
		}
		works[i] = w
	}
	var old *Report
	if b.Supersedes != "" {
		old = &Report{}
		if ok, err := s.get(keyReport(from, b.Supersedes), old); err != nil {
			return err
		} else if !ok {
			return inv(fmt.Errorf("%w: %q of %s", ErrUnknownReport, b.Supersedes, from))
		}
		switch {
		case old.SupersededBy != "":
			return inv(fmt.Errorf("%w: %q by %q", ErrSuperseded, old.ID, old.SupersededBy))
		case old.Period != b.Period || old.Denom != b.Denom:
			return inv(fmt.Errorf("%w: %q is for %s in %s, this report %s in %s", ErrBadReport, old.ID, old.Period, old.Denom, b.Period, b.Denom))
		}
	}
	// Merge the new totals with the old (both in work order): what each
	// work is owed now, net of the old report and of the platform's credit.
	type due struct {
		w   *Work // nil: only in the old report
		id  string
		amt uint64
	}
	var dues []due
	rep := &Report{Platform: from, ID: b.ID, Period: b.Period, Denom: b.Denom, Lines: b.Lines, Totals: tot,
		Supersedes: b.Supersedes, Height: s.height(), Time: s.now}
	var oldTot []WorkTotal
	if old != nil {
		oldTot = old.Totals
	}
	i, j := 0, 0
	for i < len(tot) || j < len(oldTot) {
		var id string
		var nw, ow uint64
		var w *Work
		switch {
		case j >= len(oldTot) || (i < len(tot) && tot[i].Work < oldTot[j].Work):
			id, nw, w = tot[i].Work, tot[i].Amount, works[i]
			i++
		case i >= len(tot) || oldTot[j].Work < tot[i].Work:
			id, ow = oldTot[j].Work, oldTot[j].Amount
			j++
		default:
			id, nw, ow, w = tot[i].Work, tot[i].Amount, oldTot[j].Amount, works[i]
			i++
			j++
		}
		ck := keyCredit(from, id, b.Denom)
		credit, err := s.getU64(ck)
		if err != nil {
			return err
		}
		if nw < ow {
			if credit, err = add(credit, ow-nw); err != nil {
				return inv(err)
			}
			rep.Credited += ow - nw // ≤ old report's total
			if err := s.setU64(ck, credit); err != nil {
				return err
			}
			continue
		}
		need := nw - ow
		used := min(credit, need)
		if used > 0 {
			if err := s.setU64(ck, credit-used); err != nil {
				return err
			}
			rep.CreditUsed += used // ≤ sum of totals
			need -= used
		}
		if need > 0 {
			if rep.Paid, err = add(rep.Paid, need); err != nil {
				return inv(err)
			}
			dues = append(dues, due{w, id, need})
		}
	}
	if rep.Paid > 0 {
		if err := s.m.bank.Transfer(s.ctx, from, PoolAccount(), b.Denom, rep.Paid); err != nil {
			return fmt.Errorf("royalty: report %s: %w", b.ID, err)
		}
	}
	for _, d := range dues {
		if err := s.distribute(d.w, b.Denom, d.amt, b.Period); err != nil {
			return err
		}
	}
	if old != nil {
		old.SupersededBy = b.ID
		if err := s.put(keyReport(from, old.ID), old); err != nil {
			return err
		}
	}
	if err := s.put(keyReport(from, b.ID), rep); err != nil {
		return err
	}
	return s.emit("royalty.report", "platform", from.String(), "report", b.ID, "period", b.Period, "denom", b.Denom,
		"lines", u64s(uint64(len(b.Lines))), "works", u64s(uint64(len(tot))), "paid", u64s(rep.Paid),
		"credit_used", u64s(rep.CreditUsed), "credited", u64s(rep.Credited), "supersedes", b.Supersedes)
}
