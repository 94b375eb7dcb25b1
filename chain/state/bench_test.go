package state

import (
	"encoding/binary"
	"fmt"
	"os"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/dgraph-io/badger/v4"

	"github.com/dure-network/dure/chain"
)

func benchKey(i int) []byte { return []byte(fmt.Sprintf("bank/bal/%08d", i)) }

func benchVal(i, round int) []byte {
	v := make([]byte, 16)
	binary.BigEndian.PutUint64(v, uint64(i))
	binary.BigEndian.PutUint64(v[8:], uint64(round))
	return v
}

// BenchmarkStage5000On100k: state root of a block writing 5,000 keys (half
// updates, half inserts) on a state of 100,000 keys.
func BenchmarkStage5000On100k(b *testing.B) {
	db, st := newState(b)
	const base = 100_000
	br := st.Branch()
	for i := 0; i < base; i++ {
		must(b, br.Set(benchKey(i), benchVal(i, 0)))
	}
	p, err := st.Stage(br)
	must(b, err)
	commit(b, db, st, p, 1)

	b.ResetTimer()
	c0 := cpuTime()
	for n := 0; n < b.N; n++ {
		br := st.Branch()
		for i := 0; i < 5000; i++ {
			k := i * 40 // spread updates over the key space
			if i%2 == 1 {
				k = base + n*5000 + i // inserts
			}
			must(b, br.Set(benchKey(k), benchVal(k, n+1)))
		}
		if _, err := st.Stage(br); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64((cpuTime()-c0).Microseconds())/1e3/float64(b.N), "cpu-ms/op")
	b.ReportMetric(float64(residentNodes(st.tree))*float64(unsafe.Sizeof(tnode{}))/1e6, "resident-MB")
}

// residentNodes counts the nodes of a resident trie (child references
// included).
func residentNodes(n *tnode) int {
	if n == nil || n.kind == kEmpty {
		return 0
	}
	switch n.kind {
	case kInner:
		return 1 + residentNodes(n.left) + residentNodes(n.right)
	case kExt:
		return 1 + residentNodes(n.left)
	}
	return 1
}

// BenchmarkBranchGetSet: one Get and one Set per op on a child of a
// top-level branch over 10,000 committed keys, as a transfer does.
func BenchmarkBranchGetSet(b *testing.B) {
	db, st := newState(b)
	br := st.Branch()
	for i := 0; i < 10_000; i++ {
		must(b, br.Set(benchKey(i), benchVal(i, 0)))
	}
	p, err := st.Stage(br)
	must(b, err)
	commit(b, db, st, p, 1)

	top := st.Branch()
	b.ResetTimer()
	c0 := cpuTime()
	for n := 0; n < b.N; n++ {
		tx := top.Branch()
		k := benchKey(n % 10_000)
		v, err := tx.Get(k)
		if err != nil || v == nil {
			b.Fatal("missing", err)
		}
		must(b, tx.Set(k, benchVal(n, 1)))
		must(b, tx.Write())
	}
	b.ReportMetric(float64((cpuTime()-c0).Nanoseconds())/float64(b.N), "cpu-ns/op")
}

// openSyncDB is a managed Badger with fsync on every commit, as the store
// opens it.
func openSyncDB(b *testing.B) *badger.DB {
	b.Helper()
	db, err := badger.OpenManaged(badger.DefaultOptions(b.TempDir()).WithLogger(nil).WithSyncWrites(true))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	return db
}

// commitBench stages br and commits it at version through one fsynced
// write batch, counting the entries written.
func commitBench(b *testing.B, db *badger.DB, st *State, br *Branch, version uint64, entries *int) {
	p, err := st.Stage(br)
	must(b, err)
	wb := db.NewWriteBatchAt(version)
	cw := &countingWriter{w: batchWriter{wb}}
	must(b, p.WriteTo(cw))
	must(b, wb.Flush())
	must(b, st.Committed(p, version))
	*entries += cw.n
}

// BenchmarkCommit5000On100k: the whole state commit of a block writing
// 5,000 keys (half updates, half inserts) on 100,000 keys: stage the root,
// write to Badger (fsync), advance the head. Run it for a multiple of
// DefaultSnapshotEvery iterations (-benchtime=64x) so snapshots are
// counted at their real rate.
func BenchmarkCommit5000On100k(b *testing.B) {
	const base = 100_000
	db, st, _ := committedBase(b, base)
	var entries int
	entries = 0
	b.ResetTimer()
	c0 := cpuTime()
	for n := 0; n < b.N; n++ {
		br := st.Branch()
		for i := 0; i < 5000; i++ {
			k := i*20 + n%20 // spread updates over the key space
			if i%2 == 1 {
				k = base + n*5000 + i // inserts
			}
			must(b, br.Set(benchKey(k), benchVal(k, n+1)))
		}
		commitBench(b, db, st, br, uint64(n+2), &entries)
	}
	b.ReportMetric(float64(entries)/float64(b.N), "entries/op")
	b.ReportMetric(float64((cpuTime()-c0).Microseconds())/1e3/float64(b.N), "cpu-ms/op")
}

