package node

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dure-network/dure/chain"
	"github.com/dure-network/dure/node/api"
	"github.com/dure-network/dure/node/config"
	"github.com/dure-network/dure/node/nodetest"
	"github.com/dure-network/dure/testnet"
)

// smallFS mounts a tmpfs of size bytes for the test and unmounts it when
// the test ends (after the node processes are killed: cleanups run last
// registered first). It skips where mounting is not permitted.
func smallFS(t *testing.T, size int64) string {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("needs a Linux tmpfs mount")
	}
	dir := filepath.Join(t.TempDir(), "small")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("tmpfs", dir, "tmpfs", syscall.MS_NOSUID|syscall.MS_NODEV, fmt.Sprintf("size=%d,mode=0755", size)); err != nil {
		t.Skipf("cannot mount a tmpfs here (needs root or CAP_SYS_ADMIN): %v", err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, 0); err != nil {
			if err := syscall.Unmount(dir, syscall.MNT_DETACH); err != nil {
				t.Errorf("unmount %s: %v", dir, err)
			}
		}
	})
	return dir
}

func fsFree(t *testing.T, dir string) int64 {
	t.Helper()
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	return int64(st.Bavail) * int64(st.Bsize)
}

// fill appends to path until dir's filesystem has at most leave bytes
// free (leave 0: until it is full and writes fail with ENOSPC).
func fill(t *testing.T, dir, path string, leave int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 64<<10)
	for {
		free := fsFree(t, dir)
		if free <= leave {
			return
		}
		n := min(int64(len(chunk)), free-leave)
		if _, err := f.Write(chunk[:n]); err != nil {
			if errors.Is(err, syscall.ENOSPC) {
				return
			}
			t.Fatal(err)
		}
	}
}

