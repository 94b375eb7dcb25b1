package energy

import (
	"fmt"
	"sort"
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
func (k *keeper) settle(mkID string, t int64) error {
	mk, err := k.market(mkID)
	if err != nil {
		return err
	}
	var cl Clearing
	if ok, err := k.get(keyClearing(mkID, t), &cl); err != nil || !ok {
		return fmt.Errorf("%w: no clearing (%v)", ErrCorrupt, err)
	}
	var trades []*Trade
	err = k.kv.Iterate(keyTradePrefix(mkID, t), func(_, v []byte) (bool, error) {
		tr := new(Trade)
		if err := k.m.codec.Unmarshal(v, tr); err != nil {
			return true, fmt.Errorf("%w: trade: %v", ErrCorrupt, err)
		}
		trades = append(trades, tr)
		return false, nil
	})
	if err != nil {
		return err
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
	escrow := EscrowAccount()
	for _, tr := range trades {
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
		ref := []string{"market", mkID, "interval", i64s(t), "trade", u64s(uint64(tr.Seq))}
		if tr.Paid, err = k.payOrKeep(mk, escrow, tr.SellerAcc, v, "energy", ref...); err != nil {
			return err
		}
		if tr.Fee, err = k.payOrKeep(mk, escrow, mk.Operator, fee, "grid-fee", ref...); err != nil {
			return err
		}
		if tr.Refund, err = k.payOrKeep(mk, escrow, tr.BuyerAcc, tr.Cost-total, "shortfall-refund", ref...); err != nil {
			return err
		}
		if aS < tr.Wh && mk.PenaltyBps > 0 {
			if tr.Penalty, err = k.penalty(mk, tr, tr.Wh-aS, ref); err != nil {
				return err
			}
		}
		tr.Settled, tr.DeliveredWh = true, d
		if err := k.set(keyTrade(mkID, t, tr.Seq), tr); err != nil {
			return err
		}
		for _, x := range []struct {
			p *uint64
			v uint64
		}{{&seller.DeliveredWh, d}, {&buyer.DeliveredWh, d}, {&seller.Received, tr.Paid},
			{&buyer.Paid, v + fee}, {&buyer.Fees, fee}, {&buyer.Refunded, tr.Refund},
			{&seller.PenaltyPaid, tr.Penalty}, {&buyer.PenaltyGot, tr.Penalty}} {
			if *x.p, err = add(*x.p, x.v); err != nil {
				return err
			}
		}
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

// penalty moves PenaltyBps of the value of short Wh from the seller to the
// buyer, through escrow (so merchants-only currencies allow it), at most
// what the seller holds.
func (k *keeper) penalty(mk *Market, tr *Trade, short uint64, ref []string) (uint64, error) {
	pv, err := value(short, tr.Price)
	if err != nil {
		return 0, err
	}
	p, err := mulDiv(pv, uint64(mk.PenaltyBps), 10000)
	if err != nil || p == 0 {
		return 0, err
	}
	have, err := k.m.bank.Balance(k.ctx, tr.SellerAcc, mk.Denom)
	if err != nil {
		return 0, err
	}
	p = min(p, have)
	got, err := k.payOrKeep(mk, tr.SellerAcc, EscrowAccount(), p, "penalty", ref...)
	if err != nil || got == 0 {
		return 0, err
	}
	return k.payOrKeep(mk, EscrowAccount(), tr.BuyerAcc, got, "penalty", ref...)
}
