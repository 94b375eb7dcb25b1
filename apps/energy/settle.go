package energy

import (
	"fmt"
	"math"
	"sort"

	"github.com/dure-network/dure/chain"
)

// settle settles one cleared interval from the readings present at its
// deadline (see doc.go, "Settlement"):
//
//   - a seller's measured export and a buyer's measured import are
//     allocated to the meter's trades pro rata to the traded Wh (rounded
//     down) when short of the total;
//   - delivered = min(traded, seller's allocation, buyer's allocation);
//   - the seller is paid the delivered energy's value at the clearing
//     price, the operator its grid fee, and the rest of the trade's cost
//     returns to the buyer;
//   - a seller whose allocation is short of a trade pays PenaltyBps of the
//     shortfall's value to the buyer (at most what it holds);
//   - a missing reading counts against the side that failed to report: a
//     seller without a reading exported nothing, a buyer without one
//     imported everything it bought.
//
// Energy beyond the delivered trades is recorded in each meter's
// statement at the feed-in and retail prices; the retailer settles it.
// Each trade records its amounts; the transfers are summed per account:
// one per seller, one fee to the operator, one refund per buyer, and the
// penalties (seller to escrow, escrow to buyer), each with its event.
func (k *keeper) settle(mkID string, t int64) error {
	mk, err := k.market(mkID)
	if err != nil {
		return err
	}
	var cl Clearing
	if ok, err := k.get(keyClearing(mkID, t), &cl); err != nil || !ok {
		return fmt.Errorf("%w: no clearing (%v)", ErrCorrupt, err)
	}
	list, err := readTrades(k.m.codec, k.kv, mkID, t, math.MaxInt)
	if err != nil {
		return err
	}
	trades := make([]*Trade, len(list))
	for i := range list {
		trades[i] = &list[i]
	}
	// Per-meter figures: looked up by meter ID; iterated only through the
	// sorted ids slice.
	st := map[string]*Statement{}
	read := map[string]*StoredReading{}
	var ids []string
	for _, tr := range trades {
		for _, id := range []string{tr.Seller, tr.Buyer} {
			if st[id] == nil {
				st[id] = &Statement{Meter: id, Interval: t, Reading: "missing"}
				ids = append(ids, id)
			}
		}
		if st[tr.Seller].SoldWh, err = add(st[tr.Seller].SoldWh, tr.Wh); err != nil {
			return err
		}
		if st[tr.Buyer].BoughtWh, err = add(st[tr.Buyer].BoughtWh, tr.Wh); err != nil {
			return err
		}
	}
	sort.Strings(ids)
	for _, id := range ids {
		var sr StoredReading
		ok, err := k.get(keyReading(id, t), &sr)
		if err != nil {
			return err
		}
		s := st[id]
		if ok {
			read[id] = &sr
			s.Reading = flagName(sr.Flag)
			s.ImportWh, s.ExportWh = sr.ImportWh, sr.ExportWh
		} else {
			s.ExportWh, s.ImportWh = 0, s.BoughtWh // the default rule for a missing reading
		}
	}
	alloc := func(wh, measured, total uint64) (uint64, error) {
		if measured >= total {
			return wh, nil
		}
		return mulDiv(wh, measured, total)
	}
	// Amounts per trade first; then one transfer per payee and reason.
	var pays, refunds, penFrom, penTo tally
	var fees uint64
	short := make([]uint64, len(trades)) // Wh the seller's allocation fell short, per trade
	for i, tr := range trades {
		seller, buyer := st[tr.Seller], st[tr.Buyer]
		aS, err := alloc(tr.Wh, seller.ExportWh, seller.SoldWh)
		if err != nil {
			return err
		}
		aB, err := alloc(tr.Wh, buyer.ImportWh, buyer.BoughtWh)
		if err != nil {
			return err
		}
		d := min(tr.Wh, aS, aB)
		v, fee, total, err := cost(mk, d, tr.Price)
		if err != nil {
			return err
		}
		if total > tr.Cost {
			return fmt.Errorf("%w: trade %d delivers %d for %d, cost %d", ErrCorrupt, tr.Seq, total, tr.Cost, d)
		}
		tr.Settled, tr.DeliveredWh, tr.Paid, tr.Fee, tr.Refund = true, d, v, fee, tr.Cost-total
		short[i] = tr.Wh - aS
		if err := pays.add(tr.SellerAcc, v); err != nil {
			return err
		}
		if err := refunds.add(tr.BuyerAcc, tr.Refund); err != nil {
			return err
		}
		if fees, err = add(fees, fee); err != nil {
			return err
		}
	}
	escrow := EscrowAccount()
	ref := []string{"market", mkID, "interval", i64s(t)}
	if err := pays.pay(k, mk, escrow, "energy", ref); err != nil {
		return err
	}
	if _, err := k.payOrKeep(mk, escrow, mk.Operator, fees, "grid-fee", ref...); err != nil {
		return err
	}
	if err := refunds.pay(k, mk, escrow, "shortfall-refund", ref); err != nil {
		return err
	}
	// Penalties, at most what each seller holds now, in trade order.
	if mk.PenaltyBps > 0 {
		held := map[chain.Address]uint64{} // looked up; filled in trade order
		for i, tr := range trades {
			if short[i] == 0 {
				continue
			}
			pv, err := value(short[i], tr.Price)
			if err != nil {
				return err
			}
			p, err := mulDiv(pv, uint64(mk.PenaltyBps), 10000)
			if err != nil {
				return err
			}
			h, ok := held[tr.SellerAcc]
			if !ok {
				if h, err = k.m.bank.Balance(k.ctx, tr.SellerAcc, mk.Denom); err != nil {
					return err
				}
			}
			tr.Penalty = min(p, h)
			held[tr.SellerAcc] = h - tr.Penalty
			if err := penFrom.add(tr.SellerAcc, tr.Penalty); err != nil {
				return err
			}
		}
		failed := map[chain.Address]bool{} // sellers whose penalty transfer the currency refused
		if err := penFrom.payFrom(k, mk, escrow, "penalty", ref, failed); err != nil {
			return err
		}
		for _, tr := range trades {
			if failed[tr.SellerAcc] {
				tr.Penalty = 0
			}
			if err := penTo.add(tr.BuyerAcc, tr.Penalty); err != nil {
				return err
			}
		}
		if err := penTo.pay(k, mk, escrow, "penalty", ref); err != nil {
			return err
		}
	}
	for _, tr := range trades {
		seller, buyer := st[tr.Seller], st[tr.Buyer]
		for _, x := range []struct {
			p *uint64
			v uint64
		}{{&seller.DeliveredWh, tr.DeliveredWh}, {&buyer.DeliveredWh, tr.DeliveredWh}, {&seller.Received, tr.Paid},
			{&buyer.Paid, tr.Paid + tr.Fee}, {&buyer.Fees, tr.Fee}, {&buyer.Refunded, tr.Refund},
			{&seller.PenaltyPaid, tr.Penalty}, {&buyer.PenaltyGot, tr.Penalty}} {
			if *x.p, err = add(*x.p, x.v); err != nil {
				return err
			}
		}
	}
	if err := k.putTrades(mkID, t, list); err != nil {
		return err
	}
	for _, id := range ids {
		s := st[id]
		if read[id] != nil {
			sold := min(s.DeliveredWh, s.SoldWh)
			bought := min(s.DeliveredWh, s.BoughtWh)
			if s.ExportWh > sold {
				s.ExcessExportWh = s.ExportWh - sold
			}
			if s.ImportWh > bought {
				s.ExcessImportWh = s.ImportWh - bought
			}
			s.FeedInValue = valueSat(s.ExcessExportWh, mk.FeedInPrice)
			s.RetailValue = valueSat(s.ExcessImportWh, mk.RetailPrice)
		}
		if err := k.set(keyStatement(id, t), s); err != nil {
			return err
		}
	}
	cl.Settled = true
	if err := k.set(keyClearing(mkID, t), &cl); err != nil {
		return err
	}
	return k.emit("energy.settled", "market", mkID, "interval", i64s(t), "trades", u64s(uint64(len(trades))))
}

