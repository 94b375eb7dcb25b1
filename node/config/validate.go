package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"

	ma "github.com/multiformats/go-multiaddr"

	"github.com/dure-network/dure/node/keystore"
)

// ErrInvalid is wrapped by every *FieldError.
var ErrInvalid = errors.New("invalid config")

// FieldError is a problem with one key. Key is written as it appears in the
// file: "moniker", "[consensus] timeout_propose".
type FieldError struct {
	Pos   string // "path:line:col" when known from the file
	Key   string
	Value string // as written in TOML, e.g. "\"-1s\"" or "0"; may be empty
	Msg   string // what is wrong and how to fix it

	entry int // 1-based [[subnets]] table the key is in; 0 elsewhere
}

func (e *FieldError) Error() string {
	var b strings.Builder
	b.WriteString("config: ")
	if e.Pos != "" {
		b.WriteString(e.Pos + ": ")
	}
	b.WriteString(e.Key)
	if e.Value != "" {
		b.WriteString(" = " + e.Value)
	}
	b.WriteString(": " + e.Msg)
	return b.String()
}

// Unwrap makes errors.Is(err, ErrInvalid) hold.
func (e *FieldError) Unwrap() error { return ErrInvalid }

// validator collects every problem, so a user fixes them in one pass.
type validator struct{ errs []error }

func (v *validator) add(key, value, msg string, args ...any) {
	v.errs = append(v.errs, &FieldError{Key: key, Value: value, Msg: fmt.Sprintf(msg, args...)})
}

func q(s string) string { return strconv.Quote(s) }

func list(xs []string) string { return "[" + strings.Join(quoteAll(xs), ", ") + "]" }

func quoteAll(xs []string) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = q(x)
	}
	return out
}

// Validate checks every key and returns all problems joined (each a
// *FieldError naming the key and the fix), or nil.
func (c Config) Validate() error {
	v := &validator{}
	if c.Moniker == "" || len(c.Moniker) > 64 || strings.IndexFunc(c.Moniker, unicode.IsControl) >= 0 {
		v.add("moniker", q(c.Moniker), "must be 1-64 printable characters, such as %q", "my-node")
	}
	for _, p := range []struct{ key, val string }{
		{"genesis_file", c.GenesisFile}, {"data_dir", c.DataDir},
		{"keys_dir", c.KeysDir}, {"node_key_file", c.NodeKeyFile},
	} {
		v.path(p.key, p.val, true)
	}
	if c.PrivValidatorKey != "" && keystore.ValidateName(c.PrivValidatorKey) != nil {
		v.add("priv_validator_key", q(c.PrivValidatorKey), "must be a key name of letters, digits, '.', '_' or '-' (as shown by \"dure keys list\"), or empty for a non-validating node")
	}
	v.oneOf("log_level", c.LogLevel, "debug", "info", "warn", "error")
	v.oneOf("log_format", c.LogFormat, "text", "json")

	v.api(c.API)
	v.p2p(c.P2P)
	v.consensus(c.Consensus)
	v.mempool(c.Mempool)
	v.storage(c.Storage, c.Consensus)
	v.oneOf("[statesync] enable", c.StateSync.Enable, "auto", "on", "off")
	if c.StateSync.TrustCheckpoint != "" {
		if _, _, err := ParseCheckpoint(c.StateSync.TrustCheckpoint); err != nil {
			v.add("[statesync] trust_checkpoint", q(c.StateSync.TrustCheckpoint), "must be \"height:block_id\" such as %q, or empty to trust genesis", "12000:bafy...")
		}
	}

	v.oneOf("[keyring] backend", c.Keyring.Backend, string(keystore.BackendFile), string(keystore.BackendTest))
	v.path("[keyring] passphrase_file", c.Keyring.PassphraseFile, false)
	v.subnets(c)
	return errors.Join(v.errs...)
}

func (v *validator) path(key, val string, required bool) {
	switch {
	case val == "" && required:
		v.add(key, `""`, "must not be empty; the default works, or give a path relative to the home directory")
	case strings.ContainsRune(val, 0):
		v.add(key, q(val), "must not contain a NUL byte")
	}
}

