package energy

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/dure-network/dure/chain"
)

func randomBook(rng *rand.Rand, n int) (asks, bids []*Order) {
	for i := 0; i < n; i++ {
		o := &Order{ID: uint64(i + 1), Wh: 1 + rng.Uint64N(5000), Price: 1 + rng.Uint64N(300), Owner: addr(byte(i))}
		if rng.IntN(4) == 0 { // ties in price
			o.Price = 100
		}
		if rng.IntN(2) == 0 {
			o.Side = SideSell
			asks = append(asks, o)
		} else {
			o.Side = SideBuy
			o.Escrow, _ = mulDivUp(o.Wh, o.Price, 1000)
			bids = append(bids, o)
		}
	}
	return asks, bids
}

func cloneOrders(os []*Order) []*Order {
	out := make([]*Order, len(os))
	for i, o := range os {
		c := *o
		out[i] = &c
	}
	return out
}

type fill struct{ ask, bid, wh uint64 }

func runAuction(mk *Market, asks, bids []*Order) (uint64, []fill, []bidEntry, []*Order) {
	price, be, fs := auction(mk, asks, bids)
	out := make([]fill, len(fs))
	for i, f := range fs {
		out[i] = fill{asks[f.ask].ID, be[f.bid].o.ID, f.wh}
	}
	return price, out, be, asks
}

// TestAuctionProperties: over random books (with price ties and fees),
// every cleared order is individually rational, buyers' payments equal
// sellers' receipts plus fees, the volume is the largest any price allows,
// and the result does not depend on the order the book is read in.
func TestAuctionProperties(t *testing.T) {
	markets := []Market{
		{FeePerKWh: 0, FeeBps: 0},
		{FeePerKWh: 10, FeeBps: 100},
		{FeePerKWh: 37, FeeBps: 0},
		{FeePerKWh: 0, FeeBps: 2500},
	}
	for seed := uint64(0); seed < 400; seed++ {
		rng := rand.New(rand.NewPCG(seed, 7))
		mk := markets[seed%uint64(len(markets))]
		asks, bids := randomBook(rng, 1+rng.IntN(60))
		price, fills, sorted, sortedAsks := runAuction(&mk, cloneOrders(asks), cloneOrders(bids))
		byID := map[uint64]*Order{}
		for _, o := range append(slices.Clone(asks), bids...) {
			byID[o.ID] = o
		}
		netOf := map[uint64]uint64{}
		for _, b := range sorted {
			netOf[b.o.ID] = b.net
		}
		var volume, paid, received, fees uint64
		filled := map[uint64]uint64{}
		for _, f := range fills {
			a, b := byID[f.ask], byID[f.bid]
			if a.Price > price || netOf[b.ID] < price {
				t.Fatalf("seed %d: price %d outside ask %d / net bid %d", seed, price, a.Price, netOf[b.ID])
			}
			v, fee, total, err := cost(&mk, f.wh, price)
			if err != nil {
				t.Fatal(err)
			}
			if limit, _ := mulDiv(f.wh, b.Price, 1000); total > limit {
				t.Fatalf("seed %d: buyer %d pays %d for %d Wh, limit %d", seed, b.ID, total, f.wh, limit)
			}
			if floor, _ := value(f.wh, a.Price); v < floor {
				t.Fatalf("seed %d: seller %d gets %d, ask worth %d", seed, a.ID, v, floor)
			}
			volume += f.wh
			paid += total
			received += v
			fees += fee
			filled[a.ID] += f.wh
			filled[b.ID] += f.wh
		}
		if paid != received+fees {
			t.Fatalf("seed %d: budget: paid %d != received %d + fees %d", seed, paid, received, fees)
		}
		for id, q := range filled {
			if q > byID[id].Wh {
				t.Fatalf("seed %d: order %d overfilled", seed, id)
			}
		}
		// Maximal volume: no price gives more than min(supply, demand).
		var best uint64
		for _, p := range candidatePrices(sortedAsks, sorted) {
			var s, d uint64
			for _, a := range asks {
				if a.Price <= p {
					s += a.Wh
				}
			}
			for _, b := range sorted {
				if b.net >= p {
					d += b.o.Wh
				}
			}
			best = max(best, min(s, d))
		}
		if volume != best {
			t.Fatalf("seed %d: volume %d, best possible %d", seed, volume, best)
		}
		// Any permutation of the same orders gives the same result.
		for k := 0; k < 3; k++ {
			pa, pb := cloneOrders(asks), cloneOrders(bids)
			rng.Shuffle(len(pa), func(i, j int) { pa[i], pa[j] = pa[j], pa[i] })
			rng.Shuffle(len(pb), func(i, j int) { pb[i], pb[j] = pb[j], pb[i] })
			p2, f2, _, _ := runAuction(&mk, pa, pb)
			if p2 != price || !slices.Equal(f2, fills) {
				t.Fatalf("seed %d: permutation changed the result", seed)
			}
		}
		// Submitted in another order, IDs differ: price and volume do not.
		all := append(cloneOrders(asks), cloneOrders(bids)...)
		rng.Shuffle(len(all), func(i, j int) { all[i], all[j] = all[j], all[i] })
		var ra, rb []*Order
		for i, o := range all {
			o.ID = uint64(i + 1)
			if o.Side == SideSell {
				ra = append(ra, o)
			} else {
				rb = append(rb, o)
			}
		}
		p3, f3, _, _ := runAuction(&mk, ra, rb)
		var v3 uint64
		for _, f := range f3 {
			v3 += f.wh
		}
		if p3 != price || v3 != volume {
			t.Fatalf("seed %d: resubmission changed price %d→%d or volume %d→%d", seed, price, p3, volume, v3)
		}
	}
}

