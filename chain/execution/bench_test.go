package execution

import (
	"syscall"
	"testing"
	"time"

	"github.com/dure-network/dure/chain"
)

// BenchmarkExecuteBlock5000 executes and stages a block of 5,000 signed
// transfers from 5,000 senders over a state of 10,000 funded accounts,
// with signatures already verified by the mempool and without. The
// exec-ms and stage-ms metrics split the time between running the txs
// (signature checks included) and computing the new state root.
func BenchmarkExecuteBlock5000(b *testing.B) {
	const accounts, txCount = 10_000, 5_000
	keys := testKeys(b, accounts)
	for _, tc := range []struct {
		name     string
		verified func(chain.ID) bool
	}{
		{"preverified", func(chain.ID) bool { return true }},
		{"verify", nil},
	} {
		b.Run(tc.name, func(b *testing.B) {
			e := newEnv(b, keys, tc.verified)
			c := e.codec
			txs := make([]*chain.DecodedTx, txCount)
			for i := range txs {
				to := keys[(i*7+txCount)%accounts].PubKey().Address()
				msgs := []chain.Msg{{Module: "bank", Type: "send", Body: body(c, sendMsg{To: to, Amount: 1})}}
				txs[i] = mkTx(b, c, keys[i], 0, minFee, msgs)
			}
			var execT, stageT time.Duration
			b.ResetTimer()
			c0 := cpuTime()
			for n := 0; n < b.N; n++ {
				t0 := time.Now()
				br, out, err := e.ex.run(e.st, e.info(), txs)
				if err != nil {
					b.Fatal(err)
				}
				t1 := time.Now()
				out, err = e.ex.finish(e.st, br, out)
				if err != nil {
					b.Fatal(err)
				}
				execT += t1.Sub(t0)
				stageT += time.Since(t1)
				if out.Results[txCount-1].Code != chain.CodeOK {
					b.Fatal(out.Results[txCount-1].Log)
				}
			}
			b.ReportMetric(float64(execT.Milliseconds())/float64(b.N), "exec-ms")
			b.ReportMetric(float64(stageT.Milliseconds())/float64(b.N), "stage-ms")
			b.ReportMetric(float64((cpuTime()-c0).Microseconds())/1e3/float64(b.N), "cpu-ms/op")
		})
	}
}

// cpuTime is the process's user+system CPU time so far (all goroutines):
// steadier than wall time on a shared machine.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