// tally sums amounts per account, remembering the order accounts first
// appear in (the order they are paid in).
type tally struct {
	order []chain.Address
	sum   map[chain.Address]uint64 // looked up; iterated only through order
}

func (t *tally) add(a chain.Address, v uint64) error {
	if t.sum == nil {
		t.sum = map[chain.Address]uint64{}
	}
	old, seen := t.sum[a]
	if !seen {
		t.order = append(t.order, a)
	}
	n, err := add(old, v)
	t.sum[a] = n
	return err
}

// pay moves each account's sum from the escrow to it.
func (t *tally) pay(k *keeper, mk *Market, escrow chain.Address, reason string, ref []string) error {
	for _, a := range t.order {
		if _, err := k.payOrKeep(mk, escrow, a, t.sum[a], reason, ref...); err != nil {
			return err
		}
	}
	return nil
}

// payFrom moves each account's sum from it to the escrow, marking in
// failed the accounts whose transfer the currency refused.
func (t *tally) payFrom(k *keeper, mk *Market, escrow chain.Address, reason string, ref []string, failed map[chain.Address]bool) error {
	for _, a := range t.order {
		got, err := k.payOrKeep(mk, a, escrow, t.sum[a], reason, ref...)
		if err != nil {
			return err
		}
		if got != t.sum[a] {
			failed[a] = true
		}
	}
	return nil
}
