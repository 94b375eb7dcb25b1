package node

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dure-network/dure/node/config"
	"github.com/dure-network/dure/testnet"
)

// TestStoreBehindSignedRefused: a store rolled back below what the
// validator signed (a damaged memtable does this silently; here the store
// files are swapped for an older copy while cs.wal stays current) is
// refused at start with exit 2, naming the data directory and both
// heights, before anything is signed.
func TestStoreBehindSignedRefused(t *testing.T) {
	bin := dureBinary(t)
	home, cfg := initHome(t, "behind-1")
	p := newProc(bin, home, cfg)
	t.Cleanup(func() { _ = p.Kill() })
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	data := filepath.Join(home, "data")
	run := func(h uint64) uint64 {
		t.Helper()
		if err := p.Start(); err != nil {
			t.Fatal(err)
		}
		if err := testnet.WaitHeight(ctx, h, p); err != nil {
			t.Fatalf("%v\n%s", err, procLog(home))
		}
		if err := p.Stop(10 * time.Second); err != nil {
			t.Fatal(err)
		}
		if _, err := p.Exited(); err != nil {
			t.Fatalf("clean stop: %v\n%s", err, procLog(home))
		}
		st, err := os.ReadFile(filepath.Join(home, "node.log"))
		if err != nil {
			t.Fatal(err)
		}
		m := regexp.MustCompile(`node stopping.*height=(\d+)`).FindAllStringSubmatch(string(st), -1)
		if len(m) == 0 {
			t.Fatalf("no stop height in the log:\n%s", procLog(home))
		}
		n, _ := strconv.ParseUint(m[len(m)-1][1], 10, 64)
		return n
	}
	old := run(3)
	backup := filepath.Join(t.TempDir(), "store-at-"+strconv.FormatUint(old, 10))
	cpStore := func(from, to string) {
		t.Helper()
		must(t, os.MkdirAll(to, 0o700))
		ents, err := os.ReadDir(from)
		must(t, err)
		for _, e := range ents {
			if e.Name() == "cs.wal" {
				continue
			}
			if out, err := exec.Command("cp", "-a", filepath.Join(from, e.Name()), to).CombinedOutput(); err != nil {
				t.Fatalf("copy %s: %v %s", e.Name(), err, out)
			}
		}
	}
	cpStore(data, backup)
	top := run(old + 6)
	// Roll the store back, keep the consensus state.
	ents, err := os.ReadDir(data)
	must(t, err)
	for _, e := range ents {
		if e.Name() != "cs.wal" {
			must(t, os.RemoveAll(filepath.Join(data, e.Name())))
		}
	}
	cpStore(backup, data)

	code, out := runBinary(t, bin, 20*time.Second, "start", "--home", home)
	if code != ExitUsage || !strings.Contains(out, data) {
		t.Fatalf("start on a store rolled back from %d to %d: exit %d, want %d naming %s:\n%s", top, old, code, ExitUsage, data, tail(out, 10))
	}
	m := regexp.MustCompile(`head is height (\d+), but .* at height (\d+)`).FindStringSubmatch(out)
	if m == nil || m[1] != strconv.FormatUint(old, 10) {
		t.Fatalf("the message should give the store's head %d and the signed height:\n%s", old, tail(out, 5))
	}
	if signed, _ := strconv.ParseUint(m[2], 10, 64); signed <= old+1 || signed > top+1 {
		t.Errorf("signed height %d: want above %d and at most %d", signed, old+1, top+1)
	}
	if strings.Contains(out, "panic") {
		t.Errorf("panic in output:\n%s", out)
	}
	t.Logf("exit %d: %s", code, strings.TrimSpace(tail(out, 2)))
}

// TestMissingSignStateLoneValidator: a lone validator whose store has
// blocks but whose cs.wal is gone cannot wait for others to move on: it
// exits 2 saying so and naming the flag. With the flag it signs and
// commits again, and later starts need no flag.
func TestMissingSignStateLoneValidator(t *testing.T) {
	bin := dureBinary(t)
	home := stoppedHome(t, bin, "nosign-1")
	must(t, os.RemoveAll(filepath.Join(home, "data", "cs.wal")))
	code, out := runBinary(t, bin, 20*time.Second, "start", "--home", home)
	if code != ExitUsage || !strings.Contains(out, "--"+FlagAllowMissingSignState) ||
		!strings.Contains(out, filepath.Join(home, "data", "cs.wal", "last_signed")) {
		t.Fatalf("lone validator without consensus state: exit %d, want %d naming last_signed and --%s:\n%s",
			code, ExitUsage, FlagAllowMissingSignState, tail(out, 10))
	}
	t.Logf("exit %d: %s", code, strings.TrimSpace(tail(out, 2)))

	cfg, err := config.Load(filepath.Join(home, config.FileName))
	must(t, err)
	p := newProc(bin, home, cfg)
	t.Cleanup(func() { _ = p.Kill() })
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for _, extra := range [][]string{{"--" + FlagAllowMissingSignState}, nil} {
		p.Extra = extra
		if err := p.Start(); err != nil {
			t.Fatal(err)
		}
		if err := testnet.WaitHeight(ctx, 1, p); err != nil {
			t.Fatalf("start %v: %v\n%s", extra, err, procLog(home))
		}
		st, err := p.Client.Status(ctx)
		must(t, err)
		if err := testnet.WaitHeight(ctx, st.Height+2, p); err != nil {
			t.Fatalf("start %v: no new blocks: %v\n%s", extra, err, procLog(home))
		}
		if err := p.Stop(10 * time.Second); err != nil {
			t.Fatal(err)
		}
	}
	if log := procLog(home); !strings.Contains(log, "signing anyway") {
		t.Errorf("the log does not say the flag was used:\n%s", log)
	}
}
