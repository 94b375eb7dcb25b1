package nattest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dure-network/dure/p2p/nattest"
)

// The test binary doubles as the program run inside namespaces: with
// DURE_NATTEST_ROLE set it is a helper (see helperMain), not a test run.
func TestMain(m *testing.M) {
	if role := os.Getenv("DURE_NATTEST_ROLE"); role != "" {
		if err := helperMain(role, os.Getenv("DURE_NATTEST_ARG")); err != nil {
			fmt.Fprintln(os.Stderr, "helper:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	code := m.Run()
	if dureBin != "" {
		_ = os.RemoveAll(filepath.Dir(dureBin))
	}
	os.Exit(code)
}

func helperMain(role, arg string) error {
	switch role {
	case "udp-echo":
		return udpEcho(arg)
	case "udp-probe":
		return udpProbe(arg)
	case "node":
		return nodeMain(arg)
	}
	return fmt.Errorf("unknown role %q", role)
}

// udpEcho answers every datagram with the source address it came from.
func udpEcho(listen string) error {
	c, err := net.ListenPacket("udp4", listen)
	if err != nil {
		return fmt.Errorf("listen %s: %w", listen, err)
	}
	fmt.Println("ready")
	buf := make([]byte, 1500)
	for {
		_, from, err := c.ReadFrom(buf)
		if err != nil {
			return fmt.Errorf("read: %w", err)
		}
		if _, err := c.WriteTo([]byte(from.String()), from); err != nil {
			return fmt.Errorf("write: %w", err)
		}
	}
}

// udpProbe sends from one local port to each target and prints what each
// saw as the source, one JSON object per line; "-" when no answer came,
// "unreachable: …" when there is no route.
func udpProbe(arg string) error {
	local, targets, _ := strings.Cut(arg, " ")
	c, err := net.ListenPacket("udp4", local)
	if err != nil {
		return fmt.Errorf("listen %s: %w", local, err)
	}
	defer c.Close()
	for _, t := range strings.Fields(targets) {
		ua, err := net.ResolveUDPAddr("udp4", t)
		if err != nil {
			return fmt.Errorf("target %s: %w", t, err)
		}
		seen := "-"
		for try := 0; try < 3 && seen == "-"; try++ {
			if _, err := c.WriteTo([]byte("probe"), ua); err != nil {
				seen = "unreachable: " + err.Error()
				break
			}
			_ = c.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
			buf := make([]byte, 1500)
			n, _, err := c.ReadFrom(buf)
			if err == nil {
				seen = string(buf[:n])
			}
		}
		b, _ := json.Marshal(map[string]string{"target": t, "seen": seen})
		fmt.Println(string(b))
	}
	return nil
}

// startHelper runs the test binary as role in h's namespace, with extra
// environment variables env.
func startHelper(t *testing.T, h *nattest.Host, role, arg string, env ...string) *nattest.Proc {
	t.Helper()
	p, _ := startHelperLog(t, h, role, arg, env...)
	return p
}

func startHelperLog(t *testing.T, h *nattest.Host, role, arg string, env ...string) (*nattest.Proc, *logWriter) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	p := h.Command(exe)
	p.Cmd.Env = append(append(os.Environ(), "DURE_NATTEST_ROLE="+role, "DURE_NATTEST_ARG="+arg), env...)
	lw := &logWriter{t: t, prefix: h.Name + ": ", counts: make(map[string]int)}
	p.Cmd.Stderr = lw
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	return p, lw
}

// logWriter passes a helper's stderr to t.Log line by line (shown on
// failure or with -v), except libp2p's debug lines, which it only counts
// by message (msg="…").
type logWriter struct {
	t      *testing.T
	prefix string
	mu     sync.Mutex
	part   []byte
	counts map[string]int
}

func (w *logWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.part = append(w.part, b...)
	for {
		i := bytes.IndexByte(w.part, '\n')
		if i < 0 {
			break
		}
		line := string(w.part[:i])
		w.part = w.part[i+1:]
		if strings.Contains(strings.ToLower(line), "level=debug") {
			if _, rest, ok := strings.Cut(line, " msg="); ok {
				var msg string
				if r, ok := strings.CutPrefix(rest, `"`); ok {
					msg, _, _ = strings.Cut(r, `"`)
				} else {
					msg, _, _ = strings.Cut(rest, " ")
				}
				w.counts[msg]++
			}
			if !verbose {
				continue
			}
		}
		func() {
			defer func() { _ = recover() }() // t.Log after the test ended panics
			w.t.Log(w.prefix + line)
		}()
	}
	return len(b), nil
}

// verbose: DURE_NATTEST_LOG=<GOLOG_LOG_LEVEL> shows libp2p's debug lines too.
var verbose = os.Getenv("DURE_NATTEST_LOG") != ""

// count is how many debug lines with message msg the helper wrote.
func (w *logWriter) count(msg string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.counts[msg]
}

// readLine waits for p's next stdout line.
func readLine(ctx context.Context, p *nattest.Proc) (string, error) {
	select {
	case l, ok := <-p.Lines:
		if !ok {
			return "", fmt.Errorf("%s exited: %v", p.Host.Name, p.Err())
		}
		return l, nil
	case <-ctx.Done():
		return "", fmt.Errorf("%s: %w", p.Host.Name, ctx.Err())
	}
}

func envInt(t *testing.T, name string, def int) int {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		t.Fatalf("%s=%q: want a positive count", name, v)
	}
	return n
}
