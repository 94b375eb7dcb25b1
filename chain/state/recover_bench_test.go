package state

import (
	"testing"
	"time"
)

// BenchmarkRecover100k: reopening a 100,000-key state after
// DefaultSnapshotEvery-1 blocks of 5,000 writes (the snapshot read
// lazily from Badger, the changesets replayed); cpu-ms per Open.
func BenchmarkRecover100k(b *testing.B) {
	const keys = 100_000
	db, st, _ := committedBase(b, keys)
	var entries int
	for v := uint64(2); v <= DefaultSnapshotEvery; v++ {
		br := st.Branch()
		for i := 0; i < 5000; i++ {
			k := (i*19 + int(v)*13) % keys
			must(b, br.Set(benchKey(k), benchVal(k, int(v))))
		}
		commitBench(b, db, st, br, v, &entries)
	}
	head, root := st.Head()
	b.ResetTimer()
	var cpu time.Duration
	for n := 0; n < b.N; n++ {
		c0 := cpuTime()
		st2, err := New(db, head, root)
		cpu += cpuTime() - c0
		must(b, err)
		if _, r := st2.Head(); r != root {
			b.Fatal("recovered another root")
		}
	}
	b.ReportMetric(float64(cpu.Microseconds())/1e3/float64(b.N), "cpu-ms/op")
}