func getBody(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestDiskFull is issue 10 item 4: a full disk crashed the node with
// SIGBUS (Badger writes through mmap), and again at every restart. Here a
// node process keeps its data on a 128 MiB tmpfs with min_free_disk = 40
// MiB. The test fills the filesystem to 1 MiB above the minimum and the
// node's own blocks take it below: the node stops signing and committing,
// says why in /v1/status, /v1/health and /metrics, keeps serving reads,
// and resumes when space is freed. Restarted on a completely full
// filesystem it exits 5 naming the directory and the sizes, without a
// crash; with space back it starts and commits.
func TestDiskFull(t *testing.T) {
	bin := dureBinary(t)
	mnt := smallFS(t, 128<<20)
	home, cfg := initHome(t, "diskfull-1")
	cfg.DataDir = filepath.Join(mnt, "data")
	cfg.Consensus.MaxBlockBytes = 1 << 20
	cfg.Storage.MinFreeDisk = 40 << 20
	cfg.Consensus.HeartbeatInterval = "200ms"
	if err := config.Write(filepath.Join(home, config.FileName), cfg); err != nil {
		t.Fatal(err)
	}
	p := newProc(bin, home, cfg)
	t.Cleanup(func() { _ = p.Kill() })
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Second)
	defer cancel()
	if err := testnet.WaitHeight(ctx, 3, p); err != nil {
		t.Fatalf("node did not start on the tmpfs: %v\n%s", err, procLog(home))
	}
	tn := &testNode{Cfg: cfg, Base: "http://" + cfg.API.ListenAddr, Client: p.Client}
	key := loadValidatorKey(t, cfg)
	filler := filepath.Join(mnt, "filler")
	fill(t, mnt, filler, int64(cfg.Storage.MinFreeDisk)+1<<20)
	t.Logf("filled: %d KiB free, min_free_disk %d KiB", fsFree(t, mnt)>>10, cfg.Storage.MinFreeDisk>>10)

	// Transfers until the node's own writes cross the minimum.
	to := newKey(t).PubKey().Address()
	_, nonce, _ := balanceOf(t, tn.Base, key.PubKey().Address())
	halted := false
	for deadline := time.Now().Add(90 * time.Second); time.Now().Before(deadline); {
		for i := 0; i < 200; i++ {
			if _, err := p.Client.Submit(ctx, sendTx(t, "diskfull-1", key, nonce, 10, to, 1), false); err == nil {
				nonce++
			}
		}
		st, err := p.Client.Status(ctx)
		if err != nil {
			t.Fatalf("status while filling: %v\n%s", err, procLog(home))
		}
		if !st.Health.OK {
			halted = true
			break
		}
	}
	if !halted {
		t.Fatalf("node never reported the disk low (%d KiB free)\n%s", fsFree(t, mnt)>>10, procLog(home))
	}
	st, err := p.Client.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("halted at height %d with %d KiB free: %s", st.Height, fsFree(t, mnt)>>10, st.Health.Message)
	if st.Health.Code != "disk_low" || !strings.Contains(st.Health.Message, cfg.DataDir) || !strings.Contains(st.Health.Message, "min_free_disk") ||
		st.Health.DiskMinFree != uint64(cfg.Storage.MinFreeDisk) || st.Health.DiskFree >= st.Health.DiskMinFree {
		t.Errorf("health: %+v", st.Health)
	}
	if code, body := getBody(t, tn.Base+"/v1/health"); code != http.StatusServiceUnavailable || !strings.Contains(body, `"code": "disk_low"`) {
		t.Errorf("/v1/health: %d %s", code, body)
	}
	if _, body := getBody(t, tn.Base+"/metrics"); !strings.Contains(body, "dure_disk_low 1") || !strings.Contains(body, "dure_disk_free_bytes") {
		t.Errorf("/metrics lacks dure_disk_low 1")
	}
	// Nothing is committed any more, and reads are served.
	time.Sleep(2 * time.Second)
	st2, err := p.Client.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st2.Height != st.Height {
		t.Errorf("committed heights %d..%d with the disk below the minimum", st.Height+1, st2.Height)
	}
	if blk, err := p.Client.Block(ctx, st.Height); err != nil || blk.Header.Height != st.Height {
		t.Errorf("block %d not readable while halted: %v", st.Height, err)
	}
	if bal, _, _ := balanceOf(t, tn.Base, to); bal == 0 {
		t.Errorf("no transfer committed before the halt: the node's writes did not fill the disk")
	}
	if exited, err := p.Exited(); exited {
		t.Fatalf("node exited: %v\n%s", err, procLog(home))
	}
	if log := procLog(home); !strings.Contains(log, "disk space low: stopped signing and committing") {
		t.Errorf("log does not say why the node stopped:\n%s", log)
	}

	// Space freed: the node resumes by itself.
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	if err := testnet.WaitHeight(ctx, st2.Height+3, p); err != nil {
		t.Fatalf("node did not resume once space was freed: %v\n%s", err, procLog(home))
	}
	if st, err := p.Client.Status(ctx); err != nil || !st.Health.OK {
		t.Errorf("health after freeing space: %+v %v", st.Health, err)
	}

	// Below the minimum again, a stop is clean (the store's last flush
	// fits in the reserve).
	fill(t, mnt, filler, int64(cfg.Storage.MinFreeDisk)-1<<20)
	for deadline := time.Now().Add(10 * time.Second); ; {
		st, err := p.Client.Status(ctx)
		if err == nil && !st.Health.OK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no disk_low after the second fill: %+v %v", st.Health, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err := p.Stop(20 * time.Second); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Exited(); err != nil {
		t.Fatalf("stop while halted for disk: %v\n%s", err, procLog(home))
	}
	// Filled completely and restarted: exit 5 naming the directory, not
	// a SIGBUS.
	fill(t, mnt, filler, 0)
	code, out := runBinary(t, bin, 30*time.Second, "start", "--home", home)
	t.Logf("restart on a full disk (%d KiB free): exit %d: %s", fsFree(t, mnt)>>10, code, lastLine(out))
	if code != ExitDiskFull || !strings.Contains(out, cfg.DataDir) || !strings.Contains(out, mnt) || !strings.Contains(out, "min_free_disk") {
		t.Errorf("restart on a full disk: exit %d, want %d naming %s and its filesystem %s:\n%s", code, ExitDiskFull, cfg.DataDir, mnt, tail(out, 15))
	}
	if strings.Contains(out, "SIGBUS") || strings.Contains(out, "panic") || strings.Contains(out, "goroutine ") {
		t.Errorf("restart on a full disk crashed:\n%s", tail(out, 30))
	}

	// Space back: the node starts and commits past where it was.
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	st3, err := func() (api.Status, error) {
		if err := testnet.WaitHeight(ctx, st2.Height+5, p); err != nil {
			return api.Status{}, err
		}
		return p.Client.Status(ctx)
	}()
	if err != nil || !st3.Health.OK {
		t.Fatalf("restart with space back: %+v %v\n%s", st3.Health, err, procLog(home))
	}
	if log := procLog(home); strings.Contains(log, "SIGBUS") || strings.Contains(log, "panic") {
		t.Errorf("node log:\n%s", log)
	}
}

// loadValidatorKey opens the test keyring of cfg's home.
func loadValidatorKey(t *testing.T, cfg config.Config) chain.PrivKey {
	t.Helper()
	_, key := nodetest.ValidatorKey(t, cfg)
	return key
}

func lastLine(s string) string {
	ls := strings.Split(strings.TrimSpace(s), "\n")
	return ls[len(ls)-1]
}
