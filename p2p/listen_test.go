package p2p

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

func listenCfg(addrs ...string) (Config, Deps) {
	cfg := Config{ChainID: "listen-1", ListenAddrs: addrs, SyncTimeout: 5 * time.Second}
	deps := Deps{ValidateTxs: PerTx(func([]byte) Verdict { return Accept }), ValidateConsensus: acceptAll, ValidateBlock: acceptAll,
		ValidateEvidence: acceptAll, OnTx: func(peer.ID, [][]byte) {}, OnConsensus: func(peer.ID, []byte) {},
		OnBlock: func(peer.ID, []byte) {}, OnEvidence: func(peer.ID, []byte) {}}
	return cfg, deps
}

// TestTakenTCPPortFails: a second node on a TCP port another node listens
// on does not start (go-libp2p's SO_REUSEPORT let it share the port, and
// the kernel split inbound connections between the two).
func TestTakenTCPPortFails(t *testing.T) {
	first := newTestNode(t, "listen-1")
	var port string
	for _, a := range first.Host().Network().ListenAddresses() {
		if p, err := a.ValueForProtocol(6 /* tcp */); err == nil {
			port = p
		}
	}
	if port == "" {
		t.Fatalf("first node has no TCP listener: %v", first.Host().Network().ListenAddresses())
	}
	addr := "/ip4/127.0.0.1/tcp/" + port
	cfg, deps := listenCfg(addr)
	n, err := New(context.Background(), cfg, deps)
	if err == nil {
		n.Close()
		t.Fatalf("second node started on %s, which the first node listens on", addr)
	}
	if !errors.Is(err, ErrListen) || !errors.Is(err, syscall.EADDRINUSE) || !strings.Contains(err.Error(), addr) {
		t.Errorf("error %q: want ErrListen wrapping EADDRINUSE and naming %s", err, addr)
	}
	// The first node is unharmed: a fresh peer still connects to it.
	third := newTestNode(t, "listen-1", withBootstrap(first))
	eventually(t, 10*time.Second, "third node connects to the first", func() bool {
		return len(third.Host().Network().Peers()) > 0
	})
}

// TestTakenQUICPortFails: a configured QUIC address whose UDP port is taken
// fails the start instead of being dropped with a line in libp2p's log.
func TestTakenQUICPortFails(t *testing.T) {
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	quicAddr := fmt.Sprintf("/ip4/127.0.0.1/udp/%d/quic-v1", pc.LocalAddr().(*net.UDPAddr).Port)
	cfg, deps := listenCfg("/ip4/127.0.0.1/tcp/0", quicAddr)
	n, err := New(context.Background(), cfg, deps)
	if err == nil {
		n.Close()
		t.Fatalf("node started although %s is taken", quicAddr)
	}
	if !errors.Is(err, ErrListen) || !strings.Contains(err.Error(), quicAddr) {
		t.Errorf("error %q: want ErrListen naming %s", err, quicAddr)
	}
	// With both free, both are bound.
	cfg, deps = listenCfg("/ip4/127.0.0.1/tcp/0", "/ip4/127.0.0.1/udp/0/quic-v1")
	n, err = New(context.Background(), cfg, deps)
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	if got := n.Host().Network().ListenAddresses(); len(got) != 2 {
		t.Errorf("listening on %v, want a TCP and a QUIC address", got)
	}
}
