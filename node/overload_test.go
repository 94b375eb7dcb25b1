//go:build unix

package node

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/dure-network/dure/node/api"
	"github.com/dure-network/dure/node/config"
	"github.com/dure-network/dure/testnet"
)

// A process test can start the node under a file limit of its own: the
// test binary re-executes itself with these variables set, lowers
// RLIMIT_NOFILE (soft and hard) and execs the dure binary in place, so the
// node runs with exactly that limit and cannot raise it.
const (
	envExecNofile = "DURE_TEST_EXEC_NOFILE"
	envExecBin    = "DURE_TEST_EXEC_BIN"
)

func init() {
	v := os.Getenv(envExecNofile)
	if v == "" {
		return
	}
	// "soft:hard", or one number for both.
	softS, hardS, ok := strings.Cut(v, ":")
	if !ok {
		hardS = softS
	}
	soft, err1 := strconv.ParseUint(softS, 10, 64)
	hard, err2 := strconv.ParseUint(hardS, 10, 64)
	if err1 != nil || err2 != nil {
		fmt.Fprintln(os.Stderr, "bad", envExecNofile, v)
		os.Exit(ExitUsage)
	}
	lim := syscall.Rlimit{Cur: soft, Max: hard}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		fmt.Fprintln(os.Stderr, "setrlimit:", err)
		os.Exit(ExitError)
	}
	bin := os.Getenv(envExecBin)
	env := []string{}
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, envExecNofile+"=") && !strings.HasPrefix(e, envExecBin+"=") {
			env = append(env, e)
		}
	}
	err := syscall.Exec(bin, append([]string{bin}, os.Args[1:]...), env)
	fmt.Fprintln(os.Stderr, "exec", bin, ":", err)
	os.Exit(ExitError)
}

// limitedProc runs the dure binary under RLIMIT_NOFILE = nofile
// ("soft:hard" or one number).
func limitedProc(t *testing.T, bin, home string, cfg config.Config, nofile string) *testnet.Proc {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	p := newProc(self, home, cfg)
	p.Env = []string{envExecNofile + "=" + nofile, envExecBin + "=" + bin}
	return p
}

// runLimited is runBinary under RLIMIT_NOFILE = nofile.
func runLimited(t *testing.T, bin string, nofile int, limit time.Duration, args ...string) (int, string) {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv(envExecNofile, strconv.Itoa(nofile))
	t.Setenv(envExecBin, bin)
	return runBinary(t, self, limit, args...)
}

// openFDs counts the descriptors a process holds (Linux /proc).
func openFDs(pid int) int {
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return -1
	}
	return len(ents)
}

