package energy

import (
	"encoding/binary"
	"fmt"
	"sort"

	"github.com/dure-network/dure/chain"
)

// meterSide is which side a meter trades in an interval and how many of
// its orders are open there: 1 side byte + 4 bytes count.
func (k *keeper) meterSide(meter string, t int64) (side uint8, n uint32, err error) {
	b, err := k.kv.Get(keyMeterSide(meter, t))
	if err != nil || b == nil {
		return 0, 0, err
	}
	if len(b) != 5 {
		return 0, 0, fmt.Errorf("%w: meter side %q", ErrCorrupt, meter)
	}
	return b[0], binary.BigEndian.Uint32(b[1:]), nil
}

func (k *keeper) setMeterSide(meter string, t int64, side uint8, n uint32) error {
	if n == 0 {
		return k.kv.Delete(keyMeterSide(meter, t))
	}
	return k.kv.Set(keyMeterSide(meter, t), binary.BigEndian.AppendUint32([]byte{side}, n))
}

func (k *keeper) placeOrder(sender chain.Address, side uint8, b PlaceOrder) error {
	mt, err := k.activeMeter(b.Meter)
	if err != nil {
		return err
	}
	if mt.Owner != sender {
		return fmt.Errorf("%w: %w: %q", chain.ErrUnauthorized, ErrNotOwner, mt.ID)
	}
	if side == SideSell && !canSell(mt.Kind) || side == SideBuy && !canBuy(mt.Kind) {
		return fmt.Errorf("%w: %w: a %s meter cannot %s", chain.ErrInvalidMsg, ErrWrongKind, mt.Kind, sideName(side))
	}
	mk, err := k.market(mt.Market)
	if err != nil {
		return err
	}
	switch {
	case b.Interval < 0 || b.Interval%mk.IntervalSecs != 0:
		return fmt.Errorf("%w: %w: interval %d, grid %ds", chain.ErrInvalidMsg, ErrMisaligned, b.Interval, mk.IntervalSecs)
	case k.now >= b.Interval-mk.GateLeadSecs:
		return fmt.Errorf("%w: %w: interval %d closed at %d, block time %d", chain.ErrInvalidMsg, ErrGateClosed,
			b.Interval, b.Interval-mk.GateLeadSecs, k.now)
	case b.Interval > k.now+MaxHorizonSeconds:
		return fmt.Errorf("%w: %w: interval %d", chain.ErrInvalidMsg, ErrTooFarAhead, b.Interval)
	case b.Wh == 0 || b.Wh > MaxWhPerOrder:
		return fmt.Errorf("%w: %w: %d Wh (1 to %d)", chain.ErrInvalidMsg, ErrBadOrder, b.Wh, MaxWhPerOrder)
	case b.Price > MaxPrice || side == SideBuy && b.Price == 0:
		return fmt.Errorf("%w: %w: price %d (a bid 1 to %d)", chain.ErrInvalidMsg, ErrBadOrder, b.Price, uint64(MaxPrice))
	}
	ms, mn, err := k.meterSide(mt.ID, b.Interval)
	if err != nil {
		return err
	}
	if mn > 0 && ms != side {
		return fmt.Errorf("%w: %w: meter %q", chain.ErrInvalidMsg, ErrBothSides, mt.ID)
	}
	if mn >= MaxOrdersPerMeter {
		return fmt.Errorf("%w: %w: meter %q has %d", chain.ErrInvalidMsg, ErrMeterOrders, mt.ID, mn)
	}
	count, err := k.getU64(keyCount(mk.ID, b.Interval))
	if err != nil {
		return err
	}
	if count >= uint64(k.m.params.MaxOrdersPerInterval) {
		return fmt.Errorf("%w: %w: %d orders", chain.ErrInvalidMsg, ErrBookFull, count)
	}
	id, err := k.nextID()
	if err != nil {
		return err
	}
	o := Order{ID: id, Market: mk.ID, Interval: b.Interval, Side: side, Meter: mt.ID, Owner: sender, Wh: b.Wh, Price: b.Price}
	if side == SideBuy {
		if o.Escrow, err = mulDivUp(b.Wh, b.Price, 1000); err != nil {
			return err
		}
		if err := k.pay(mk, sender, EscrowAccount(), o.Escrow, "escrow", "order", u64s(id)); err != nil {
			return err
		}
	}
	if err := k.set(keyOrder(mk.ID, b.Interval, id), &o); err != nil {
		return err
	}
	if err := k.kv.Set(keyOrderIdx(id), tkey(str(nil, mk.ID), b.Interval)); err != nil {
		return err
	}
	if err := k.setU64(keyCount(mk.ID, b.Interval), count+1); err != nil {
		return err
	}
	if err := k.setMeterSide(mt.ID, b.Interval, side, mn+1); err != nil {
		return err
	}
	if count == 0 {
		if err := k.kv.Set(keyQueue(pGateQ, b.Interval-mk.GateLeadSecs, b.Interval, mk.ID), marker()); err != nil {
			return err
		}
	}
	return k.emit("energy.order", "order", u64s(id), "side", sideName(side), "market", mk.ID, "interval", i64s(b.Interval),
		"meter", mt.ID, "wh", u64s(b.Wh), "price", u64s(b.Price), "escrow", u64s(o.Escrow))
}

