package royalty

import (
	"fmt"
	"slices"

	"github.com/dure-network/dure/chain"
)

// Every sale is settled through the pool account (buyer → pool → seller,
// creator, operator), so it works in currencies whose holders may pay only
// merchants, and no cut can be skipped: the royalty and the platform fee
// are part of the trade, not a marketplace's choice.

func (s *st) nextSeq(key string) (uint64, error) {
	n, err := s.getU64([]byte(key))
	if err != nil {
		return 0, err
	}
	return n + 1, s.kv.Set([]byte(key), be64(nil, n+1))
}

// payOut moves amt of denom from the pool to a (nothing when zero).
func (s *st) payOut(to chain.Address, denom string, amt uint64) error {
	if amt == 0 {
		return nil
	}
	return s.m.bank.Transfer(s.ctx, PoolAccount(), to, denom, amt)
}

// lock moves units of from's holding into Locked.
func (s *st) lock(sp *Split, from chain.Address, units uint64) error {
	h, existed, err := s.loadHolding(sp, from)
	if err != nil {
		return err
	}
	if units == 0 || h.Units-h.Locked < units {
		return fmt.Errorf("%w: %w: %s holds %d free units of %q, offers %d", chain.ErrInsufficient, ErrNoShares,
			from, h.Units-h.Locked, sp.ID, units)
	}
	h.Locked += units
	_, err = s.saveHolding(sp, from, h, existed)
	return err
}

func (s *st) unlock(sp *Split, from chain.Address, units uint64) error {
	h, existed, err := s.loadHolding(sp, from)
	if err != nil {
		return err
	}
	if h.Locked < units {
		return fmt.Errorf("%w: %s has %d locked units of %q, unlocking %d", ErrCorrupt, from, h.Locked, sp.ID, units)
	}
	h.Locked -= units
	_, err = s.saveHolding(sp, from, h, existed)
	return err
}

func (s *st) sell(from chain.Address, b Sell) error {
	sp, err := s.split(b.Split)
	if err != nil {
		return err
	}
	if err := validDenom(b.Denom); err != nil {
		return fmt.Errorf("%w: %w", chain.ErrInvalidMsg, err)
	}
	if b.Price == 0 {
		return fmt.Errorf("%w: %w: price 0", chain.ErrInvalidMsg, ErrZeroAmount)
	}
	if _, err := mul(b.Units, b.Price); err != nil {
		return fmt.Errorf("%w: %w", chain.ErrInvalidMsg, err)
	}
	if err := s.lock(sp, from, b.Units); err != nil {
		return err
	}
	id, err := s.nextSeq(pOrderSeq)
	if err != nil {
		return err
	}
	o := Order{ID: id, Split: sp.ID, Seller: from, Units: b.Units, Denom: b.Denom, Price: b.Price}
	if err := s.put(keyOrder(id), &o); err != nil {
		return err
	}
	return s.emit("royalty.sell", "order", u64s(id), "split", sp.ID, "seller", from.String(), "units", u64s(b.Units),
		"denom", b.Denom, "price", u64s(b.Price))
}

// cuts are who gets what of a sale's price.
type cuts struct {
	operator, creator      chain.Address
	platformBps, resaleBps uint32
	platform, royalty, to  uint64
}

// saleCuts divides price (largest remainder, so the three parts sum to
// it exactly) into the platform fee, the creator's resale royalty (shares
// of a work only) and the rest.
func (s *st) saleCuts(split string, price uint64, resale bool) (*cuts, error) {
	reg, err := s.registry()
	if err != nil {
		return nil, err
	}
	c := &cuts{operator: reg.Operator, platformBps: reg.PlatformBps}
	if resale {
		var w Work
		ok, err := s.get(keyWork(split), &w)
		if err != nil {
			return nil, err
		}
		if ok {
			c.creator, c.resaleBps = w.Creator, w.ResaleBps
		}
	}
	parts, err := largestRemainder(price, []uint64{uint64(c.platformBps), uint64(c.resaleBps),
		uint64(BpsScale - c.platformBps - c.resaleBps)})
	if err != nil {
		return nil, err
	}
	c.platform, c.royalty, c.to = parts[0], parts[1], parts[2]
	return c, nil
}

