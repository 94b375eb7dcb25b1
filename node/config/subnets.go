package config

import (
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Subnet is one [[subnets]] table: a subnet chain (registered on the
// chain of this config, its parent) whose node runs in the same process
// as this one, with its own home: genesis, keys, node key, store, WAL and
// sign state, libp2p host and API. The subnet home may hold a config.toml
// of its own (as `dure testnet --generate-only` writes); without one the
// defaults apply. The keys below, when set, override that file.
type Subnet struct {
	ID                    string   `toml:"id" comment:"The subnet's id as registered on this (its parent) chain: a-z, 0-9 and '-', at most 32 bytes."`
	Home                  string   `toml:"home" comment:"The subnet node's home directory (relative paths are inside this node's home): its genesis.json,\nkeys, node key and data, and optionally a config.toml of its own."`
	APIListenAddr         string   `toml:"api_listen_addr,omitempty" comment:"Overrides the subnet node's [api] listen_addr (it must differ from this node's). Empty: the subnet's config.toml."`
	ListenAddrs           []string `toml:"listen_addrs,omitempty" comment:"Overrides the subnet node's [p2p] listen_addrs. Empty: the subnet's config.toml."`
	BootstrapPeers        []string `toml:"bootstrap_peers,omitempty" comment:"Overrides the subnet node's [p2p] bootstrap_peers (other nodes of the subnet). Empty: the subnet's config.toml."`
	PrivateNetworkPSKFile string   `toml:"private_network_psk_file,omitempty" comment:"A private subnet: the pre-shared key file (32 bytes) of its libp2p network, relative to this\nnode's home; only hosts with the key can connect (TCP only). Empty: the subnet's config.toml."`
	Relay                 bool     `toml:"relay" comment:"Also submit the subnet's checkpoints to the parent, paying fees from the subnet validator\nkey's account on the parent. false: only sign them (on the subnet chain)."`
	ParentAPI             string   `toml:"parent_api,omitempty" comment:"API address of the parent node the checkpoint signer reads and submits to.\nEmpty: this node's own [api] listen_addr."`
	Interval              Duration `toml:"interval" comment:"How often to look for a checkpoint to sign or relay, and to refresh the lag shown in status and metrics."`
	Fee                   uint64   `toml:"fee" comment:"Fee offered by the endorse and checkpoint transactions (0: 10)."`
}

// Defaults filled into a [[subnets]] table that leaves them out.
const (
	DefaultSubnetInterval Duration = "1s"
	DefaultSubnetFee      uint64   = 10
)

// normalizeSubnets fills each entry's defaults and makes empty lists nil,
// so a loaded config writes back and loads again to the same value.
func (c *Config) normalizeSubnets() {
	if len(c.Subnets) == 0 {
		c.Subnets = nil
		return
	}
	for i := range c.Subnets {
		s := &c.Subnets[i]
		if s.Interval == "" {
			s.Interval = DefaultSubnetInterval
		}
		if s.Fee == 0 {
			s.Fee = DefaultSubnetFee
		}
		if len(s.ListenAddrs) == 0 {
			s.ListenAddrs = nil
		}
		if len(s.BootstrapPeers) == 0 {
			s.BootstrapPeers = nil
		}
	}
}

// subnetKeys are the keys of a [[subnets]] table, for "did you mean".
var subnetKeys = []string{"api_listen_addr", "bootstrap_peers", "fee", "home", "id", "interval", "listen_addrs", "parent_api", "private_network_psk_file", "relay"}

func validSubnetID(id string) bool {
	if id == "" || len(id) > 32 {
		return false
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
			return false
		}
	}
	return true
}

func (v *validator) subnets(c Config) {
	ids := map[string]int{}
	homes := map[string]int{}
	apis := map[string]int{}
	for i, s := range c.Subnets {
		first := len(v.errs)
		v.subnet(c, i+1, s, ids, homes, apis)
		for _, e := range v.errs[first:] {
			if fe, ok := e.(*FieldError); ok {
				fe.entry = i + 1
			}
		}
	}
}

// subnet checks entry n (1-based); ids, homes and apis hold the earlier
// entries' values, to refuse duplicates.
func (v *validator) subnet(c Config, n int, s Subnet, ids, homes, apis map[string]int) {
	{
		key := func(k string) string { return "[[subnets]] " + k }
		where := "entry " + strconv.Itoa(n)
		if s.ID != "" {
			where += " (" + s.ID + ")"
		}
		if !validSubnetID(s.ID) {
			v.add(key("id"), q(s.ID), "%s: must be the subnet's registered id, 1-32 bytes of a-z, 0-9 and '-', such as %q", where, "garden-coop")
		} else if j, dup := ids[s.ID]; dup {
			v.add(key("id"), q(s.ID), "%s: the same subnet as entry %d; run it once", where, j)
		} else {
			ids[s.ID] = n
		}
		home := c.SubnetHome(s)
		switch {
		case s.Home == "":
			v.add(key("home"), `""`, "%s: must name the subnet node's home directory, such as %q", where, "subnets/"+s.ID)
		case strings.ContainsRune(s.Home, 0):
			v.add(key("home"), q(s.Home), "%s: must not contain a NUL byte", where)
		case cleanPath(home) == cleanPath(c.Home):
			v.add(key("home"), q(s.Home), "%s: is this node's own home; a subnet needs a home (and store) of its own", where)
		default:
			if j, dup := homes[cleanPath(home)]; dup {
				v.add(key("home"), q(s.Home), "%s: the same home as entry %d; each subnet needs its own", where, j)
			} else {
				homes[cleanPath(home)] = n
			}
		}
		if s.APIListenAddr != "" {
			if err := checkHostPort(s.APIListenAddr); err != nil {
				v.add(key("api_listen_addr"), q(s.APIListenAddr), "%s: %v; use host:port such as %q", where, err, "127.0.0.1:27657")
			} else if s.APIListenAddr == c.API.ListenAddr {
				v.add(key("api_listen_addr"), q(s.APIListenAddr), "%s: is this node's [api] listen_addr; give the subnet another port", where)
			} else if j, dup := apis[s.APIListenAddr]; dup && !strings.HasSuffix(s.APIListenAddr, ":0") {
				v.add(key("api_listen_addr"), q(s.APIListenAddr), "%s: the same address as entry %d", where, j)
			} else {
				apis[s.APIListenAddr] = n
			}
		}
		for _, a := range s.ListenAddrs {
			if !validMultiaddr(a) {
				v.add(key("listen_addrs"), list(s.ListenAddrs), "%s: %q is not a multiaddr; write it like %q", where, a, "/ip4/0.0.0.0/tcp/27656")
			}
			for _, p := range c.P2P.ListenAddrs {
				if a == p && !strings.HasSuffix(a, "/0") && !strings.Contains(a, "/0/") {
					v.add(key("listen_addrs"), list(s.ListenAddrs), "%s: %q is also this node's [p2p] listen_addrs; give the subnet another port", where, a)
				}
			}
		}
		for _, a := range s.BootstrapPeers {
			if !validPeerAddr(a) {
				v.add(key("bootstrap_peers"), list(s.BootstrapPeers), "%s: %q is not a multiaddr ending in /p2p/<peer-id>; write it like %q", where, a, "/ip4/203.0.113.7/tcp/27656/p2p/12D3KooW...")
			}
		}
		if strings.ContainsRune(s.PrivateNetworkPSKFile, 0) {
			v.add(key("private_network_psk_file"), q(s.PrivateNetworkPSKFile), "%s: must not contain a NUL byte", where)
		}
		if s.ParentAPI != "" {
			if !validAPIAddr(s.ParentAPI) {
				v.add(key("parent_api"), q(s.ParentAPI), "%s: must be host:port or an http(s) URL such as %q, or empty for this node's API", where, "http://127.0.0.1:26657")
			}
		} else if c.API.ListenAddr == "" {
			v.add(key("parent_api"), `""`, "%s: this node's API is disabled ([api] listen_addr = \"\"), so give the API of a parent node", where)
		}
		if d, err := time.ParseDuration(string(s.Interval)); err != nil || d <= 0 {
			v.add(key("interval"), q(string(s.Interval)), "%s: must be a positive duration such as %q", where, "1s")
		}
	}
}

func cleanPath(p string) string { return filepath.Clean(p) }

func validAPIAddr(s string) bool {
	if strings.HasPrefix(s, "http://") || strings.HasPrefix(s, "https://") {
		u, err := url.Parse(s)
		return err == nil && u.Host != ""
	}
	return checkHostPort(s) == nil
}

// findSubnetLine finds the line of key name inside the n-th (1-based)
// [[subnets]] table of data; 0 when it is not written there.
func findSubnetLine(data []byte, n int, name string) int {
	seen, in := 0, false
	for i, line := range strings.Split(string(data), "\n") {
		t := strings.TrimSpace(line)
		if strings.HasPrefix(t, "[") {
			in = t == "[[subnets]]"
			if in {
				seen++
			}
			continue
		}
		if in && seen == n {
			if k, _, ok := strings.Cut(t, "="); ok && strings.TrimSpace(k) == name {
				return i + 1
			}
		}
	}
	return 0
}
