package p2p

import (
	"errors"
	"fmt"
	"syscall"

	"github.com/libp2p/go-libp2p/core/network"
	ma "github.com/multiformats/go-multiaddr"
)

// ErrListen: a configured listen address could not be bound. The node does
// not start with fewer listeners than configured: libp2p on its own logs a
// failed address (a taken QUIC port, say) to its own logger and carries on
// with the rest, so peers dialing that address would silently fail.
var ErrListen = errors.New("p2p: cannot listen")

// listenAll binds every configured address, one at a time so each failure
// names its address. The host is built with libp2p.NoListenAddrs and TCP
// without SO_REUSEPORT: with it, a second node on the same port started
// fine and the kernel split inbound connections between the two.
func listenAll(net network.Network, addrs []string) error {
	for _, s := range addrs {
		a, err := ma.NewMultiaddr(s)
		if err != nil {
			return fmt.Errorf("%w: listen address %q: %v", ErrConfig, s, err)
		}
		// The swarm's Listen flattens the cause into a string; AddListenAddr
		// keeps it (EADDRINUSE and the like) for errors.Is.
		listen := net.Listen
		if sw, ok := net.(interface{ AddListenAddr(ma.Multiaddr) error }); ok {
			listen = func(as ...ma.Multiaddr) error { return sw.AddListenAddr(as[0]) }
		}
		if err := listen(a); err != nil {
			hint := ""
			switch {
			case errors.Is(err, syscall.EADDRINUSE):
				hint = " (another process, perhaps another dure node, uses this port: stop it or change [p2p] listen_addrs)"
			case errors.Is(err, syscall.EADDRNOTAVAIL):
				hint = " (no local interface has this IP address)"
			case errors.Is(err, syscall.EACCES):
				hint = " (ports below 1024 need privileges)"
			}
			return fmt.Errorf("%w on %s: %w%s", ErrListen, a, err, hint)
		}
	}
	return nil
}