func (v *validator) oneOf(key, val string, allowed ...string) {
	for _, a := range allowed {
		if val == a {
			return
		}
	}
	v.add(key, q(val), "must be one of %s", strings.Join(quoteAll(allowed), ", "))
}

func (v *validator) api(a API) {
	if a.ListenAddr != "" {
		if err := checkHostPort(a.ListenAddr); err != nil {
			v.add("[api] listen_addr", q(a.ListenAddr), "%v; use host:port such as %q, or \"\" to disable the API", err, "127.0.0.1:26657")
		}
	}
	if a.PprofListenAddr != "" {
		if err := checkHostPort(a.PprofListenAddr); err != nil {
			v.add("[api] pprof_listen_addr", q(a.PprofListenAddr), "%v; use host:port such as %q, or \"\" to turn the profiler off", err, "127.0.0.1:6060")
		} else if a.PprofListenAddr == a.ListenAddr {
			v.add("[api] pprof_listen_addr", q(a.PprofListenAddr), "must differ from [api] listen_addr")
		}
	}
	v.positiveSize("[api] max_body_bytes", a.MaxBodyBytes, "1MiB")
	if a.MaxConnections < 1 {
		v.add("[api] max_connections", strconv.Itoa(a.MaxConnections), "must be at least 1 (default 256)")
	}
	if a.MaxEventStreams < 0 || (a.MaxConnections >= 1 && a.MaxEventStreams > a.MaxConnections) {
		v.add("[api] max_event_streams", strconv.Itoa(a.MaxEventStreams), "must be from 0 (no event streams) to max_connections (%d); default 128", a.MaxConnections)
	}
	for _, o := range a.CORSAllowedOrigins {
		if o == "*" {
			continue
		}
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
			(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
			v.add("[api] cors_allowed_origins", list(a.CORSAllowedOrigins),
				"origin %q must be scheme://host[:port] such as %q, or \"*\" for any", o, "https://wallet.example")
		}
	}
}

func checkHostPort(s string) error {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return errors.New("not host:port")
	}
	if n, err := strconv.ParseUint(port, 10, 16); err != nil || (n == 0 && port != "0") {
		return fmt.Errorf("port %q is not a number from 0 to 65535", port)
	}
	if host != "" && net.ParseIP(host) == nil && strings.ContainsAny(host, " /\\") {
		return fmt.Errorf("host %q is not an IP address or host name", host)
	}
	return nil
}

func (v *validator) p2p(p P2P) {
	for _, f := range []struct {
		key   string
		addrs []string
	}{{"[p2p] listen_addrs", p.ListenAddrs}, {"[p2p] external_addrs", p.ExternalAddrs}} {
		for _, a := range f.addrs {
			if _, err := ma.NewMultiaddr(a); err != nil {
				v.add(f.key, list(f.addrs), "%q is not a multiaddr (%v); write it like %q", a, err, "/ip4/0.0.0.0/tcp/26656")
			}
		}
	}
	for _, a := range p.BootstrapPeers {
		m, err := ma.NewMultiaddr(a)
		if err != nil {
			v.add("[p2p] bootstrap_peers", list(p.BootstrapPeers), "%q is not a multiaddr (%v); write it like %q", a, err, "/ip4/203.0.113.7/tcp/26656/p2p/12D3KooW...")
			continue
		}
		if _, err := m.ValueForProtocol(ma.P_P2P); err != nil {
			v.add("[p2p] bootstrap_peers", list(p.BootstrapPeers), "%q has no peer ID; end it with /p2p/<peer-id> (\"dure status\" on that node prints it)", a)
		}
	}
	for _, id := range p.DenyPeers {
		if _, err := ma.NewMultiaddr("/p2p/" + id); err != nil || id == "" || strings.Contains(id, "/") {
			v.add("[p2p] deny_peers", list(p.DenyPeers), "%q is not a peer ID; write it like %q", id, "12D3KooW...")
		}
	}
	if p.HighWater < 1 {
		v.add("[p2p] high_water", strconv.Itoa(p.HighWater), "must be at least 1 (default 64)")
	}
	if p.LowWater < 0 || p.LowWater > p.HighWater {
		v.add("[p2p] low_water", strconv.Itoa(p.LowWater), "must be from 0 to high_water (%d); the defaults are 32 and 64", p.HighWater)
	}
	v.path("[p2p] private_network_psk_file", p.PrivateNetworkPSKFile, false)
}

