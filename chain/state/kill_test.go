package state

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/dure-network/dure/chain"
)

const killDirEnv = "DURE_STATE_KILL_DIR"

// killOpts snapshot often, so kills land in snapshot commits, changeset
// commits and the replays after them.
var killOpts = Options{SnapshotEvery: 3, ProofWindow: 2}

// headKey plays the store's head record: version and root, written last
// in its own synced transaction.
var headKey = []byte("m/head")

// killBlock is the deterministic block of version v: updates, inserts and
// deletes over a growing key space.
func killBlock(st *State, v uint64) *Branch {
	rng := rand.New(rand.NewPCG(v, 99))
	b := st.Branch()
	for i := 0; i < 300; i++ {
		k := []byte(fmt.Sprintf("acct/%04d", rng.IntN(200+int(v)*20)))
		if rng.IntN(6) == 0 {
			_ = b.Delete(k)
			continue
		}
		_ = b.Set(k, []byte(fmt.Sprintf("%d-%d", v, rng.IntN(3))))
	}
	return b
}

func readHead(t testing.TB, db *badger.DB) (uint64, chain.Hash) {
	t.Helper()
	txn := db.NewTransactionAt(^uint64(0), false)
	defer txn.Discard()
	item, err := txn.Get(headKey)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return 0, chain.Hash{}
	}
	must(t, err)
	raw, err := item.ValueCopy(nil)
	must(t, err)
	var root chain.Hash
	copy(root[:], raw[8:])
	return binary.BigEndian.Uint64(raw), root
}

func openSync(t testing.TB, dir string) *badger.DB {
	t.Helper()
	db, err := badger.OpenManaged(badger.DefaultOptions(dir).WithLogger(nil).WithSyncWrites(true))
	must(t, err)
	return db
}

// TestKillChild is the child half of TestKill9: it commits versions the
// way the store does (one batch, then the head record) until it is
// killed, printing each durable version.
func TestKillChild(t *testing.T) {
	dir := os.Getenv(killDirEnv)
	if dir == "" {
		t.Skip("child process of TestKill9 only")
	}
	db := openSync(t, dir)
	v, root := readHead(t, db)
	st, err := Open(db, v, root, killOpts)
	must(t, err)
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		v++
		p, err := st.Stage(killBlock(st, v))
		must(t, err)
		wb := db.NewWriteBatchAt(v)
		must(t, p.WriteTo(batchWriter{wb}))
		must(t, wb.Flush())
		txn := db.NewTransactionAt(v, true)
		root := p.Root()
		must(t, txn.Set(headKey, append(binary.BigEndian.AppendUint64(nil, v), root[:]...)))
		must(t, txn.CommitAt(v, nil))
		must(t, st.Committed(p, v))
		os.Stdout.WriteString("committed " + strconv.FormatUint(v, 10) + "\n")
	}
}

// TestKill9 SIGKILLs a process committing state, several times over one
// directory, and checks after each kill that the state opens (snapshot +
// changesets) at a version no lower than the last reported durable, with
// the root a process that never crashed computes, and proves at it.
func TestKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	dir := t.TempDir()
	refDB, ref := newStateOpts(t, Options{SnapshotEvery: 1})
	refRoots := map[uint64]chain.Hash{0: {}}
	refTo := func(v uint64) {
		for h, _ := ref.Head(); h < v; h, _ = ref.Head() {
			p, err := ref.Stage(killBlock(ref, h+1))
			must(t, err)
			commit(t, refDB, ref, p, h+1)
			refRoots[h+1] = p.Root()
		}
	}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 2))
	for round := range 4 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestKillChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), killDirEnv+"="+dir)
		out, err := cmd.StdoutPipe()
		must(t, err)
		must(t, cmd.Start())
		sc := bufio.NewScanner(out)
		want := 2 + rng.IntN(8)
		var last uint64
		for seen := 0; seen < want && sc.Scan(); {
			if h, ok := strings.CutPrefix(sc.Text(), "committed "); ok {
				last, _ = strconv.ParseUint(h, 10, 64)
				seen++
			}
		}
		time.Sleep(time.Duration(rng.IntN(20)) * time.Millisecond)
		must(t, cmd.Process.Signal(syscall.SIGKILL))
		_ = cmd.Wait()
		if last == 0 {
			t.Fatalf("round %d: child committed nothing", round)
		}

		db := openSync(t, dir)
		v, root := readHead(t, db)
		if v < last {
			t.Fatalf("round %d: head %d after kill, child reported %d durable", round, v, last)
		}
		refTo(v)
		if root != refRoots[v] {
			t.Fatalf("round %d: head %d has root %s, a clean run gives %s", round, v, root, refRoots[v])
		}
		st, err := Open(db, v, root, killOpts)
		if err != nil {
			t.Fatalf("round %d: open at %d: %v", round, v, err)
		}
		checkProofs(t, st, v, root, 200)
		t.Logf("round %d: killed after %d reported, reopened at %d", round, last, v)
		must(t, db.Close())
	}
}
