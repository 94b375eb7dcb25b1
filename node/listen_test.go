package node

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dure-network/dure/node/config"
	"github.com/dure-network/dure/testnet"
)

// TestP2PPortInUse: a second node configured with a p2p TCP port another
// node listens on exits 2 naming the address (SO_REUSEPORT let it start and
// share the port); the same for a QUIC port. The first keeps committing.
func TestP2PPortInUse(t *testing.T) {
	bin := dureBinary(t)
	port := freePort(t)
	tcpAddr := fmt.Sprintf("/ip4/127.0.0.1/tcp/%d", port)
	quicAddr := fmt.Sprintf("/ip4/127.0.0.1/udp/%d/quic-v1", port)
	home, cfg := initHome(t, "port-1")
	cfg.P2P.ListenAddrs = []string{tcpAddr, quicAddr}
	if err := config.Write(filepath.Join(home, config.FileName), cfg); err != nil {
		t.Fatal(err)
	}
	p := newProc(bin, home, cfg)
	t.Cleanup(func() { _ = p.Kill() })
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := testnet.WaitHeight(ctx, 1, p); err != nil {
		t.Fatalf("%v\n%s", err, procLog(home))
	}
	// The QUIC case keeps a free TCP address beside the taken one: libp2p
	// started on what it could bind and logged the rest to its own logger.
	for _, c := range []struct{ taken, other string }{{tcpAddr, ""}, {quicAddr, "/ip4/127.0.0.1/tcp/0"}} {
		taken := c.taken
		home2, cfg2 := initHome(t, "port-2")
		cfg2.P2P.ListenAddrs = []string{taken}
		if c.other != "" {
			cfg2.P2P.ListenAddrs = []string{c.other, taken}
		}
		if err := config.Write(filepath.Join(home2, config.FileName), cfg2); err != nil {
			t.Fatal(err)
		}
		code, out := runBinary(t, bin, 20*time.Second, "start", "--home", home2)
		if code != ExitUsage || !strings.Contains(out, taken) || !strings.Contains(out, "address already in use") {
			t.Errorf("second node on %s: exit %d, want %d naming the address:\n%s", taken, code, ExitUsage, tail(out, 10))
		}
		t.Logf("second node on %s: exit %d: %s", taken, code, strings.TrimSpace(tail(out, 2)))
	}
	st, err := p.Client.Status(ctx)
	if err != nil {
		t.Fatalf("first node hurt by the second start: %v", err)
	}
	if err := testnet.WaitHeight(ctx, st.Height+2, p); err != nil {
		t.Errorf("first node stopped committing: %v", err)
	}
}
