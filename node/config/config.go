package config

import (
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strconv"
	"strings"
)

// Config is the node's config.toml. Paths are relative to Home unless
// absolute; use the *Path methods to resolve them.
type Config struct {
	// Home is the node's home directory: the directory config.toml was
	// loaded from, or the one given to Default. It is not written.
	Home string `toml:"-"`

	Moniker          string `toml:"moniker" comment:"A human-readable name for this node, shown to peers and in status output."`
	GenesisFile      string `toml:"genesis_file" comment:"Genesis document of the chain to join (relative paths are inside the home directory)."`
	DataDir          string `toml:"data_dir" comment:"Database directory: blocks, state and indexes."`
	KeysDir          string `toml:"keys_dir" comment:"Keyring directory: account and validator keys, encrypted at rest (see [keyring])."`
	NodeKeyFile      string `toml:"node_key_file" comment:"The node's peer-to-peer identity key (its libp2p peer ID). Created on first start."`
	PrivValidatorKey string `toml:"priv_validator_key" comment:"Name of the keyring key this node signs blocks and votes with.\nEmpty: run as a full node that does not validate."`
	LogLevel         string `toml:"log_level" comment:"Log verbosity: \"debug\", \"info\", \"warn\" or \"error\"."`
	LogFormat        string `toml:"log_format" comment:"Log format: \"text\" for people, \"json\" for log collectors."`

	API       API       `toml:"api" comment:"HTTP JSON API, event stream and Prometheus metrics."`
	P2P       P2P       `toml:"p2p" comment:"Peer-to-peer networking (libp2p)."`
	Consensus Consensus `toml:"consensus" comment:"Consensus timeouts and block limits. Timeouts are durations such as \"500ms\" or \"1s\"."`
	Mempool   Mempool   `toml:"mempool" comment:"Pending transactions waiting for a block."`
	Storage   Storage   `toml:"storage" comment:"How much history the node keeps on disk, and how much memory it may use."`
	Keyring   Keyring   `toml:"keyring" comment:"Where keys live and how they are protected."`
	StateSync StateSync `toml:"statesync" comment:"Joining a chain from a recent state snapshot instead of replaying every block."`
	Light     Light     `toml:"light" comment:"The light client 'dure query' verifies headers with."`

	// Subnets are the subnet nodes this process runs beside this one
	// (subnets.go); nil when none.
	Subnets []Subnet `toml:"subnets,omitempty" comment:"Subnets this process also runs a node of, each a [[subnets]] table (see README, subnets)."`
}

// Light configures the CLI's light client.
type Light struct {
	Witnesses []string `toml:"witnesses" comment:"API addresses of other nodes of the chain (\"host:port\" or URLs) that 'dure query'\nasks for the same headers: a conflicting header is reported as fork evidence. Empty: none."`
}

// StateSync configures joining from a snapshot (node/statesync.go).
type StateSync struct {
	Enable          string `toml:"enable" comment:"\"auto\" (default): a node without a validator key whose data directory is empty and that has\nbootstrap peers asks them for a snapshot; if none offers one at min_height or above it replays from genesis.\n\"on\": any node with an empty data directory (a validator too), and it fails rather than replay.\n\"off\": always replay every block from genesis."`
	TrustCheckpoint string `toml:"trust_checkpoint" comment:"\"height:block_id\" obtained out of band (a block explorer, a friend's node) to verify the snapshot's\nheader from, instead of from genesis. Needed once the genesis is older than the light client's\n14-day trusting period. Empty: trust the genesis validators."`
	MinHeight       uint64 `toml:"min_height" comment:"With enable = \"auto\", state sync only when a peer offers a snapshot at least this high;\nbelow it replaying is as fast."`
}

