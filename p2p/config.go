package p2p

import (
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/dure-network/dure/chain"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/prometheus/client_golang/prometheus"
)

// Sentinel errors. Callers match them with errors.Is.
var (
	ErrConfig          = errors.New("p2p: invalid config")
	ErrClosed          = errors.New("p2p: node closed")
	ErrMessageTooLarge = errors.New("p2p: message too large")
	ErrMalformed       = errors.New("p2p: malformed message")
	ErrSyncRange       = errors.New("p2p: bad sync range")
	ErrNoPeers         = errors.New("p2p: no usable peers")
)

// Defaults for a home node. They are what DefaultConfig fills in and what
// New uses for zero fields.
const (
	DefaultLowWater  = 32
	DefaultHighWater = 96

	// DefaultTxFlushInterval was 2 ms: a loaded 4-validator testnet takes a
	// few hundred txs per second per node, so most batches held one tx and
	// paid a gossip message (and at each receiver a validation and a
	// signature check outside a batch) per tx. At 10 ms, BenchmarkTxGossipPaced
	// at 2,000 tx/s spends 0.60x the CPU per tx for +4.5 ms p50 latency.
	DefaultTxFlushInterval = 10 * time.Millisecond
	DefaultTxFlushCount    = 256
	DefaultTxFlushBytes    = 256 << 10

	DefaultSyncTimeout          = 30 * time.Second
	DefaultScoreInspectInterval = time.Second
)

// Config is everything New needs besides the callbacks in Deps. The zero
// value of every Enable* switch is off; DefaultConfig turns on what a home
// node behind NAT needs.
type Config struct {
	ChainID string

	// ListenAddrs are multiaddrs to listen on. Empty means TCP and QUIC on
	// port 26656 on all IPv4 interfaces (TCP only with a PSK).
	ListenAddrs []string
	// ExternalAddrs are announced in addition to what the host observes,
	// e.g. a port forwarded by hand.
	ExternalAddrs []string
	// Bootstrap peers: full multiaddrs ending in /p2p/<id>. They are dialled
	// with backoff for the node's lifetime, protected from connection
	// trimming, used as DHT bootstrap peers and as static relays.
	Bootstrap []string

	// PrivKey is the host identity (see LoadOrCreateKey). Nil means a fresh
	// ephemeral key (tests only).
	PrivKey crypto.PrivKey

	// LowWater/HighWater bound the peer count (connection manager).
	LowWater, HighWater int

	EnableDHT bool
	// DHTServer forces DHT server mode instead of auto (server only when
	// AutoNAT finds the node publicly reachable). Useful for seed nodes and
	// loopback testnets where reachability is never "public".
	DHTServer bool
	// EnableMDNS finds peers of the same chain on the local network
	// (multicast DNS-SD, one service name per chain ID).
	EnableMDNS         bool
	EnableNATPortMap   bool
	EnableHolePunching bool
	// EnableRelay turns on the circuit relay v2 client, AutoNAT v2 and
	// AutoRelay with the bootstrap peers as static relays.
	EnableRelay bool
	// EnableRelayService makes this node a relay and an AutoNAT server for
	// others. It is for nodes with a public address and declares the node
	// public (libp2p ForceReachabilityPublic): the relay and DHT server
	// mode start at once instead of waiting for AutoNAT v1, which nodes
	// behind NAT do not answer.
	EnableRelayService bool

	// PrivateNetworkPSK, when set (32 bytes), makes a libp2p private
	// network: only hosts with the same key can complete a handshake. pnet
	// cannot protect QUIC, so with a PSK the host is TCP only and a QUIC
	// listen address is a config error.
	PrivateNetworkPSK []byte

	// DenyPeers are peer IDs refused from the start (see Node.Deny).
	DenyPeers []string

	// TxFlush* control PublishTx batching; zero means the default.
	TxFlushInterval time.Duration
	TxFlushCount    int
	TxFlushBytes    int

	// SyncTimeout bounds one block-sync or status request.
	SyncTimeout time.Duration
	// SyncServeRate is how many units a second block-sync serving gives
	// one peer ID, and one remote IP (a unit is a request, an item, or
	// 16 KiB of an item; the whole node serves 4 times this). Zero means
	// DefaultSyncServeRate. See servebudget.go.
	SyncServeRate int
	// ScoreInspectInterval is how often PeerScore's snapshot is refreshed.
	ScoreInspectInterval time.Duration

	// MetricsRegisterer receives libp2p's own metrics; nil disables them.
	// Nothing is ever registered globally.
	MetricsRegisterer prometheus.Registerer
}