func (s *st) buy(from chain.Address, b Buy) error {
	var o Order
	if ok, err := s.get(keyOrder(b.Order), &o); err != nil {
		return err
	} else if !ok {
		return fmt.Errorf("%w: %w %d", chain.ErrInvalidMsg, ErrUnknownOrder, b.Order)
	}
	units := b.Units
	if units == 0 {
		units = o.Units
	}
	if units > o.Units {
		return fmt.Errorf("%w: %w: order %d has %d units, not %d", chain.ErrInvalidMsg, ErrNoShares, o.ID, o.Units, units)
	}
	if from == o.Seller {
		return fmt.Errorf("%w: buying one's own order", chain.ErrInvalidMsg)
	}
	sp, err := s.split(o.Split)
	if err != nil {
		return err
	}
	price, err := mul(units, o.Price)
	if err != nil {
		return fmt.Errorf("%w: %w", chain.ErrInvalidMsg, err)
	}
	c, err := s.saleCuts(o.Split, price, true)
	if err != nil {
		return err
	}
	if err := s.m.bank.Transfer(s.ctx, from, PoolAccount(), o.Denom, price); err != nil {
		return fmt.Errorf("royalty: buy order %d: %w", o.ID, err)
	}
	if err := s.payOut(c.operator, o.Denom, c.platform); err != nil {
		return err
	}
	if err := s.payOut(c.creator, o.Denom, c.royalty); err != nil {
		return err
	}
	if err := s.payOut(o.Seller, o.Denom, c.to); err != nil {
		return err
	}
	if err := s.moveUnits(sp, o.Seller, from, units, true); err != nil {
		return err
	}
	o.Units -= units
	if o.Units == 0 {
		err = s.kv.Delete(keyOrder(o.ID))
	} else {
		err = s.put(keyOrder(o.ID), &o)
	}
	if err != nil {
		return err
	}
	return s.emit("royalty.buy", "order", u64s(o.ID), "split", o.Split, "buyer", from.String(), "seller", o.Seller.String(),
		"units", u64s(units), "denom", o.Denom, "price", u64s(price), "platform_fee", u64s(c.platform),
		"royalty", u64s(c.royalty), "seller_gets", u64s(c.to))
}

func (s *st) cancelOrder(from chain.Address, b CancelOrder) error {
	var o Order
	if ok, err := s.get(keyOrder(b.Order), &o); err != nil {
		return err
	} else if !ok {
		return fmt.Errorf("%w: %w %d", chain.ErrInvalidMsg, ErrUnknownOrder, b.Order)
	}
	if from != o.Seller {
		return fmt.Errorf("%w: only the seller cancels order %d", chain.ErrUnauthorized, o.ID)
	}
	sp, err := s.split(o.Split)
	if err != nil {
		return err
	}
	if err := s.unlock(sp, o.Seller, o.Units); err != nil {
		return err
	}
	if err := s.kv.Delete(keyOrder(o.ID)); err != nil {
		return err
	}
	return s.emit("royalty.cancel_order", "order", u64s(o.ID), "units", u64s(o.Units))
}

// MaxAuctionSeconds bounds an auction's duration (90 days).
const MaxAuctionSeconds = 90 * 86400

