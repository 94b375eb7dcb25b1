package node

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dure-network/dure/node/config"
)

func TestSubnetConfig(t *testing.T) {
	parentHome := t.TempDir()
	parent := config.Default(parentHome)
	parent.DataDir = filepath.Join(parentHome, "data")
	write := func(home, doc string) {
		t.Helper()
		if err := os.MkdirAll(home, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(home, config.FileName), []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	own := filepath.Join(parentHome, "subnets", "own")
	write(own, "[api]\nlisten_addr = \"127.0.0.1:27657\"\n[p2p]\nlisten_addrs = [\"/ip4/127.0.0.1/tcp/27656\"]\nbootstrap_peers = [\"/ip4/127.0.0.1/tcp/27666/p2p/12D3KooWRXuCKo4DgNftrFVXWVEW5bG3nyeQK3fVu4E3R3Px3N23\"]\n")
	bad := filepath.Join(parentHome, "subnets", "bad")
	write(bad, "[consensus]\ntimeout_propose = \"-1s\"\n")
	sameData := filepath.Join(parentHome, "subnets", "same-data")
	write(sameData, "data_dir = \""+parent.DataDir+"\"\n[api]\nlisten_addr = \"127.0.0.1:27657\"\n[p2p]\nlisten_addrs = [\"/ip4/127.0.0.1/tcp/27656\"]\n")
	for _, tc := range []struct {
		name  string
		entry config.Subnet
		check func(t *testing.T, c config.Config)
		err   string // fragment; "" = no error
	}{
		{"the home's own config", config.Subnet{ID: "g", Home: "subnets/own"}, func(t *testing.T, c config.Config) {
			if c.API.ListenAddr != "127.0.0.1:27657" || c.DataPath() != filepath.Join(own, "data") || len(c.P2P.BootstrapPeers) != 1 || c.P2P.PrivateNetworkPSKFile != "" {
				t.Errorf("%+v", c)
			}
		}, ""},
		{"the entry overrides it", config.Subnet{ID: "g", Home: "subnets/own", APIListenAddr: "127.0.0.1:28657",
			ListenAddrs: []string{"/ip4/127.0.0.1/tcp/28656"}, PrivateNetworkPSKFile: "g.key"}, func(t *testing.T, c config.Config) {
			if c.API.ListenAddr != "127.0.0.1:28657" || c.P2P.ListenAddrs[0] != "/ip4/127.0.0.1/tcp/28656" || c.PSKPath() != filepath.Join(parentHome, "g.key") {
				t.Errorf("%+v", c)
			}
		}, ""},
		{"no config.toml: defaults, which take the parent's addresses", config.Subnet{ID: "g", Home: "subnets/none"}, nil,
			"its [api] listen_addr 127.0.0.1:26657 is the parent's (set api_listen_addr in the [[subnets]] entry); its [p2p] listen address /ip4/0.0.0.0/tcp/26656 is the parent's"},
		{"defaults with the addresses overridden", config.Subnet{ID: "g", Home: "subnets/none", APIListenAddr: "127.0.0.1:0",
			ListenAddrs: []string{"/ip4/127.0.0.1/tcp/0"}}, func(t *testing.T, c config.Config) {
			if c.GenesisPath() != filepath.Join(parentHome, "subnets/none/genesis.json") {
				t.Errorf("genesis %s", c.GenesisPath())
			}
		}, ""},
		{"an invalid subnet config", config.Subnet{ID: "g", Home: "subnets/bad"}, nil, `subnet g: config: ` + bad + `/config.toml:2: [consensus] timeout_propose = "-1s"`},
		{"the parent's store", config.Subnet{ID: "g", Home: "subnets/same-data"}, nil, "its data directory " + parent.DataDir + " is the parent's"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := SubnetConfig(parent, tc.entry)
			if tc.err == "" {
				if err != nil {
					t.Fatal(err)
				}
				tc.check(t, c)
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.err) || !errors.Is(err, ErrSubnetConfig) {
				t.Fatalf("error %v, want %q (ErrSubnetConfig)", err, tc.err)
			}
		})
	}
}
