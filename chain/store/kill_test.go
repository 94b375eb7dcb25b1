package store

import (
	"bufio"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dure-network/dure/chain"
)

const (
	killDirEnv  = "DURE_STORE_KILL_DIR"
	killKeepEnv = "DURE_STORE_KILL_KEEP" // the child's KeepRecent
)

// TestKillChild is the child half of TestKill9: it commits blocks until it
// is killed (or for at most 20 s), printing each committed height.
func TestKillChild(t *testing.T) {
	dir := os.Getenv(killDirEnv)
	if dir == "" {
		t.Skip("child process of TestKill9 only")
	}
	keep, _ := strconv.ParseUint(os.Getenv(killKeepEnv), 10, 64)
	f := newFixture(t)
	s := openT(t, dir, keep)
	if !s.Initialized() {
		f.genesisCommit(t, s)
	}
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		var h uint64
		if keep == 0 {
			h = f.commitNext(t, s, 1+int(headHeight(s)%7)).Header.Height
		} else {
			// Pruning: 256 KiB values deleted 4 heights later too, so
			// memtable flushes and compactions run while it is killed.
			b, cm, rs := f.next(t, s, 1+int(headHeight(s)%7))
			h = b.Header.Height
			both := func(w chain.KVWriter) error {
				if err := stateWrite(h)(w); err != nil {
					return err
				}
				return blobWrites(h)(w)
			}
			if err := s.CommitBlock(b, cm, rs, f.valsFor(h+1), both); err != nil {
				t.Fatalf("commit %d: %v", h, err)
			}
		}
		os.Stdout.WriteString("committed " + strconv.FormatUint(h, 10) + "\n")
	}
}

func headHeight(s *Store) uint64 { return s.Head().Height }

// TestKill9 SIGKILLs a process in the middle of committing blocks, several
// times over the same directory, and checks after each kill that the store
// opens at a complete height no lower than the last one reported durable;
// for an archive store and for a pruning one (other Badger options, and
// compactions that drop pruned values running when it is killed).
func TestKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	t.Run("archive", func(t *testing.T) { kill9(t, 0, 3, 10) })
	t.Run("pruning", func(t *testing.T) { kill9(t, 4, 60, 60) })
}

// kill9 kills the child after it reported between minBlocks and
// minBlocks+spread commits.
func kill9(t *testing.T, keep uint64, minBlocks, spread int) {
	f := newFixture(t)
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	for round := range 3 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestKillChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), killDirEnv+"="+dir, killKeepEnv+"="+strconv.FormatUint(keep, 10))
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Let it commit a few blocks, then kill it at a random moment.
		sc := bufio.NewScanner(out)
		want := minBlocks + rng.IntN(spread)
		var last uint64
		for seen := 0; seen < want && sc.Scan(); {
			if h, ok := strings.CutPrefix(sc.Text(), "committed "); ok {
				last, _ = strconv.ParseUint(h, 10, 64)
				seen++
			}
		}
		time.Sleep(time.Duration(rng.IntN(30)) * time.Millisecond)
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		_ = cmd.Wait()
		if last == 0 {
			t.Fatalf("round %d: child committed nothing", round)
		}

		s := openT(t, dir, keep)
		head, ok := s.Head(), s.Initialized()
		if !ok || head.Height < last {
			t.Fatalf("round %d: head %d after kill, but the child reported %d durable", round, head.Height, last)
		}
		if keep > 0 && head.Height > keep+maxPrunePerCommit*2 && s.Base() == 1 {
			t.Fatalf("round %d: pruning store at %d still has base 1", round, head.Height)
		}
		for h := s.Base(); h <= head.Height; h++ {
			b, err := s.Block(h)
			if err != nil {
				t.Fatalf("round %d: block %d of %d: %v", round, h, head.Height, err)
			}
			checkBlock(t, f, s, b)
		}
		if got := stateHeight(t, s); got != head.Height {
			t.Fatalf("round %d: state from height %d at head %d", round, got, head.Height)
		}
		t.Logf("round %d: killed after %d reported, reopened at %d", round, last, head.Height)
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
}