func (s *st) openAuction(from chain.Address, b OpenAuction) error {
	w, err := s.work(b.Work)
	if err != nil {
		return err
	}
	if from != w.Creator {
		return fmt.Errorf("%w: %w of %q: primary auctions are the creator's", chain.ErrUnauthorized, ErrNotCreator, w.ID)
	}
	if !slices.Contains(w.Denoms, b.Denom) {
		return fmt.Errorf("%w: %w: work %q is paid in %v, not %q", chain.ErrInvalidMsg, ErrBadDenom, w.ID, w.Denoms, b.Denom)
	}
	if b.MinPrice == 0 {
		return fmt.Errorf("%w: %w: minimum price 0", chain.ErrInvalidMsg, ErrZeroAmount)
	}
	if b.Duration <= 0 || b.Duration > MaxAuctionSeconds {
		return fmt.Errorf("%w: duration %ds, want 1s to %ds", chain.ErrInvalidMsg, b.Duration, MaxAuctionSeconds)
	}
	sp, err := s.split(w.ID)
	if err != nil {
		return err
	}
	if err := s.lock(sp, from, b.Units); err != nil {
		return err
	}
	id, err := s.nextSeq(pAuctSeq)
	if err != nil {
		return err
	}
	a := Auction{ID: id, Work: w.ID, Seller: from, Units: b.Units, Denom: b.Denom, MinPrice: b.MinPrice, End: s.now + b.Duration}
	if err := s.put(keyAuction(id), &a); err != nil {
		return err
	}
	return s.emit("royalty.auction_opened", "auction", u64s(id), "work", w.ID, "units", u64s(b.Units), "denom", b.Denom,
		"min_price", u64s(b.MinPrice), "end", fmt.Sprint(a.End))
}

func (s *st) auction(id uint64) (*Auction, error) {
	var a Auction
	if ok, err := s.get(keyAuction(id), &a); err != nil {
		return nil, err
	} else if !ok {
		return nil, fmt.Errorf("%w: %w %d", chain.ErrInvalidMsg, ErrUnknownAuction, id)
	}
	return &a, nil
}

func (s *st) bid(from chain.Address, b PlaceBid) error {
	a, err := s.auction(b.Auction)
	if err != nil {
		return err
	}
	switch {
	case a.Closed || s.now >= a.End:
		return fmt.Errorf("%w: %w: auction %d ended at %d", chain.ErrInvalidMsg, ErrAuctionClosed, a.ID, a.End)
	case b.Units == 0 || b.Units > a.Units:
		return fmt.Errorf("%w: bid for %d units, auction offers %d", chain.ErrInvalidMsg, b.Units, a.Units)
	case b.Price < a.MinPrice:
		return fmt.Errorf("%w: %w: %d < %d", chain.ErrInvalidMsg, ErrBadPrice, b.Price, a.MinPrice)
	case a.Bids >= MaxBids:
		return fmt.Errorf("%w: %w (%d)", chain.ErrInvalidMsg, ErrTooManyBids, MaxBids)
	case from == a.Seller:
		return fmt.Errorf("%w: the seller bids on its own auction", chain.ErrInvalidMsg)
	}
	escrow, err := mul(b.Units, b.Price)
	if err != nil {
		return fmt.Errorf("%w: %w", chain.ErrInvalidMsg, err)
	}
	if err := s.m.bank.Transfer(s.ctx, from, PoolAccount(), a.Denom, escrow); err != nil {
		return fmt.Errorf("royalty: bid on auction %d: %w", a.ID, err)
	}
	bd := Bid{Seq: a.Bids, Bidder: from, Units: b.Units, Price: b.Price}
	if err := s.put(keyBid(a.ID, bd.Seq), &bd); err != nil {
		return err
	}
	a.Bids++
	if err := s.put(keyAuction(a.ID), a); err != nil {
		return err
	}
	return s.emit("royalty.bid", "auction", u64s(a.ID), "bidder", from.String(), "units", u64s(b.Units),
		"price", u64s(b.Price), "escrow", u64s(escrow))
}