func sideName(s uint8) string {
	if s == SideBuy {
		return "buy"
	}
	return "sell"
}

// order finds an open order by ID.
func (k *keeper) order(id uint64) (*Order, error) {
	loc, err := k.kv.Get(keyOrderIdx(id))
	if err != nil {
		return nil, err
	}
	if loc == nil || len(loc) < 9 || int(loc[0]) != len(loc)-9 {
		return nil, fmt.Errorf("%w: %w: %d", chain.ErrInvalidMsg, ErrUnknownOrder, id)
	}
	mk := string(loc[1 : len(loc)-8])
	t := int64(binary.BigEndian.Uint64(loc[len(loc)-8:]))
	var o Order
	ok, err := k.get(keyOrder(mk, t, id), &o)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("%w: %w: %d", chain.ErrInvalidMsg, ErrUnknownOrder, id)
	}
	return &o, nil
}

func (k *keeper) cancel(sender chain.Address, id uint64) error {
	o, err := k.order(id)
	if err != nil {
		return err
	}
	if o.Owner != sender {
		return fmt.Errorf("%w: %w: order %d", chain.ErrUnauthorized, ErrNotOwner, id)
	}
	mk, err := k.market(o.Market)
	if err != nil {
		return err
	}
	if k.now >= o.Interval-mk.GateLeadSecs {
		return fmt.Errorf("%w: %w: order %d", chain.ErrInvalidMsg, ErrGateClosed, id)
	}
	if err := k.pay(mk, EscrowAccount(), o.Owner, o.Escrow, "refund", "order", u64s(id)); err != nil {
		return err
	}
	if err := k.kv.Delete(keyOrder(o.Market, o.Interval, id)); err != nil {
		return err
	}
	if err := k.kv.Delete(keyOrderIdx(id)); err != nil {
		return err
	}
	count, err := k.getU64(keyCount(o.Market, o.Interval))
	if err != nil {
		return err
	}
	if count > 0 {
		if err := k.setU64(keyCount(o.Market, o.Interval), count-1); err != nil {
			return err
		}
	}
	side, n, err := k.meterSide(o.Meter, o.Interval)
	if err != nil {
		return err
	}
	if n > 0 {
		if err := k.setMeterSide(o.Meter, o.Interval, side, n-1); err != nil {
			return err
		}
	}
	return k.emit("energy.cancel", "order", u64s(id), "refund", u64s(o.Escrow))
}

// match is one fill of the auction: quantity between asks[i] and bids[j].
type match struct {
	ask, bid int
	wh       uint64
}

// bidEntry is a bid with its energy price net of the grid fee.
type bidEntry struct {
	o   *Order
	net uint64
}

// auction is the uniform-price double auction of one interval. Asks are
// sorted by (price, order ID) ascending, bids by (net price descending,
// order ID ascending); fills walk both lists while the ask price is at
// most the bid's net price, so the traded volume is the largest at which
// supply meets demand. The clearing price is the midpoint of the last
// filled ask and the last filled bid's net price, rounded down: at least
// every filled ask and at most every filled net bid. The result is a
// function of the set of orders alone, whatever order they arrived in.
func auction(mk *Market, asks []*Order, bidsIn []*Order) (price uint64, bids []bidEntry, fills []match) {
	sort.Slice(asks, func(i, j int) bool {
		if asks[i].Price != asks[j].Price {
			return asks[i].Price < asks[j].Price
		}
		return asks[i].ID < asks[j].ID
	})
	for _, o := range bidsIn {
		if p, ok := netBid(mk, o.Price); ok {
			bids = append(bids, bidEntry{o: o, net: p})
		}
	}
	sort.Slice(bids, func(i, j int) bool {
		if bids[i].net != bids[j].net {
			return bids[i].net > bids[j].net
		}
		return bids[i].o.ID < bids[j].o.ID
	})
	var i, j int
	var remA, remB uint64
	if len(asks) > 0 {
		remA = asks[0].Wh
	}
	if len(bids) > 0 {
		remB = bids[0].o.Wh
	}
	var lastAsk, lastBid uint64
	for i < len(asks) && j < len(bids) && asks[i].Price <= bids[j].net {
		q := min(remA, remB)
		fills = append(fills, match{ask: i, bid: j, wh: q})
		lastAsk, lastBid = asks[i].Price, bids[j].net
		remA -= q
		remB -= q
		if remA == 0 {
			if i++; i < len(asks) {
				remA = asks[i].Wh
			}
		}
		if remB == 0 {
			if j++; j < len(bids) {
				remB = bids[j].o.Wh
			}
		}
	}
	if len(fills) > 0 {
		price = lastAsk + (lastBid-lastAsk)/2
	}
	return price, bids, fills
}