// API configures the HTTP server.
type API struct {
	ListenAddr         string   `toml:"listen_addr" comment:"host:port the HTTP API listens on. The default accepts local connections only;\nuse \"0.0.0.0:26657\" to serve other machines (put it behind a proxy). Empty disables the API."`
	MaxBodyBytes       ByteSize `toml:"max_body_bytes" comment:"Largest request body accepted, in bytes or with a unit (\"1MiB\")."`
	CORSAllowedOrigins []string `toml:"cors_allowed_origins" comment:"Origins browsers may call the API from, e.g. [\"https://wallet.example\"]; [\"*\"] allows any.\nEmpty: no cross-origin access."`
	EnableMetrics      bool     `toml:"enable_metrics" comment:"Serve Prometheus metrics at /metrics on the API address."`
	MaxConnections     int      `toml:"max_connections" comment:"Most HTTP connections open at once (event streams included). Over it a client gets\n503 too_many_connections at once. Each connection holds a file descriptor: the node checks at start\nthat this many fit under its open-file limit next to the store, the consensus WAL and p2p."`
	MaxEventStreams    int      `toml:"max_event_streams" comment:"Most /v1/events subscribers at once (part of max_connections); over it: 503 too_many_event_streams.\n0 turns the event stream off."`
	PprofListenAddr    string   `toml:"pprof_listen_addr" comment:"host:port to serve Go's profiler (/debug/pprof/: heap, CPU, goroutines) on, for\ndiagnosing memory or CPU use, e.g. \"127.0.0.1:6060\". Keep it on loopback: a profile shows the\nnode's internals and costs CPU while taken. Empty (default): off."`
}

// P2P configures the libp2p host.
type P2P struct {
	ListenAddrs           []string `toml:"listen_addrs" comment:"Multiaddrs to listen on for peers (TCP and QUIC)."`
	ExternalAddrs         []string `toml:"external_addrs" comment:"Multiaddrs to announce in addition to the detected ones, e.g. a public IP or DNS name\nwhen behind port forwarding: [\"/dns4/node.example/tcp/26656\"]."`
	BootstrapPeers        []string `toml:"bootstrap_peers" comment:"Peers to connect to at start, as multiaddrs ending in /p2p/<peer-id>."`
	DenyPeers             []string `toml:"deny_peers" comment:"Peer IDs never to connect to or accept."`
	LowWater              int      `toml:"low_water" comment:"Connection manager: connections are trimmed down to low_water ..."`
	HighWater             int      `toml:"high_water" comment:"... whenever there are more than high_water."`
	EnableDHT             bool     `toml:"enable_dht" comment:"Find peers through the Kademlia DHT."`
	EnableMDNS            bool     `toml:"enable_mdns" comment:"Find peers of this chain on the local network with mDNS (multicast on every interface)."`
	EnableNATPortMap      bool     `toml:"enable_nat_port_map" comment:"Ask the home router to forward a port (UPnP / NAT-PMP)."`
	EnableHolePunching    bool     `toml:"enable_hole_punching" comment:"Connect to peers behind NAT by hole punching (DCUtR)."`
	EnableRelay           bool     `toml:"enable_relay" comment:"Be reachable through circuit relays when behind NAT (relay client, with AutoNAT to find out)."`
	EnableRelayService    bool     `toml:"enable_relay_service" comment:"Relay for peers behind NAT and answer their AutoNAT probes. Turn on for a node with a public\naddress: without such nodes, peers behind NAT can neither learn that they are private nor be reached."`
	PrivateNetworkPSKFile string   `toml:"private_network_psk_file" comment:"Pre-shared key file for a private network: only peers with the same key can connect.\nEmpty: the public network."`
}

// Consensus configures the consensus engine's timing and block limits.
type Consensus struct {
	TimeoutPropose    Duration `toml:"timeout_propose" comment:"How long to wait for a proposal before prevoting nil."`
	TimeoutPrevote    Duration `toml:"timeout_prevote" comment:"How long to wait after +2/3 of any prevotes before precommitting."`
	TimeoutPrecommit  Duration `toml:"timeout_precommit" comment:"How long to wait after +2/3 of any precommits before moving to the next round."`
	TimeoutDelta      Duration `toml:"timeout_delta" comment:"Added to each timeout per failed round, so a slow network eventually agrees."`
	TimeoutCommit     Duration `toml:"timeout_commit" comment:"Pause after a commit to gather late votes before the next height (0s: none)."`
	CreateEmptyBlocks bool     `toml:"create_empty_blocks" comment:"Make blocks with no transactions. When false, the chain waits for a transaction."`
	HeartbeatInterval Duration `toml:"heartbeat_interval" comment:"With create_empty_blocks, how long an idle chain waits before an empty block (0s: at once)."`
	MaxBlockTxs       int      `toml:"max_block_txs" comment:"Most transactions this node puts in a block it proposes."`
	MaxBlockBytes     ByteSize `toml:"max_block_bytes" comment:"Largest block this node proposes, in bytes or with a unit."`
}

