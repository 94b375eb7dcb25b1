package config

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

const peerID = "12D3KooWT35nTUwVEBrFh7CcVn4oM8E8CuiszXmEfhaup1Mbu3et"

func TestDefaultIsValidAndWorks(t *testing.T) {
	c := Default("/home/n")
	if err := c.Validate(); err != nil {
		t.Fatalf("Default does not validate: %v", err)
	}
	checks := []struct {
		what      string
		got, want any
	}{
		{"api on loopback", c.API.ListenAddr, "127.0.0.1:26657"},
		{"metrics on", c.API.EnableMetrics, true},
		{"no CORS", len(c.API.CORSAllowedOrigins), 0},
		{"tcp+quic", c.P2P.ListenAddrs, []string{"/ip4/0.0.0.0/tcp/26656", "/ip4/0.0.0.0/udp/26656/quic-v1"}},
		{"low/high water", [2]int{c.P2P.LowWater, c.P2P.HighWater}, [2]int{32, 64}},
		{"public network", c.P2P.PrivateNetworkPSKFile, ""},
		{"propose", c.Consensus.TimeoutPropose.Duration(), 2 * time.Second},
		{"prevote", c.Consensus.TimeoutPrevote.Duration(), 500 * time.Millisecond},
		{"precommit", c.Consensus.TimeoutPrecommit.Duration(), 500 * time.Millisecond},
		{"delta", c.Consensus.TimeoutDelta.Duration(), 500 * time.Millisecond},
		{"commit", c.Consensus.TimeoutCommit.Duration(), 100 * time.Millisecond},
		{"heartbeat", c.Consensus.HeartbeatInterval.Duration(), 10 * time.Second},
		{"max block txs", c.Consensus.MaxBlockTxs, 10000},
		{"mempool txs", c.Mempool.MaxTxs, 50000},
		{"mempool bytes", c.Mempool.MaxBytes, ByteSize(64 << 20)},
		{"per sender", c.Mempool.MaxPerSender, 1000},
		{"keyring", c.Keyring.Backend, "file"},
		{"data path", c.DataPath(), filepath.Join("/home/n", "data")},
		{"keys path", c.KeysPath(), filepath.Join("/home/n", "keys")},
		{"genesis path", c.GenesisPath(), filepath.Join("/home/n", "genesis.json")},
		{"node key path", c.NodeKeyPath(), filepath.Join("/home/n", "node_key.json")},
		{"no psk path", c.PSKPath(), ""},
	}
	for _, ch := range checks {
		if !reflect.DeepEqual(ch.got, ch.want) {
			t.Errorf("%s: got %v, want %v", ch.what, ch.got, ch.want)
		}
	}
	c.DataDir = "/var/lib/dure"
	if c.DataPath() != "/var/lib/dure" {
		t.Errorf("absolute data_dir resolved to %s", c.DataPath())
	}
}

func writeLoad(t *testing.T, c Config) Config {
	t.Helper()
	path := filepath.Join(c.Home, FileName)
	if err := Write(path, c); err != nil {
		t.Fatalf("Write: %v", err)
	}
	got, err := Load(path)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return got
}

func TestRoundTrip(t *testing.T) {
	home := t.TempDir()
	def := Default(home)
	if got := writeLoad(t, def); !reflect.DeepEqual(got, def) {
		t.Fatalf("Default → Write → Load differs:\n got %+v\nwant %+v", got, def)
	}
	// Every key changed from its default survives too.
	c := Default(home)
	c.Moniker = "석관동 태양광"
	c.GenesisFile, c.DataDir, c.KeysDir, c.NodeKeyFile = "/etc/g.json", "d", "k", "nk.json"
	c.PrivValidatorKey, c.LogLevel, c.LogFormat = "", "debug", "json"
	c.API = API{ListenAddr: "", MaxBodyBytes: 1000, CORSAllowedOrigins: []string{"*", "https://w.example:8443"}, EnableMetrics: false,
		MaxConnections: 10, MaxEventStreams: 0}
	c.P2P = P2P{
		ListenAddrs:    []string{"/ip6/::/tcp/1"},
		ExternalAddrs:  []string{"/dns4/node.example/tcp/26656"},
		BootstrapPeers: []string{"/ip4/203.0.113.7/tcp/26656/p2p/" + peerID},
		DenyPeers:      []string{peerID},
		LowWater:       0, HighWater: 1, PrivateNetworkPSKFile: "swarm.key",
	}
	c.Consensus = Consensus{TimeoutPropose: "3s", TimeoutPrevote: "1s", TimeoutPrecommit: "1s", TimeoutDelta: "250ms",
		TimeoutCommit: "0s", CreateEmptyBlocks: false, HeartbeatInterval: "1m30s", MaxBlockTxs: 1, MaxBlockBytes: 123457}
	c.Mempool = Mempool{MaxTxs: 10, MaxBytes: 5e6, MaxPerSender: 10}
	c.Storage = Storage{KeepRecent: 0, KeepBlocks: 100000, MemoryLimit: 0, MinFreeDisk: 1 << 30}
	c.Keyring = Keyring{Backend: "test", PassphraseFile: "/run/secrets/pass"}
	if err := c.Validate(); err != nil {
		t.Fatalf("changed config invalid: %v", err)
	}
	if got := writeLoad(t, c); !reflect.DeepEqual(got, c) {
		t.Fatalf("changed config round trip differs:\n got %+v\nwant %+v", got, c)
	}
}

func TestWrittenFileExplainsEveryKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", FileName)
	if err := Write(path, Default("")); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(raw), "\n")
	keys := 0
	for i, l := range lines {
		if strings.HasPrefix(l, "#") || strings.TrimSpace(l) == "" {
			continue
		}
		if i == 0 || !strings.HasPrefix(lines[i-1], "#") {
			t.Errorf("line %d %q has no comment above it", i+1, l)
		}
		if strings.Contains(l, " = ") {
			keys++
		}
	}
	if keys < 40 {
		t.Errorf("only %d keys written", keys)
	}
	st, _ := os.Stat(path)
	if st.Mode().Perm() != 0o644 {
		t.Errorf("config mode %04o, want 0644", st.Mode().Perm())
	}
	ents, _ := os.ReadDir(filepath.Dir(path))
	if len(ents) != 1 {
		t.Errorf("temp files left next to config: %v", ents)
	}
}

func TestPartialFileKeepsDefaults(t *testing.T) {
	home := t.TempDir()
	path := filepath.Join(home, FileName)
	os.WriteFile(path, []byte("moniker = \"solar-coop\"\n[p2p]\nlisten_addrs = [\"/ip4/127.0.0.1/tcp/5000\"]\n[mempool]\nmax_bytes = \"64MB\"\n"), 0o644)
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	want := Default(home)
	want.Moniker = "solar-coop"
	want.P2P.ListenAddrs = []string{"/ip4/127.0.0.1/tcp/5000"}
	want.Mempool.MaxBytes = 64_000_000
	if !reflect.DeepEqual(c, want) {
		t.Fatalf("partial file:\n got %+v\nwant %+v", c, want)
	}
	// An empty file is the default configuration.
	os.WriteFile(path, nil, 0o644)
	if c, err := Load(path); err != nil || !reflect.DeepEqual(c, Default(home)) {
		t.Fatalf("empty file: %+v, %v", c, err)
	}
}

func TestValidateMessageFormat(t *testing.T) {
	c := Default("")
	c.Consensus.TimeoutPropose = "-1s"
	want := `config: [consensus] timeout_propose = "-1s": must be a positive duration such as "1s"`
	if err := c.Validate(); err == nil || err.Error() != want {
		t.Fatalf("got  %v\nwant %s", err, want)
	}
	// All problems come back at once.
	c.Mempool.MaxTxs = 0
	c.LogLevel = "loud"
	err := c.Validate()
	for _, k := range []string{"timeout_propose", "[mempool] max_txs", "log_level"} {
		if err == nil || !strings.Contains(err.Error(), k) {
			t.Errorf("joined error lacks %s: %v", k, err)
		}
	}
}

