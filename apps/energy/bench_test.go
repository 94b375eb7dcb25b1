//go:build unix

package energy

import (
	"fmt"
	"runtime"
	"syscall"
	"testing"

	"github.com/dure-network/dure/chain"
)

// BenchmarkClear10kOrders: the EndBlock that clears one interval holding
// 10,000 orders (5,000 offers, 5,000 bids from 200 meters, crossing
// prices), with every trade and refund written through the real currency
// module over in-memory stores.
func BenchmarkClear10kOrders(b *testing.B) {
	const meters, perMeter = 200, 50
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		var owners []chain.Address
		for n := 1; n <= meters; n++ {
			owners = append(owners, owner(n))
		}
		h := newHarness(b, Params{}, owners...)
		h.setupMarket(stdMarket())
		T := t0 + 3600
		for n := 1; n <= meters; n++ {
			kind := KindProducer
			if n%2 == 0 {
				kind = KindConsumer
			}
			id := h.meter(n, kind, 0)
			for j := 0; j < perMeter; j++ {
				p := uint64(50 + (n*31+j*17)%150)
				var m chain.Msg
				if kind == KindProducer {
					m, _ = MsgOffer(h.codec, id, T, uint64(100+j*7), p)
				} else {
					m, _ = MsgBid(h.codec, id, T, uint64(100+j*5), p+30)
				}
				h.must(owner(n), m, nil)
			}
		}
		h.now = T - 300
		ctx := h.ctx(chain.Address{})
		runtime.GC()
		c0 := cpuTime()
		b.StartTimer()
		if err := h.m.EndBlock(ctx); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		b.ReportMetric(float64(cpuTime()-c0)/1e6, "cpu-ms/op")
		r := h.mustQuery("clearing", map[string]string{"market": "nowon", "interval": fmt.Sprint(T), "limit": "1"}).(ClearingResult)
		if r.Trades == 0 || r.Offers+r.Bids != meters*perMeter {
			b.Fatalf("clearing %+v", r.Clearing)
		}
		b.ReportMetric(float64(r.Trades), "trades")
	}
}

// BenchmarkReadings1000: 1,000 device-signed readings of 1,000 meters in
// one block, as two gateway messages of 500 (a tx is at most 64 KiB):
// batch signature verification, checks and writes.
func BenchmarkReadings1000(b *testing.B) {
	const n, perMsg = 1000, 500
	h := newHarness(b, Params{})
	h.setupMarket(stdMarket())
	devs := make([]*device, n)
	for i := 0; i < n; i++ {
		h.meter(i+1, KindProsumer, 0)
		devs[i] = newDevice(i + 1)
	}
	b.ResetTimer()
	for it := 0; it < b.N; it++ {
		b.StopTimer()
		T := h.now
		h.now += 900
		var msgs []chain.Msg
		size := 0
		for k := 0; k < n; k += perMsg {
			rs := make([]Reading, perMsg)
			for i := range rs {
				rs[i] = devs[k+i].read(h.codec, T, 10, 20)
			}
			msg, _ := MsgSubmitReadings(h.codec, rs)
			msgs = append(msgs, msg)
			size = max(size, len(msg.Body))
		}
		runtime.GC()
		c0 := cpuTime()
		b.StartTimer()
		for _, msg := range msgs {
			if err := h.m.Deliver(h.ctx(gateway), msg); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		b.ReportMetric(float64(cpuTime()-c0)/1e6, "cpu-ms/op")
		b.ReportMetric(float64(size), "bytes/msg")
		h.open.commit()
	}
}

// cpuTime is the process's user+system CPU time in nanoseconds: on a
// shared, overloaded machine it measures the work, where wall time
// measures the neighbours too.
func cpuTime() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