// DefaultConfig returns the settings for a node at home: TCP and QUIC on
// 26656, DHT in auto mode, UPnP/NAT-PMP, hole punching and relay client on.
// mDNS stays off: it multicasts on every interface (see EnableMDNS).
func DefaultConfig(chainID string) Config {
	return Config{
		ChainID:            chainID,
		ListenAddrs:        []string{"/ip4/0.0.0.0/tcp/26656", "/ip4/0.0.0.0/udp/26656/quic-v1"},
		LowWater:           DefaultLowWater,
		HighWater:          DefaultHighWater,
		EnableDHT:          true,
		EnableNATPortMap:   true,
		EnableHolePunching: true,
		EnableRelay:        true,
	}
}

// withDefaults fills zero fields and checks the rest.
func (c Config) withDefaults() (Config, error) {
	if err := checkChainID(c.ChainID); err != nil {
		return c, err
	}
	if len(c.ListenAddrs) == 0 {
		c.ListenAddrs = []string{"/ip4/0.0.0.0/tcp/26656"}
		if len(c.PrivateNetworkPSK) == 0 {
			c.ListenAddrs = append(c.ListenAddrs, "/ip4/0.0.0.0/udp/26656/quic-v1")
		}
	}
	if len(c.PrivateNetworkPSK) != 0 {
		if len(c.PrivateNetworkPSK) != 32 {
			return c, fmt.Errorf("%w: private_network_psk must be 32 bytes, got %d", ErrConfig, len(c.PrivateNetworkPSK))
		}
		for _, a := range c.ListenAddrs {
			if strings.Contains(a, "/quic") || strings.Contains(a, "/webtransport") {
				return c, fmt.Errorf("%w: listen address %q: QUIC cannot be used with a private network key (libp2p pnet protects TCP only); remove it", ErrConfig, a)
			}
		}
	}
	if c.LowWater == 0 {
		c.LowWater = DefaultLowWater
	}
	if c.HighWater == 0 {
		c.HighWater = max(DefaultHighWater, c.LowWater+16)
	}
	if c.LowWater < 0 || c.HighWater <= c.LowWater {
		return c, fmt.Errorf("%w: need 0 < low_water (%d) < high_water (%d)", ErrConfig, c.LowWater, c.HighWater)
	}
	if c.TxFlushInterval <= 0 {
		c.TxFlushInterval = DefaultTxFlushInterval
	}
	if c.TxFlushCount <= 0 {
		c.TxFlushCount = DefaultTxFlushCount
	}
	c.TxFlushCount = min(c.TxFlushCount, MaxTxBatchLen)
	if c.TxFlushBytes <= 0 {
		c.TxFlushBytes = DefaultTxFlushBytes
	}
	// A batch is flushed before it would pass TxFlushBytes, and one tx can
	// be MaxTxBytes, so this keeps every batch under MaxTxBatchBytes.
	c.TxFlushBytes = min(c.TxFlushBytes, MaxTxBatchBytes-chain.MaxTxBytes-64)
	if c.SyncServeRate <= 0 {
		c.SyncServeRate = DefaultSyncServeRate
	}
	if c.SyncTimeout <= 0 {
		c.SyncTimeout = DefaultSyncTimeout
	}
	if c.ScoreInspectInterval <= 0 {
		c.ScoreInspectInterval = DefaultScoreInspectInterval
	}
	for _, s := range c.DenyPeers {
		if _, err := peer.Decode(s); err != nil {
			return c, fmt.Errorf("%w: deny_peers entry %q: %v", ErrConfig, s, err)
		}
	}
	return c, nil
}

// checkChainID rejects IDs that would not make clean topic and protocol
// names.
func checkChainID(id string) error {
	if id == "" || len(id) > chain.MaxChainIDLen {
		return fmt.Errorf("%w: chain id must be 1..%d bytes", ErrConfig, chain.MaxChainIDLen)
	}
	for _, r := range id {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.'
		if !ok {
			return fmt.Errorf("%w: chain id %q: only letters, digits, '-', '_' and '.' are allowed", ErrConfig, id)
		}
	}
	return nil
}

// LoadOrCreateKey reads the host key at path, or creates an ed25519 key and
// writes it there with mode 0600. The same file always gives the same peer
// ID.
func LoadOrCreateKey(path string) (crypto.PrivKey, error) {
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		k, err := crypto.UnmarshalPrivateKey(b)
		if err != nil {
			return nil, fmt.Errorf("p2p key %s: %w", path, err)
		}
		return k, nil
	case !errors.Is(err, os.ErrNotExist):
		return nil, fmt.Errorf("p2p key %s: %w", path, err)
	}
	k, _, err := crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("p2p key: generate: %w", err)
	}
	b, err = crypto.MarshalPrivateKey(k)
	if err != nil {
		return nil, fmt.Errorf("p2p key: marshal: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("p2p key %s: %w", path, err)
	}
	// Write to a temp file and rename so a crash never leaves half a key.
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return nil, fmt.Errorf("p2p key %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return nil, fmt.Errorf("p2p key %s: %w", path, err)
	}
	return k, nil
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