// Mempool bounds pending transactions.
type Mempool struct {
	MaxTxs       int      `toml:"max_txs" comment:"Most pending transactions held; new ones are refused when full."`
	MaxBytes     ByteSize `toml:"max_bytes" comment:"Most bytes of pending transactions held, in bytes or with a unit (\"64MiB\")."`
	MaxPerSender int      `toml:"max_per_sender" comment:"Most pending transactions from one account, so one sender cannot fill the pool."`
}

// DefaultMemoryLimit is [storage] memory_limit's default: under the
// 300 MB per node a validator under full load should stay within, with
// room for Badger's mapped files.
const DefaultMemoryLimit ByteSize = 256 << 20

// MinMemoryLimit is the least non-zero [storage] memory_limit accepted:
// below it an idle node's live heap alone would keep the collector busy.
const MinMemoryLimit ByteSize = 64 << 20

// Storage says how much history is kept. Pruning never touches the latest
// state, so it does not affect validating or serving current queries.
type Storage struct {
	KeepRecent  uint64   `toml:"keep_recent" comment:"Heights of state history kept for queries and proofs at past heights. Blocks and state\nversions are pruned together: with keep_blocks > 0 the node keeps the larger of the two windows;\nwith keep_blocks = 0 (the default) a validator keeps everything, and a node without a validator key\nkeeps this many heights (unless archive = true)."`
	KeepBlocks  uint64   `toml:"keep_blocks" comment:"Blocks, commits and transaction results kept, counting back from the latest height.\n0 (the default): a validator keeps every block, which lets it serve peers syncing from the first block;\na node without a validator key keeps keep_recent heights unless archive = true."`
	Archive     bool     `toml:"archive" comment:"Keep every block and state version on a node without a validator key too (an archive node).\nfalse (the default): such a node prunes to keep_recent heights (bounded disk) and joins by state sync."`
	MemoryLimit ByteSize `toml:"memory_limit" comment:"Soft limit of the node process's Go memory (heap, stacks, Badger's memtables and caches):\nthe garbage collector works harder as the process nears it, so the resident size under load stays\nabout this plus Badger's mapped files. 0: no limit (the Go default: the heap may grow to twice\nwhat is live). The GOMEMLIMIT environment variable, if set, takes precedence. Not a hard cap:\nabove it the collector is bounded to about half the CPU rather than stopping the node."`
	MinFreeDisk ByteSize `toml:"min_free_disk" comment:"Free space the data directory's filesystem must keep. Below it the node stops signing and\ncommitting (it keeps serving reads, and resumes once space is freed), and it refuses to start (exit 5).\nAt least 4 × [consensus] max_block_bytes + 32MiB, so the store's own writes always fit."`
}

// Keyring selects the keystore backend.
type Keyring struct {
	Backend        string `toml:"backend" comment:"\"file\": keys encrypted with a passphrase. \"test\": keys in plaintext, for local testnets only."`
	PassphraseFile string `toml:"passphrase_file" comment:"File holding the keyring passphrase, for unattended start.\nEmpty: read DURE_KEYRING_PASSPHRASE, else prompt on the terminal."`
}