func validMultiaddr(a string) bool {
	_, err := ma.NewMultiaddr(a)
	return err == nil
}

func validPeerAddr(a string) bool {
	m, err := ma.NewMultiaddr(a)
	if err != nil {
		return false
	}
	_, err = m.ValueForProtocol(ma.P_P2P)
	return err == nil
}

func (v *validator) consensus(c Consensus) {
	for _, d := range []struct {
		key     string
		val     Duration
		zeroOK  bool
		example string
	}{
		{"[consensus] timeout_propose", c.TimeoutPropose, false, "1s"},
		{"[consensus] timeout_prevote", c.TimeoutPrevote, false, "500ms"},
		{"[consensus] timeout_precommit", c.TimeoutPrecommit, false, "500ms"},
		{"[consensus] timeout_delta", c.TimeoutDelta, false, "500ms"},
		{"[consensus] timeout_commit", c.TimeoutCommit, true, "100ms"},
		{"[consensus] heartbeat_interval", c.HeartbeatInterval, true, "10s"},
	} {
		dur, err := time.ParseDuration(string(d.val))
		switch {
		case err != nil:
			v.add(d.key, q(string(d.val)), "not a duration: write a number with a unit, such as %q", d.example)
		case dur < 0 && d.zeroOK:
			v.add(d.key, q(string(d.val)), "must not be negative; use a duration such as %q, or \"0s\"", d.example)
		case dur <= 0 && !d.zeroOK:
			v.add(d.key, q(string(d.val)), "must be a positive duration such as %q", d.example)
		}
	}
	if c.MaxBlockTxs < 1 {
		v.add("[consensus] max_block_txs", strconv.Itoa(c.MaxBlockTxs), "must be at least 1 (default 10000)")
	}
	v.positiveSize("[consensus] max_block_bytes", c.MaxBlockBytes, "8MiB")
}

func (v *validator) mempool(m Mempool) {
	if m.MaxTxs < 1 {
		v.add("[mempool] max_txs", strconv.Itoa(m.MaxTxs), "must be at least 1 (default 50000)")
	}
	v.positiveSize("[mempool] max_bytes", m.MaxBytes, "64MiB")
	if m.MaxPerSender < 1 || (m.MaxTxs >= 1 && m.MaxPerSender > m.MaxTxs) {
		v.add("[mempool] max_per_sender", strconv.Itoa(m.MaxPerSender), "must be from 1 to max_txs (%d); default 1000", m.MaxTxs)
	}
}

// MinFreeDiskFloor is the least [storage] min_free_disk accepted with
// cons: room for a few of the largest blocks plus the store's memtables
// (written through mmap, where running out of space is a SIGBUS).
func MinFreeDiskFloor(cons Consensus) ByteSize {
	return 4*max(cons.MaxBlockBytes, 0) + 32<<20
}

func (v *validator) storage(s Storage, cons Consensus) {
	if floor := MinFreeDiskFloor(cons); s.MinFreeDisk < floor {
		v.add("[storage] min_free_disk", q(s.MinFreeDisk.String()), "must be at least %s (4 × [consensus] max_block_bytes + 32MiB) so the store's writes always fit; default %q",
			floor, ByteSize(256<<20).String())
	}
	if s.MemoryLimit != 0 && s.MemoryLimit < MinMemoryLimit {
		v.add("[storage] memory_limit", q(s.MemoryLimit.String()), "must be 0 (no limit) or at least %s; default %q",
			MinMemoryLimit, DefaultMemoryLimit.String())
	}
	if s.KeepRecent == 1 {
		v.add("[storage] keep_recent", "1", "must be 0 (keep all) or at least 2: recovering from a crash needs the previous height's state")
	}
	if s.KeepBlocks == 1 {
		v.add("[storage] keep_blocks", "1", "must be 0 (keep all) or at least 2: the last commit is needed to build the next block")
	}
}

func (v *validator) positiveSize(key string, b ByteSize, example string) {
	if b <= 0 {
		v.add(key, strconv.FormatInt(int64(b), 10), "must be a positive size such as %q", example)
	}
}
