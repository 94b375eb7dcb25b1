package node

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dure-network/dure/chain"
	"github.com/dure-network/dure/node/api"
	"github.com/dure-network/dure/node/config"
	"github.com/dure-network/dure/node/keystore"
	"github.com/dure-network/dure/testnet"
)

// The process tests run the real `dure` binary, built once per test run.
var (
	buildOnce sync.Once
	binDir    string
	binPath   string
	buildErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// dureBinary builds the node binary on first use (process tests only, so
// -short and -run of in-process tests do not pay for it).
func dureBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("process test: skipped with -short")
	}
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "dure-bin-")
		if buildErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "dure")
		out, err := exec.Command("go", "build", "-o", binPath, "github.com/dure-network/dure").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

func newProc(bin, home string, cfg config.Config) *testnet.Proc {
	return &testnet.Proc{Node: testnet.ManifestNode{Name: "node", Home: home, API: "http://" + cfg.API.ListenAddr},
		Bin: bin, Client: api.NewClient(cfg.API.ListenAddr)}
}

func procLog(home string) string {
	b, _ := os.ReadFile(filepath.Join(home, "node.log"))
	return tail(string(b), 40)
}

// TestCrashRecovery SIGKILLs a validator process at random moments while
// transfers are committed, restarts it, and checks that nothing
// acknowledged is lost and the head is consistent.
func TestCrashRecovery(t *testing.T) {
	bin := dureBinary(t)
	home, cfg := initHome(t, "crash-1")
	p := newProc(bin, home, cfg)
	t.Cleanup(func() { _ = p.Kill() })
	ks, err := keystore.Open(cfg.KeysPath(), keystore.BackendTest, nil)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ks.Signer("validator")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	to := newKey(t).PubKey().Address()
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))

	var acked []chain.ID
	var ackedSum uint64
	for round := 0; round < 3; round++ {
		if err := p.Start(); err != nil {
			t.Fatal(err)
		}
		if err := testnet.WaitHeight(ctx, 1, p); err != nil {
			t.Fatalf("round %d: node did not come back: %v\n%s", round, err, procLog(home))
		}
		checkConsistent(t, ctx, p.Client, acked, ackedSum, to)

		// Submit transfers one by one, waiting for commit, until the kill.
		// acked is written by the submitter only until done is closed.
		stop := make(chan struct{})
		done := make(chan struct{})
		_, nonce, _ := balanceOf(t, p.Node.API, key.PubKey().Address())
		go func() {
			defer close(done)
			for amt := uint64(1); ; amt++ {
				select {
				case <-stop:
					return
				default:
				}
				raw := sendTx(t, "crash-1", key, nonce, 10, to, amt)
				res, err := p.Client.Submit(ctx, raw, true)
				if err != nil {
					return // killed mid-request: this tx is not acknowledged
				}
				if res.Result == nil || res.Result.Code != chain.CodeOK {
					t.Errorf("transfer failed: %+v", res.Result)
					return
				}
				acked = append(acked, res.ID)
				ackedSum += amt
				nonce++
			}
		}()
		time.Sleep(time.Duration(300+rng.IntN(1200)) * time.Millisecond)
		if err := p.Kill(); err != nil {
			t.Fatal(err)
		}
		close(stop)
		<-done
		t.Logf("round %d: killed after %d acknowledged transfers in total", round, len(acked))
	}
	if len(acked) == 0 {
		t.Fatal("no transfer was acknowledged: the test exercised nothing")
	}
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	if err := testnet.WaitHeight(ctx, 1, p); err != nil {
		t.Fatalf("final restart: %v\n%s", err, procLog(home))
	}
	st := checkConsistent(t, ctx, p.Client, acked, ackedSum, to)
	if err := testnet.WaitHeight(ctx, st.Height+2, p); err != nil {
		t.Fatalf("node does not commit after restarts: %v\n%s", err, procLog(home))
	}
	// A clean stop exits 0.
	if err := p.Stop(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Exited(); err != nil {
		t.Errorf("SIGTERM stop: %v\n%s", err, procLog(home))
	}
	if log := procLog(home); strings.Contains(log, "panic") {
		t.Errorf("node log mentions a panic:\n%s", log)
	}
}

// checkConsistent checks a restarted node: the head block loads, its
// header's state root is the status's, every acknowledged tx is found,
// and the recipient's balance is the sum of acknowledged transfers.
func checkConsistent(t *testing.T, ctx context.Context, cl *api.Client, acked []chain.ID, sum uint64, to chain.Address) api.Status {
	t.Helper()
	var st api.Status
	for attempt := 0; ; attempt++ {
		var err error
		st, err = cl.Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		blk, err := cl.Block(ctx, 0)
		if err != nil {
			t.Fatalf("head block %d does not load: %v", st.Height, err)
		}
		if blk.Header.Height != st.Height {
			if attempt > 20 {
				t.Fatalf("status and latest block never agree on the height")
			}
			continue // a block was committed between the two calls
		}
		if blk.Header.StateRoot != st.StateRoot || blk.ID != st.BlockID {
			t.Fatalf("height %d: block state root %s id %s, status says %s %s", st.Height, blk.Header.StateRoot, blk.ID, st.StateRoot, st.BlockID)
		}
		if _, _, err := cl.HeaderTrustingNode(ctx, st.Height); err != nil {
			t.Fatalf("head commit: %v", err)
		}
		break
	}
	for _, id := range acked {
		if _, err := cl.Tx(ctx, id, false); err != nil {
			t.Errorf("acknowledged tx %s lost after crash: %v", id, err)
		}
	}
	// Unacknowledged txs may have committed too (killed after the block,
	// before the answer), so the balance is at least the acknowledged sum.
	if bal, _, _ := balanceOf(t, cl.Base, to); bal < sum {
		t.Errorf("recipient has %d, acknowledged transfers sum to %d", bal, sum)
	}
	return st
}