// closeAuction clears an ended auction at one price: bids are filled from
// the highest price down (earlier bids first at equal prices) until the
// units run out, and every winner pays the lowest filled bid's price.
// Escrow above that is refunded, unsold units unlocked. The proceeds, after
// the platform fee, first fill the work's unrecouped waterfall tranches;
// the rest is the seller's.
func (s *st) closeAuction(b CloseAuction) error {
	a, err := s.auction(b.Auction)
	if err != nil {
		return err
	}
	if a.Closed {
		return fmt.Errorf("%w: %w: auction %d", chain.ErrInvalidMsg, ErrAuctionClosed, a.ID)
	}
	if s.now < a.End {
		return fmt.Errorf("%w: %w: auction %d ends at %d, now %d", chain.ErrInvalidMsg, ErrAuctionOpen, a.ID, a.End, s.now)
	}
	var bids []Bid
	err = s.r.Iterate(keyBidPrefix(a.ID), func(_, v []byte) (bool, error) {
		var bd Bid
		if err := s.m.codec.Unmarshal(v, &bd); err != nil {
			return true, fmt.Errorf("%w: bid: %v", ErrCorrupt, err)
		}
		bids = append(bids, bd)
		return false, nil
	})
	if err != nil {
		return err
	}
	order := slices.Clone(bids)
	slices.SortStableFunc(order, func(x, y Bid) int {
		switch {
		case x.Price > y.Price:
			return -1
		case x.Price < y.Price:
			return 1
		}
		return int(x.Seq) - int(y.Seq)
	})
	left := a.Units
	for i := range order {
		if left == 0 {
			break
		}
		order[i].Filled = min(left, order[i].Units)
		left -= order[i].Filled
		a.Price = order[i].Price // lowest filled so far
	}
	a.Sold = a.Units - left
	sp, err := s.split(a.Work)
	if err != nil {
		return err
	}
	for _, bd := range order {
		paid := bd.Filled * a.Price // ≤ Units × Price, which was escrowed
		if err := s.payOut(bd.Bidder, a.Denom, bd.Units*bd.Price-paid); err != nil {
			return err
		}
		if bd.Filled > 0 {
			if err := s.moveUnits(sp, a.Seller, bd.Bidder, bd.Filled, true); err != nil {
				return err
			}
		}
		if err := s.put(keyBid(a.ID, bd.Seq), &bd); err != nil {
			return err
		}
	}
	if left > 0 {
		if err := s.unlock(sp, a.Seller, left); err != nil {
			return err
		}
	}
	proceeds := a.Sold * a.Price // ≤ escrow
	c, err := s.saleCuts(a.Work, proceeds, false)
	if err != nil {
		return err
	}
	if err := s.payOut(c.operator, a.Denom, c.platform); err != nil {
		return err
	}
	rest := c.to
	w, err := s.work(a.Work)
	if err != nil {
		return err
	}
	for i, t := range w.Waterfall {
		if i == len(w.Waterfall)-1 || rest == 0 || w.Income >= t.Threshold {
			continue
		}
		part := min(rest, t.Threshold-w.Income)
		if err := s.creditSplit(t.Split, a.Denom, part, ""); err != nil {
			return err
		}
		w.Income += part
		rest -= part
		if err := s.emit("royalty.tranche", "work", w.ID, "tranche", u64s(uint64(i)), "split", t.Split, "denom", a.Denom,
			"amount", u64s(part)); err != nil {
			return err
		}
		if err := s.put(keyWork(w.ID), w); err != nil {
			return err
		}
	}
	if err := s.payOut(a.Seller, a.Denom, rest); err != nil {
		return err
	}
	a.Closed = true
	if err := s.put(keyAuction(a.ID), a); err != nil {
		return err
	}
	return s.emit("royalty.auction_closed", "auction", u64s(a.ID), "work", a.Work, "sold", u64s(a.Sold),
		"price", u64s(a.Price), "proceeds", u64s(proceeds), "platform_fee", u64s(c.platform), "seller_gets", u64s(rest))
}
