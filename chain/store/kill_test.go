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
)

const killDirEnv = "DURE_STORE_KILL_DIR"

// TestKillChild is the child half of TestKill9: it commits blocks until it
// is killed (or for at most 20 s), printing each committed height.
func TestKillChild(t *testing.T) {
	dir := os.Getenv(killDirEnv)
	if dir == "" {
		t.Skip("child process of TestKill9 only")
	}
	f := newFixture(t)
	s := openT(t, dir, 0)
	if !s.Initialized() {
		f.genesisCommit(t, s)
	}
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		b := f.commitNext(t, s, 1+int(headHeight(s)%7))
		os.Stdout.WriteString("committed " + strconv.FormatUint(b.Header.Height, 10) + "\n")
	}
}

func headHeight(s *Store) uint64 { return s.Head().Height }

// TestKill9 SIGKILLs a process in the middle of committing blocks, several
// times over the same directory, and checks after each kill that the store
// opens at a complete height no lower than the last one reported durable.
func TestKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	f := newFixture(t)
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	for round := range 3 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestKillChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), killDirEnv+"="+dir)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Let it commit a few blocks, then kill it at a random moment.
		sc := bufio.NewScanner(out)
		want := 3 + rng.IntN(10)
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

		s := openT(t, dir, 0)
		head, ok := s.Head(), s.Initialized()
		if !ok || head.Height < last {
			t.Fatalf("round %d: head %d after kill, but the child reported %d durable", round, head.Height, last)
		}
		for h := uint64(1); h <= head.Height; h++ {
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
