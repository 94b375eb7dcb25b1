package energy

import (
	"fmt"
	"testing"

	"github.com/dure-network/dure/chain"
)

// TestNeighbourhoodDay: five rooftop-solar prosumers, ten consumers, a
// battery and an EV charger trade 24 quarter-hours (06:00–12:00) in a
// local currency. A cloud makes the cheapest prosumer fall short at midday (it
// pays penalties), one consumer's gateway loses three readings (they
// settle by the default rule), the battery buys early and sells late, and
// a driver charges an EV. At the end every statement is recomputed
// independently from the queried trades and readings, money is conserved
// and the escrow is empty.
func TestNeighbourhoodDay(t *testing.T) {
	const (
		prosumers = 5
		consumers = 10
		battery   = 16
		charger   = 17
		intervals = 24
		start     = t0 + 6*3600 // 06:00
	)
	var owners []chain.Address
	for n := 1; n <= charger; n++ {
		owners = append(owners, owner(n))
	}
	h := newHarness(t, Params{}, owners...)
	h.setupMarket(stdMarket())
	devs := map[int]*device{}
	for n := 1; n <= charger; n++ {
		kind := KindProsumer
		switch {
		case n == battery:
			kind = KindBattery
		case n == charger:
			kind = KindEVCharger
		case n > prosumers:
			kind = KindConsumer
		}
		tariff := uint64(0)
		if n == charger {
			tariff = 150
		}
		h.meter(n, kind, tariff)
		devs[n] = newDevice(n)
	}
	supply := h.total()
	op0 := h.bal(operator)
	h.now = start - 3600 // 05:00: all orders for the morning

	solar := func(i int) uint64 { return uint64(200 * min(i, intervals-1-i)) }
	offer := func(p, i int) uint64 { return solar(i) * uint64(10+p) / 10 }
	for i := 0; i < intervals; i++ {
		T := start + int64(i)*900
		for p := 1; p <= prosumers; p++ {
			if wh := offer(p, i); wh > 0 {
				m, _ := MsgOffer(h.codec, devs[p].id, T, wh, uint64(70+5*p))
				h.must(owner(p), m, nil)
			}
		}
		for c := prosumers + 1; c <= prosumers+consumers; c++ {
			m, _ := MsgBid(h.codec, devs[c].id, T, uint64(250+20*c), uint64(120+5*c))
			h.must(owner(c), m, nil)
		}
		var m chain.Msg
		if i < intervals/2 {
			m, _ = MsgBid(h.codec, devs[battery].id, T, 1000, 95)
		} else {
			m, _ = MsgOffer(h.codec, devs[battery].id, T, 800, 150)
		}
		h.must(owner(battery), m, nil)
		if i >= 4 && i <= 10 {
			m, _ = MsgBid(h.codec, devs[charger].id, T, 1500, 140)
			h.must(owner(charger), m, nil)
		}
	}
	// The driver plugs in at 07:00 with a session of up to 12 kWh.
	driver := stranger
	d0 := h.bal(driver)

	// The day: blocks every 5 minutes; readings of each interval arrive
	// in one batch after it ends.
	lost := map[[2]int]bool{{9, 15}: true, {9, 16}: true, {9, 17}: true}
	for i := 0; i < intervals; i++ {
		T := start + int64(i)*900
		if T == start+4*900 {
			h.until(T, 300)
			m, _ := MsgStartSession(h.codec, devs[charger].id, 12_000, 200, T+4*3600)
			h.must(driver, m, nil)
		}
		h.until(T+900, 300)
		var rs []Reading
		for n := 1; n <= charger; n++ {
			if lost[[2]int{n, i}] {
				continue
			}
			var imp, exp uint64
			switch {
			case n <= prosumers:
				exp = offer(n, i)
				if n == 1 && i >= 10 && i <= 13 {
					exp = exp * 3 / 10 // the cloud
				}
				imp = 50
			case n == battery:
				if i < intervals/2 {
					imp = 1000
				} else {
					exp = 800
				}
			case n == charger:
				if i >= 4 && i <= 10 {
					imp = 1500
				}
			default:
				imp = uint64(260 + 20*n)
			}
			rs = append(rs, devs[n].read(h.codec, T, imp, exp))
		}
		if err := h.submit(rs...); err != nil {
			t.Fatalf("interval %d readings: %v", i, err)
		}
		if i == 8 { // the session ends: the charger signs 9,000 Wh
			d := devs[charger]
			d.counter++
			sr := SessionReading{Session: h.sessionID(), Charger: d.id, Counter: d.counter, StartWh: d.imp, StopWh: d.imp + 9000}
			d.imp += 9000
			sr.Sign(h.codec, devKey(charger))
			m, _ := MsgEndSession(h.codec, sr)
			h.must(gateway, m, nil)
		}
	}
	h.until(start+intervals*900+3600, 300)

	if h.total() != supply {
		t.Fatal("supply changed")
	}
	if e := h.bal(EscrowAccount()); e != 0 {
		t.Fatalf("escrow holds %d", e)
	}
	// Recompute every statement from the queried trades and readings.
	mk := stdMarket()
	var volume, paid, received, fees, penalties uint64
	var trades, missing int
	for i := 0; i < intervals; i++ {
		T := start + int64(i)*900
		cl := h.mustQuery("clearing", map[string]string{"market": "nowon", "interval": fmt.Sprint(T)}).(ClearingResult)
		if !cl.Settled {
			t.Fatalf("interval %d not settled", i)
		}
		readings := map[string]*StoredReading{}
		for n := 1; n <= charger; n++ {
			if r, err := h.query("reading", map[string]string{"meter": devs[n].id, "interval": fmt.Sprint(T)}); err == nil {
				sr := r.(ReadingResult).StoredReading
				readings[devs[n].id] = &sr
			}
		}
		want := recompute(t, &mk, T, cl.TradeList, readings)
		for id, w := range want {
			got := h.mustQuery("statement", map[string]string{"meter": id, "interval": fmt.Sprint(T)}).(*Statement)
			if *got != w {
				t.Fatalf("interval %d meter %s:\n got  %+v\n want %+v", i, id, *got, w)
			}
			paid += got.Paid
			received += got.Received
			fees += got.Fees
			penalties += got.PenaltyPaid
			if got.Reading == "missing" {
				missing++
			}
		}
		volume += cl.VolumeWh
		trades += len(cl.TradeList)
	}
	s := h.mustQuery("session", map[string]string{"id": fmt.Sprint(h.sessionID())}).(*Session)
	if !s.Settled || s.DeliveredWh != 9000 || d0-h.bal(driver) != s.Paid+s.Fee {
		t.Fatalf("session %+v", s)
	}
	if paid != received+fees {
		t.Fatalf("budget: paid %d != received %d + fees %d", paid, received, fees)
	}
	if got := h.bal(operator) - op0; got != fees+s.Fee {
		t.Fatalf("operator got %d, fees %d + session %d", got, fees, s.Fee)
	}
	if penalties == 0 || missing != 3 {
		t.Fatalf("penalties %d, missing readings %d", penalties, missing)
	}
	t.Logf("24 intervals: %d trades, %d Wh, buyers paid %d nw (sellers %d, grid fees %d), penalties %d; EV session %d Wh for %d + fee %d",
		trades, volume, paid, received, fees, penalties, s.DeliveredWh, s.Paid, s.Fee)
}

