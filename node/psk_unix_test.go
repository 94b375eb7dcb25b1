//go:build !windows

package node

import (
	"context"
	"crypto/rand"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dure-network/dure/chain"
	"github.com/dure-network/dure/node/config"
)

// TestPSKFileMode: a private network's pre-shared key is the whole of its
// access control, so a key file other users can read (or write) is
// refused as a setup error naming the fix, like the keys directory; a
// 0600 file opens the node.
func TestPSKFileMode(t *testing.T) {
	for _, c := range []struct {
		mode os.FileMode
		ok   bool
	}{
		{0o600, true},
		{0o400, true},
		{0o640, false},
		{0o644, false},
		{0o602, false},
	} {
		t.Run(c.mode.String(), func(t *testing.T) {
			home, cfg := initHome(t, "psk-mode")
			psk := make([]byte, 32)
			if _, err := rand.Read(psk); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(home, "net.key")
			if err := os.WriteFile(path, psk, 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(path, c.mode); err != nil {
				t.Fatal(err)
			}
			cfg.P2P.PrivateNetworkPSKFile = "net.key"
			if err := config.Write(filepath.Join(home, config.FileName), cfg); err != nil {
				t.Fatal(err)
			}
			n, err := Open(context.Background(), cfg, slog.New(slog.DiscardHandler), chain.PrivKey{})
			if err != nil {
				t.Fatal(err)
			}
			defer n.Close()
			// What Run (and state sync) builds its libp2p host from.
			_, err = n.p2pConfig()
			switch {
			case c.ok && err != nil:
				t.Fatalf("mode %04o: %v", c.mode, err)
			case !c.ok && err == nil:
				t.Fatalf("mode %04o: a pre-shared key file other users can access was accepted", c.mode)
			case !c.ok && (Kind(err) != ErrSetup || !errors.Is(err, ErrInsecurePSK) || !strings.Contains(err.Error(), "chmod 600")):
				t.Fatalf("mode %04o: %v (kind %v), want ErrSetup wrapping ErrInsecurePSK naming chmod 600", c.mode, err, Kind(err))
			}
		})
	}
}