func TestBadConfigsNameTheKey(t *testing.T) {
	cases := []struct {
		name, doc string
		key       string // FieldError.Key
		fix       string // part of the message telling what to do
	}{
		{"negative propose", "[consensus]\ntimeout_propose = \"-1s\"", "[consensus] timeout_propose", `positive duration such as "1s"`},
		{"zero prevote", "[consensus]\ntimeout_prevote = \"0s\"", "[consensus] timeout_prevote", "positive duration"},
		{"unitless duration string", "[consensus]\ntimeout_precommit = \"500\"", "[consensus] timeout_precommit", "number with a unit"},
		{"integer duration", "[consensus]\ntimeout_delta = 500", "[consensus] timeout_delta", `"500ms"`},
		{"negative commit", "[consensus]\ntimeout_commit = \"-5ms\"", "[consensus] timeout_commit", "not be negative"},
		{"bad heartbeat", "[consensus]\nheartbeat_interval = \"often\"", "[consensus] heartbeat_interval", `"10s"`},
		{"zero block txs", "[consensus]\nmax_block_txs = 0", "[consensus] max_block_txs", "at least 1"},
		{"bad block bytes", "[consensus]\nmax_block_bytes = \"8 parsecs\"", "[consensus] max_block_bytes", `"64MiB"`},
		{"negative block bytes", "[consensus]\nmax_block_bytes = -1", "[consensus] max_block_bytes", "positive size"},
		{"float size", "[mempool]\nmax_bytes = 1.5", "[mempool] max_bytes", "whole number with a unit"},
		{"zero mempool", "[mempool]\nmax_txs = 0", "[mempool] max_txs", "at least 1"},
		{"pprof without port", "[api]\npprof_listen_addr = \"localhost\"", "[api] pprof_listen_addr", `"127.0.0.1:6060"`},
		{"pprof on the api address", "[api]\nlisten_addr = \"127.0.0.1:26657\"\npprof_listen_addr = \"127.0.0.1:26657\"", "[api] pprof_listen_addr", "differ from [api] listen_addr"},
		{"per sender > max", "[mempool]\nmax_txs = 10\nmax_per_sender = 11", "[mempool] max_per_sender", "from 1 to max_txs"},
		{"string for int", "[p2p]\nlow_water = \"many\"", "[p2p] low_water", "32"},
		{"low > high", "[p2p]\nlow_water = 100", "[p2p] low_water", "from 0 to high_water"},
		{"zero high", "[p2p]\nhigh_water = 0\nlow_water = 0", "[p2p] high_water", "at least 1"},
		{"bad listen multiaddr", "[p2p]\nlisten_addrs = [\"0.0.0.0:26656\"]", "[p2p] listen_addrs", "/ip4/0.0.0.0/tcp/26656"},
		{"bad external", "[p2p]\nexternal_addrs = [\"/ip4/999.1.1.1/tcp/1\"]", "[p2p] external_addrs", "not a multiaddr"},
		{"bootstrap no id", "[p2p]\nbootstrap_peers = [\"/ip4/1.2.3.4/tcp/26656\"]", "[p2p] bootstrap_peers", "/p2p/<peer-id>"},
		{"bootstrap bad id", "[p2p]\nbootstrap_peers = [\"/ip4/1.2.3.4/tcp/26656/p2p/nope\"]", "[p2p] bootstrap_peers", "not a multiaddr"},
		{"deny not id", "[p2p]\ndeny_peers = [\"alice\"]", "[p2p] deny_peers", "not a peer ID"},
		{"deny path", "[p2p]\ndeny_peers = [\"" + peerID + "/tcp/1\"]", "[p2p] deny_peers", "not a peer ID"},
		{"api no port", "[api]\nlisten_addr = \"127.0.0.1\"", "[api] listen_addr", "127.0.0.1:26657"},
		{"api big port", "[api]\nlisten_addr = \"127.0.0.1:70000\"", "[api] listen_addr", "0 to 65535"},
		{"api body", "[api]\nmax_body_bytes = 0", "[api] max_body_bytes", "positive size"},
		{"cors path", "[api]\ncors_allowed_origins = [\"https://a.example/app\"]", "[api] cors_allowed_origins", "scheme://host"},
		{"cors scheme", "[api]\ncors_allowed_origins = [\"a.example\"]", "[api] cors_allowed_origins", "scheme://host"},
		{"zero api conns", "[api]\nmax_connections = 0", "[api] max_connections", "at least 1"},
		{"streams > conns", "[api]\nmax_connections = 10\nmax_event_streams = 11", "[api] max_event_streams", "to max_connections (10)"},
		{"negative streams", "[api]\nmax_event_streams = -1", "[api] max_event_streams", "from 0"},
		{"tiny min free", "[storage]\nmin_free_disk = \"1MiB\"", "[storage] min_free_disk", "max_block_bytes"},
		{"min free vs block size", "[consensus]\nmax_block_bytes = \"64MiB\"\n[storage]\nmin_free_disk = \"256MiB\"", "[storage] min_free_disk", "at least 288MiB"},
		{"metrics type", "[api]\nenable_metrics = \"yes\"", "[api] enable_metrics", "true"},
		{"log level", "log_level = \"verbose\"", "log_level", `"debug", "info", "warn", "error"`},
		{"log format", "log_format = \"xml\"", "log_format", `"text", "json"`},
		{"empty moniker", "moniker = \"\"", "moniker", "1-64 printable"},
		{"empty data dir", "data_dir = \"\"", "data_dir", "must not be empty"},
		{"validator key traversal", "priv_validator_key = \"../../etc/passwd\"", "priv_validator_key", "key name"},
		{"keyring backend", "[keyring]\nbackend = \"os\"", "[keyring] backend", `"file", "test"`},
		{"keep_recent 1", "[storage]\nkeep_recent = 1", "[storage] keep_recent", "at least 2"},
		{"tiny memory limit", "[storage]\nmemory_limit = \"16MiB\"", "[storage] memory_limit", "0 (no limit) or at least 64MiB"},
		{"memory limit unit", "[storage]\nmemory_limit = \"lots\"", "[storage] memory_limit", "whole number with a unit"},
		{"keep_blocks negative", "[storage]\nkeep_blocks = -1", "[storage] keep_blocks", "negative"},
		{"unknown top key", "monikr = \"x\"", "monikr", "did you mean moniker?"},
		{"unknown section key", "[p2p]\nlow_wter = 3", "[p2p] low_wter", "did you mean low_water?"},
		{"unknown key far off", "[mempool]\nzzzzzzzzzz = 1", "[mempool] zzzzzzzzzz", "remove it"},
		{"unknown section", "[rpc]\nladdr = \"x\"", "[rpc]", "[api], [consensus]"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), FileName)
			os.WriteFile(path, []byte(tc.doc+"\n"), 0o644)
			_, err := Load(path)
			if err == nil {
				t.Fatalf("Load accepted:\n%s", tc.doc)
			}
			var fe *FieldError
			if !errors.As(err, &fe) || !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %q (%T) is not a *FieldError", err, err)
			}
			if fe.Key != tc.key {
				t.Errorf("key %q, want %q (error: %v)", fe.Key, tc.key, err)
			}
			msg := err.Error()
			if !strings.Contains(msg, tc.fix) {
				t.Errorf("error %q does not contain the fix %q", msg, tc.fix)
			}
			if !strings.HasPrefix(msg, "config: "+path+":") {
				t.Errorf("error %q does not point at %s:<line>", msg, path)
			}
		})
	}
}