// sessionID is the last session started (IDs share the order sequence).
func (h *harness) sessionID() uint64 {
	s := h.read()
	var id uint64
	_ = s.Iterate([]byte(pSession), func(k, _ []byte) (bool, error) {
		id = be64u(k[len(pSession):])
		return false, nil
	})
	return id
}

// recompute is an independent implementation of the settlement rules of
// doc.go, from an interval's trades (as cleared) and readings.
func recompute(t *testing.T, mk *Market, at int64, trades []Trade, readings map[string]*StoredReading) map[string]Statement {
	out := map[string]Statement{}
	sold, bought := map[string]uint64{}, map[string]uint64{}
	for _, tr := range trades {
		sold[tr.Seller] += tr.Wh
		bought[tr.Buyer] += tr.Wh
	}
	measured := func(id string, export bool) uint64 {
		r := readings[id]
		switch {
		case r == nil && export:
			return 0
		case r == nil:
			return bought[id]
		case export:
			return r.ExportWh
		}
		return r.ImportWh
	}
	share := func(wh, have, total uint64) uint64 {
		if have >= total {
			return wh
		}
		return wh * have / total // small numbers: no overflow in the test
	}
	for _, tr := range trades {
		aS := share(tr.Wh, measured(tr.Seller, true), sold[tr.Seller])
		aB := share(tr.Wh, measured(tr.Buyer, false), bought[tr.Buyer])
		d := min(tr.Wh, aS, aB)
		v := d * tr.Price / 1000
		fee := d*mk.FeePerKWh/1000 + v*uint64(mk.FeeBps)/10000
		var pen uint64
		if aS < tr.Wh {
			pen = (tr.Wh - aS) * tr.Price / 1000 * uint64(mk.PenaltyBps) / 10000
		}
		if tr.DeliveredWh != d || tr.Paid != v || tr.Fee != fee || tr.Refund != tr.Cost-v-fee || tr.Penalty != pen {
			t.Fatalf("trade %d: %+v, recomputed delivered %d paid %d fee %d penalty %d", tr.Seq, tr, d, v, fee, pen)
		}
		s, b := out[tr.Seller], out[tr.Buyer]
		s.SoldWh += tr.Wh
		s.DeliveredWh += d
		s.Received += v
		s.PenaltyPaid += pen
		out[tr.Seller] = s
		b = out[tr.Buyer]
		b.BoughtWh += tr.Wh
		b.DeliveredWh += d
		b.Paid += v + fee
		b.Fees += fee
		b.Refunded += tr.Cost - v - fee
		b.PenaltyGot += pen
		out[tr.Buyer] = b
	}
	for id, s := range out {
		s.Meter, s.Interval = id, at
		r := readings[id]
		if r == nil {
			s.Reading, s.ImportWh, s.ExportWh = "missing", s.BoughtWh, 0
		} else {
			s.Reading, s.ImportWh, s.ExportWh = flagName(r.Flag), r.ImportWh, r.ExportWh
			if s.ExportWh > min(s.DeliveredWh, s.SoldWh) {
				s.ExcessExportWh = s.ExportWh - min(s.DeliveredWh, s.SoldWh)
			}
			if s.ImportWh > min(s.DeliveredWh, s.BoughtWh) {
				s.ExcessImportWh = s.ImportWh - min(s.DeliveredWh, s.BoughtWh)
			}
			s.FeedInValue = s.ExcessExportWh * mk.FeedInPrice / 1000
			s.RetailValue = s.ExcessImportWh * mk.RetailPrice / 1000
		}
		out[id] = s
	}
	return out
}
