package nattest_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"strings"
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
	os.Exit(m.Run())
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

// startHelper runs the test binary as role in h's namespace.
func startHelper(t *testing.T, h *nattest.Host, role, arg string) *nattest.Proc {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	p := h.Command(exe)
	p.Cmd.Env = append(os.Environ(), "DURE_NATTEST_ROLE="+role, "DURE_NATTEST_ARG="+arg)
	p.Cmd.Stderr = &prefixWriter{t: t, prefix: h.Name + ": "}
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	return p
}

// prefixWriter logs a helper's stderr through t.Log (only shown on failure
// or with -v), until the test ends.
type prefixWriter struct {
	t      *testing.T
	prefix string
}

func (w *prefixWriter) Write(b []byte) (int, error) {
	defer func() { _ = recover() }() // t.Log after the test ended panics
	sc := bufio.NewScanner(strings.NewReader(string(b)))
	for sc.Scan() {
		w.t.Log(w.prefix + sc.Text())
	}
	return len(b), nil
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