// Default returns a configuration that works as is for a node whose home
// directory is home.
func Default(home string) Config {
	return Config{
		Home:             home,
		Moniker:          "dure-node",
		GenesisFile:      "genesis.json",
		DataDir:          "data",
		KeysDir:          "keys",
		NodeKeyFile:      "node_key.json",
		PrivValidatorKey: "validator",
		LogLevel:         "info",
		LogFormat:        "text",
		API: API{
			ListenAddr:         "127.0.0.1:26657",
			MaxBodyBytes:       1 << 20,
			CORSAllowedOrigins: []string{},
			EnableMetrics:      true,
			MaxConnections:     256,
			MaxEventStreams:    128,
		},
		P2P: P2P{
			ListenAddrs:        []string{"/ip4/0.0.0.0/tcp/26656", "/ip4/0.0.0.0/udp/26656/quic-v1"},
			ExternalAddrs:      []string{},
			BootstrapPeers:     []string{},
			DenyPeers:          []string{},
			LowWater:           32,
			HighWater:          64,
			EnableDHT:          true,
			EnableMDNS:         false, // opt-in: it multicasts on every interface
			EnableNATPortMap:   true,
			EnableHolePunching: true,
			EnableRelay:        true,
		},
		Consensus: Consensus{
			TimeoutPropose:    "2s",
			TimeoutPrevote:    "500ms",
			TimeoutPrecommit:  "500ms",
			TimeoutDelta:      "500ms",
			TimeoutCommit:     "100ms",
			CreateEmptyBlocks: true,
			HeartbeatInterval: "10s",
			MaxBlockTxs:       10000,
			MaxBlockBytes:     8 << 20,
		},
		Mempool: Mempool{
			MaxTxs:       50000,
			MaxBytes:     64 << 20,
			MaxPerSender: 1000,
		},
		Storage: Storage{
			KeepRecent:  1000,
			KeepBlocks:  0,
			MemoryLimit: DefaultMemoryLimit,
			MinFreeDisk: 256 << 20,
		},
		Keyring:   Keyring{Backend: "file"},
		StateSync: StateSync{Enable: "auto", MinHeight: 100},
		Light:     Light{Witnesses: []string{}},
	}
}

// ParseCheckpoint splits a trust_checkpoint "height:block_id" (height > 0).
func ParseCheckpoint(s string) (height uint64, blockID string, err error) {
	h, id, ok := strings.Cut(s, ":")
	if !ok || id == "" {
		return 0, "", fmt.Errorf("%w: %q is not height:block_id", ErrCheckpoint, s)
	}
	height, err = strconv.ParseUint(h, 10, 64)
	if err != nil || height == 0 {
		return 0, "", fmt.Errorf("%w: height %q is not a positive number", ErrCheckpoint, h)
	}
	return height, id, nil
}

// ErrCheckpoint: a malformed [statesync] trust_checkpoint.
var ErrCheckpoint = errors.New("config: bad trust checkpoint")

// Path resolves p against Home; absolute paths are returned unchanged.
func (c Config) Path(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(c.Home, p)
}

// GenesisPath is the resolved genesis_file.
func (c Config) GenesisPath() string { return c.Path(c.GenesisFile) }

// DataPath is the resolved data_dir.
func (c Config) DataPath() string { return c.Path(c.DataDir) }

// KeysPath is the resolved keys_dir.
func (c Config) KeysPath() string { return c.Path(c.KeysDir) }

// NodeKeyPath is the resolved node_key_file.
func (c Config) NodeKeyPath() string { return c.Path(c.NodeKeyFile) }

// SubnetHome is the resolved home directory of a [[subnets]] entry.
func (c Config) SubnetHome(s Subnet) string { return c.Path(s.Home) }

// SubnetPSKPath is the resolved private_network_psk_file of a [[subnets]]
// entry ("" when it does not override the subnet's own config).
func (c Config) SubnetPSKPath(s Subnet) string { return c.Path(s.PrivateNetworkPSKFile) }

// PSKPath is the resolved p2p.private_network_psk_file ("" when public).
func (c Config) PSKPath() string { return c.Path(c.P2P.PrivateNetworkPSKFile) }

// PassphrasePath is the resolved keyring.passphrase_file ("" when unset).
func (c Config) PassphrasePath() string { return c.Path(c.Keyring.PassphraseFile) }

// SlogLevel maps log_level to a slog level (info if invalid; Validate
// reports invalid values).
func (c Config) SlogLevel() slog.Level {
	switch c.LogLevel {
	case "debug":
		return slog.LevelDebug
	case "warn":
		return slog.LevelWarn
	case "error":
		return slog.LevelError
	}
	return slog.LevelInfo
}