// TestEventStreamFloodUnderFileLimit is issue 10 item 3: ~1,100
// /v1/events connections under a 1,024-file limit made the WAL append fail
// and the validator exit. Here a real node process runs with
// RLIMIT_NOFILE = 512 (it raises its soft 256 to the hard 512) and
// clients open 600 event streams and 300 idle connections, more than the
// whole limit: the node answers what it cannot
// take with 503s in the API's error shape, never holds more descriptors
// than its limit, keeps committing blocks, and does not exit.
func TestEventStreamFloodUnderFileLimit(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("counts descriptors in /proc: Linux only")
	}
	bin := dureBinary(t)
	home, cfg := initHome(t, "fdflood-1")
	cfg.API.MaxConnections, cfg.API.MaxEventStreams = 64, 32
	cfg.P2P.LowWater, cfg.P2P.HighWater = 4, 8
	if err := config.Write(filepath.Join(home, config.FileName), cfg); err != nil {
		t.Fatal(err)
	}
	const nofile, streams, idle = 512, 600, 300
	// The soft limit starts lower: the node raises it to the hard one.
	p := limitedProc(t, bin, home, cfg, fmt.Sprintf("%d:%d", nofile/2, nofile))
	t.Cleanup(func() { _ = p.Kill() })
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	if err := testnet.WaitHeight(ctx, 1, p); err != nil {
		t.Fatalf("node did not start: %v\n%s", err, procLog(home))
	}
	if log := procLog(home); !strings.Contains(log, "raised the open-file limit") || !strings.Contains(log, fmt.Sprintf("soft=%d hard=%d", nofile, nofile)) {
		t.Fatalf("node did not raise and log its open-file limit to %d:\n%s", nofile, log)
	}
	st, err := p.Client.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	h0 := st.Height
	pid := p.PID()
	base := "http://" + cfg.API.ListenAddr

	// Peak descriptors, sampled all through the flood.
	var peakMu sync.Mutex
	peak := 0
	stopSample := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			if n := openFDs(pid); n > 0 {
				peakMu.Lock()
				peak = max(peak, n)
				peakMu.Unlock()
			}
			select {
			case <-stopSample:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()

	// 600 event streams, 8 being opened at a time; each stays open.
	tr := &http.Transport{MaxIdleConnsPerHost: -1, DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	cl := &http.Client{Transport: tr}
	var mu sync.Mutex
	codes := map[string]int{}
	var bodies []io.Closer
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	for i := 0; i < streams; i++ {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/v1/events", nil)
			resp, err := cl.Do(req)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				codes["error: "+err.Error()]++
				return
			}
			if resp.StatusCode == http.StatusOK {
				codes["200 stream"]++
				bodies = append(bodies, resp.Body)
				return
			}
			defer resp.Body.Close()
			var eb api.ErrorBody
			if err := json.NewDecoder(resp.Body).Decode(&eb); err != nil {
				codes[fmt.Sprintf("%d undecodable: %v", resp.StatusCode, err)]++
				return
			}
			codes[fmt.Sprintf("%d %s", resp.StatusCode, eb.Error.Code)]++
		}()
	}
	wg.Wait()

	// 300 idle connections on top: those over max_connections read the
	// 503 at once, without sending anything.
	var raws []net.Conn
	busy := 0
	for i := 0; i < idle; i++ {
		c, err := net.DialTimeout("tcp", cfg.API.ListenAddr, 2*time.Second)
		if err != nil {
			codes["idle dial error"]++
			continue
		}
		raws = append(raws, c)
	}
	for _, c := range raws {
		_ = c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		line, _ := bufio.NewReader(c).ReadString('\n')
		if strings.HasPrefix(line, "HTTP/1.1 503") {
			busy++
		}
	}
	// Hold everything open while blocks keep coming: the API has no slot
	// left even for /v1/status, so count commits in the node's log.
	commits := func() int {
		b, _ := os.ReadFile(filepath.Join(home, "node.log"))
		return strings.Count(string(b), "committed block")
	}
	before := commits()
	time.Sleep(3 * time.Second)
	during := commits() - before
	for _, c := range raws {
		c.Close()
	}
	mu.Lock()
	for _, b := range bodies {
		b.Close()
	}
	mu.Unlock()
	close(stopSample)
	<-sampled
	t.Logf("%d event streams and %d idle connections under RLIMIT_NOFILE=%d: %v; idle answered 503: %d; peak descriptors %d; %d blocks committed in the 3 s held",
		streams, idle, nofile, codes, busy, peak, during)

	if got := codes["200 stream"]; got != cfg.API.MaxEventStreams {
		t.Errorf("%d streams served, want exactly max_event_streams = %d", got, cfg.API.MaxEventStreams)
	}
	if got := codes["503 too_many_event_streams"]; got != streams-cfg.API.MaxEventStreams {
		t.Errorf("%d streams refused with 503 too_many_event_streams, want %d", got, streams-cfg.API.MaxEventStreams)
	}
	if busy < idle-cfg.API.MaxConnections {
		t.Errorf("only %d of %d idle connections over max_connections = %d were answered 503", busy, idle, cfg.API.MaxConnections)
	}
	if during < 3 {
		t.Errorf("%d blocks committed in 3 s with the API saturated (heartbeat 300ms)", during)
	}
	if peak >= nofile {
		t.Errorf("node held %d descriptors, at its limit of %d", peak, nofile)
	}
	if exited, err := p.Exited(); exited {
		t.Fatalf("node exited during the flood: %v\n%s", err, procLog(home))
	}
	// The chain kept committing through the flood (heartbeat 300ms) and
	// goes on once it is over.
	if err := testnet.WaitHeight(ctx, h0+5, p); err != nil {
		t.Fatalf("no blocks after the flood: %v\n%s", err, procLog(home))
	}
	st, err = p.Client.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !st.Health.OK || st.Health.OpenFileLimit != nofile || st.Health.MaxConnections != cfg.API.MaxConnections {
		t.Errorf("health after flood: %+v", st.Health)
	}
	if log := procLog(home); strings.Contains(log, "too many open files") || strings.Contains(log, "panic") {
		t.Errorf("node log:\n%s", log)
	}
	// The budget refuses a max_connections that cannot fit the limit,
	// naming the key.
	if err := p.Stop(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	cfg.API.MaxConnections, cfg.API.MaxEventStreams = 400, 32
	if err := config.Write(filepath.Join(home, config.FileName), cfg); err != nil {
		t.Fatal(err)
	}
	code, out := runLimited(t, bin, nofile, 20*time.Second, "start", "--home", home)
	if code != ExitUsage || !strings.Contains(out, "[api] max_connections = 400") || !strings.Contains(out, "open-file limit of 512") {
		t.Errorf("max_connections over the budget: exit %d (want %d), output:\n%s", code, ExitUsage, tail(out, 10))
	}
}