// clear runs the auction of (market, interval) at gate closure: trades are
// stored with their cost held in escrow, and every bid's escrow beyond
// the cost of its fills is refunded at once.
func (k *keeper) clear(mkID string, t int64) error {
	mk, err := k.market(mkID)
	if err != nil {
		return err
	}
	var asks, bids []*Order
	err = k.kv.Iterate(keyBookPrefix(mkID, t), func(_, v []byte) (bool, error) {
		o := new(Order)
		if err := k.m.codec.Unmarshal(v, o); err != nil {
			return true, fmt.Errorf("%w: order: %v", ErrCorrupt, err)
		}
		if o.Side == SideBuy {
			bids = append(bids, o)
		} else {
			asks = append(asks, o)
		}
		return false, nil
	})
	if err != nil {
		return err
	}
	price, sortedBids, fills := auction(mk, asks, bids)
	spent := make(map[uint64]uint64, len(bids)) // by bid ID; looked up, never iterated
	cl := Clearing{Market: mkID, Interval: t, Price: price, Offers: uint32(len(asks)), Bids: uint32(len(bids)),
		Height: k.ctx.Block.Height}
	trades := make([]Trade, 0, len(fills))
	for n, f := range fills {
		a, b := asks[f.ask], sortedBids[f.bid].o
		_, _, total, err := cost(mk, f.wh, price)
		if err != nil {
			return err
		}
		trades = append(trades, Trade{Seq: uint32(n), SellOrder: a.ID, BuyOrder: b.ID, Seller: a.Meter, Buyer: b.Meter,
			SellerAcc: a.Owner, BuyerAcc: b.Owner, Wh: f.wh, Price: price, Cost: total})
		if spent[b.ID], err = add(spent[b.ID], total); err != nil {
			return err
		}
		if cl.VolumeWh, err = add(cl.VolumeWh, f.wh); err != nil {
			return err
		}
	}
	cl.Trades = uint32(len(fills))
	if err := k.putTrades(mkID, t, trades); err != nil {
		return err
	}
	// Refunds: one transfer per buyer account, in the order of its first
	// bid by ID.
	sort.Slice(bids, func(i, j int) bool { return bids[i].ID < bids[j].ID })
	refund := make(map[chain.Address]uint64, len(bids)) // looked up; paid in the order of payees
	var payees []chain.Address
	for _, b := range bids {
		s := spent[b.ID]
		if s > b.Escrow {
			return fmt.Errorf("%w: order %d costs %d, escrow %d", ErrCorrupt, b.ID, s, b.Escrow)
		}
		if _, seen := refund[b.Owner]; !seen {
			payees = append(payees, b.Owner)
		}
		if refund[b.Owner], err = add(refund[b.Owner], b.Escrow-s); err != nil {
			return err
		}
	}
	for _, a := range payees {
		if _, err := k.payOrKeep(mk, EscrowAccount(), a, refund[a], "refund", "market", mkID, "interval", i64s(t)); err != nil {
			return err
		}
	}
	if len(fills) == 0 {
		cl.Settled = true
	} else if err := k.kv.Set(keyQueue(pSettleQ, t+mk.IntervalSecs+mk.ReadingDeadlineSecs, t, mkID), marker()); err != nil {
		return err
	}
	if err := k.set(keyClearing(mkID, t), &cl); err != nil {
		return err
	}
	return k.emit("energy.cleared", "market", mkID, "interval", i64s(t), "price", u64s(price),
		"volume_wh", u64s(cl.VolumeWh), "trades", u64s(uint64(cl.Trades)))
}

// putTrades writes an interval's trades in pages of TradesPerPage.
func (k *keeper) putTrades(mk string, t int64, trades []Trade) error {
	for p := 0; p*TradesPerPage < len(trades); p++ {
		page := TradePage{Trades: trades[p*TradesPerPage : min(len(trades), (p+1)*TradesPerPage)]}
		if err := k.set(keyTradePage(mk, t, uint32(p)), &page); err != nil {
			return err
		}
	}
	return nil
}

// readTrades is an interval's trades in Seq order, at most limit.
func readTrades(c *chain.Codec, r chain.KVReader, mk string, t int64, limit int) ([]Trade, error) {
	out := []Trade{}
	err := r.Iterate(keyTradePrefix(mk, t), func(_, v []byte) (bool, error) {
		var page TradePage
		if err := c.Unmarshal(v, &page); err != nil {
			return true, fmt.Errorf("%w: trade page: %v", ErrCorrupt, err)
		}
		for _, tr := range page.Trades {
			if len(out) >= limit {
				return true, nil
			}
			out = append(out, tr)
		}
		return len(out) >= limit, nil
	})
	return out, err
}