func candidatePrices(asks []*Order, bids []bidEntry) []uint64 {
	var ps []uint64
	for _, a := range asks {
		ps = append(ps, a.Price)
	}
	for _, b := range bids {
		ps = append(ps, b.net)
	}
	return ps
}

// TestMoneyConserved drives the module with random orders, cancels,
// readings (some missing, short or long) and blocks: the denom's supply
// never changes, escrow always holds exactly what is owed, and once every
// interval has settled it holds nothing.
func TestMoneyConserved(t *testing.T) {
	for seed := uint64(1); seed <= 12; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) { randomRun(t, seed) })
	}
}

// TestReplayIsIdentical: the same transactions and block times give the
// same state root.
func TestReplayIsIdentical(t *testing.T) {
	a, b := randomRun(t, 5), randomRun(t, 5)
	a.block(0)
	b.block(0)
	if a.mt.StateRoot() != b.mt.StateRoot() {
		t.Fatal("state roots differ")
	}
	if len(a.events) != len(b.events) {
		t.Fatal("event counts differ")
	}
}

// randomRun drives the module at random from seed (see TestMoneyConserved).
func randomRun(t *testing.T, seed uint64) *harness {
	const meters = 8
	rng := rand.New(rand.NewPCG(seed, 99))
	var owners []chain.Address
	for i := 1; i <= meters; i++ {
		owners = append(owners, owner(i))
	}
	h := newHarness(t, Params{MaxIntervalsPerBlock: 2}, owners...)
	mk := stdMarket()
	mk.FeePerKWh, mk.FeeBps, mk.PenaltyBps = rng.Uint64N(20), uint32(rng.IntN(500)), uint32(rng.IntN(5000))
	h.setupMarket(mk)
	kinds := []string{KindProsumer, KindConsumer, KindProducer, KindBattery}
	devs := make([]*device, meters+1)
	for i := 1; i <= meters; i++ {
		h.meter(i, kinds[i%len(kinds)], 0)
		devs[i] = newDevice(i)
	}
	supply := h.total()
	var orders []uint64
	next := uint64(1)
	for step := 0; step < 300; step++ {
		n := 1 + rng.IntN(meters)
		first := (h.now/900 + 1) * 900
		T := first + int64(rng.IntN(6))*900
		switch rng.IntN(5) {
		case 0, 1:
			wh, p := 1+rng.Uint64N(3000), 1+rng.Uint64N(250)
			var m chain.Msg
			if rng.IntN(2) == 0 {
				m, _ = MsgOffer(h.codec, devs[n].id, T, wh, p)
			} else {
				m, _ = MsgBid(h.codec, devs[n].id, T, wh, p)
			}
			if h.deliver(owner(n), m) == nil {
				orders = append(orders, next)
				next++
			}
		case 2:
			if len(orders) > 0 {
				id := orders[rng.IntN(len(orders))]
				var o Order
				k := h.m.keeper(h.ctx(chain.Address{}))
				if op, err := k.order(id); err == nil {
					o = *op
					m, _ := MsgCancel(h.codec, id)
					_ = h.deliver(o.Owner, m)
				}
			}
		case 3:
			// readings for the last ended interval, sometimes missing
			last := (h.now/900 - 1) * 900
			var rs []Reading
			for i := 1; i <= meters; i++ {
				if rng.IntN(4) > 0 && (devs[i].counter == 0 || last > h.lastInterval(devs[i].id)) {
					rs = append(rs, devs[i].read(h.codec, last, rng.Uint64N(2500), rng.Uint64N(2500)))
				}
			}
			if len(rs) > 0 {
				if err := h.submit(rs...); err != nil {
					t.Fatalf("readings: %v", err)
				}
			}
		case 4:
			h.block(int64(60 + rng.IntN(600)))
		}
		if h.total() != supply {
			t.Fatalf("step %d: supply changed", step)
		}
		h.checkEscrow()
	}
	h.until(h.now+7*3600, 300)
	h.checkEscrow()
	if e := h.bal(EscrowAccount()); e != 0 {
		t.Fatalf("escrow holds %d after everything settled", e)
	}
	counts := map[string]int{}
	for _, e := range h.events {
		counts[e.Type]++
	}
	if counts["energy.settled"] == 0 || counts["energy.cancel"] == 0 {
		t.Fatalf("the run exercised too little: %v", counts)
	}
	t.Logf("events: %v", counts)
	return h
}

func (h *harness) lastInterval(meter string) int64 {
	mt := h.mustQuery("meter", map[string]string{"id": meter}).(*Meter)
	if !mt.HasReading {
		return -1
	}
	return mt.LastInterval
}