func TestSyntaxAndMissingFile(t *testing.T) {
	dir := t.TempDir()
	if _, err := Load(filepath.Join(dir, "nope.toml")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing file: %v, want fs.ErrNotExist", err)
	}
	path := filepath.Join(dir, FileName)
	os.WriteFile(path, []byte("moniker = \"a\"\n[consensus\n"), 0o644)
	_, err := Load(path)
	if err == nil || !strings.Contains(err.Error(), path+":2:") {
		t.Fatalf("syntax error does not give the line: %v", err)
	}
	os.WriteFile(path, []byte("moniker = \"a\"\nmoniker = \"b\"\n"), 0o644)
	if _, err := Load(path); err == nil {
		t.Fatal("duplicate key accepted")
	}
}

func TestByteSize(t *testing.T) {
	cases := []struct {
		in   string
		want ByteSize
		str  string
	}{
		{"0", 0, "0"},
		{"1000", 1000, "1KB"},
		{"1000B", 1000, "1KB"},
		{"1023", 1023, "1023"},
		{"1024", 1024, "1KiB"},
		{"512KB", 512_000, "500KiB"}, // the largest exact unit wins
		{"1500KB", 1_500_000, "1500KB"},
		{"64MB", 64_000_000, "64MB"},
		{"64mb", 64_000_000, "64MB"},
		{"64MiB", 64 << 20, "64MiB"},
		{" 64 MiB ", 64 << 20, "64MiB"},
		{"2GiB", 2 << 30, "2GiB"},
		{"3TB", 3e12, "3TB"},
		{"1TiB", 1 << 40, "1TiB"},
	}
	for _, c := range cases {
		got, err := ParseByteSize(c.in)
		if err != nil || got != c.want {
			t.Errorf("ParseByteSize(%q) = %d, %v; want %d", c.in, got, err, c.want)
			continue
		}
		if got.String() != c.str {
			t.Errorf("%d.String() = %q, want %q", got, got.String(), c.str)
		}
		if back, _ := ParseByteSize(got.String()); back != got {
			t.Errorf("String does not parse back: %q → %d", got.String(), back)
		}
	}
	for _, bad := range []string{"", "MB", "-1", "1.5MB", "64XB", "1e6", "9999999999TiB", "64 M B"} {
		if _, err := ParseByteSize(bad); err == nil {
			t.Errorf("ParseByteSize(%q) accepted", bad)
		}
	}
}

func TestSlogLevel(t *testing.T) {
	for lvl, want := range map[string]string{"debug": "DEBUG", "info": "INFO", "warn": "WARN", "error": "ERROR"} {
		c := Default("")
		c.LogLevel = lvl
		if got := c.SlogLevel().String(); got != want {
			t.Errorf("%s → %s, want %s", lvl, got, want)
		}
	}
}

func BenchmarkLoadDefault(b *testing.B) {
	path := filepath.Join(b.TempDir(), FileName)
	if err := Write(path, Default("")); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := Load(path); err != nil {
			b.Fatal(err)
		}
	}
}
