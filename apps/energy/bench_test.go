//go:build unix

package energy

import (
	"encoding/json"
	"fmt"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/dure-network/dure/apps/currency"
	"github.com/dure-network/dure/chain"
	"github.com/dure-network/dure/chain/moduletest"
)

// BenchmarkReadings1000: 1,000 device-signed readings of 1,000 meters in
// one block, as two gateway messages of 500 (a tx is at most 64 KiB):
// batch signature verification, checks and writes into the open block of
// real state (the block's commit is not timed).
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
			if err := h.deliver(gateway, msg); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		b.ReportMetric(float64(cpuTime()-c0)/1e6, "cpu-ms/op")
		b.ReportMetric(float64(size), "bytes/msg")
		h.block(0)
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

// BenchmarkClear10kOrdersOnChain: clearing one interval of 10,000 orders
// (5,000 offers and 5,000 bids from 200 meters, crossing prices) on the
// real executor and sparse-Merkle state in Badger (chain/moduletest): the
// timed block is the one whose EndBlock clears it, including staging the
// state root and committing it; then the block settling it is measured
// the same way (settle-cpu-ms).
func BenchmarkClear10kOrdersOnChain(b *testing.B) {
	const keys, metersPerKey, perMeter = 10, 20, 50
	for it := 0; it < b.N; it++ {
		b.StopTimer()
		c := chain.MustCodec()
		curKey, enKey := chain.NewStoreKey(currency.ModuleName), chain.NewStoreKey(ModuleName)
		cur := currency.New(curKey, c, currency.DefaultParams())
		en := New(enKey, c, cur, DefaultParams())
		cg := currency.Genesis{NativeDenom: "dure",
			Currencies: []currency.Currency{{Denom: denom, Issuer: moduletest.KeyFromIndex(0).PubKey().Address(), Rules: currency.Rules{Transfer: currency.TransferFree}}}}
		mk := stdMarket()
		mk.Creator = moduletest.KeyFromIndex(0).PubKey().Address()
		eg := Genesis{Markets: []Market{mk}}
		for k := 0; k < keys; k++ {
			a := moduletest.KeyFromIndex(k).PubKey().Address()
			cg.Balances = append(cg.Balances, currency.GenesisBalance{Address: a, Denom: denom, Amount: 1 << 40})
			for j := 0; j < metersPerKey; j++ {
				kind := KindProducer
				if k%2 == 1 {
					kind = KindConsumer
				}
				eg.Meters = append(eg.Meters, GenesisMeter{ID: fmt.Sprintf("k%d-m%d", k, j), Market: "nowon", Owner: a,
					DeviceKey: devKey(k*100 + j).PubKey(), Kind: kind, Attested: true})
			}
		}
		cj, _ := json.Marshal(cg)
		ej, _ := json.Marshal(eg)
		h := moduletest.New(b, moduletest.Config{Modules: []chain.Module{cur, en}, Keys: []*chain.StoreKey{curKey, enKey},
			Genesis: map[string]json.RawMessage{currency.ModuleName: cj, ModuleName: ej}, GenesisTime: time.Unix(t0, 0),
			BlockInterval: time.Second, NumKeys: keys, Fee: 1 << 20})
		T := t0 + 3600
		pending := make([][]chain.Msg, keys) // per key; a tx carries at most 16
		for k := 0; k < keys; k++ {
			for j := 0; j < metersPerKey; j++ {
				id := fmt.Sprintf("k%d-m%d", k, j)
				for o := 0; o < perMeter; o++ {
					p := uint64(50 + (k*31+j*7+o*17)%150)
					var m chain.Msg
					if k%2 == 0 {
						m, _ = MsgOffer(c, id, T, uint64(100+o*7), p)
					} else {
						m, _ = MsgBid(c, id, T, uint64(100+o*5), p+30)
					}
					pending[k] = append(pending[k], m)
				}
			}
		}
		for len(pending[0]) > 0 {
			var txs []*chain.DecodedTx
			for k := range pending {
				n := min(16, len(pending[k]))
				txs = append(txs, h.Tx(moduletest.KeyFromIndex(k), 1<<20, pending[k][:n]...))
				pending[k] = pending[k][n:]
			}
			for i, r := range h.Block(txs...).Results {
				if r.Code != chain.CodeOK {
					b.Fatalf("tx %d: %s", i, r.Log)
				}
			}
		}
		h.Advance(time.Unix(T-300, 0).Sub(h.Time()) - time.Second)
		runtime.GC()
		c0 := cpuTime()
		b.StartTimer()
		out := h.Block()
		b.StopTimer()
		b.ReportMetric(float64(cpuTime()-c0)/1e6, "cpu-ms/op")
		ev := moduletest.Events(out, "energy.cleared")
		if len(ev) != 1 {
			b.Fatal("the interval did not clear in the timed block")
		}
		cl := h.MustQuery(ModuleName, "clearing", map[string]string{"market": "nowon", "interval": fmt.Sprint(T), "limit": "1"}).(map[string]any)
		if cl["offers"].(float64)+cl["bids"].(float64) != keys*metersPerKey*perMeter {
			b.Fatalf("clearing %v", cl)
		}
		b.ReportMetric(cl["trades"].(float64), "trades")
		// Settlement of the same interval: every meter's signed reading,
		// then the block at the reading deadline, timed the same way.
		h.Advance(time.Unix(T+900, 0).Sub(h.Time()))
		var rs []Reading
		for k := 0; k < keys; k++ {
			for j := 0; j < metersPerKey; j++ {
				d := newDevice(k*100 + j)
				d.id = fmt.Sprintf("k%d-m%d", k, j)
				imp, exp := uint64(0), uint64(20_000)
				if k%2 == 1 {
					imp, exp = 15_000, 0
				}
				rs = append(rs, d.read(c, T, imp, exp))
			}
		}
		m, _ := MsgSubmitReadings(c, rs)
		res := h.MustDeliver(moduletest.KeyFromIndex(0), m)
		b.ReportMetric(float64(res.GasUsed)/float64(len(rs)), "gas/reading")
		h.Advance(time.Unix(T+900+3600, 0).Sub(h.Time()) - time.Second)
		runtime.GC()
		c0 = cpuTime()
		out = h.Block()
		b.ReportMetric(float64(cpuTime()-c0)/1e6, "settle-cpu-ms")
		if len(moduletest.Events(out, "energy.settled")) != 1 {
			b.Fatal("the interval did not settle in the block at its deadline")
		}
	}
}