// committedBase is a synced database holding a state of keys benchKey
// entries committed as version 1 (a full snapshot), and how long that
// commit took.
func committedBase(b *testing.B, keys int) (*badger.DB, *State, time.Duration) {
	db := openSyncDB(b)
	st, err := New(db, 0, chain.Hash{})
	must(b, err)
	br := st.Branch()
	for i := 0; i < keys; i++ {
		must(b, br.Set(benchKey(i), benchVal(i, 0)))
	}
	var entries int
	t0 := time.Now()
	commitBench(b, db, st, br, 1, &entries)
	return db, st, time.Since(t0)
}

// cpuTime is the process's user+system CPU time so far (all goroutines,
// Badger's included): steadier than wall time on a shared machine.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkProve: an inclusion proof at the head of a 100,000-key state,
// a few blocks after the last snapshot.
func BenchmarkProve(b *testing.B) {
	const base = 100_000
	db, st, _ := committedBase(b, base)
	var entries int
	for v := uint64(2); v < 5; v++ {
		br := st.Branch()
		for i := 0; i < 5000; i++ {
			must(b, br.Set(benchKey(i*20), benchVal(i, int(v))))
		}
		commitBench(b, db, st, br, v, &entries)
	}
	head, root := st.Head()
	b.ResetTimer()
	c0 := cpuTime()
	for n := 0; n < b.N; n++ {
		k := benchKey((n * 7919) % base)
		p, err := st.Prove(head, k)
		must(b, err)
		if n < 10 {
			v, _ := st.Reader(head).Get(k)
			must(b, VerifyProof(root, k, v, p))
		}
	}
	b.ReportMetric(float64((cpuTime()-c0).Nanoseconds())/1e3/float64(b.N), "cpu-µs/op")
}

// BenchmarkSnapshotAndRecover1M: a state of 1,000,000 keys committed in
// one version (a full snapshot: every trie node written), then
// DefaultSnapshotEvery-1 blocks of 5,000 writes, then a restart (Open:
// load the snapshot lazily and replay the changesets). Reports
// snapshot-s and recover-ms. Opt-in: DURE_BENCH_1M=1.
func BenchmarkSnapshotAndRecover1M(b *testing.B) {
	if os.Getenv("DURE_BENCH_1M") == "" {
		b.Skip("set DURE_BENCH_1M=1: takes minutes and about 4 GB")
	}
	for n := 0; n < b.N; n++ {
		const keys = 1_000_000
		db, st, snap := committedBase(b, keys)
		var entries int
		for v := uint64(2); v <= DefaultSnapshotEvery; v++ {
			br := st.Branch()
			for i := 0; i < 5000; i++ {
				k := (i*199 + int(v)*13) % keys
				must(b, br.Set(benchKey(k), benchVal(k, int(v))))
			}
			commitBench(b, db, st, br, v, &entries)
		}
		head, root := st.Head()
		t1 := time.Now()
		st2, err := New(db, head, root)
		must(b, err)
		rec := time.Since(t1)
		if _, r := st2.Head(); r != root {
			b.Fatal("recovered another root")
		}
		b.ReportMetric(snap.Seconds(), "snapshot-s")
		b.ReportMetric(float64(rec.Milliseconds()), "recover-ms")
	}
}

// BenchmarkStageRangeProofs: the state-layer cost of the key-order index,
// off and on in one run: staging 5,000 writes on 100,000 keys when they
// only change values (no next-key record written) and when each creates a
// key between two existing ones, each read first as modules do (two Badger seeks and two records each:
// the worst case), then committing the creations' block so the next
// iteration starts from a larger state.
func BenchmarkStageRangeProofs(b *testing.B) {
	for _, c := range []struct {
		name   string
		create bool
	}{{"updates", false}, {"spread-creates", true}} {
		for _, on := range []bool{false, true} {
			b.Run(fmt.Sprintf("%s/range_proofs=%v", c.name, on), func(b *testing.B) {
				db, st := newStateOpts(b, Options{RangeProofs: on})
				const base = 100_000
				br := st.Branch()
				for i := 0; i < base; i++ {
					must(b, br.Set(benchKey(i), benchVal(i, 0)))
				}
				p, err := st.Stage(br)
				must(b, err)
				commit(b, db, st, p, 1)
				b.ResetTimer()
				var cpu time.Duration
				for n := 0; n < b.N; n++ {
					br := st.Branch()
					for i := 0; i < 5000; i++ {
						k := benchKey(i*20 + n%20)
						if c.create {
							k = fmt.Appendf(k, "/%d", n) // just after an existing key
						}
						// Read, then write, as modules do (so Stage finds
						// whether the key is new in the branch's cache).
						if _, err := br.Get(k); err != nil {
							b.Fatal(err)
						}
						must(b, br.Set(k, benchVal(i, n+1)))
					}
					c0 := cpuTime()
					p, err := st.Stage(br)
					cpu += cpuTime() - c0
					must(b, err)
					b.StopTimer()
					v, _ := st.Head()
					commit(b, db, st, p, v+1)
					b.StartTimer()
				}
				b.ReportMetric(float64(cpu.Microseconds())/1e3/float64(b.N), "cpu-ms/op")
			})
		}
	}
}