// TestCorruptDataDirRefused damages a cleanly stopped node's data
// directory in several ways: `dure start` must exit 2 with a message naming
// the data directory, never a panic.
func TestCorruptDataDirRefused(t *testing.T) {
	bin := dureBinary(t)
	home := stoppedHome(t, bin, "corrupt-1")
	files := func(dir, glob string) []string {
		m, _ := filepath.Glob(filepath.Join(dir, "data", glob))
		if len(m) == 0 {
			t.Fatalf("no %s in %s/data", glob, dir)
		}
		return m
	}
	garble := func(path string, at int64, n int) {
		f, err := os.OpenFile(path, os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		st, _ := f.Stat()
		if at < 0 {
			at = st.Size() / 2
		}
		if at+int64(n) > st.Size() {
			n = int(st.Size() - at)
		}
		buf := make([]byte, n)
		for i := range buf {
			buf[i] = 0xA5
		}
		f.WriteAt(buf, at)
	}
	cases := []struct {
		name    string
		corrupt func(home string)
	}{
		{"truncated MANIFEST", func(h string) {
			for _, f := range files(h, "MANIFEST") {
				st, _ := os.Stat(f)
				os.Truncate(f, st.Size()/2)
			}
		}},
		{"missing MANIFEST", func(h string) { os.Remove(filepath.Join(h, "data", "MANIFEST")) }},
		{"garbled tables", func(h string) {
			for _, f := range files(h, "*.sst") {
				garble(f, -1, 256)
			}
		}},
		{"truncated tables", func(h string) {
			for _, f := range files(h, "*.sst") {
				os.Truncate(f, 100)
			}
		}},
		{"tables deleted", func(h string) {
			for _, f := range files(h, "*.sst") {
				os.Remove(f)
			}
		}},
		{"garbled key registry", func(h string) { garble(filepath.Join(h, "data", "KEYREGISTRY"), 0, 28) }},
		{"garbled last-signed state", func(h string) { garble(filepath.Join(h, "data", "cs.wal", "last_signed"), 0, 64) }},
		{"data dir is a file", func(h string) {
			os.RemoveAll(filepath.Join(h, "data"))
			os.WriteFile(filepath.Join(h, "data"), []byte("oops"), 0o644)
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := filepath.Join(t.TempDir(), "home")
			if out, err := exec.Command("cp", "-a", home, h).CombinedOutput(); err != nil {
				t.Fatalf("copy home: %v %s", err, out)
			}
			// The copy keeps the API port; nothing else runs on it now.
			c.corrupt(h)
			code, out := runBinary(t, bin, 20*time.Second, "start", "--home", h)
			dataDir := filepath.Join(h, "data")
			if strings.Contains(out, "panic") || strings.Contains(out, "goroutine ") {
				t.Errorf("output has a panic or stack trace:\n%s", tail(out, 30))
			}
			if code != ExitUsage || !strings.Contains(out, dataDir) {
				t.Errorf("exit %d (want %d); output should name %s:\n%s", code, ExitUsage, dataDir, tail(out, 15))
			}
		})
	}
}

// TestDataDirInUse: a second node on the same home is refused (exit 2)
// while the first keeps running.
func TestDataDirInUse(t *testing.T) {
	bin := dureBinary(t)
	home, cfg := initHome(t, "lock-1")
	p := newProc(bin, home, cfg)
	t.Cleanup(func() { _ = p.Kill() })
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := testnet.WaitHeight(ctx, 1, p); err != nil {
		t.Fatalf("%v\n%s", err, procLog(home))
	}
	code, out := runBinary(t, bin, 20*time.Second, "start", "--home", home)
	if code != ExitUsage || !strings.Contains(out, filepath.Join(home, "data")) || !strings.Contains(out, "stop the other") {
		t.Errorf("second start on a busy home: exit %d, want %d:\n%s", code, ExitUsage, tail(out, 10))
	}
	st, err := p.Client.Status(ctx)
	if err != nil {
		t.Fatalf("first node hurt by the second start: %v", err)
	}
	if err := testnet.WaitHeight(ctx, st.Height+1, p); err != nil {
		t.Errorf("first node stopped committing: %v", err)
	}
}

// runBinary runs the binary to completion (killing it after limit) and
// returns its exit code and combined output.
func runBinary(t *testing.T, bin string, limit time.Duration, args ...string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		return -1, string(out) + "\n(killed: still running after " + limit.String() + ")"
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode(), string(out)
	}
	if err != nil {
		t.Fatal(err)
	}
	return 0, string(out)
}
